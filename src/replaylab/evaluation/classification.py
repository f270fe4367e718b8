"""Binary and multi-class classification metrics: ROC / AUROC, precision-recall / average precision,
thresholded precision / recall / F1, confusion matrices.

Definitions follow the usual ones (scikit-learn's, number for number): AUROC is the area under the ROC
curve with ties handled by the trapezoid between tied scores; average precision is
``sum_n (R_n - R_{n-1}) P_n`` over decreasing score thresholds (no interpolation). Both are NaN when only
one class is present.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _binary(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D of one length, got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y, s


def _counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True / false positives at each distinct threshold, thresholds descending."""
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each run of tied scores
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    return tp, fp, s[last]


def roc_curve(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds), starting at (0, 0) with threshold +inf."""
    y, s = _binary(labels, scores)
    tp, fp, thr = _counts(y, s)
    p, n = y.sum(), len(y) - y.sum()
    tpr = np.r_[0.0, tp / p] if p else np.full(len(tp) + 1, np.nan)
    fpr = np.r_[0.0, fp / n] if n else np.full(len(fp) + 1, np.nan)
    return fpr, tpr, np.r_[np.inf, thr]


def auroc(labels: Sequence[int], scores: Sequence[float]) -> float:
    y, _ = _binary(labels, scores)
    if y.min(initial=1) == y.max(initial=0):
        return math.nan
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.trapezoid(tpr, fpr))


def pr_curve(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) for decreasing thresholds (recall increasing)."""
    y, s = _binary(labels, scores)
    tp, fp, thr = _counts(y, s)
    p = y.sum()
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / p if p else np.full(len(tp), np.nan)
    return precision, recall, thr


def average_precision(labels: Sequence[int], scores: Sequence[float]) -> float:
    y, _ = _binary(labels, scores)
    if y.sum() == 0:
        return math.nan
    precision, recall, _ = pr_curve(labels, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def binary_report(labels: Sequence[int], probs: Sequence[float], *, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of ``probs >= threshold`` (0 where undefined, like zero_division=0)."""
    y, s = _binary(labels, probs)
    pred = s >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.mean(pred == (y == 1))) if len(y) else math.nan,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def confusion_matrix(labels: Sequence[int], preds: Sequence[int], n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): rows = true class, columns = predicted class."""
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(preds, dtype=np.int64)
    if y.shape != p.shape:
        raise ValueError(f"labels and predictions differ in length: {y.shape} vs {p.shape}")
    bad = (y < 0) | (y >= n_classes) | (p < 0) | (p >= n_classes)
    if bad.any():
        raise ValueError(f"class index outside 0..{n_classes - 1} at position {int(np.flatnonzero(bad)[0])}")
    out = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(out, (y, p), 1)
    return out
