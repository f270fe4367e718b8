"""Stand-in for export_probs in tests: a probabilities CSV in the contract's format
(``video_id, frame, cnn_prob, pre_xgb_prob, ensemble_prob``, one row per video frame, ``cnn_prob`` empty where
the CNN was not run) generated from the ground truth with noise, so the post-filter's stage logic can be
exercised before the real CNN export exists."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def simulated_cnn(n_frames: int, headers, lookalikes, evaluated: np.ndarray, rng: np.random.Generator, *,
                  peak: float = 0.8, lookalike: float = 0.45, noise: float = 0.12, spurious_rate: float = 0.01) -> np.ndarray:  # fmt: skip
    """A noisy clip classifier evaluated at the ``evaluated`` frames: a bump of height ~``peak`` (sigma 3
    frames) at each header, ~``lookalike`` at look-alike events, isolated spurious spikes; NaN elsewhere."""
    t = np.arange(n_frames)
    base = np.zeros(n_frames)
    for f in headers:
        base = np.maximum(base, rng.uniform(0.75, 1.1) * peak * np.exp(-0.5 * ((t - f) / 3.0) ** 2))
    for f in lookalikes:
        base = np.maximum(base, rng.uniform(0.3, 1.2) * lookalike * np.exp(-0.5 * ((t - f) / 3.0) ** 2))
    spikes = rng.random(n_frames) < spurious_rate
    base = np.where(spikes, np.maximum(base, rng.uniform(0.4, 0.95, n_frames)), base)
    p = np.clip(base + rng.normal(0, noise, n_frames), 0.0, 1.0)
    return np.where(evaluated, p, np.nan)


def write_probs_csv(path: Path, rows_by_video: dict[str, dict[str, np.ndarray]]) -> None:
    """``rows_by_video[video] = {"cnn_prob": ..., "pre_xgb_prob": ..., "ensemble_prob": ...}`` (NaN = empty)."""
    cols = ("cnn_prob", "pre_xgb_prob", "ensemble_prob")
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("video_id", "frame", *cols))
        for vid, d in rows_by_video.items():
            n = d["pre_xgb_prob"].shape[0]
            for f in range(n):
                w.writerow((vid, f, *("" if np.isnan(d[c][f]) else f"{d[c][f]:.6f}" for c in cols)))


def ensemble(cnn: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """Mean of the two where the CNN ran, the pre-filter's probability elsewhere."""
    return np.where(np.isnan(cnn), pre, 0.5 * (cnn + pre))
