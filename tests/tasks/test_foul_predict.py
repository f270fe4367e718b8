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


def test_broken_clips_fail_short_or_are_skipped(trained_foul, tmp_path, capsys):
    import shutil

    root, data, _ = trained_foul
    split_dir = tmp_path / "test"
    shutil.copytree(data["cache_clips"]["foul"]["source"]["root"] + "/test", split_dir)
    actions = sorted(p for p in split_dir.glob("action_*") if p.is_dir())
    all_bad, one_bad = actions[0], actions[1]
    for clip in all_bad.glob("clip_*.mp4"):
        clip.write_bytes(b"not a video")
    view = sorted(one_bad.glob("clip_*.mp4"))[0]
    view.write_bytes(view.read_bytes()[:300])  # cut inside its first frames
    model = str(root / "models/foul/best.pt")
    out = tmp_path / "p.json"
    base = ["predict-fouls", "--data", str(split_dir), "--model", model, "--out", str(out), "--threads", "1"]

    assert main(base) == 2
    err = capsys.readouterr().err
    assert "unreadable video(s); nothing written (rerun with --on-bad-video skip" in err and "Traceback" not in err
    assert f"{all_bad.name}/clip_0.mp4" in err and not out.exists()

    assert main([*base, "--on-bad-video", "skip"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    got = json.loads(out.read_text())["Actions"]
    every = {p.name.split("_")[1] for p in actions}
    assert set(got) == every - {all_bad.name.split("_")[1]}  # the action with one bad view is still predicted
    assert summary["actions"] == len(every) - 1 and summary["skipped_actions"] == 1
    assert summary["dropped_views"] == len(list(all_bad.glob("clip_*.mp4"))) + 1
    assert any(all_bad.name in s["reason"] and "views readable" in s["reason"] for s in summary["skipped"])
    assert any(s["source"].endswith(f"{one_bad.name}/{view.name}") for s in summary["skipped"])
    assert "predict-fouls: skipped" in captured.err


def test_missing_data_folder_is_reported_before_the_model_loads(tmp_path, capsys):
    rc = main(["predict-fouls", "--data", str(tmp_path / "nowhere"), "--model", str(tmp_path / "no.pt"), "--out", "p.json"])
    assert rc == 2 and "nowhere: not a directory" in capsys.readouterr().err
