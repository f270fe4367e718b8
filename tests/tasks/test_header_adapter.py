"""The header task adapter: losses on event-type or binary targets, evaluation rows and metrics, plot files."""

from __future__ import annotations

import csv

import pytest
import torch
from torch import nn

from replaylab.tasks.header.adapter import HeaderTask, confusion, scores, write_plot_files


class _Fixed(nn.Module):
    """Returns preset logits per clip (the clip's first pixel value selects the row)."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        idx = x[:, 0, 0, 0, 0].long()
        return self.logits[idx] + self.w


class _Samples:
    def __init__(self, n):
        self.samples = [type("S", (), {"sample_id": f"s{i}"})() for i in range(n)]


class _Loader(list):
    pass


def _loader(labels, batch=2):
    n = len(labels)
    loader = _Loader()
    for a in range(0, n, batch):
        idx = torch.arange(a, min(a + batch, n))
        video = idx.float().view(-1, 1, 1, 1, 1).expand(-1, 3, 2, 2, 2).contiguous()
        loader.append({"video": video, "label": torch.tensor(labels[a : a + batch]), "index": idx})
    loader.dataset = type("D", (), {"index": _Samples(n)})()
    return loader


def test_evaluate_rows_and_metrics_with_event_type_logits():
    # 3 event types: [kick, header, random]; header is column 1
    logits = torch.log(torch.tensor([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.3, 0.6, 0.1]]))
    task = HeaderTask(nn.CrossEntropyLoss(), positive=1, threshold=0.5)
    metrics, rows = task.evaluate(_Fixed(logits), _loader([1, 1, 0, 0]), torch.device("cpu"))
    assert [r["sample_id"] for r in rows] == ["s0", "s1", "s2", "s3"]
    assert [r["probability"] for r in rows] == pytest.approx([0.8, 0.3, 0.2, 0.6])
    assert [r["prediction"] for r in rows] == [1, 0, 0, 1]
    assert metrics["val_auroc"] == pytest.approx(0.75) and metrics["val_f1"] == pytest.approx(0.5)
    expected_bce = -(torch.log(torch.tensor([0.8, 0.3])).sum() + torch.log(torch.tensor([0.8, 0.4])).sum()) / 4
    assert metrics["val_loss"] == pytest.approx(float(expected_bce), rel=1e-5)
    assert confusion(rows) == [[1, 1], [1, 1]]


def test_training_loss_uses_event_targets_when_given():
    logits = torch.zeros(4, 3)
    logits[:, 2] = 5.0
    model = _Fixed(logits)
    batch = _loader([1, 0, 0, 1], batch=4)[0]
    binary = HeaderTask(nn.CrossEntropyLoss(), positive=1)
    events = HeaderTask(nn.CrossEntropyLoss(), positive=1, train_targets=torch.tensor([2, 2, 2, 2]))
    assert events.training_loss(model, batch, torch.device("cpu")) < binary.training_loss(model, batch, torch.device("cpu"))


def test_plot_files(tmp_path):
    rows = [{"sample_id": "a", "label": 1, "probability": 0.9, "prediction": 1}, {"sample_id": "b", "label": 0, "probability": 0.4, "prediction": 0},
            {"sample_id": "c", "label": 0, "probability": 0.7, "prediction": 1}]  # fmt: skip
    write_plot_files(rows, tmp_path)
    roc = list(csv.DictReader(open(tmp_path / "roc.csv")))
    assert (roc[0]["fpr"], roc[-1]["tpr"]) == ("0.0", "1.0")
    assert list(csv.DictReader(open(tmp_path / "confusion.csv")))[2] == {"actual": "no_header", "predicted": "header"}
    assert scores(rows)["auroc"] == 1.0
    write_plot_files([rows[1]], tmp_path / "one")  # a single class: empty curves, no crash
    assert (tmp_path / "one" / "roc.csv").read_text().strip() == "fpr,tpr,threshold"
