from __future__ import annotations

import contextlib

import numpy as np
import pytest
import yaml

from replaylab import params as P
from replaylab.data.samples import read_csv
from replaylab.evaluation.ava import read_ava_csv
from replaylab.tasks.actions.trainer import scaled_lr
from replaylab.tasks.training import train_task


def test_features_mode_with_ia_trains_and_writes_official_predictions(trained_actions):
    root, data, summary = trained_actions
    assert summary["input"] == "features" and summary["ia"] is True and summary["epochs_run"] == 2
    for split in ("val", "test"):
        assert 0.0 <= summary[split]["frame_map"] <= 1.0
        table = read_ava_csv(root / "models/actions/predictions" / f"{split}.csv", kind="detections")
        samples = read_csv(root / "splits/actions" / f"{split}.csv").samples
        boxes = sum(len(s.meta["proposals"]) for s in samples)
        assert len(table) == boxes * 16  # every proposal x every class of the label map
        assert set(table["action_id"]) == set(range(1, 17))
        assert table["score"].between(0, 1).all()
    config = yaml.safe_load((root / "models/actions/config.yaml").read_text())
    assert config["model"]["ia"]["blocks"] == ["P", "O", "M"] and config["inputs"]["memory"]["span_s"] == 2
    assert config["lr_scaled"] == pytest.approx(1e-3 * 4 / 16)  # batch 4 against the reference batch of 16


def test_linear_scaling_rule():
    assert scaled_lr(0.01, batch_size=8, reference_batch=16, world=4) == pytest.approx(0.02)


@pytest.mark.parametrize("change", [{"input": "video", "backbone": "compact3d", "backbone_options": {"width": 0.25},
                                     "pretrained": None, "frozen_bn": False, "epochs": 1, "ia": {"active": False}},
                                    {"pose_loss": "softmax", "epochs": 1, "ia": {"active": True, "blocks": ["P", "O"],
                                                                                "structure": "parallel", "dim_inner": 8}}])  # fmt: skip
def test_video_mode_and_the_softmax_pose_group_train(tiny_actions, tmp_path, change):
    root, data = tiny_actions
    data = {**data, "train": {**data["train"], "out_dir": str(tmp_path / "m"), "live_dir": str(tmp_path / "l"),
                              "actions": {**data["train"]["actions"], **change}}}  # fmt: skip
    with contextlib.chdir(root):  # dvclive looks for a DVC repo from the working directory
        summary = train_task("actions", P.validate(data))
    assert summary["input"] == change.get("input", "features")
    assert np.isfinite(summary["test"]["frame_map"])


def test_a_changed_pose_group_must_name_label_map_classes(tiny_actions, tmp_path):
    root, data = tiny_actions
    data = {**data, "train": {**data["train"], "out_dir": str(tmp_path / "m"), "live_dir": str(tmp_path / "l"),
                              "actions": {**data["train"]["actions"], "pose_loss": "softmax", "pose_classes": ["stand", "fly"]}}}  # fmt: skip
    with pytest.raises(SystemExit, match="pose_classes"):
        train_task("actions", P.validate(data))


def test_flip_augmentation_and_pooled_features_are_refused():
    with pytest.raises(P.ParamsError, match="flip"):
        P.validate({"train": {"actions": {"augment": {"flip": 0.5}}}})
    with pytest.raises(P.ParamsError, match="features_source"):
        P.validate({"train": {"actions": {"features_source": "pooled"}}})
    with pytest.raises(P.ParamsError, match="loss"):
        P.validate({"train": {"actions": {"loss": "focal"}}})
