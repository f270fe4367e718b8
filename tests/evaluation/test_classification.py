"""Classification metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from replaylab.evaluation.classification import auroc, average_precision, binary_report, confusion_matrix, pr_curve, roc_curve


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
