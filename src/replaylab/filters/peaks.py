"""From per-frame scores to events and windows: peak picking with non-maximum suppression, dilation of a
frame mask and the runs (windows) of a mask."""

from __future__ import annotations

import numpy as np

__all__ = ["dilate", "pick_peaks", "runs"]


def pick_peaks(scores: np.ndarray, *, nms_frames: int, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Frames and scores of the peaks of ``scores``, highest first.

    Greedy non-maximum suppression: the highest-scoring frame (the earliest on a tie) becomes a peak and
    suppresses every frame within ``nms_frames`` of it; repeat among the frames left with score >=
    ``min_score``. NaN scores are never peaks. The result is sorted by frame."""
    s = np.asarray(scores, dtype=np.float64)
    if nms_frames < 0:
        raise ValueError(f"nms_frames must be >= 0, got {nms_frames}")
    ok = np.isfinite(s) & (s >= min_score)
    cand = np.flatnonzero(ok)
    if cand.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    order = cand[np.lexsort((cand, -s[cand]))]
    suppressed = np.zeros(s.shape[0], bool)
    keep = []
    for f in order.tolist():
        if suppressed[f]:
            continue
        keep.append(f)
        suppressed[max(f - nms_frames, 0) : f + nms_frames + 1] = True
    frames = np.array(sorted(keep), dtype=np.int64)
    return frames, s[frames]


def dilate(mask: np.ndarray, pad: int) -> np.ndarray:
    """``mask`` grown by ``pad`` frames on each side."""
    m = np.asarray(mask, dtype=bool)
    if pad <= 0 or m.size == 0:
        return m.copy()
    c = np.concatenate([[0], np.cumsum(m.astype(np.int64))])
    n = m.shape[0]
    idx = np.arange(n)
    lo, hi = np.clip(idx - pad, 0, n), np.clip(idx + pad + 1, 0, n)
    return (c[hi] - c[lo]) > 0


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) frames, inclusive, of the runs of True in ``mask``."""
    m = np.asarray(mask, dtype=np.int8)
    if m.size == 0:
        return []
    d = np.diff(np.concatenate([[0], m, [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist()))
