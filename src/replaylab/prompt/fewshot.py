"""The few-shot protocol's sampling: ``k`` clips per class drawn with a seed (``None`` = every clip)."""

from __future__ import annotations

import numpy as np

__all__ = ["sample_per_class"]


def sample_per_class(labels: np.ndarray, *, k: int | None, seed: int, n_classes: int) -> tuple[np.ndarray, dict[int, int]]:
    """Sorted indices of ``k`` clips of every class (all of a class that has fewer), and ``{class: clips it has}``
    for each class short of ``k``. The same ``(labels, k, seed)`` always draws the same clips, and a larger ``k``
    draws a superset for the same seed (each class's clips are drawn in one seeded order)."""
    labels = np.asarray(labels, dtype=np.int64)
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1 or None, got {k}")
    rng = np.random.default_rng([int(seed), 7071])
    picked, short = [], {}
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        order = idx[rng.permutation(len(idx))]
        if k is not None and len(idx) < k:
            short[c] = len(idx)
        picked.append(order if k is None else order[:k])
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64), short
