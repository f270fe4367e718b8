"""The three prompt stages end to end on the tiny data: pretrain@clip, prompt_tune (with resume), prompt_fewshot."""

from __future__ import annotations

import json
import os

import pytest
import torch

from replaylab import params as P
from replaylab.clip.checkpoint import load_clip
from replaylab.prompt.corpus import read_captions
from replaylab.prompt.names import names_class
from replaylab.prompt.pretraining import pretrain_clip
from replaylab.prompt.sweep import fewshot
from replaylab.prompt.tune import tune


@pytest.fixture(scope="module")
def pretrained(prompt_world):
    root, data = prompt_world
    cwd = os.getcwd()
    os.chdir(root)
    try:
        summary = pretrain_clip(P.validate(data), progress=False)
    finally:
        os.chdir(cwd)
    return root, data, summary


def test_pretraining_leaves_out_unseen_classes_and_saves_an_openai_layout(pretrained):
    root, data, summary = pretrained
    record = json.loads((root / "models/clip/pretrain.json").read_text())
    assert summary["unseen_classes"] == ["ThrowIn"] and summary["seen_classes"] == ["Header", "Kick"]
    assert summary["left_out_unseen_class_clips"] > 0 and summary["epochs"] == 2
    assert len(record["history"]) == 2 and record["corpus"]["clips"] == summary["clips"] > 0
    caps = read_captions(root / "ucf101/captions.csv")
    assert any(names_class(c, "ThrowIn") for cs in caps.values() for c in cs)  # the world does caption throw-ins ...
    clip, report = load_clip(checkpoint=root / "models/clip/clip.pt", model="tiny", tiny=None, layout="auto")
    assert report.layout == "openai_state_dict" and not report.missing and not report.unexpected
    assert (root / "live/clip/metrics.json").is_file()


def test_tune_writes_the_run_and_resumes(pretrained):
    root, data, _ = pretrained
    cwd = os.getcwd()
    os.chdir(root)
    try:
        m = tune(P.validate(data), progress=False)
        run = root / "models/prompt/video_coop"
        assert {p.name for p in run.iterdir()} >= {"best.pt", "last.pt", "config.yaml", "metrics_epoch.csv", "validation.json",
                                                   "predictions"}  # fmt: skip
        ck = torch.load(run / "best.pt", weights_only=True)
        assert set(ck["state_dict"]) <= {"prompts.ctx", *[f"pool.score.{i}.{w}" for i in range(4) for w in ("weight", "bias")]}
        assert m["method"] == "video_coop" and m["epochs"] == 2 and 0 <= m["test"]["top1"] <= 1
        assert (root / "live/prompt/metrics.json").is_file()
        again = tune(P.validate({**data, "prompt": {**data["prompt"], "continue_from": str(run)}}), progress=False)
        assert again["epochs"] == 2
        dual = tune(P.validate({**data, "prompt": {**data["prompt"], "method": "dual_coop", "k_train": 1}}), progress=False)
        assert dual["train_clips"] == 3 and (root / "models/prompt/dual_coop/best.pt").is_file()
        bad = P.validate({**data, "prompt": {**data["prompt"], "method": "dual_coop", "continue_from": str(run)}})
        with pytest.raises(ValueError, match="a video_coop checkpoint cannot continue a dual_coop run"):
            tune(bad, progress=False)
    finally:
        os.chdir(cwd)


def test_fewshot_table(pretrained):
    root, data, _ = pretrained
    cwd = os.getcwd()
    os.chdir(root)
    try:
        m = fewshot(P.validate(data), progress=False)
    finally:
        os.chdir(cwd)
    assert set(m["runs"]) == {"zero_shot", "coop", "dual"} and m["k"] == [1, 2] and m["seeds"] == [1, 2]
    cell = m["runs"]["coop"]["2"]["top1"]
    assert cell["min"] <= cell["mean"] <= cell["max"] and m["runs"]["coop"]["2"]["seeds"] == [1, 2]
    zs = m["runs"]["zero_shot"]
    assert zs["1"]["top1"]["std"] == 0.0 and zs["1"]["top1"]["mean"] == zs["2"]["top1"]["mean"]
    v = m["vs_zero_shot"]["dual"]["2"]
    assert v["beats_zero_shot"] == (v["gain_unseen"] > v["spread_unseen"])
    rows = (root / "reports/prompt/fewshot_runs.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 2 * 2
    for png in ("accuracy_vs_k.png", "accuracy_vs_k_unseen.png"):
        assert (root / "reports/prompt" / png).read_bytes()[:4] == b"\x89PNG"
