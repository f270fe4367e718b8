"""Person-action labels (AVA style, multi-label) read off the pose state of a player at a keyframe."""

from __future__ import annotations

import numpy as np

from .skeleton import ACTIONS, NO_ACTION, gait_for_speed

# (name, AVA label_type); ids are 1-based positions in this tuple
PERSON_ACTIONS = (
    ("stand", "PERSON_MOVEMENT"), ("walk", "PERSON_MOVEMENT"), ("run/jog", "PERSON_MOVEMENT"),
    ("jump/leap", "PERSON_MOVEMENT"), ("kick (a ball)", "OBJECT_MANIPULATION"), ("head the ball", "OBJECT_MANIPULATION"),
    ("slide tackle", "PERSON_INTERACTION"), ("fall down", "PERSON_MOVEMENT"), ("push (another person)", "PERSON_INTERACTION"),
    ("hold (another person)", "PERSON_INTERACTION"), ("swing arm / elbow", "PERSON_INTERACTION"),
    ("raise leg", "PERSON_MOVEMENT"), ("control ball with chest", "OBJECT_MANIPULATION"),
    ("throw (a ball) in", "OBJECT_MANIPULATION"), ("celebrate", "PERSON_MOVEMENT"), ("get up", "PERSON_MOVEMENT"),
)  # fmt: skip
ACTION_LABEL_IDS = {name: i + 1 for i, (name, _) in enumerate(PERSON_ACTIONS)}
_FROM_POSE = {
    "jump": "jump/leap", "kick": "kick (a ball)", "head": "head the ball", "slide": "slide tackle", "fall": "fall down",
    "push": "push (another person)", "hold": "hold (another person)", "arm_swing": "swing arm / elbow",
    "raised_leg": "raise leg", "chest": "control ball with chest", "throw": "throw (a ball) in", "celebrate": "celebrate",
    "get_up": "get up",
}  # fmt: skip
_NO_GAIT = {"fall", "get_up", "slide"}  # lying / sliding players are not standing, walking or running


def labels_at(action: np.ndarray, speed: np.ndarray, lift: np.ndarray, f: int, window: int) -> list[int]:
    """Label ids for one player at keyframe f, from per-frame arrays of that player.

    The movement label (stand / walk / run) comes from the speed at the keyframe; action labels from any
    action under way within +-window frames, as an annotator watching the surrounding seconds would mark.
    """
    lo, hi = max(f - window, 0), min(f + window + 1, len(action))
    acts = {ACTIONS[a] for a in np.unique(action[lo:hi]) if a != NO_ACTION}
    out = set()
    current = ACTIONS[action[f]] if action[f] != NO_ACTION else None
    if current not in _NO_GAIT:
        out.add(ACTION_LABEL_IDS[("stand", "walk", "run/jog")[gait_for_speed(float(speed[f]))]])
    if lift[lo:hi].max() > 0.1:
        out.add(ACTION_LABEL_IDS["jump/leap"])
    out.update(ACTION_LABEL_IDS[_FROM_POSE[a]] for a in acts)
    return sorted(out)
