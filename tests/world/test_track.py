import numpy as np

from replaylab.world.skeleton import ACTION_ID
from replaylab.world.track import Track, heading_of


def test_line_and_key_frame_progress():
    tr = Track.line(np.array([0.0, 0.0]), np.array([5.0, 0.0]), 26, 25.0)
    assert tr.x[-1] == 5.0 and tr.yaw[0] == 0.0
    tr.set_action("kick", 10, 21, key_frame=14, key_u=0.5)
    assert tr.action[14] == ACTION_ID["kick"] and tr.u[14] == 0.5 and tr.u[10] == 0.0 and tr.u[20] == 1.0
    assert tr.action[9] == -1 and tr.action[21] == -1


def test_jump_apex_and_gait_phase():
    tr = Track.empty(30)
    tr.set_jump(15, 0.4, 10)
    assert tr.lift[15] == max(tr.lift) and abs(tr.lift[15] - 0.4) < 1e-9 and tr.lift[0] == 0
    run = Track.line(np.zeros(2), np.array([4.6, 0.0]), 51, 25.0)
    phase = run.gait_phases(25.0)
    assert min(phase[-1], 1 - phase[-1]) < 0.02  # 9.2 m = 4 full strides of 2.3 m
    assert run.pose(10, 1.8, 25.0).gait == 2


def test_heading_follows_motion():
    h = heading_of(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.0]), fallback=2.0)
    assert abs(h[-1]) < 1e-9
