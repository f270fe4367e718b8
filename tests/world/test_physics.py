import numpy as np
import pytest

from replaylab.world.physics import BALL_RADIUS, GRAVITY, BallParams, aim, flight_position, simulate, step


def test_flight_follows_closed_form_parabola():
    p0, v0 = np.array([10.0, 20.0, 0.11]), np.array([8.0, -3.0, 12.0])
    pos, vel, bounces = simulate(p0, v0, 80, 25.0, BallParams())
    t = np.arange(80) / 25.0
    airborne = p0[2] + v0[2] * t - 0.5 * GRAVITY * t**2 > BALL_RADIUS
    airborne[0] = True
    n = int(np.argmin(airborne))  # first frame at or after landing
    expected = np.stack([p0[0] + v0[0] * t, p0[1] + v0[1] * t, p0[2] + v0[2] * t - 0.5 * GRAVITY * t**2], 1)
    np.testing.assert_allclose(pos[:n], expected[:n], atol=1e-9)
    np.testing.assert_allclose(vel[:n, 2], v0[2] - GRAVITY * t[:n], atol=1e-9)
    assert bounces and bounces[0] == n


def test_aim_hits_target_exactly():
    p0, target = np.array([0.0, 0.0, 0.11]), np.array([25.0, 10.0, 1.9])
    v0 = aim(p0, target, 1.6)
    np.testing.assert_allclose(flight_position(p0, v0, 1.6), target, atol=1e-9)
    with pytest.raises(ValueError):
        aim(p0, target, 0.0)


def test_bounce_keeps_restitution_share_of_vertical_speed():
    bp = BallParams(restitution=0.6, bounce_friction=0.8)
    p, v = np.array([0.0, 0.0, BALL_RADIUS + 1e-6]), np.array([5.0, 0.0, -6.0])
    p2, v2, bounced = step(p, v, 0.01, bp)
    assert bounced
    assert v2[2] == pytest.approx(0.6 * 6.0, rel=0.05)
    assert v2[0] == pytest.approx(0.8 * 5.0, rel=1e-6)
    assert p2[2] >= BALL_RADIUS


def test_ball_never_goes_below_ground_and_comes_to_rest():
    pos, vel, bounces = simulate(np.array([0.0, 0.0, 3.0]), np.array([6.0, 1.0, 4.0]), 400, 25.0, BallParams())
    assert pos[:, 2].min() >= BALL_RADIUS - 1e-9
    assert len(bounces) >= 2
    assert np.hypot(*vel[-1, :2]) == 0.0 and pos[-1, 2] == pytest.approx(BALL_RADIUS)
    # bounce heights decrease
    peaks = [pos[a:b, 2].max() for a, b in zip(bounces, bounces[1:])]
    assert all(x > y for x, y in zip(peaks, peaks[1:]))


def test_rolling_distance_matches_friction():
    bp = BallParams(rolling_friction=0.35)
    v = 6.0
    pos, _, _ = simulate(np.array([0.0, 0.0, BALL_RADIUS]), np.array([v, 0.0, 0.0]), 200, 25.0, bp)
    assert pos[-1, 0] == pytest.approx(v**2 / (2 * 0.35 * GRAVITY), rel=1e-6)
