"""replaylab predict-fouls: the trained model on a split directory, official-format predictions."""

from __future__ import annotations

import json

import pytest
import torch

from replaylab.cli import main
from replaylab.data.adapters.mvfoul import load_mvfoul_actions
from replaylab.tasks.foul.predict import ModelFileError, predict_fouls, read_foul_checkpoint


def test_predict_fouls_reproduces_the_pipeline_predictions(trained_foul, tmp_path, capsys):
    root, data, _ = trained_foul
    split_dir = data["cache_clips"]["foul"]["source"]["root"] + "/test"
    out = tmp_path / "predictions.json"
    rc = main(["predict-fouls", "--data", split_dir, "--model", str(root / "models/foul/best.pt"), "--out", str(out),
               "--threads", "1", "--view-chunk", "2"])  # fmt: skip
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    got = json.loads(out.read_text())["Actions"]
    every = {s.meta["action_id"] for s in load_mvfoul_actions(split_dir).samples}
    assert set(got) == every and summary["actions"] == len(every)  # every action folder, also those the rules skip
    pipeline = json.loads((root / "models/foul/predictions/test.json").read_text())["Actions"]
    assert {k: got[k] for k in pipeline} == pipeline  # same decoding, same model -> same predictions


def test_checkpoint_contents(trained_foul):
    root, _, _ = trained_foul
    arch, inputs, state = read_foul_checkpoint(root / "models/foul/best.pt")
    assert arch["backbone"] == "compact3d" and arch["aggregation"] == "max" and inputs["center_frame"] == 20
    assert inputs["cache"]["frames"] == 4 and inputs["norm"] == "imagenet" and any(k.startswith("backbone.") for k in state)


def test_bad_model_files(tmp_path, capsys, trained_foul):
    root, data, _ = trained_foul
    with pytest.raises(ModelFileError, match="model file not found"):
        read_foul_checkpoint(tmp_path / "nope.pt")
    other = tmp_path / "other.pt"
    torch.save({"model": {}}, other)
    split_dir = data["cache_clips"]["foul"]["source"]["root"] + "/test"
    assert main(["predict-fouls", "--data", split_dir, "--model", str(other), "--out", str(tmp_path / "p.json")]) == 2
    assert "not a train@foul checkpoint" in capsys.readouterr().err
    assert main(["predict-fouls", "--data", str(tmp_path), "--model", str(root / "models/foul/best.pt"), "--out",
                 str(tmp_path / "p.json")]) == 2  # fmt: skip
    assert "no action_<n> folders" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def test_direct_call_with_other_views(trained_foul, tmp_path):
    root, data, _ = trained_foul
    split_dir = data["cache_clips"]["foul"]["source"]["root"] + "/valid"
    s = predict_fouls(split_dir, root / "models/foul/best.pt", tmp_path / "p.json", max_views=2, threads=1, progress=False)
    assert s["views"] == 2 and s["actions"] == len(json.loads((tmp_path / "p.json").read_text())["Actions"])
