"""evaluate@foul on the tiny trained model: official metrics against annotations.json, reports and plots."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math

import cv2
import pytest

from replaylab import params as P
from replaylab.data.samples import AdapterError
from replaylab.evaluation.mvfoul import evaluate_files
from replaylab.tasks.evaluating import evaluate_task
from replaylab.tasks.foul.evaluate import ground_truth_for


def _same(a, b):
    return (a is None and (b is None or math.isnan(b))) or a == pytest.approx(b, abs=1e-3)


def test_evaluate_foul_matches_the_training_summary_and_the_official_files(trained_foul):
    root, data, train_summary = trained_foul
    with contextlib.redirect_stdout(io.StringIO()) as out:
        summary = evaluate_task("foul", P.validate(data))
    assert "evaluate@foul test: leaderboard" in out.getvalue()
    for split in ("val", "test"):
        s = summary[split]
        assert s["ground_truth_filtered"] is False and s["ground_truth"].endswith(
            f"{'valid' if split == 'val' else 'test'}/annotations.json"
        )
        assert s["actions_missing"] == 0 and s["actions_counted"] == train_summary["actions"][split]
        for k in ("leaderboard_value", "balanced_accuracy_action", "accuracy_offence_severity", "leaderboard_value_present"):
            assert _same(s[k], train_summary[split][k]), (split, k)
        # the same numbers straight from the files
        direct = evaluate_files(s["ground_truth"], s["predictions"]).summary()
        assert direct["accuracy_action"] == s["accuracy_action"]
        rep = root / "reports/foul" / split
        for name in (
            "confusion_action.csv",
            "confusion_offence_severity.csv",
            "classification_report.json",
            "classification_report.txt",
        ):
            assert (rep / name).is_file(), name
        for name in ("confusion_action.png", "confusion_offence_severity.png"):
            img = cv2.imread(str(rep / name))
            assert img is not None and img.shape[0] > 100 and img.shape[1] > 100
        rows = list(csv.DictReader(open(rep / "confusion_action.csv")))
        assert len(rows) == s["actions_counted"] and set(rows[0]) == {"actual", "predicted"}
        report = json.loads((rep / "classification_report.json").read_text())
        assert set(report) == {"action", "offence_severity"} and report["action"]["accuracy"]["support"] == s["actions_counted"]
    json.dumps(summary)


def test_ground_truth_is_filtered_for_a_split_that_is_not_official(tiny_foul, tmp_path):
    root, data = tiny_foul
    source = P.validate(data).cache_clips.foul.source
    from pathlib import Path

    rows = list(csv.DictReader(open(root / "splits/foul/train.csv")))
    part = tmp_path / "val.csv"
    with open(part, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[:2])  # a val split carved out of train
    doc, path, filtered = ground_truth_for(part, Path(source.root), split="val", official_strategy=True)
    assert filtered and path.parent.name == "train" and len(doc["Actions"]) == 2
    mixed = tmp_path / "mixed.csv"
    test_rows = list(csv.DictReader(open(root / "splits/foul/test.csv")))
    with open(mixed, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[:1] + test_rows[:1])
    with pytest.raises(AdapterError, match="one split directory at a time"):
        ground_truth_for(mixed, Path(source.root), split="test", official_strategy=True)


def test_missing_predictions_file_is_named(tiny_foul, tmp_path):
    root, data = tiny_foul
    bad = dict(data, train=dict(data["train"], out_dir=str(tmp_path / "none")))
    with pytest.raises(AdapterError, match="predictions file not found"):
        evaluate_task("foul", P.validate(bad))


def test_unknown_task():
    from replaylab.params.data import ClipParams, SplitTaskParams
    from replaylab.tasks import TaskSpec, register_task, unregister_task

    register_task(TaskSpec(name="unscored", description="t", package=__name__, cache_params=ClipParams,
                           split_params=SplitTaskParams()))  # fmt: skip
    try:
        with pytest.raises(SystemExit, match=r"evaluate@unscored: this task has no evaluator \(tasks with one: header, foul, "
                                             r"actions, recognition, kd\)"):  # fmt: skip
            evaluate_task("unscored", P.validate({}))
    finally:
        unregister_task("unscored")
