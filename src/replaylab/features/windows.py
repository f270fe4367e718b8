"""The post-filter's features: a window of +-``half_window`` frames (31 frames by default) of per-frame
probabilities around every frame of a video.

Input: a ``(n_frames, C)`` array of probabilities of one video (columns such as ``cnn_prob``,
``pre_xgb_prob``, ``ensemble_prob``), NaN where a model was not evaluated (the CNN runs only on the
pre-filter's candidate frames). Output: float32 ``(n_frames, D)``, columns :func:`window_feature_names`,
never NaN. For each column ``c`` and offset ``k`` in ``-h..h``:

- ``c@k`` (k = -15..+15): the value at frame ``t + k``; **-1** where it was not evaluated, **-2** where
  ``t + k`` lies outside the video (explicit border and not-evaluated codes a tree can split on);

and summaries over the window's evaluated frames inside the video (0 when there are none):

- ``c:max``, ``c:mean``, ``c:std``; ``c:evaluated`` (share of the window's frames that were evaluated);
- ``c:center_minus_max`` (the centre's value minus the window maximum; -1 when the centre was not
  evaluated) and ``c:argmax_offset`` (offset of the maximum, frames; 0 when none);
- ``c:is_peak`` (1 when the centre is evaluated and holds the window maximum);
- ``c:left_mean``, ``c:right_mean`` (means of the evaluated frames before / after the centre);
- ``c:above_half`` (share of evaluated frames at >= half the window maximum: the width of the peak);

plus ``frames_to_start`` and ``frames_to_end`` (distance to the video's first / last frame, capped at
``h + 1``) and ``outside`` (share of the window beyond the borders).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

NOT_EVALUATED = -1.0
OUTSIDE = -2.0
SUMMARIES = ("max", "mean", "std", "evaluated", "center_minus_max", "argmax_offset", "is_peak", "left_mean", "right_mean",
             "above_half")  # fmt: skip
GLOBAL = ("frames_to_start", "frames_to_end", "outside")

__all__ = ["NOT_EVALUATED", "OUTSIDE", "active_frames", "window_feature_names", "window_features"]


def window_feature_names(columns: Sequence[str], half_window: int) -> list[str]:
    if half_window < 0:
        raise ValueError(f"half_window must be >= 0, got {half_window}")
    names = []
    for c in columns:
        names += [f"{c}@{k:+d}" for k in range(-half_window, half_window + 1)]
        names += [f"{c}:{s}" for s in SUMMARIES]
    return names + list(GLOBAL)


def _windows(values: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, 2h+1) views of the values, of 'evaluated' and of 'inside the video'."""
    n = values.shape[0]
    padded = np.concatenate([np.full(h, np.nan), values, np.full(h, np.nan)])
    inside = np.concatenate([np.zeros(h, bool), np.ones(n, bool), np.zeros(h, bool)])
    w = sliding_window_view(padded, 2 * h + 1)
    ins = sliding_window_view(inside, 2 * h + 1)
    return w, np.isfinite(w), ins


def window_features(probs: np.ndarray, *, half_window: int, columns: Sequence[str] | None = None) -> np.ndarray:
    """Window features of one video, columns as :func:`window_feature_names` (``columns`` only names them)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (n_frames, columns), got shape {p.shape}")
    if columns is not None and len(columns) != p.shape[1]:
        raise ValueError(f"{len(columns)} column names for {p.shape[1]} columns")
    if np.isinf(p).any():
        raise ValueError("probabilities must be finite or NaN (not evaluated)")
    h = int(half_window)
    n, n_cols = p.shape
    width = 2 * h + 1
    per_col = width + len(SUMMARIES)
    out = np.zeros((n, n_cols * per_col + len(GLOBAL)), dtype=np.float64)
    if n == 0:
        return out.astype(np.float32)
    offsets = np.arange(-h, h + 1, dtype=np.float64)
    for ci in range(n_cols):
        w, ev, ins = _windows(p[:, ci], h)
        raw = np.where(ev, w, np.where(ins, NOT_EVALUATED, OUTSIDE))
        base = ci * per_col
        out[:, base : base + width] = raw
        cnt = ev.sum(1)
        anyv = cnt > 0
        vals0 = np.where(ev, w, 0.0)
        mx = np.where(ev, w, -np.inf).max(1)
        mx = np.where(anyv, mx, 0.0)
        mean = np.where(anyv, vals0.sum(1) / np.maximum(cnt, 1), 0.0)
        var = np.where(anyv, (np.where(ev, (w - mean[:, None]) ** 2, 0.0)).sum(1) / np.maximum(cnt, 1), 0.0)
        centre, centre_ev = w[:, h], ev[:, h]
        arg = np.argmax(np.where(ev, w, -np.inf), axis=1)
        left_cnt, right_cnt = ev[:, :h].sum(1), ev[:, h + 1 :].sum(1)
        left = np.where(left_cnt > 0, vals0[:, :h].sum(1) / np.maximum(left_cnt, 1), 0.0)
        right = np.where(right_cnt > 0, vals0[:, h + 1 :].sum(1) / np.maximum(right_cnt, 1), 0.0)
        above = np.where(anyv, (ev & (np.where(ev, w, -np.inf) >= 0.5 * mx[:, None])).sum(1) / np.maximum(cnt, 1), 0.0)
        summaries = {
            "max": mx,
            "mean": mean,
            "std": np.sqrt(var),
            "evaluated": cnt / width,
            "center_minus_max": np.where(centre_ev, np.where(centre_ev, centre, 0.0) - mx, -1.0),
            "argmax_offset": np.where(anyv, offsets[arg], 0.0),
            "is_peak": (centre_ev & (np.where(centre_ev, centre, -np.inf) >= mx)).astype(np.float64),
            "left_mean": left,
            "right_mean": right,
            "above_half": above,
        }
        for si, name in enumerate(SUMMARIES):
            out[:, base + width + si] = summaries[name]
    idx = np.arange(n)
    g = n_cols * per_col
    out[:, g] = np.minimum(idx, h + 1)
    out[:, g + 1] = np.minimum(n - 1 - idx, h + 1)
    out[:, g + 2] = (np.maximum(h - idx, 0) + np.maximum(idx + h - (n - 1), 0)) / width
    return out.astype(np.float32)


def active_frames(values: np.ndarray, *, half_window: int) -> np.ndarray:
    """Frames with at least one evaluated (non-NaN) value within +-``half_window``."""
    v = np.isfinite(np.asarray(values, dtype=np.float64)).astype(np.int64)
    if v.size == 0:
        return np.zeros(0, bool)
    c = np.concatenate([[0], np.cumsum(v)])
    n = v.shape[0]
    lo = np.clip(np.arange(n) - half_window, 0, n)
    hi = np.clip(np.arange(n) + half_window + 1, 0, n)
    return (c[hi] - c[lo]) > 0
