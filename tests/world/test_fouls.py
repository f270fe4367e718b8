import math

import numpy as np
import pytest

from replaylab.world.fouls import FALL_THRESHOLD, FOUL_CLASSES, annotation_fields, script_foul, severity_label
from replaylab.world.skeleton import ACTION_ID, ACTIONS, J, world_joints


def script(kind, intensity, seed=0):
    return script_foul(
        kind,
        intensity,
        n_frames=60,
        contact_frame=30,
        fps=25.0,
        origin=np.array([50.0, 30.0]),
        heading=0.7,
        rng=np.random.default_rng(seed),
    )


def joints(track, i, h=1.8):
    return world_joints(track.pose(i, h, 25.0))


@pytest.mark.parametrize("kind", FOUL_CLASSES)
def test_each_class_has_its_own_motion(kind):
    s = script(kind, 0.6)
    off_actions = {ACTIONS[a] for a in np.unique(s.offender.action) if a >= 0}
    expected = {
        "Tackling": "slide",
        "Standing tackling": "kick",
        "High leg": "raised_leg",
        "Holding": "hold",
        "Pushing": "push",
        "Elbowing": "arm_swing",
        "Dive": "kick",
    }
    if kind in expected:
        assert expected[kind] in off_actions
    if kind == "Challenge":  # shoulder to shoulder: the offender ends right next to the victim
        d = np.hypot(s.victim.x[30] - s.offender.x[30], s.victim.y[30] - s.offender.y[30])
        assert d < 0.8
    assert ACTION_ID["fall"] in s.victim.action  # intensity 0.6 knocks the victim down


def test_dive_has_no_contact_and_tackle_reaches_the_feet():
    for seed in range(5):
        d = script("Dive", 0.5, seed)
        assert not d.contact
        gaps = [
            np.min(np.linalg.norm(joints(d.offender, i)[:, None, :2] - joints(d.victim, i)[None, :, :2], axis=-1))
            for i in range(60)
        ]
        assert min(gaps) > 0.6
        t = script("Tackling", 0.5, seed)
        oj, vj = joints(t.offender, 30), joints(t.victim, 30)
        feet = vj[[J["l_foot"], J["r_foot"]]]
        lead = oj[J["r_foot"]]
        assert np.min(np.linalg.norm(feet[:, :2] - lead[:2], axis=1)) < 0.6


def test_intensity_drives_the_fall():
    soft, hard = script("Pushing", 0.1), script("Pushing", 0.95)
    assert ACTION_ID["fall"] not in soft.victim.action
    assert ACTION_ID["fall"] in hard.victim.action
    assert not script("Pushing", FALL_THRESHOLD - 0.01).victim_falls and script("Pushing", FALL_THRESHOLD).victim_falls

    # a harder push accelerates the victim more at the contact
    def kick(s):
        before = math.hypot(s.victim.x[30] - s.victim.x[29], s.victim.y[30] - s.victim.y[29])
        after = math.hypot(s.victim.x[32] - s.victim.x[31], s.victim.y[32] - s.victim.y[31])
        return after - before

    assert kick(hard) > 0.02 and kick(hard) > kick(soft) + 0.03


def test_severity_labels_follow_bands():
    rng = np.random.default_rng(0)
    assert severity_label(0.1, "Pushing", rng, 0.0) == ("No offence", "")
    assert severity_label(0.4, "Pushing", rng, 0.0) == ("Offence", "1.0")
    assert severity_label(0.7, "Pushing", rng, 0.0) == ("Offence", "3.0")
    assert severity_label(0.9, "Pushing", rng, 0.0) == ("Offence", "5.0")
    assert severity_label(0.9, "Dive", rng, 0.0)[1] == ""
    f = annotation_fields("Holding", "Offence", "3.0", True, rng)
    assert f["Upper body part"] == "Use of arms" and f["Bodypart"] == "Upper body"


def test_unknown_class_is_rejected():
    with pytest.raises(ValueError, match="unknown foul class 'Handball'"):
        script("Handball", 0.5)
