"""Ball physics in metres and seconds: gravity, ground bounces, rolling friction.

Integration is exact for piecewise-constant acceleration (a flight is a closed-form parabola
between bounces), so scripted episodes can aim the ball at a point and hit it to the millimetre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRAVITY = 9.81
BALL_RADIUS = 0.11
PITCH_LENGTH = 105.0
PITCH_WIDTH = 68.0


@dataclass(frozen=True)
class BallParams:
    """Ground interaction of the ball."""

    restitution: float = 0.62  # vertical speed kept at a bounce
    bounce_friction: float = 0.80  # horizontal speed kept at a bounce
    rolling_friction: float = 0.35  # rolling deceleration = mu * g (m/s^2 per g)
    rest_speed: float = 0.05  # below this horizontal speed the ball stops


def flight_position(p0: np.ndarray, v0: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Closed-form position of a ball in free flight after ``t`` seconds (no bounce)."""
    t = np.asarray(t, dtype=float)[..., None]
    g = np.array([0.0, 0.0, -GRAVITY])
    return p0 + v0 * t + 0.5 * g * t**2


def aim(p0: np.ndarray, target: np.ndarray, flight_time: float) -> np.ndarray:
    """Initial velocity that carries a ball from ``p0`` to ``target`` in ``flight_time`` seconds."""
    if flight_time <= 0:
        raise ValueError(f"flight_time must be positive, got {flight_time}")
    g = np.array([0.0, 0.0, -GRAVITY])
    return (np.asarray(target, float) - np.asarray(p0, float) - 0.5 * g * flight_time**2) / flight_time


def step(p: np.ndarray, v: np.ndarray, dt: float, params: BallParams) -> tuple[np.ndarray, np.ndarray, bool]:
    """Advance the ball by ``dt`` seconds. Returns (position, velocity, bounced)."""
    p = p.astype(float).copy()
    v = v.astype(float).copy()
    bounced = False
    remaining = dt
    for _ in range(8):  # at most a few bounces inside one frame
        if remaining <= 1e-12:
            break
        on_ground = p[2] <= BALL_RADIUS + 1e-9 and abs(v[2]) < 0.3
        if on_ground:
            p[2] = BALL_RADIUS
            v[2] = 0.0
            speed = float(np.hypot(v[0], v[1]))
            if speed < params.rest_speed:
                v[:2] = 0.0
                break
            decel = params.rolling_friction * GRAVITY
            t_stop = speed / decel
            t = min(remaining, t_stop)
            direction = v[:2] / speed
            p[:2] += direction * (speed * t - 0.5 * decel * t**2)
            new_speed = max(speed - decel * t, 0.0)
            v[:2] = direction * new_speed
            remaining -= t
            if new_speed == 0.0:
                break
            continue
        if p[2] <= BALL_RADIUS + 1e-9 and v[2] < 0:  # arriving at the ground right now: bounce
            p[2] = BALL_RADIUS
            v[2] = -v[2] * params.restitution
            v[:2] *= params.bounce_friction
            bounced = True
            continue
        # free flight: find the time the ball reaches the ground (z = radius) while falling
        a = -0.5 * GRAVITY
        b = v[2]
        c = p[2] - BALL_RADIUS
        disc = b * b - 4 * a * c
        t_hit = (-b - np.sqrt(max(disc, 0.0))) / (2 * a)
        if t_hit > remaining or t_hit <= 1e-12:
            p = flight_position(p, v, remaining)
            v = v + np.array([0.0, 0.0, -GRAVITY]) * remaining
            remaining = 0.0
            break
        p = flight_position(p, v, t_hit)
        v = v + np.array([0.0, 0.0, -GRAVITY]) * t_hit
        p[2] = BALL_RADIUS
        v[2] = -v[2] * params.restitution
        v[:2] *= params.bounce_friction
        bounced = True
        remaining -= t_hit
    return p, v, bounced


def simulate(
    p0: np.ndarray, v0: np.ndarray, n_frames: int, fps: float, params: BallParams
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Free ball trajectory sampled at ``fps`` for ``n_frames`` frames, starting at frame 0 with p0.

    Returns positions (n, 3), velocities (n, 3) and the frame indices whose interval ended a bounce.
    """
    pos = np.empty((n_frames, 3))
    vel = np.empty((n_frames, 3))
    p, v = np.asarray(p0, float), np.asarray(v0, float)
    bounces: list[int] = []
    for i in range(n_frames):
        pos[i], vel[i] = p, v
        p, v, bounced = step(p, v, 1.0 / fps, params)
        if bounced:
            bounces.append(i + 1)
    return pos, vel, bounces
