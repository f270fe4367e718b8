"""Classification metrics: hand-computed cases, the definitions on random data with ties, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from replaylab.evaluation.classification import (
    auroc,
    average_precision,
    balanced_accuracy,
    binary_report,
    confusion_matrix,
    pr_curve,
    roc_curve,
)


def test_auroc_hand_cases():
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)  # 3 of 4 pairs ordered right
    assert auroc([0, 1], [0.2, 0.9]) == 1.0 and auroc([1, 0], [0.2, 0.9]) == 0.0
    assert auroc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.5)  # ties count half
    assert math.isnan(auroc([1, 1], [0.2, 0.3]))


def test_auroc_equals_pairwise_probability():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) + 0.3 * y, 2)  # with ties
    pos, neg = s[y == 1], s[y == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auroc(y, s) == pytest.approx(pairs)


def test_roc_curve_points():
    fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0] and tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert thr[0] == np.inf and thr[1:].tolist() == [0.8, 0.4, 0.35, 0.1]


def test_average_precision_hand_case():
    # ranked: 1 (P=1, R=.5), 0, 1 (P=2/3, R=1)  -> AP = .5*1 + .5*2/3
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5 + 1 / 3)
    precision, recall, _ = pr_curve([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])
    assert recall.tolist() == [0.5, 0.5, 1.0, 1.0] and precision[:3].tolist() == pytest.approx([1.0, 0.5, 2 / 3])
    assert math.isnan(average_precision([0, 0], [0.1, 0.2]))


def test_binary_report_and_confusion():
    r = binary_report([1, 1, 0, 0, 1], [0.9, 0.4, 0.6, 0.1, 0.5])
    assert r == pytest.approx({"accuracy": 0.6, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    assert binary_report([0, 0], [0.1, 0.2])["f1"] == 0.0
    cm = confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1], 3)
    assert cm.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 3], [0, 0], 3)
    with pytest.raises(ValueError, match="0 or 1"):
        auroc([0, 2], [0.1, 0.2])


def _random_case(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.round(rng.random(n) + 0.4 * y, 2)  # rounded: many tied scores
    return y, s


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_average_precision_equals_its_definition_on_random_data(seed):
    y, s = _random_case(seed)
    thr = np.unique(s)[::-1]  # decreasing thresholds
    tp = np.array([np.sum((s >= t) & (y == 1)) for t in thr])
    n_pred = np.array([np.sum(s >= t) for t in thr])
    precision, recall = tp / n_pred, tp / y.sum()
    assert average_precision(y, s) == pytest.approx(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    p, r, t = pr_curve(y, s)
    assert t.tolist() == thr.tolist() and p == pytest.approx(precision) and r == pytest.approx(recall)


@pytest.mark.parametrize("seed", [4, 5])
def test_roc_curve_counts_every_distinct_threshold(seed):
    y, s = _random_case(seed)
    fpr, tpr, thr = roc_curve(y, s)
    assert thr[0] == np.inf and thr[1:].tolist() == np.unique(s)[::-1].tolist()
    for f, t, th in zip(fpr[1:], tpr[1:], thr[1:]):
        assert t == pytest.approx(np.mean(s[y == 1] >= th)) and f == pytest.approx(np.mean(s[y == 0] >= th))
    assert auroc(y, s) == pytest.approx(np.trapezoid(tpr, fpr))


@pytest.mark.parametrize("seed", [6, 7])
def test_thresholded_metrics_equal_their_counts_on_random_data(seed):
    y, s = _random_case(seed)
    pred = s >= 0.6
    tp, fp, fn = np.sum(pred & (y == 1)), np.sum(pred & (y == 0)), np.sum(~pred & (y == 1))
    r = binary_report(y, s, threshold=0.6)
    assert r["accuracy"] == pytest.approx(np.mean(pred == (y == 1)))
    assert r["precision"] == pytest.approx(tp / (tp + fp)) and r["recall"] == pytest.approx(tp / (tp + fn))
    assert r["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    rng = np.random.default_rng(seed)
    labels, preds = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    cm = confusion_matrix(labels, preds, 4)
    assert cm.sum() == 300 and all(cm[i, j] == np.sum((labels == i) & (preds == j)) for i in range(4) for j in range(4))
    assert balanced_accuracy(labels, preds, 4) == pytest.approx(np.mean([np.mean(preds[labels == c] == c) for c in range(4)]))


def test_edge_cases_one_class_empty_input_and_absent_classes():
    assert math.isnan(auroc([0, 0, 0], [0.1, 0.5, 0.9])) and math.isnan(auroc([], []))
    assert math.isnan(average_precision([0, 0, 0], [0.1, 0.5, 0.9])) and math.isnan(average_precision([], []))
    assert average_precision([1, 1], [0.1, 0.9]) == 1.0  # no negatives: every threshold is precise
    fpr, tpr, _ = roc_curve([1, 1], [0.2, 0.3])
    assert np.isnan(fpr).all() and tpr.tolist() == [0.0, 0.5, 1.0]
    precision, recall, thr = pr_curve([0, 0], [0.2, 0.3])
    assert np.isnan(recall).all() and precision.tolist() == [0.0, 0.0] and thr.tolist() == [0.3, 0.2]
    r = binary_report([], [])
    assert math.isnan(r["accuracy"]) and r["precision"] == r["recall"] == r["f1"] == 0.0
    assert binary_report([1, 1], [0.1, 0.2]) == {"accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert confusion_matrix([], [], 2).tolist() == [[0, 0], [0, 0]]
    assert confusion_matrix([0, 0], [0, 0], 3).tolist() == [[2, 0, 0], [0, 0, 0], [0, 0, 0]]  # absent classes kept
    assert balanced_accuracy([0, 0, 1], [0, 2, 1], 3) == pytest.approx(0.75)  # class 2 has no ground truth: left out
    assert math.isnan(balanced_accuracy([], [], 2))
    with pytest.raises(ValueError, match="outside"):
        balanced_accuracy([0, 1], [0, 5], 3)
    with pytest.raises(ValueError, match="finite"):
        auroc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="one length"):
        pr_curve([0, 1], [0.1])
