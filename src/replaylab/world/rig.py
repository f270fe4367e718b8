"""Where the synthetic world's cameras stand and how they move: the camera operator that follows the play
(:class:`Follow`) and the positions of the broadcast camera and of a foul's replay views, on the pitch of
:mod:`replaylab.world.physics`. The camera model itself is :mod:`replaylab.geometry.camera`."""

from __future__ import annotations

import math

import numpy as np

from ..geometry.camera import Camera, look_at
from .physics import PITCH_LENGTH, PITCH_WIDTH


class Follow:
    """A camera operator: pans, tilts and zooms smoothly to keep a target in view.

    ``stiffness`` is the fraction of the remaining error corrected per frame (critically damped feel).
    """

    def __init__(self, position, width: int, height: int, view_width_m: float, stiffness: float = 0.08):
        self.position = np.asarray(position, float)
        self.width, self.height = width, height
        self.view_width_m = view_width_m
        self.stiffness = stiffness
        self._aim: np.ndarray | None = None
        self._zoom = view_width_m

    def update(self, target, view_width_m: float | None = None) -> Camera:
        target = np.asarray(target, float)
        want = view_width_m if view_width_m is not None else self.view_width_m
        if self._aim is None:
            self._aim, self._zoom = target.copy(), want
        else:
            self._aim += self.stiffness * (target - self._aim)
            self._zoom += 0.5 * self.stiffness * (want - self._zoom)
        return look_at(self.position, self._aim, self.width, self.height, self._zoom)


def broadcast_position(rng: np.random.Generator) -> tuple[float, float, float]:
    """Main camera: high on the stand at the halfway line, behind the near touchline."""
    return (PITCH_LENGTH / 2 + rng.uniform(-3, 3), -rng.uniform(28, 36), rng.uniform(14, 20))


def foul_view_positions(focus: np.ndarray, rng: np.random.Generator) -> dict[str, tuple[tuple[float, float, float], float]]:
    """Camera positions and field widths (metres) for the views of one foul.

    Returns {view name: (position, view width)} for the main camera and three replay angles.
    """
    fx, fy = float(focus[0]), float(focus[1])
    main = (PITCH_LENGTH / 2 + rng.uniform(-4, 4), -rng.uniform(28, 36), rng.uniform(14, 20))
    reverse = (fx + rng.uniform(-15, 15), PITCH_WIDTH + rng.uniform(22, 30), rng.uniform(9, 14))
    goal_x = -rng.uniform(10, 16) if fx < PITCH_LENGTH / 2 else PITCH_LENGTH + rng.uniform(10, 16)
    behind = (goal_x, PITCH_WIDTH / 2 + rng.uniform(-6, 6), rng.uniform(6, 10))
    ang = rng.uniform(0, 2 * math.pi)
    dist = rng.uniform(14, 22)
    close = (fx + dist * math.cos(ang), fy + dist * math.sin(ang), rng.uniform(2.5, 5.0))
    return {
        "main": (main, rng.uniform(16, 22)),
        "reverse": (reverse, rng.uniform(12, 16)),
        "behind_goal": (behind, rng.uniform(12, 16)),
        "close_up": (close, rng.uniform(5.5, 7.5)),
    }
