"""The world's camera operator and camera positions."""

import numpy as np

from replaylab.world.rig import Follow, broadcast_position, foul_view_positions


def test_follow_converges_and_views_are_distinct():
    op = Follow((52.5, -30.0, 15.0), 320, 180, 20.0, stiffness=0.2)
    for _ in range(100):
        cam = op.update(np.array([70.0, 40.0, 0.0]))
    uv, _ = cam.project(np.array([[70.0, 40.0, 0.0]]))
    np.testing.assert_allclose(uv[0], [160.0, 90.0], atol=0.5)
    views = foul_view_positions(np.array([30.0, 30.0]), np.random.default_rng(0))
    assert set(views) == {"main", "reverse", "behind_goal", "close_up"}
    assert len({v[0] for v in views.values()}) == 4
    x, y, z = broadcast_position(np.random.default_rng(1))
    assert y < 0 < z and abs(x - 52.5) <= 3  # behind the near touchline, high, at the halfway line
