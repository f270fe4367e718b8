"""The pinhole camera model shared by the synthetic world (rendering) and the real-data code (the per-frame
calibration of ``camera.csv``, projecting the tracked ball into the image): position, orientation
(pan / tilt / roll) and focal length in pixels.

Camera axes: x right, y down, z forward (OpenCV convention). World: pitch coordinates in metres,
x along the touchline (0..105), y across (0..68), z up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np


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
