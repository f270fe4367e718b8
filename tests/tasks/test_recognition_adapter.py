"""The recognition loop adapter: prediction rows, top-1 / top-k / mean class accuracy against hand-computed values
and scikit-learn, the loss, the metric names."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torch.utils.data import DataLoader, Dataset

from replaylab.data.samples import Sample, SampleIndex
from replaylab.tasks.recognition.adapter import (
    RecognitionTask,
    prediction_rows,
    probabilities_of,
    ranking,
    scores,
    scores_of_rows,
    top_k_of,
)


def test_hand_computed_metrics_six_classes():
    # 4 clips, 6 classes: top-5 drops the lowest class of each row
    probs = np.array([
        [0.50, 0.20, 0.10, 0.10, 0.05, 0.05],  # label 0: top-1 hit
        [0.40, 0.30, 0.10, 0.10, 0.06, 0.04],  # label 1: top-1 miss (0), in the top 5
        [0.30, 0.25, 0.20, 0.15, 0.09, 0.01],  # label 5: the lowest -> outside the top 5
        [0.05, 0.10, 0.15, 0.20, 0.10, 0.40],  # label 5: top-1 hit
    ])  # fmt: skip
    labels = [0, 1, 5, 5]
    got = scores(labels, probs)
    assert got["top1"] == pytest.approx(2 / 4)
    assert got["top5"] == pytest.approx(3 / 4)
    # per-class recall: class 0 1/1, class 1 0/1, class 5 1/2 -> mean over the 3 classes present
    assert got["mean_class_accuracy"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert top_k_of(6) == 5 and top_k_of(3) == 3 and top_k_of(101) == 5


def test_few_classes_two_classes_and_nothing():
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    got = scores([2, 0], probs)
    assert got == {"top1": 0.5, "top5": 1.0, "mean_class_accuracy": 0.5}  # k = 3 = every class
    two = scores([1, 1, 0], np.array([[0.3, 0.7], [0.8, 0.2], [0.9, 0.1]]))
    assert two == {"top1": pytest.approx(2 / 3), "top5": 1.0, "mean_class_accuracy": pytest.approx((1 + 0.5) / 2)}
    assert all(math.isnan(v) for v in scores([], np.zeros((0, 4))).values())


def test_rows_rank_like_sklearn_and_parse_back():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(40, 7))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 7, 40)
    rows = prediction_rows([f"c{i}" for i in range(40)], labels, probs)
    assert list(rows[0]) == ["sample_id", "label", "prediction", "top5", "probabilities"]
    assert all(len(r["top5"].split()) == 5 and int(r["top5"].split()[0]) == r["prediction"] for r in rows)
    back = probabilities_of(rows, 7)
    np.testing.assert_allclose(back, probs, atol=5e-7)
    got = scores_of_rows(rows, 7)
    preds = [r["prediction"] for r in rows]
    assert got["top1"] == skm.accuracy_score(labels, preds) == skm.top_k_accuracy_score(labels, back, k=1)
    assert got["top5"] == skm.top_k_accuracy_score(labels, back, k=5, labels=np.arange(7))
    assert got["mean_class_accuracy"] == pytest.approx(skm.balanced_accuracy_score(labels, preds))
    # ties go to the higher class index, as scikit-learn ranks them
    assert ranking(np.array([[0.4, 0.4, 0.2]]))[0].tolist() == [1, 0, 2]
    with pytest.raises(ValueError, match="row 3: 6 probabilities for 7 classes"):
        probabilities_of([rows[0], {**rows[1], "probabilities": "0.1 " * 6}], 7)


class _Clips(Dataset):
    def __init__(self, labels):
        self.labels = labels
        samples = [Sample(sample_id=f"clip{i}", sources=(f"c{i}.avi",), group="g", label=y) for i, y in enumerate(labels)]
        self.index = SampleIndex(samples, ["a", "b", "c"], ".", "test")

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"features": torch.tensor([float(i)]), "label": torch.tensor(self.labels[i]), "index": torch.tensor(i)}


class _Fixed(torch.nn.Module):
    """Logits looked up by the clip number the features carry."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.logits[x[:, 0].long()] + self.w


def test_evaluate_loss_metrics_and_names():
    logits = [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 3.0, 0.0], [0.5, 0.0, 0.0]]
    labels = [0, 1, 2, 2]
    task = RecognitionTask(torch.nn.CrossEntropyLoss(), num_classes=3, prefix="test")
    metrics, rows = task.evaluate(_Fixed(logits), DataLoader(_Clips(labels), batch_size=3), torch.device("cpu"))
    assert set(metrics) == task.metric_names("test") == {"test_loss", "test_top1", "test_top5", "test_mean_class_accuracy"}
    assert metrics["test_loss"] == pytest.approx(
        float(torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels)))
    )
    assert metrics["test_top1"] == 0.5 and metrics["test_top5"] == 1.0
    assert metrics["test_mean_class_accuracy"] == pytest.approx((1 + 1 + 0) / 3)
    assert [r["sample_id"] for r in rows] == ["clip0", "clip1", "clip2", "clip3"]
    assert [r["prediction"] for r in rows] == [0, 1, 1, 0]
    batch = {"features": torch.tensor([[0.0], [2.0]]), "label": torch.tensor([0, 2])}
    loss = task.training_loss(_Fixed(logits), batch, torch.device("cpu"))
    assert float(loss.detach()) == pytest.approx(
        float(torch.nn.functional.cross_entropy(torch.tensor([logits[0], logits[2]]), torch.tensor([0, 2])))
    )
    assert task.for_prefix("val").metric_names("val") == {"val_loss", "val_top1", "val_top5", "val_mean_class_accuracy"}
    with pytest.raises(ValueError, match="at least two classes"):
        RecognitionTask(torch.nn.CrossEntropyLoss(), num_classes=1)
