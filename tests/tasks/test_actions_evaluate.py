from __future__ import annotations

import contextlib
import json

import numpy as np
import pandas as pd
import pytest

from replaylab import params as P
from replaylab.data.samples import read_csv
from replaylab.evaluation.ava import evaluate_files, frame_map
from replaylab.tasks.actions.adapter import ground_truth_rows
from replaylab.tasks.actions.evaluate import box_prior_rows, evaluate_actions, random_rows


@pytest.fixture(scope="module")
def evaluated(trained_actions):

    root, data, _ = trained_actions
    with contextlib.chdir(root):  # dvclive looks for a DVC repo from the working directory
        summary = evaluate_actions("actions", P.validate(data))
    return root, data, summary


def test_summary_has_the_frame_map_its_baselines_and_per_class_ap(evaluated):
    root, _, summary = evaluated
    for split in ("val", "test"):
        s = summary[split]
        assert set(s) >= {"frame_map", "box_prior_frame_map", "random_frame_map", "per_class_ap", "gt_boxes"}
        assert len(s["per_class_ap"]) == 16
        with_gt = [c for c, n in s["gt_boxes"].items() if n]
        assert s["classes_with_gt"] == len(with_gt)
        assert all(s["per_class_ap"][c] is None for c, n in s["gt_boxes"].items() if not n)  # no ground truth: left out
        assert s["frame_map"] == pytest.approx(np.mean([s["per_class_ap"][c] for c in with_gt]), abs=1e-4)
        json.dumps(s, allow_nan=False)  # no NaN in the metrics file
        table = pd.read_csv(root / "reports/actions" / split / "per_class_ap.csv")
        assert list(table.columns) == ["class", "ap", "box_prior_ap", "gt_boxes"] and len(table) == 16
        assert (root / "reports/actions" / split / "per_class_ap.png").stat().st_size > 1000


def test_the_written_files_are_what_the_official_script_reads(evaluated):
    # groundtruth.csv + labelmap.pbtxt + the model's predictions CSV: the inputs of get_ava_performance.py -g -l -d
    root, _, summary = evaluated
    out = root / "reports/actions/test"
    result = evaluate_files(groundtruth=out / "groundtruth.csv", detections=root / "models/actions/predictions/test.csv",
                            label_map=out / "labelmap.pbtxt")  # fmt: skip
    assert round(result["mAP"], 4) == summary["test"]["frame_map"]


def test_train_and_evaluate_report_the_same_frame_map(trained_actions, evaluated):
    # the trainer scores the rows rounded exactly as they are written, so the files give the same numbers
    _, _, trained = trained_actions
    for split in ("val", "test"):
        assert evaluated[2][split]["frame_map"] == trained[split]["frame_map"]


def test_baselines_score_the_proposals_with_the_class_prior_or_at_random(tiny_actions):
    root, _ = tiny_actions
    samples = read_csv(root / "splits/actions/test.csv").samples
    ids = list(range(1, 17))
    prior = np.linspace(0.01, 0.5, 16)
    rows = box_prior_rows(samples, prior, ids)
    n_props = sum(len(s.meta["proposals"]) for s in samples)
    assert len(rows) == n_props * 16
    first = samples[0].meta["proposals"][0]
    got = rows[(rows.x1 == first[0]) & (rows.y1 == first[1])].sort_values("action_id")["score"].to_numpy()
    np.testing.assert_allclose(got, prior * first[4])
    r1, r2 = random_rows(samples, ids, 0), random_rows(samples, ids, 0)
    pd.testing.assert_frame_equal(r1, r2)
    assert r1["score"].between(0, 1).all()
    gt = ground_truth_rows(samples, ids)
    assert 0 <= frame_map(groundtruth=gt, detections=r1, label_map=ids)["mAP"] <= 1
