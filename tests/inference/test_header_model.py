"""The trained header model as a scoring function: the same probabilities as the training loop's evaluation."""

from __future__ import annotations

import csv

import h5py
import numpy as np
import pytest
import torch

from replaylab.inference.header_model import load_header_model


def test_scores_equal_the_validation_predictions(header_run):
    root, _, _ = header_run
    model = load_header_model(root / "models/header")
    assert model.crop_on == "ball_track" and model.track_smooth_s == pytest.approx(0.08)
    assert model.spec.frames == 6 and model.spec.size == (24, 24) and model.classes[model.positive] == "header"
    rows = list(csv.DictReader(open(root / "models/header/val_predictions.csv")))
    with h5py.File(root / "cache/header.h5", "r") as f:
        ids = [s.decode() for s in f["sample_id"][:]]
        clips = np.stack([f["clips"][ids.index(r["sample_id"])] for r in rows])
    np.testing.assert_allclose(model.score(clips), [float(r["probability"]) for r in rows], atol=2e-6)


def test_wrong_clip_shape_and_mismatched_checkpoint(header_run, tmp_path):
    root, _, _ = header_run
    model = load_header_model(root / "models/header")
    with pytest.raises(ValueError, match="takes clips of 6"):
        model.score(np.zeros((1, 5, 24, 24, 3), np.uint8))
    from ruamel.yaml import YAML

    bad = tmp_path / "header"
    bad.mkdir()
    yaml = YAML(typ="safe", pure=True)
    cfg = yaml.load((root / "models/header/config.yaml").read_text())
    cfg["classes"].append("extra")  # one more output than the checkpoint's head has
    yaml.dump(cfg, bad / "config.yaml")
    torch.save(torch.load(root / "models/header/best.pt", weights_only=True), bad / "best.pt")
    with pytest.raises(ValueError, match="does not match"):
        load_header_model(bad)
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        load_header_model(tmp_path / "nothing")
