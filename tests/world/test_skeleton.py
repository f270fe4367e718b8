import math

import numpy as np
import pytest

from replaylab.world.skeleton import ACTION_ID, HEAD_RADIUS, J, Pose, head_position, world_joints


def test_standing_body_has_its_height_and_feet_on_ground():
    for h in (1.70, 1.95):
        j = world_joints(Pose(x=10.0, y=5.0, yaw=0.3, height=h))
        assert j[J["head"], 2] + HEAD_RADIUS == pytest.approx(h, abs=0.06)
        assert min(j[J["l_foot"], 2], j[J["r_foot"], 2]) == pytest.approx(0.0, abs=1e-9)
        assert np.hypot(j[J["pelvis"], 0] - 10.0, j[J["pelvis"], 1] - 5.0) < 1e-9


def test_yaw_rotates_body():
    a = world_joints(Pose(0, 0, 0.0, 1.8, action=ACTION_ID["push"], u=0.5))
    b = world_joints(Pose(0, 0, math.pi / 2, 1.8, action=ACTION_ID["push"], u=0.5))
    assert a[J["r_hand"], 0] > 0.3 and abs(a[J["r_hand"], 1]) < 0.3  # arms forward along +x
    assert b[J["r_hand"], 1] > 0.3  # after a quarter turn, forward is +y


def test_running_legs_move_and_jump_lifts_body():
    f1 = world_joints(Pose(0, 0, 0, 1.8, gait=2, gait_phase=0.25))
    f2 = world_joints(Pose(0, 0, 0, 1.8, gait=2, gait_phase=0.75))
    assert f1[J["l_foot"], 0] > f1[J["r_foot"], 0] and f2[J["l_foot"], 0] < f2[J["r_foot"], 0]
    up = world_joints(Pose(0, 0, 0, 1.8, action=ACTION_ID["jump"], u=0.5, lift=0.4))
    assert up[:, 2].min() == pytest.approx(0.4, abs=0.05)


def test_fall_ends_lying_and_header_snaps_forward():
    lying = world_joints(Pose(0, 0, 0, 1.8, action=ACTION_ID["fall"], u=1.0, aux=0.0))
    assert lying[J["head"], 2] < 0.5 and lying[J["head"], 0] > 1.2  # fell forward
    before = head_position(Pose(0, 0, 0, 1.8, action=ACTION_ID["head"], u=0.3))
    contact = head_position(Pose(0, 0, 0, 1.8, action=ACTION_ID["head"], u=0.52))
    assert contact[0] > before[0] + 0.1  # the head moves forward into the ball


def test_kick_swings_leg_and_high_leg_raises_foot():
    back = world_joints(Pose(0, 0, 0, 1.8, action=ACTION_ID["kick"], u=0.3))
    through = world_joints(Pose(0, 0, 0, 1.8, action=ACTION_ID["kick"], u=0.75))
    assert back[J["r_foot"], 0] < 0 < through[J["r_foot"], 0]
    high = world_joints(Pose(0, 0, 0, 1.8, action=ACTION_ID["raised_leg"], u=0.5, amp=1.0, aux=0.0))
    assert high[J["r_foot"], 2] > 1.1
