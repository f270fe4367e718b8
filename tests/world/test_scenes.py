import numpy as np
import pytest

from replaylab.world.match import CONTACT_DISTANCE
from replaylab.world.scenes import RECOGNITION_CLASSES, add_extras, make_scene
from replaylab.world.skeleton import ACTION_ID, J, world_joints


@pytest.mark.parametrize("cls", RECOGNITION_CLASSES)
def test_every_class_builds_a_scene(cls):
    s = make_scene(cls, 40, 25.0, np.array([50.0, 30.0]), 0.5, np.random.default_rng(0))
    assert s.ball.shape == (40, 3) and all(len(t.x) == 40 for t in s.tracks)
    assert len(s.teams) == len(s.tracks)


def test_header_scene_touches_head_and_throw_in_holds_ball_overhead():
    s = make_scene("Header", 40, 25.0, np.array([50.0, 30.0]), 0.0, np.random.default_rng(1))
    head = world_joints(s.tracks[0].pose(20, 1.8, 25.0))[J["head"]]
    assert np.linalg.norm(s.ball[20] - head) < CONTACT_DISTANCE + 0.15
    t = make_scene("ThrowIn", 40, 25.0, np.array([50.0, -0.4]), 1.57, np.random.default_rng(1))
    assert ACTION_ID["throw"] in t.tracks[0].action and t.ball[:25, 2].max() > 1.9
    with pytest.raises(ValueError, match="unknown recognition class"):
        make_scene("Nope", 40, 25.0, np.zeros(2), 0.0, np.random.default_rng(0))
    assert len(add_extras(t, 40, 25.0, 3, np.random.default_rng(0)).tracks) == 4
