"""Per-frame state of one player over a scripted stretch of time, and helpers to script it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .skeleton import ACTION_ID, NO_ACTION, Pose, gait_for_speed

STRIDE_M = {1: 1.5, 2: 2.3}  # metres per full gait cycle (walk, run)


def action_progress(
    start: int, end: int, n: int, key_frame: int | None = None, key_u: float = 0.5
) -> tuple[int, int, np.ndarray]:
    """Frames [a, b) of an action played over [start, end) clipped to n frames, and its progress u there:
    linear from 0 to 1, or piecewise linear through ``key_u`` at ``key_frame`` (e.g. the contact)."""
    a, b = max(start, 0), min(end, n)
    f = np.arange(a, b, dtype=float)
    if key_frame is None:
        u = (f - start) / max(end - 1 - start, 1)
    else:
        u = np.where(
            f <= key_frame,
            key_u * (f - start) / max(key_frame - start, 1),
            key_u + (1 - key_u) * (f - key_frame) / max(end - 1 - key_frame, 1),
        )
    return a, b, np.clip(u, 0.0, 1.0)


def jump_profile(apex_frame: int, height: float, duration_frames: int, n: int) -> np.ndarray:
    """Lift (n,) of a parabolic jump of ``height`` metres peaking at ``apex_frame``."""
    s = (np.arange(n) - (apex_frame - duration_frames // 2)) / max(duration_frames, 1)
    return np.where((s >= 0) & (s <= 1), 4 * height * s * (1 - s), 0.0)


@dataclass
class Track:
    """Arrays of length n: ground position, heading, action and its progress, jump lift."""

    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    action: np.ndarray
    u: np.ndarray
    amp: np.ndarray
    aux: np.ndarray
    lift: np.ndarray

    @staticmethod
    def empty(n: int) -> Track:
        z = np.zeros(n)
        return Track(z.copy(), z.copy(), z.copy(), np.full(n, NO_ACTION, np.int16), z.copy(), np.full(n, 0.5), z.copy(), z.copy())

    @staticmethod
    def line(p0, velocity, n: int, fps: float) -> Track:
        t = np.arange(n) / fps
        tr = Track.empty(n)
        tr.x[:] = p0[0] + velocity[0] * t
        tr.y[:] = p0[1] + velocity[1] * t
        tr.yaw[:] = math.atan2(velocity[1], velocity[0]) if np.hypot(*velocity) > 1e-6 else 0.0
        return tr

    def set_action(self, name: str, start: int, end: int, *, amp: float = 0.5, aux: float = 0.0,
                   key_frame: int | None = None, key_u: float = 0.5) -> None:  # fmt: skip
        """Play action ``name`` over frames [start, end); if key_frame is given, u == key_u there."""
        a, b, u = action_progress(start, end, len(self.x), key_frame, key_u)
        self.action[a:b] = ACTION_ID[name]
        self.u[a:b] = u
        self.amp[a:b] = amp
        self.aux[a:b] = aux

    def set_jump(self, apex_frame: int, height: float, duration_frames: int) -> None:
        """Parabolic lift of the whole body with its apex at ``apex_frame``."""
        self.lift[:] = np.maximum(self.lift, jump_profile(apex_frame, height, duration_frames, len(self.x)))

    def pose(self, i: int, height: float, fps: float, gait_phase: float | None = None) -> Pose:
        """Pose at frame i; the gait comes from the local speed."""
        j = min(i + 1, len(self.x) - 1)
        k = max(i - 1, 0)
        speed = math.hypot(self.x[j] - self.x[k], self.y[j] - self.y[k]) * fps / max(j - k, 1)
        gait = gait_for_speed(speed)
        return Pose(
            x=float(self.x[i]), y=float(self.y[i]), yaw=float(self.yaw[i]), height=height, gait=gait,
            gait_phase=gait_phase if gait_phase is not None else 0.0, action=int(self.action[i]), u=float(self.u[i]),
            amp=float(self.amp[i]), aux=float(self.aux[i]), lift=float(self.lift[i]),
        )  # fmt: skip

    def gait_phases(self, fps: float) -> np.ndarray:
        """Stride phase per frame, integrated from the distance travelled."""
        step = np.hypot(np.diff(self.x, prepend=self.x[0]), np.diff(self.y, prepend=self.y[0]))
        speed = step * fps
        stride = np.where(speed < 2.6, STRIDE_M[1], STRIDE_M[2])
        return np.cumsum(step / stride) % 1.0


def heading_of(x: np.ndarray, y: np.ndarray, fallback: float) -> np.ndarray:
    """Direction of motion per frame; keeps the previous heading when standing still."""
    dx = np.gradient(x)
    dy = np.gradient(y)
    yaw = np.empty(len(x))
    last = fallback
    for i in range(len(x)):
        if math.hypot(dx[i], dy[i]) > 0.01:
            last = math.atan2(dy[i], dx[i])
        yaw[i] = last
    return yaw
