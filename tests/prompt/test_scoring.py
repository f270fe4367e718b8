from __future__ import annotations

import numpy as np
import pytest

from replaylab.prompt.scoring import score

CLASSES = ["A", "B", "C"]


def test_scores_by_hand():
    labels = [0, 0, 1, 2, 2, 2]
    logits = np.array([[3, 1, 0], [0, 2, 1], [0, 5, 1], [0, 1, 2], [2, 1, 0], [1, 0, 3]], float)
    s = score(labels, logits, classes=CLASSES, unseen=["C"])
    assert s["top1"] == pytest.approx(4 / 6)
    assert s["mean_class_accuracy"] == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)
    assert s["top1_unseen"] == pytest.approx(2 / 3) and s["top1_seen"] == pytest.approx(2 / 3)
    assert s["top5"] is None and s["clips"] == 6 and s["clips_unseen"] == 3  # top-5 of 3 classes says nothing


def test_top5_with_more_classes():
    logits = np.tile(np.arange(8.0), (2, 1))  # class 7 first, then 6, 5, 4, 3
    s = score([3, 1], logits, classes=list("ABCDEFGH"), unseen=[])
    assert s["top5"] == 0.5 and s["top1"] == 0.0


def test_no_unseen_clips_and_shape_check():
    s = score([0, 1], np.eye(3)[:2], classes=CLASSES, unseen=["C"])
    assert s["top1_unseen"] is None and s["top1_seen"] == 1.0
    with pytest.raises(ValueError, match="logits of shape"):
        score([0], np.zeros((1, 2)), classes=CLASSES, unseen=[])
