"""``train.<task>.input: features``: a frozen backbone in video mode and its cached features train the same head;
the saved model scores raw clips end to end (header inference, predict-fouls); the store is part of the identity."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import torch

from replaylab import params as P
from replaylab.data.cache import build_cache, spec_from_params
from replaylab.data.samples import read_csv
from replaylab.data.sources import task_index
from replaylab.data.task_splits import make_splits, write_splits
from replaylab.features.featurize import featurize_task
from replaylab.models import build_backbone
from replaylab.tasks.training import train_task

NO_AUGMENT = {"flip": 0.0, "rotate_deg": 0.0, "brightness": 0.0, "contrast": 0.0, "temporal_jitter": 0}


def _frozen_ckpt(path, size) -> str:
    torch.manual_seed(11)
    net = build_backbone("compact3d", frames=4, size=size, width=0.25)
    with torch.no_grad():  # non-trivial BN statistics, as a trained backbone has
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    torch.save(net.state_dict(), path)
    return str(path)


def _with(data: dict, task: str, *, input: str, models: str, live: str, **train) -> dict:
    section = {**data["train"][task], "input": input, **train}
    return {**data, "train": {**data["train"], "out_dir": models, "live_dir": live, task: section}}


def _head(path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)["model"]
    return {k: v for k, v in state.items() if k.startswith("head.")}


@pytest.fixture(scope="module")
def tiny_header(tiny_world, tmp_path_factory):
    root = tmp_path_factory.mktemp("hdr_features")
    matches = root / "matches"
    shutil.copytree(tiny_world[0] / "matches", matches)
    shutil.copytree(matches / "match_000", matches / "match_002")
    ckpt = _frozen_ckpt(root / "frozen.pt", (32, 32))
    feature_model = {"key": "c3d", "backbone": "compact3d", "pretrained": ckpt, "backbone_options": {"width": 0.25}}
    data = {
        "seed": 3,
        "cache_clips": {"out_dir": str(root / "cache"), "header": {"source": {"format": "matches", "root": str(matches)},
                                                                     "frames": 4, "size": [32, 32], "crop_px": 64}},
        "split": {"out_dir": str(root / "splits"), "header": {"fractions": {"train": 0.34, "val": 0.33, "test": 0.33}}},
        "featurize": {"out_dir": str(root / "features"), "header": {"models": [feature_model], "shard_size": 4, "dtype": "float32"}},
        "train": {"out_dir": str(root / "models"), "live_dir": str(root / "live"),
                  "header": {"epochs": 3, "batch_size": 4, "lr": 0.02, "warmup_epochs": 0.0, "num_workers": 0, "threads": 1, "early_stop_patience": 0,
                             "backbone": "compact3d", "backbone_options": {"width": 0.25}, "pretrained": ckpt,
                             "finetune_mode": "frozen", "augment": NO_AUGMENT, "dropout": 0.3}},
    }  # fmt: skip
    cfg = P.validate(data).cache_clips.header
    build_cache(task_index("header", cfg, seed=3, margin_s=0.1), spec_from_params(cfg), out_h5=root / "cache/header.h5",
                out_index=root / "cache/header_index.csv", work_dir=root / "w", progress=False)  # fmt: skip
    by = make_splits(read_csv(root / "cache/header_index.csv"), strategy="grouped",
                     fractions={"train": 0.34, "val": 0.33, "test": 0.33}, seed=3)  # fmt: skip
    write_splits(by, root / "splits/header")
    return root, data


def test_header_video_and_features_train_the_same_head(tiny_header, monkeypatch, caplog):
    root, data = tiny_header
    monkeypatch.chdir(root)
    video = train_task("header", P.validate(_with(data, "header", input="video", models="mv", live="lv")))
    summary = featurize_task("header", P.validate(data), progress=False)
    assert summary["models"]["c3d"]["computed_shards"] == summary["models"]["c3d"]["shards"] >= 2
    feats = train_task("header", P.validate(_with(data, "header", input="features", models="mf", live="lf")))
    assert (feats["input"], video["input"], feats["epochs_run"]) == ("features", "video", 3)
    a, b = _head(root / "mv/header/best.pt"), _head(root / "mf/header/best.pt")
    assert sorted(a) == sorted(b) == ["head.bias", "head.weight"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    for split in ("val", "test"):
        for k, v in video[split].items():
            assert feats[split][k] == pytest.approx(v, abs=2e-4), (split, k)

    # inference rebuilds frozen backbone + trained head from models/<task>/ and scores raw clips alike
    import h5py

    from replaylab.inference.header_model import load_header_model

    with h5py.File(root / "cache/header.h5") as f:
        clips = f["clips"][:6]
    from_video, from_feats = load_header_model(root / "mv/header"), load_header_model(root / "mf/header")
    np.testing.assert_allclose(from_feats.score(clips), from_video.score(clips), rtol=1e-4, atol=1e-5)

    # the store is part of the training identity: other features -> trained afresh, the log names them
    other = _frozen_ckpt(root / "frozen2.pt", (32, 32))
    models = [{**data["featurize"]["header"]["models"][0], "pretrained": other}]
    changed = {**data, "featurize": {**data["featurize"], "header": {**data["featurize"]["header"], "models": models}}}
    featurize_task("header", P.validate(changed), progress=False)
    with caplog.at_level(logging.WARNING):
        train_task("header", P.validate(_with(changed, "header", input="features", models="mf", live="lf")))
    assert "inputs.features" in caplog.text
    from replaylab.features.store import FeatureStoreError

    with pytest.raises(FeatureStoreError, match=r"out of date \(pretrained: .*frozen2.pt -> .*frozen.pt"):
        train_task("header", P.validate(_with(data, "header", input="features", models="mf", live="lf")))  # store is `changed`'s
    with pytest.raises(FeatureStoreError, match="'nope' is not a key of featurize.header.models"):
        train_task("header", P.validate(_with(data, "header", input="features", models="mf", live="lf", features_model="nope")))
    with pytest.raises(ValueError, match="md5"):  # the backbone file changed under a trained head
        shutil.copy(root / "frozen.pt", root / "frozen2.pt")
        load_header_model(root / "mf/header")


def test_foul_video_and_features_train_the_same_heads(tiny_foul, tmp_path, monkeypatch):
    root, data = tiny_foul
    size = tuple(data["cache_clips"]["foul"]["size"])
    ckpt = _frozen_ckpt(tmp_path / "frozen.pt", size)
    base = {**data["train"]["foul"], "pretrained": ckpt, "finetune_mode": "frozen", "augment": NO_AUGMENT,
            "aggregation": "attention"}  # fmt: skip
    model = {"key": "c3d", "backbone": "compact3d", "pretrained": ckpt, "backbone_options": {"width": 0.25}}
    data = {**data, "train": {**data["train"], "foul": base},
            "featurize": {"out_dir": str(tmp_path / "features"), "foul": {"models": [model], "shard_size": 8, "dtype": "float32"}}}  # fmt: skip
    monkeypatch.chdir(root)
    video = train_task(
        "foul", P.validate(_with(data, "foul", input="video", models=str(tmp_path / "mv"), live=str(tmp_path / "lv")))
    )
    featurize_task("foul", P.validate(data), progress=False)
    feats = train_task(
        "foul", P.validate(_with(data, "foul", input="features", models=str(tmp_path / "mf"), live=str(tmp_path / "lf")))
    )
    a, b = _head(tmp_path / "mv/foul/best.pt"), _head(tmp_path / "mf/foul/best.pt")
    assert sorted(a) == sorted(b) and any(k.startswith("head.aggregate") for k in a)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    assert feats["val"]["leaderboard_value"] == pytest.approx(video["val"]["leaderboard_value"], abs=1e-3)
    assert feats["test"] == pytest.approx(video["test"], abs=1e-3)
    assert (tmp_path / "mf/foul/predictions/test.json").read_text() == (tmp_path / "mv/foul/predictions/test.json").read_text()

    # predict-fouls puts the heads back on the frozen backbone and predicts raw clips as the video model does
    from replaylab.tasks.foul.predict import predict_fouls

    split_dir = data["cache_clips"]["foul"]["source"]["root"] + "/valid"
    out_v, out_f = tmp_path / "pv.json", tmp_path / "pf.json"
    predict_fouls(split_dir, tmp_path / "mv/foul/best.pt", out_v, threads=1, progress=False)
    predict_fouls(split_dir, tmp_path / "mf/foul/best.pt", out_f, threads=1, progress=False)
    assert out_f.read_text() == out_v.read_text()
