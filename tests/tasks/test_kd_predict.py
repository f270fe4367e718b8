"""``replaylab predict-clips`` on the tiny UCF101 world: a ``train@kd`` model whose student and teacher have checkpoint
files classifies the test split's source videos with the teacher's checkpoint made unreadable and its feature store
gone, and gives ``train@kd``'s own test predictions; a changed student checkpoint, an unreadable video and
``--skip-bad``."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil

import numpy as np
import pytest
import torch

from replaylab import params as P
from replaylab.cli import main
from replaylab.data.samples import read_csv
from replaylab.tasks.kd.predict import VIDEO_EXTENSIONS, ClipReadError, KdModelError, predict_clips, skipped_path


def _checkpoint(path, backbone: str, **options) -> str:
    """A random-weight backbone state dict written with torch.save (a 'pretrained' file for the feature store)."""
    from replaylab.models import build_backbone

    torch.manual_seed(11)
    torch.save(build_backbone(backbone, frames=4, size=(32, 32), **options).state_dict(), path)
    return str(path)


@pytest.fixture(scope="module")
def trained(tiny_recognition, tiny_world, tmp_path_factory):
    """(work dir, features-mode model dir, test clip paths, test split index) after training two train@kd models (in
    models/ and models_video/), with the teacher's checkpoint then replaced by garbage bytes + chmod 000 and its
    feature store deleted."""
    from replaylab.features.featurize import featurize_cache
    from replaylab.tasks.training import train_task

    src, base = tiny_recognition
    root = tmp_path_factory.mktemp("kd_predict")
    student_ckpt = _checkpoint(root / "student.pt", "compact3d", width=0.25)
    teacher_ckpt = _checkpoint(root / "teacher.pt", "compact3d", width=0.5)
    models = [{"key": "student", "backbone": "compact3d", "backbone_options": {"width": 0.25}, "pretrained": student_ckpt,
               "frames": 4, "size": [32, 32], "store_maps": True},
              {"key": "t_a", "backbone": "compact3d", "backbone_options": {"width": 0.5}, "pretrained": teacher_ckpt}]  # fmt: skip
    data = {
        **base,
        "featurize": {"out_dir": str(root / "features"), "recognition": {"models": models, "dtype": "float32"}},
        "train": {"out_dir": str(root / "models"), "live_dir": str(root / "live"),
                  "kd": {"epochs": 3, "batch_size": 4, "num_workers": 0, "threads": 1, "lr": 0.01, "warmup_epochs": 0.0,
                         "teachers": ["t_a"], "references": False,
                         "converter": {"epochs": 5, "patience": 2, "batch_size": 4}}},
        "evaluate": {"out_dir": str(root / "reports")},
    }  # fmt: skip
    params = P.validate(data)
    featurize_cache(src / "cache/recognition.h5", root / "features/recognition", params.featurize.recognition.models,
                    split_dir=src / "splits/recognition", progress=False, task="recognition", seed=3, dtype="float32")  # fmt: skip
    # a second model: video mode, time tokens from the student's map, the gated head
    video = {**data, "train": {**data["train"], "out_dir": str(root / "models_video"), "live_dir": str(root / "live_video"),
                               "kd": {**data["train"]["kd"], "input": "video", "fusion": {"kind": "gated", "width": 16},
                                      "converter": {**data["train"]["kd"]["converter"], "tokens": "time"}}}}  # fmt: skip
    with contextlib.chdir(root):
        train_task("kd", params)
        train_task("kd", P.validate(video))
    # the teacher cannot be loaded any more: garbage bytes, no permissions, no stored features
    with open(teacher_ckpt, "wb") as fh:
        fh.write(b"not a checkpoint\x00" * 64)
    os.chmod(teacher_ckpt, 0)
    shutil.rmtree(root / "features/recognition/t_a")
    test = read_csv(src / "splits/recognition/test.csv")
    videos = tiny_world[0] / "ucf101"
    clips = [videos / s.sources[0] for s in test.samples]
    return root, root / "models/kd", clips, test


def _expected(model_dir) -> tuple[dict[str, dict], list[str]]:
    """train@kd's test predictions by sample id, and its classes."""
    with open(model_dir / "predictions/test.csv", newline="") as fh:
        expected = {r["sample_id"]: r for r in csv.DictReader(fh)}
    return expected, (model_dir / "predictions/classes.txt").read_text().splitlines()


