"""Pinhole cameras: position, orientation (pan / tilt / roll) and focal length in pixels.

Camera axes: x right, y down, z forward (OpenCV convention). World: pitch coordinates in metres,
x along the touchline (0..105), y across (0..68), z up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .physics import PITCH_LENGTH, PITCH_WIDTH


def matmul_exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a short inner dimension (3) as elementwise products summed in a fixed order: unlike
    ``@`` (BLAS, whose kernels and FMA use depend on the CPU) this gives the same bits on every machine."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    out = a[..., :, 0, None] * b[0]
    for k in range(1, a.shape[-1]):
        out = out + a[..., :, k, None] * b[k]
    return out


@dataclass(frozen=True)
class Camera:
    position: tuple[float, float, float]
    pan: float  # radians, direction of view in the ground plane (0 = +x)
    tilt: float  # radians, negative looks down
    focal: float  # pixels
    width: int
    height: int
    roll: float = 0.0

    @cached_property
    def rotation(self) -> np.ndarray:
        """World-to-camera rotation: rows are the camera's right, down and forward axes."""
        cp, sp, ct, st = math.cos(self.pan), math.sin(self.pan), math.cos(self.tilt), math.sin(self.tilt)
        fwd = np.array([ct * cp, ct * sp, st])
        right = np.array([sp, -cp, 0.0])  # fwd x up, normalised (horizontal)
        down = np.array(
            [fwd[1] * right[2] - fwd[2] * right[1], fwd[2] * right[0] - fwd[0] * right[2], fwd[0] * right[1] - fwd[1] * right[0]]
        )
        if self.roll:
            cr, sr = math.cos(self.roll), math.sin(self.roll)
            right, down = cr * right + sr * down, -sr * right + cr * down
        return np.stack([right, down, fwd])

    @cached_property
    def intrinsics(self) -> np.ndarray:
        return np.array([[self.focal, 0.0, self.width / 2.0], [0.0, self.focal, self.height / 2.0], [0.0, 0.0, 1.0]])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return matmul_exact(np.asarray(points, float) - np.asarray(self.position), self.rotation.T)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (..., 2) and depth (...) of world points. Depth <= 0 is behind the camera."""
        pc = self.to_camera(points)
        depth = pc[..., 2]
        safe = np.where(depth > 1e-6, depth, 1e-6)
        uv = np.stack([self.focal * pc[..., 0] / safe + self.width / 2.0, self.focal * pc[..., 1] / safe + self.height / 2.0], -1)
        return uv, depth

    def ground_homography(self) -> np.ndarray:
        """3x3 map from ground-plane points (X, Y, 1) to homogeneous pixels."""
        r = self.rotation
        t = -matmul_exact(r, np.asarray(self.position, float)[:, None])[:, 0]
        return matmul_exact(self.intrinsics, np.column_stack([r[:, 0], r[:, 1], t]))

    def as_row(self) -> dict[str, float]:
        x, y, z = self.position
        return {"cam_x": x, "cam_y": y, "cam_z": z, "pan": self.pan, "tilt": self.tilt, "roll": self.roll, "focal": self.focal}


def look_at(position, target, width: int, height: int, view_width_m: float, roll: float = 0.0) -> Camera:
    """Camera at ``position`` aimed at ``target`` whose horizontal field spans ``view_width_m`` there."""
    p = np.asarray(position, float)
    d = np.asarray(target, float) - p
    dist = math.sqrt(sum(float(v) * float(v) for v in d))  # no BLAS: the same bits on every CPU
    pan = math.atan2(d[1], d[0])
    tilt = math.atan2(d[2], math.hypot(d[0], d[1]))
    focal = width * dist / max(view_width_m, 0.5)
    return Camera(tuple(p), pan, tilt, focal, width, height, roll)


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
