"""Scores of a prompt-tuning run on one split, with scikit-learn: top-1, top-5 (None with 5 classes or fewer), mean
class accuracy (``balanced_accuracy_score``: the mean of the per-class recalls of the classes present), and
top-1 on the clips of the classes unseen in pretraining and on the others (every clip is classified among all
classes)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm

__all__ = ["score"]


def _top1(labels: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> float | None:
    return float((pred[mask] == labels[mask]).mean()) if mask.any() else None


def score(labels: Sequence[int], logits: np.ndarray, *, classes: Sequence[str], unseen: Sequence[str]) -> dict:
    y = np.asarray(labels, dtype=np.int64)
    z = np.asarray(logits, dtype=np.float64)
    if z.shape != (len(y), len(classes)):
        raise ValueError(f"logits of shape {z.shape} for {len(y)} clips and {len(classes)} classes")
    pred = z.argmax(axis=1)
    unseen_idx = [classes.index(c) for c in unseen if c in classes]
    is_unseen = np.isin(y, unseen_idx)
    with warnings.catch_warnings():  # a class predicted but absent from this split's labels
        warnings.simplefilter("ignore", UserWarning)
        balanced = float(skm.balanced_accuracy_score(y, pred))
    return {
        "top1": float(skm.accuracy_score(y, pred)),
        "top5": float(skm.top_k_accuracy_score(y, z, k=5, labels=np.arange(len(classes)))) if len(classes) > 5 else None,
        "mean_class_accuracy": balanced,
        "top1_unseen": _top1(y, pred, is_unseen),
        "top1_seen": _top1(y, pred, ~is_unseen),
        "clips": int(len(y)),
        "clips_unseen": int(is_unseen.sum()),
    }