def _read(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("model", ["kd", "video"])
def test_predicts_without_teachers_as_training_did(trained, model):
    """Features mode (pooled tokens, concat head) and video mode (time tokens, gated head)."""
    root, model_dir, clips, test = trained
    if model == "video":
        model_dir = root / "models_video" / "kd"
    expected, classes = _expected(model_dir)
    out = root / "pred" / f"test_{model}.csv"
    summary = predict_clips(clips, model_dir, out, top_k=3, batch_size=3, progress=False)
    assert summary["predicted"] == len(clips) == len(expected) > 0 and summary["skipped"] == 0
    rows = _read(out)
    assert [r["path"] for r in rows] == [str(c) for c in clips]
    for r, s in zip(rows, test.samples, strict=True):
        want = expected[s.sample_id]
        probs = np.asarray([float(v) for v in want["probabilities"].split()])
        assert r["top1_class"] == classes[int(want["prediction"])], s.sample_id
        assert float(r["top1_prob"]) == pytest.approx(probs.max(), abs=1e-4)
        top = r["topk"].split("|")
        assert len(top) == 3 and top[0] == r["top1_class"]
        got = [float(v) for v in r["topk_probs"].split()]
        assert got == sorted(got, reverse=True)
        assert got == pytest.approx([probs[classes.index(c)] for c in top], abs=1e-4)


def test_cli_walks_directories(trained, capsys, tmp_path):
    root, model_dir, clips, _ = trained
    folder = tmp_path / "clips"
    shutil.copytree(clips[0].parent, folder / "nested")
    (folder / "notes.txt").write_text("not a video\n")
    videos = sorted(str(f) for f in (folder / "nested").iterdir() if f.suffix in VIDEO_EXTENSIONS)
    out = root / "pred" / "cli.csv"
    assert main(["predict-clips", str(folder), "--model-dir", str(model_dir), "--out", str(out), "--top-k", "2"]) == 0
    rows = _read(out)
    assert [r["path"] for r in rows] == videos and videos
    assert all(len(r["topk"].split("|")) == 2 for r in rows)
    assert '"predicted"' in capsys.readouterr().out


def test_unreadable_video_is_named_or_skipped(trained, capsys):
    root, model_dir, clips, _ = trained
    bad = root / "broken.avi"
    bad.write_bytes(b"RIFF....AVI garbage" * 10)
    out = root / "pred" / "bad.csv"
    with pytest.raises(ClipReadError, match="broken.avi"):
        predict_clips([clips[0], bad], model_dir, out, progress=False)
    assert not out.exists()  # nothing written on failure
    assert main(["predict-clips", str(bad), "--model-dir", str(model_dir), "--out", str(out)]) == 2
    assert "broken.avi" in capsys.readouterr().err
    summary = predict_clips([clips[0], bad, clips[1]], model_dir, out, skip_bad=True, progress=False)
    assert summary["predicted"] == 2 and summary["skipped"] == 1
    assert [r["path"] for r in _read(out)] == [str(clips[0]), str(clips[1])]
    skipped = _read(skipped_path(out))
    assert [r["path"] for r in skipped] == [str(bad)] and skipped[0]["reason"]


def test_missing_path_is_named(trained):
    root, model_dir, _, _ = trained
    with pytest.raises(Exception, match="nope.avi"):
        predict_clips([root / "nope.avi"], model_dir, root / "pred" / "x.csv", progress=False)


def test_changed_student_checkpoint_is_refused(trained, tmp_path):
    root, model_dir, clips, _ = trained
    ckpt = root / "student.pt"
    saved = ckpt.read_bytes()
    try:
        state = torch.load(ckpt, weights_only=True)
        torch.save({k: v + 1 if v.is_floating_point() else v for k, v in state.items()}, ckpt)
        with pytest.raises(KdModelError, match="student checkpoint .*student.pt.*md5"):
            predict_clips(clips[:1], model_dir, tmp_path / "p.csv", progress=False)
    finally:
        ckpt.write_bytes(saved)


def test_not_a_model_dir(trained, tmp_path):
    _, _, clips, _ = trained
    with pytest.raises(KdModelError, match="config.yaml"):
        predict_clips(clips[:1], tmp_path, tmp_path / "p.csv", progress=False)
