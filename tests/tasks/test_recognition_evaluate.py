"""``evaluate@recognition``: the metrics recomputed from the prediction CSVs equal the trainer's and scikit-learn's;
per-class accuracy, confusion CSV / PNG; stale or malformed prediction files are named."""

from __future__ import annotations

import csv
import shutil

import cv2
import numpy as np
import pytest
from sklearn import metrics as skm

from replaylab import params as P
from replaylab.data.samples import AdapterError
from replaylab.tasks.evaluating import evaluate_task

CLASSES = ["Header", "Kick", "ThrowIn"]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.filterwarnings("ignore:'k' \\(3\\) greater than or equal:UserWarning")
@pytest.mark.parametrize("mode", ["video", "features"])
def test_metrics_equal_the_trainers_and_sklearns(trained_recognition, tiny_recognition, mode):
    root, _ = tiny_recognition
    data, summary = trained_recognition[mode]
    got = evaluate_task("recognition", P.validate(data))
    assert got["classes"] == 3 and got["majority_class"] in CLASSES
    reports = root / f"reports_{mode}" / "recognition"
    for split in ("val", "test"):
        s = got[split]
        for k in ("top1", "top5", "mean_class_accuracy"):
            assert s[k] == summary[split][k], (split, k)
        rows = _rows(root / f"models_{mode}" / "recognition" / "predictions" / f"{split}.csv")
        labels = [int(r["label"]) for r in rows]
        preds = [int(r["prediction"]) for r in rows]
        probs = np.array([[float(v) for v in r["probabilities"].split()] for r in rows])
        assert s["top1"] == round(skm.accuracy_score(labels, preds), 4)
        assert s["top5"] == round(skm.top_k_accuracy_score(labels, probs, k=3, labels=[0, 1, 2]), 4) == 1.0
        assert s["top5_k"] == 3 and s["clips"] == len(rows)
        assert s["mean_class_accuracy"] == round(skm.balanced_accuracy_score(labels, preds), 4)
        cm = skm.confusion_matrix(labels, preds, labels=[0, 1, 2])
        per_class = {c: round(cm[i, i] / cm[i].sum(), 4) for i, c in enumerate(CLASSES) if cm[i].sum()}
        assert {c: v for c, v in s["per_class_accuracy"].items() if v is not None} == per_class
        assert s["mean_class_accuracy"] == pytest.approx(np.mean(list(per_class.values())), abs=1e-4)
        assert 0.0 <= s["majority_top1"] <= 1.0
        out = reports / split
        table = _rows(out / "per_class_accuracy.csv")
        assert [r["class"] for r in table] == CLASSES
        assert [int(r["correct"]) for r in table] == np.diag(cm).tolist() and [int(r["clips"]) for r in table] == cm.sum(
            1
        ).tolist()
        pairs = [(r["actual"], r["predicted"]) for r in _rows(out / "confusion.csv")]
        assert sorted(pairs) == sorted((CLASSES[y], CLASSES[p]) for y, p in zip(labels, preds))
        for png in ("confusion.png", "per_class_accuracy.png"):
            img = cv2.imread(str(out / png))
            assert img is not None and img.shape[0] > 50, png


def _copy_model(root, mode, dst):
    shutil.copytree(root / f"models_{mode}", dst / "models")
    return dst / "models" / "recognition" / "predictions" / "test.csv"


def test_stale_and_bad_predictions_are_named(trained_recognition, tiny_recognition, tmp_path):
    root, _ = tiny_recognition
    data, _ = trained_recognition["video"]
    local = {
        **data,
        "train": {**data["train"], "out_dir": str(tmp_path / "models")},
        "evaluate": {"out_dir": str(tmp_path / "r")},
    }
    test_csv = _copy_model(root, "video", tmp_path)
    lines = test_csv.read_text().splitlines()
    test_csv.write_text("\n".join(lines[:-1]) + "\n")  # one clip fewer than the split
    with pytest.raises(AdapterError, match=r"test.csv: its clips differ from .*test.csv \(1 missing"):
        evaluate_task("recognition", P.validate(local))
    head, first, *rest = lines
    cells = next(csv.reader([first]))
    cells[1] = str((int(cells[1]) + 1) % 3)
    test_csv.write_text("\n".join([head, ",".join(f'"{c}"' for c in cells), *rest]) + "\n")
    with pytest.raises(AdapterError, match=f"clip {cells[0]} has label {cells[1]}"):
        evaluate_task("recognition", P.validate(local))
    cells = next(csv.reader([first]))
    cells[4] = "0.5 0.5"
    test_csv.write_text("\n".join([head, ",".join(f'"{c}"' for c in cells), *rest]) + "\n")
    with pytest.raises(AdapterError, match=r"test.csv, row 2: 2 probabilities for 3 classes"):
        evaluate_task("recognition", P.validate(local))
    test_csv.unlink()
    with pytest.raises(AdapterError, match=r"test.csv: predictions file not found \(run train@recognition\)"):
        evaluate_task("recognition", P.validate(local))
    only_val = {**local, "evaluate": {"out_dir": str(tmp_path / "r"), "recognition": {"splits": ["val"]}}}
    assert set(evaluate_task("recognition", P.validate(only_val))) == {"classes", "majority_class", "val"}
    (test_csv.parent / "classes.txt").unlink()
    with pytest.raises(AdapterError, match=r"classes.txt: not found \(run train@recognition\)"):
        evaluate_task("recognition", P.validate(only_val))
