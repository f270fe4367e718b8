"""Vectorised sliding-window operations on per-frame signals (numpy only), shared by the tracking and
probability-window features.

Every function works on a 1-D array over a regular frame grid and returns an array of the same length;
windows are given in frames as offsets ``j0..j1`` relative to the frame (``j0 <= 0 <= j1``), so a centred
window is ``(-k, k)`` and a one-sided one ``(-k, 0)`` or ``(0, k)``. Nothing here produces NaN from finite
input: where a window has too few samples, fits report ``valid = False`` and values of 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["LocalFit", "frames_for", "local_fit", "shift", "sliding_max", "sliding_min", "window_sum"]


def frames_for(seconds: float, dt: float) -> int:
    """Number of frames (at least 1) spanning ``seconds`` on a grid of step ``dt`` seconds."""
    if dt <= 0:
        raise ValueError(f"frame step must be positive, got {dt}")
    return max(1, round(seconds / dt))


def window_sum(values: np.ndarray, j0: int, j1: int, weights: np.ndarray | None = None) -> np.ndarray:
    """``out[t] = sum_{j=j0..j1} w[j - j0] * values[t + j]``; samples outside the array count as 0."""
    if j0 > j1:
        raise ValueError(f"empty window {j0}..{j1}")
    v = np.asarray(values, dtype=np.float64)
    n = v.shape[0]
    w = np.ones(j1 - j0 + 1) if weights is None else np.asarray(weights, dtype=np.float64)
    pad = max(abs(j0), abs(j1))
    vp = np.concatenate([np.zeros(pad), v, np.zeros(pad)])
    seg = vp[pad + j0 : pad + j0 + n + (j1 - j0)]
    return np.correlate(seg, w, mode="valid")[:n]


def shift(values: np.ndarray, k: int) -> np.ndarray:
    """``out[t] = values[clip(t + k, 0, n - 1)]`` (the edge sample is repeated beyond the borders)."""
    v = np.asarray(values)
    idx = np.clip(np.arange(v.shape[0]) + k, 0, v.shape[0] - 1)
    return v[idx]


def _sliding(values: np.ndarray, k: int, fill: float, reduce) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if k <= 0 or v.shape[0] == 0:
        return v.copy()
    vp = np.concatenate([np.full(k, fill), v, np.full(k, fill)])
    return reduce(sliding_window_view(vp, 2 * k + 1), axis=1)


def sliding_max(values: np.ndarray, k: int) -> np.ndarray:
    """Maximum over the centred window ``t-k..t+k`` (borders: over the part inside the array)."""
    return _sliding(values, k, -np.inf, np.max)


def sliding_min(values: np.ndarray, k: int) -> np.ndarray:
    """Minimum over the centred window ``t-k..t+k`` (borders: over the part inside the array)."""
    return _sliding(values, k, np.inf, np.min)


@dataclass(frozen=True)
class LocalFit:
    """Least-squares polynomial ``value + slope * tau + 0.5 * curvature * tau**2`` fitted around every frame
    (``tau`` in seconds from the frame): value, first and second derivative at the frame, the number of
    samples used and whether the fit was determined (enough samples; else the three are 0)."""

    value: np.ndarray
    slope: np.ndarray
    curvature: np.ndarray
    count: np.ndarray
    valid: np.ndarray


def local_fit(values: np.ndarray, mask: np.ndarray, j0: int, j1: int, dt: float, *, degree: int = 1,
              gravity: float = 0.0, min_count: int | None = None) -> LocalFit:  # fmt: skip
    """Polynomial fit of ``values`` (where ``mask``) over the frames ``t+j0..t+j1`` of every frame ``t``.

    ``degree`` 0, 1 or 2. ``gravity`` fixes the second derivative to ``-gravity`` (a ball in free flight,
    m/s^2) and fits value and slope only (``degree`` must be 1). A fit needs ``min_count`` samples
    (default ``degree + 2``, one more than the unknowns, so noise cannot be fitted exactly).
    """
    if degree not in (0, 1, 2):
        raise ValueError(f"degree must be 0, 1 or 2, got {degree}")
    if gravity and degree != 1:
        raise ValueError("a fixed gravity fits value and slope only (degree 1)")
    v = np.where(mask, np.asarray(values, dtype=np.float64), 0.0)
    m = np.asarray(mask, dtype=np.float64)
    if not np.isfinite(v).all():
        raise ValueError("local_fit: masked values must be finite")
    tau = np.arange(j0, j1 + 1, dtype=np.float64) * dt
    n_coef = degree + 1
    s = [window_sum(m, j0, j1, tau**p) for p in range(2 * n_coef - 1 + (2 if gravity else 0))]
    r = [window_sum(v, j0, j1, tau**p) for p in range(n_coef)]
    if gravity:  # fit (z + g/2 tau^2) = a + b tau
        r = [r[p] + 0.5 * gravity * s[p + 2] for p in range(n_coef)]
    n = v.shape[0]
    a = np.empty((n, n_coef, n_coef))
    for i in range(n_coef):
        for j in range(n_coef):
            a[:, i, j] = s[i + j]
    b = np.stack(r, axis=1)
    count = s[0]
    need = (degree + 2) if min_count is None else min_count
    det = np.linalg.det(a) if n_coef > 1 else s[0]
    scale = np.maximum(s[0], 1.0) ** n_coef * np.maximum(np.abs(tau).max(), dt) ** (n_coef * (n_coef - 1))
    ok = (count >= need - 1e-9) & (np.abs(det) > 1e-9 * scale)
    a[~ok] = np.eye(n_coef)
    b[~ok] = 0.0
    coef = np.linalg.solve(a, b[..., None])[..., 0]
    coef[~ok] = 0.0
    value = coef[:, 0]
    slope = coef[:, 1] if n_coef > 1 else np.zeros(n)
    if gravity:
        curvature = np.where(ok, -gravity, 0.0)
    else:
        curvature = 2.0 * coef[:, 2] if n_coef > 2 else np.zeros(n)
    return LocalFit(value=value, slope=slope, curvature=curvature, count=count, valid=ok)
