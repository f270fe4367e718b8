from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replaylab.evaluation.ava import read_ava_csv
from replaylab.tasks.actions.predict import ModelFileError, predict_actions


def test_predict_actions_reproduces_the_trainer_test_predictions(trained_actions, tiny_world, tmp_path):
    # the test split is the AVA val split: decoding it again, rebuilding the frozen backbone, the memory and the head
    # from the checkpoint must give the scores the trainer wrote
    root, _, _ = trained_actions
    out = tmp_path / "pred.csv"
    summary = predict_actions(tiny_world[0] / "ava", root / "models/actions/best.pt", out, split="val", progress=False)
    got = read_ava_csv(out, kind="detections")
    want = read_ava_csv(root / "models/actions/predictions/test.csv", kind="detections")
    assert summary["rows"] == len(want) and summary["skipped_keyframes"] == 0
    keys = ["video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id"]
    merged = pd.merge(want, got, on=keys, suffixes=("_train", "_predict"), validate="one_to_one")
    assert len(merged) == len(want)
    np.testing.assert_allclose(merged["score_predict"], merged["score_train"], atol=2e-5)


def test_a_missing_or_foreign_model_file_is_named(tiny_world, tmp_path):
    with pytest.raises(ModelFileError, match="model file not found"):
        predict_actions(tiny_world[0] / "ava", tmp_path / "none.pt", tmp_path / "p.csv", progress=False)
    import torch

    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="not a train@actions checkpoint"):
        predict_actions(tiny_world[0] / "ava", tmp_path / "other.pt", tmp_path / "p.csv", progress=False)
