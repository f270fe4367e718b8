"""``train@recognition``: the clip classifier trains in video mode (compact3d) and in features mode (head on the
feature store), writes its prediction and confusion files, and its summary's metrics are scikit-learn's on them."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from replaylab import params as P
from replaylab.tasks.training import train_task

MODES = ("video", "features")


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _split_ids(root, split):
    return [r["sample_id"] for r in _rows(root / "splits/recognition" / f"{split}.csv")]


@pytest.mark.parametrize("mode", MODES)
def test_summary_metrics_and_files(trained_recognition, tiny_recognition, mode):
    root, _ = tiny_recognition
    data, summary = trained_recognition[mode]
    assert summary["input"] == mode and summary["classes"] == 3 and summary["epochs_run"] == 2
    assert summary["clips"] == {s: len(_split_ids(root, s)) for s in ("train", "val", "test")}
    out = root / f"models_{mode}" / "recognition"
    for split in ("val", "test"):
        got = summary[split]
        assert set(got) == {"loss", "top1", "top5", "mean_class_accuracy"}
        assert all(0.0 <= got[k] <= 1.0 for k in ("top1", "top5", "mean_class_accuracy"))
        assert got["top5"] == 1.0  # k = min(5, 3 classes)
        assert 0.0 < got["loss"] < 10.0 and math.isfinite(got["loss"])
        rows = _rows(out / "predictions" / f"{split}.csv")
        assert list(rows[0]) == ["sample_id", "label", "prediction", "top5", "probabilities"]
        assert sorted(r["sample_id"] for r in rows) == sorted(_split_ids(root, split))
        labels = [int(r["label"]) for r in rows]
        preds = [int(r["prediction"]) for r in rows]
        probs = np.array([[float(v) for v in r["probabilities"].split()] for r in rows])
        assert probs.shape == (len(rows), 3) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
        assert all(probs[i, p] == probs[i].max() for i, p in enumerate(preds))
        assert [int(r["top5"].split()[0]) for r in rows] == preds and all(len(r["top5"].split()) == 3 for r in rows)
        assert got["top1"] == round(skm.accuracy_score(labels, preds), 4)
        assert got["mean_class_accuracy"] == round(skm.balanced_accuracy_score(labels, preds), 4)
        confusion = _rows(out / "plots" / split / "confusion.csv")
        assert len(confusion) == len(rows) and {r["actual"] for r in confusion} <= {"Header", "Kick", "ThrowIn"}
    assert (out / "predictions" / "classes.txt").read_text().split() == ["Header", "Kick", "ThrowIn"]
    for name in ("config.yaml", "best.pt", "val_predictions.csv", "metrics_epoch.csv"):
        assert (out / name).is_file(), name


def test_features_mode_trains_the_head_alone(trained_recognition):
    video, features = trained_recognition["video"][1], trained_recognition["features"][1]
    assert features["parameters"] < video["parameters"] / 10  # the head (D x 3 + 3) against backbone + head


def test_same_params_same_metrics_and_monitor_is_checked(trained_recognition, tiny_recognition, monkeypatch):
    root, _ = tiny_recognition
    monkeypatch.chdir(root)
    data, first = trained_recognition["features"]
    again = {**data, "train": {**data["train"], "out_dir": str(root / "models_again"), "live_dir": str(root / "live_again")}}
    assert train_task("recognition", P.validate(again)) == first  # same seed and data -> the same run
    bad = {**data, "train": {**data["train"], "recognition": {**data["train"]["recognition"], "monitor": "val_auroc"}}}
    with pytest.raises(SystemExit, match="val_auroc.*val_mean_class_accuracy, val_top1, val_top5"):
        train_task("recognition", P.validate(bad))
