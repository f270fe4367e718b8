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


VIDEO = {"input": "video", "backbone": "compact3d", "backbone_options": {"width": 0.25}, "pretrained": None, "frozen_bn": False,
         "ia": {"active": False}}  # fmt: skip


def _built(tiny_actions, tmp_path, change):
    """What ActionsTrainer.build gives for train.actions updated with ``change`` (the driver's context, no training)."""
    from replaylab.models import normalisation_of
    from replaylab.tasks.registry import get_task
    from replaylab.tasks.training import TrainContext, clip_data, feature_data, train_config

    root, data = tiny_actions
    params = P.validate({**data, "train": {**data["train"], "actions": {**data["train"]["actions"], **change}}})
    spec, cfg = get_task("actions"), params.train.actions
    if cfg.input == "features":
        splits, features = feature_data(spec, params, cfg)
        norm = features["norm"]
    else:
        features, norm = None, normalisation_of(cfg.backbone)
        splits = clip_data(spec, params, cfg, norm)
    ctx = TrainContext(spec=spec, params=params, cfg=cfg, data=splits, tcfg=train_config(cfg, seed=3), norm=norm,
                       out_dir=tmp_path / "m", live_dir=tmp_path / "l", features=features)  # fmt: skip
    return ctx, spec.trainer.build(ctx)


def test_video_mode_honours_the_finetune_mode(tiny_actions, tmp_path):
    _, frozen = _built(tiny_actions, tmp_path, {**VIDEO, "finetune_mode": "frozen"})
    model = frozen.model
    assert model.finetune_mode == "frozen" and not any(p.requires_grad for p in model.backbone.parameters())
    assert {g["name"] for g in frozen.param_groups} <= {"head", "head_no_decay"}
    model.train()
    assert not any(m.training for m in model.backbone.modules())  # BN statistics fixed too (frozen_bn: false)

    _, partial = _built(tiny_actions, tmp_path, {**VIDEO, "finetune_mode": "partial", "partial_blocks": 1})
    blocks = list(partial.model.backbone.blocks())
    assert all(p.requires_grad for p in blocks[-1].parameters())
    assert not any(p.requires_grad for b in blocks[:-1] for p in b.parameters())
    partial.model.train()
    assert blocks[-1].training and not any(b.training for b in blocks[:-1])
    assert {g["name"] for g in partial.param_groups} >= {"backbone", "head"}

    _, full = _built(tiny_actions, tmp_path, VIDEO)
    assert all(p.requires_grad for p in full.model.parameters())


@pytest.mark.parametrize(("change", "builds"), [(VIDEO, ["compact3d"]),  # the detector's own, no separate probe
                                               ({}, ["compact3d"]),  # features + IA memory: one probe of the store model
                                               ({**VIDEO, "backbone_options": {"width": 0.5},
                                                 "ia": {"active": True, "blocks": ["P", "M"]}}, ["compact3d"] * 2)])  # fmt: skip
def test_each_backbone_is_built_once_with_the_same_architecture(tiny_actions, tmp_path, monkeypatch, change, builds):
    import replaylab.models as M
    from replaylab.tasks.actions.trainer import architecture

    calls = []
    build = M.build_backbone
    monkeypatch.setattr(M, "build_backbone", lambda name, **k: calls.append(name) or build(name, **k))
    ctx, built = _built(tiny_actions, tmp_path, change)
    assert calls == builds
    probed = architecture(ctx.cfg, num_classes=len(built.identity["classes"]), spec=ctx.data.spec, features=ctx.features,
                          memory_dim=built.identity["architecture"]["memory_dim"])  # fmt: skip
    assert len(calls) == len(builds) + 1  # without a built backbone, architecture builds a probe (as before)
    assert built.identity["architecture"] == probed
    assert list(probed) == ["backbone", "backbone_options", "frames", "size", "channels", "spatial_stride", "num_classes",
                            "roi", "dropout", "ia", "memory_dim"]  # fmt: skip


@pytest.mark.parametrize("module", ["replaylab.features.memory", "replaylab.evaluation.ava"])
def test_the_training_identity_moves_with_the_memory_bank_and_metric_sources(tiny_actions, tmp_path, monkeypatch, module):
    """A resumed or skipped run never keeps a model made with other code than what the actions training uses."""
    import importlib
    from pathlib import Path

    from replaylab.tasks.training import training_identity

    ctx, built = _built(tiny_actions, tmp_path, {})
    root, _ = tiny_actions
    with contextlib.chdir(root):
        before = training_identity(ctx.spec, ctx.params, ctx.cfg, built)
        mod = importlib.import_module(module)
        edited = tmp_path / Path(mod.__file__).name
        edited.write_text(Path(mod.__file__).read_text() + "\n# changed\n")
        monkeypatch.setattr(mod.__spec__, "origin", str(edited))  # where the code digest finds the module's source
        after = training_identity(ctx.spec, ctx.params, ctx.cfg, built)
    assert after["code"] != before["code"] and {**after, "code": None} == {**before, "code": None}
