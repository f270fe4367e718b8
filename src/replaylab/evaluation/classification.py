"""Binary and multi-class classification metrics on ``sklearn.metrics``: ROC / AUROC, precision-recall /
average precision, thresholded accuracy / precision / recall / F1, balanced accuracy, confusion matrices.

These wrappers fix the shapes the callers use and the edge cases scikit-learn answers with a warning,
an exception or a stand-in value:

- AUROC is NaN when only one class is present (scikit-learn raises); average precision is NaN without a
  positive (scikit-learn gives 0 with a warning, its recall being set to 1);
- :func:`pr_curve` runs over decreasing thresholds (recall increasing) without scikit-learn's appended
  ``(precision 1, recall 0)`` end point, and its recall is NaN without a positive;
- thresholded precision / recall / F1 are 0 where undefined (``zero_division=0``); accuracy of nothing is NaN;
- :func:`confusion_matrix` rejects a class index outside ``0..n_classes-1`` (scikit-learn drops it silently).

The MVFoul balanced accuracy (NaN for a class without ground truth, hits by the official string rules) and
the SoccerNet spotting metrics follow their official evaluators instead: ``evaluation/mvfoul.py`` and
``evaluation/spotting.py``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

__all__ = ["auroc", "average_precision", "balanced_accuracy", "binary_report", "confusion_matrix", "pr_curve", "roc_curve"]


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


def _classes(labels: Sequence[int], preds: Sequence[int], n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(preds, dtype=np.int64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"labels and predictions differ in length: {y.shape} vs {p.shape}")
    bad = (y < 0) | (y >= n_classes) | (p < 0) | (p >= n_classes)
    if bad.any():
        raise ValueError(f"class index outside 0..{n_classes - 1} at position {int(np.flatnonzero(bad)[0])}")
    return y, p


def roc_curve(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds) at every distinct score, starting at (0, 0) with
    threshold +inf. A rate whose class is absent is NaN throughout."""
    y, s = _binary(labels, scores)
    if not len(y):
        return np.zeros(1), np.zeros(1), np.array([np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, thr = skm.roc_curve(y, s, pos_label=1, drop_intermediate=False)
    return fpr, tpr, thr


def auroc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve (ties: the trapezoid between tied scores); NaN with one class only."""
    y, s = _binary(labels, scores)
    if len(np.unique(y)) < 2:
        return math.nan
    return float(skm.roc_auc_score(y, s))


def pr_curve(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) for decreasing thresholds (recall increasing), one point per distinct
    score; recall is NaN without a positive."""
    y, s = _binary(labels, scores)
    if not len(y):
        return np.zeros(0), np.zeros(0), np.zeros(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "No positive class found in y_true"
        precision, recall, thr = skm.precision_recall_curve(y, s, pos_label=1, drop_intermediate=False)
    precision, recall, thr = precision[-2::-1], recall[-2::-1], thr[::-1]  # drop the (1, 0) end point, reverse
    if not y.any():
        recall = np.full(len(thr), np.nan)
    return precision, recall, thr


def average_precision(labels: Sequence[int], scores: Sequence[float]) -> float:
    """``sum_n (R_n - R_{n-1}) P_n`` over decreasing thresholds (no interpolation); NaN without a positive."""
    y, s = _binary(labels, scores)
    if y.sum() == 0:
        return math.nan
    return float(skm.average_precision_score(y, s, pos_label=1))


def binary_report(labels: Sequence[int], probs: Sequence[float], *, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of ``probs >= threshold`` (0 where undefined, ``zero_division=0``;
    accuracy of no samples is NaN)."""
    y, s = _binary(labels, probs)
    pred = (s >= threshold).astype(np.int64)
    if not len(y):
        return {"accuracy": math.nan, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision, recall, f1, _ = skm.precision_recall_fscore_support(y, pred, labels=[0, 1], average=None, zero_division=0)
    return {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "precision": float(precision[1]),
        "recall": float(recall[1]),
        "f1": float(f1[1]),
    }


def balanced_accuracy(labels: Sequence[int], preds: Sequence[int], n_classes: int) -> float:
    """Mean per-class recall over the classes present in ``labels`` (scikit-learn's
    ``balanced_accuracy_score``); NaN for no samples."""
    y, p = _classes(labels, preds, n_classes)
    if not len(y):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true"
        return float(skm.balanced_accuracy_score(y, p))


def confusion_matrix(labels: Sequence[int], preds: Sequence[int], n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): rows = true class, columns = predicted class."""
    y, p = _classes(labels, preds, n_classes)
    if not len(y):
        return np.zeros((n_classes, n_classes), np.int64)
    return skm.confusion_matrix(y, p, labels=np.arange(n_classes)).astype(np.int64)
