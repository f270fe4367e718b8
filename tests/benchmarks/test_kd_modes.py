"""benchmarks/kd_modes.py: both fusion training modes and the per-clip costs, in --synthetic mode with few steps."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from repo_fixtures import REPO


def _script():
    spec = importlib.util.spec_from_file_location("kd_modes_benchmark", REPO / "benchmarks" / "kd_modes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_run_reports_both_modes_and_costs(tmp_path):
    threads = torch.get_num_threads()
    try:
        rc = _script().main(["--synthetic", "--steps", "2", "--features-steps", "3", "--warmup", "1", "--cost-batches", "1",
                             "--threads", "1", "--out", str(tmp_path)])  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    r = json.loads((tmp_path / "kd_modes.json").read_text())
    assert set(r["modes"]) == {"video", "features"}
    video, feats = r["modes"]["video"], r["modes"]["features"]
    assert (video["steps"], feats["steps"]) == (2, 3)
    for m in (video, feats):
        assert m["iterations_per_s"] > 0 and m["clips_per_s"] > 0 and 0 <= m["loading_share"] <= 1
        assert m["clips_per_s"] == pytest.approx(m["iterations_per_s"] * r["batch"], rel=0.05)  # full batches of 4
        assert np.isfinite(m["last_loss"])
    # video mode reads clips at the cache's size, features mode the student's pooled vectors
    assert video["input_per_clip"] == [3, *r["cache_input"]] and len(feats["input_per_clip"]) == 1
    assert video["frozen_parameters"] > feats["frozen_parameters"]  # the student backbone runs in video mode only
    assert video["trainable_parameters"] == feats["trainable_parameters"]  # the same fusion head trains
    assert r["ratio_features_over_video"] == pytest.approx(feats["iterations_per_s"] / video["iterations_per_s"], abs=0.1)
    assert r["meets_target"] == (r["ratio_features_over_video"] >= r["target_ratio"])
    # cost per clip: the student and the teacher as featurize runs them, and the kd model at test time
    costs = r["cost_per_clip"]
    assert {k: c["role"] for k, c in costs.items()} == {"student": "student", "teacher": "teacher"}
    assert costs["student"]["input"] == [4, 32, 32] and costs["teacher"]["input"] == [8, 48, 48]
    for c in (*costs.values(), r["kd_inference"]):
        assert c["ms_per_clip"] > 0 and c["gflops_per_clip"] > 0 and c["clips_timed"] == 4
    assert costs["teacher"]["gflops_per_clip"] > costs["student"]["gflops_per_clip"]
    assert costs["teacher"]["parameters"] > costs["student"]["parameters"]
    assert set(r["teacher_over_student"]) == {"teacher"} and r["teacher_over_student_gflops"]["teacher"] > 1
    assert r["load_average_start"] and r["threads"] == 1 and r["cache_clips"] == 24
    md = (tmp_path / "kd_modes.md").read_text()
    assert "| `teacher` | teacher | `compact3d` | 8 x 48 x 48 |" in md and "x video mode in iterations/s" in md


def test_cost_needs_two_batches_of_clips():
    clips = np.zeros((5, 2, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="5 cached clips, at least 8 needed"):
        _script().time_forward(lambda b: None, clips, batch_size=4, device=torch.device("cpu"))
