"""SoccerNet-MVFoul layout: ``<split>/action_<n>/clip_<v>.mp4`` plus ``<split>/annotations.json``.

Each action is one scripted foul seen by the main camera (clip_0, as in the official data) and three
replay angles (reverse angle, behind the goal, close-up) in random order. The annotation uses the
official keys and value strings; a small share of actions gets the ambiguous labels real annotators
give ('Dont know', 'Between', in-between severities 2.0 / 4.0, or none), which the official rules skip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fouls import FOUL_CLASSES, SEVERITY_BANDS, annotation_fields, script_foul, severity_label
from ..physics import PITCH_LENGTH, PITCH_WIDTH, BallParams
from ..render import SKIN_TONES, Actor, Look, random_kits, render
from ..rig import Follow, foul_view_positions
from ..track import Track
from ..video import Mp4Writer, VideoSettings

SPLIT_DIRS = {"train": "train", "valid": "valid", "test": "test"}
CAMERA_TYPES = {
    "main": "Main camera center",
    "close_up": "Close-up player or field referee",
    "behind_goal": "Main behind the goal",
    "reverse": "Other",
}
ANNOTATION_KEYS = (
    "UrlLocal", "Offence", "Contact", "Bodypart", "Upper body part", "Action class", "Severity", "Multiple fouls",
    "Try to play", "Touch ball", "Handball", "Handball offence", "Clips",
)  # fmt: skip
CLIP_KEYS = ("Url", "Camera type", "Timestamp", "Replay speed")


@dataclass(frozen=True)
class FoulRenderConfig:
    clip_frames: int
    contact_frame: int
    width: int
    height: int
    video: VideoSettings
    look: tuple[float, float, float]
    class_weights: tuple[float, ...]
    severity_weights: tuple[float, float, float, float]
    severity_noise: float
    ambiguous_fraction: float
    distractors: int
    ball: BallParams


def _distractor(n: int, fps: float, focus: np.ndarray, rng: np.random.Generator) -> Track:
    ang = rng.uniform(0, 2 * math.pi)
    start = focus + rng.uniform(5, 14) * np.array([math.cos(ang), math.sin(ang)])
    speed = rng.uniform(0.5, 4.0)
    heading = math.atan2(*(focus - start)[::-1]) + rng.uniform(-1.2, 1.2)
    return Track.line(start, speed * np.array([math.cos(heading), math.sin(heading)]), n, fps)


def render_foul(
    index: int, split: str, out_dir: Path, cfg: FoulRenderConfig, rng: np.random.Generator
) -> tuple[dict, list[list[np.ndarray]]]:
    """Write the clips of one action; return its annotation entry and close-up thumbnails for the sheets."""
    fps = cfg.video.fps
    n, kc = cfg.clip_frames, cfg.contact_frame
    cw = np.asarray(cfg.class_weights, float)
    kind = FOUL_CLASSES[int(rng.choice(len(FOUL_CLASSES), p=cw / cw.sum()))]
    sw = np.asarray(cfg.severity_weights, float)
    band = SEVERITY_BANDS[int(rng.choice(4, p=sw / sw.sum()))]
    intensity = float(rng.uniform(band[0] + 0.02, band[1] - 0.02))
    origin = np.array([rng.uniform(15, PITCH_LENGTH - 15), rng.uniform(10, PITCH_WIDTH - 10)])
    script = script_foul(kind, intensity, n_frames=n, contact_frame=kc, fps=fps, origin=origin,
                         heading=float(rng.uniform(0, 2 * math.pi)), rng=rng, ball_params=cfg.ball)  # fmt: skip
    offence, severity = severity_label(script.intensity, kind, rng, cfg.severity_noise)
    fields = annotation_fields(kind, offence, severity, script.contact, rng)
    if rng.random() < cfg.ambiguous_fraction:  # what real annotators sometimes give
        which = rng.integers(0, 3)
        if which == 0:
            fields["Action class"] = "Dont know"
        elif which == 1:
            fields["Offence"] = "Between"
        else:
            fields["Severity"] = str(rng.choice(["2.0", "4.0", ""]))
    kits = random_kits(rng)
    victim_team = int(rng.integers(0, 2))
    look = Look.random(rng, *cfg.look)
    skins = [SKIN_TONES[int(rng.integers(0, 4))] for _ in range(2 + cfg.distractors)]
    heights = rng.uniform(1.70, 1.95, size=2 + cfg.distractors)
    tracks = [script.victim, script.offender] + [_distractor(n, fps, origin, rng) for _ in range(cfg.distractors)]
    teams = [victim_team, 1 - victim_team] + [int(rng.integers(0, 2)) for _ in range(cfg.distractors)]
    phases = [tr.gait_phases(fps) for tr in tracks]
    views = foul_view_positions(origin, rng)
    order = ["main"] + [str(v) for v in rng.permutation(["reverse", "behind_goal", "close_up"])]
    action_dir = out_dir / f"action_{index}"
    clips, thumbs = [], []
    base_ts = int(rng.integers(60_000, 2_700_000))
    # the same bodies in every view: posed once per frame (their joints are computed once, see Actor.joints)
    cast = [[Actor(tr.pose(i, float(h), fps, float(ph[i])), kits[t], sk)
             for tr, h, ph, t, sk in zip(tracks, heights, phases, teams, skins)] for i in range(n)]  # fmt: skip
    for v, name in enumerate(order):
        pos, width_m = views[name]
        cam_op = Follow(pos, cfg.width, cfg.height, width_m, stiffness=0.2 if name != "main" else 0.1)
        frames = []
        with Mp4Writer(action_dir / f"clip_{v}.mp4", cfg.width, cfg.height, cfg.video) as video:
            for i in range(n):
                mid = np.array(
                    [(script.victim.x[i] + script.offender.x[i]) / 2, (script.victim.y[i] + script.offender.y[i]) / 2, 0.9]
                )
                cam = cam_op.update(mid)
                frame = render(cam, look, cast[i], script.ball[i], i, fps)
                video.write(frame)
                if name == "close_up":
                    frames.append(frame)
        if frames:
            steps = np.linspace(kc - int(0.6 * fps), min(kc + int(1.0 * fps), n - 1), 6).round().astype(int)
            thumbs.append([frames[s] for s in steps])
        clips.append({
            "Url": f"Dataset/{split.capitalize()}/action_{index}/clip_{v}",
            "Camera type": CAMERA_TYPES[name],
            "Timestamp": base_ts + (0 if v == 0 else int(rng.integers(8_000, 40_000))),
            "Replay speed": 1.0,
        })  # fmt: skip
    game = index // 4  # about four actions per game; games never span splits
    entry = {"UrlLocal": f"synthetic_league\\2026-2027\\{split}-{game:03d} - 20-00 Synthetic Home - Synthetic Away"}
    entry.update(fields)
    entry["Clips"] = clips
    return {k: entry[k] for k in ANNOTATION_KEYS}, thumbs


def annotations_document(split: str, actions: dict[int, dict]) -> dict:
    """The whole ``annotations.json`` of one split, actions keyed by their index as strings."""
    return {"Set": split, "Number of actions": len(actions), "Actions": {str(i): actions[i] for i in sorted(actions)}}
