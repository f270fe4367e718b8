"""``train@kd`` and ``evaluate@kd`` on the tiny recognition data: converters per teacher, the fusion head in both
modes (the same function: equal metrics), the reference heads, and evaluate@kd recomputing every row."""

from __future__ import annotations

import contextlib
import csv
import json

import pytest
import torch

from replaylab import params as P
from replaylab.tasks.kd.evaluate import evaluate_kd
from replaylab.tasks.kd.trainer import load_converters
from replaylab.tasks.training import train_task


def _with(data: dict, name: str, **kd) -> dict:
    root = data["train"]["out_dir"].rsplit("/", 1)[0]
    train = {**data["train"], "out_dir": f"{root}/models_{name}", "live_dir": f"{root}/live_{name}",
             "kd": {**data["train"]["kd"], **kd}}  # fmt: skip
    return {**data, "train": train, "evaluate": {"out_dir": f"{root}/reports_{name}"}}


@pytest.fixture(scope="module")
def trained_kd(tiny_kd):
    root, data = tiny_kd
    out = {}
    with contextlib.chdir(root):
        for mode in ("features", "video"):
            d = _with(data, mode, input=mode)
            out[mode] = (d, train_task("kd", P.validate(d)))
    return out


def test_summary_converters_references_and_files(trained_kd, tiny_kd):
    root, _ = tiny_kd
    data, summary = trained_kd["features"]
    assert summary["teachers"] == ["t_a", "t_b"] and summary["epochs_run"] == 3
    for t in ("t_a", "t_b"):
        conv = summary["converters"][t]
        assert 1 <= conv["best_epoch"] <= conv["epochs_run"] <= 5
        assert {"val_r2", "test_r2", "val_cosine", "test_cosine"} <= set(conv)
        assert -1.0 <= conv["test_cosine"] <= 1.0
    assert set(summary["references"]) == {"student", "teacher_t_a", "teacher_t_b"}
    out = root / "models_features" / "kd"
    for rel in ("converters.pt", "converters.json", "best.pt", "predictions/test.csv", "predictions/classes.txt",
                "reference/student/predictions/test.csv", "reference/teacher_t_b/predictions/val.csv"):  # fmt: skip
        assert (out / rel).is_file(), rel
    bank, info = load_converters(out / "converters.pt")  # tensors only (weights_only)
    assert bank.teachers == ["t_a", "t_b"] and info["teacher_dims"]["t_a"] > 0


def test_only_the_fusion_head_trains(trained_kd, tiny_kd):
    root, _ = tiny_kd
    state = torch.load(root / "models_features" / "kd" / "best.pt", map_location="cpu", weights_only=True)
    weights = state.get("model", state)
    assert any(k.startswith("fusion.") for k in weights)
    bank, _ = load_converters(root / "models_features" / "kd" / "converters.pt")
    for k, v in bank.state_dict().items():  # the frozen converters in the checkpoint are the phase-1 ones
        assert torch.equal(weights[f"converters.{k}"], v)


def test_video_and_features_mode_agree(trained_kd):
    """Frozen student and converters, the same seed, fp32 store: the two modes train the same function."""
    feats, video = trained_kd["features"][1], trained_kd["video"][1]
    for split in ("val", "test"):
        for k in ("top1", "top5", "mean_class_accuracy"):
            assert video[split][k] == feats[split][k], (split, k)
        assert video[split]["loss"] == pytest.approx(feats[split]["loss"], abs=1e-4)
    assert video["converters"] == feats["converters"]  # phase 1 reads the store in both modes


def test_evaluate_recomputes_every_row(trained_kd, tiny_kd):
    root, _ = tiny_kd
    data, summary = trained_kd["features"]
    with contextlib.chdir(root):
        ev = evaluate_kd("kd", P.validate(data))
    assert ev["teachers"] == ["t_a", "t_b"]
    for split in ("val", "test"):
        assert ev["fusion"][split]["top1"] == summary[split]["top1"]
        assert ev["student"][split]["top1"] == summary["references"]["student"][split]["top1"]
        assert ev["teacher_t_a"][split]["top1"] == summary["references"]["teacher_t_a"][split]["top1"]
        assert ev["gain_over_student"][split] == round(ev["fusion"][split]["top1"] - ev["student"][split]["top1"], 4)
    conv = json.loads((root / "models_features/kd/converters.json").read_text())
    assert ev["converters"]["t_b"]["test"]["r2"] == round(conv["metrics"]["test"]["t_b"]["r2"], 4)
    with open(root / "reports_features/kd/fusion/test/confusion.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == ev["fusion"]["test"]["clips"]


def test_params_name_the_roles(tiny_kd):
    _, data = tiny_kd
    with pytest.raises(P.ParamsError, match="teachers"):
        P.validate(_with(data, "bad", teachers=["student"]))
    with pytest.raises(P.ParamsError, match="features_source: map"):
        P.validate(_with(data, "bad", converter={"tokens": "time"}))


def test_unknown_teacher_names_the_store_keys(tiny_kd):
    root, data = tiny_kd
    with contextlib.chdir(root), pytest.raises(Exception, match="'nope' is not a key of featurize.recognition.models"):
        train_task("kd", P.validate(_with(data, "nope", teachers=["nope"])))


def test_time_tokens_and_transformer_converter(tiny_kd):
    root, data = tiny_kd
    d = _with(data, "time", features_source="map", references=False, teachers=["t_a"],
              converter={"kind": "transformer", "tokens": "time", "width": 16, "heads": 2, "epochs": 2, "patience": 2,
                         "batch_size": 4},
              fusion={"kind": "attention", "width": 16})  # fmt: skip
    with contextlib.chdir(root):
        summary = train_task("kd", P.validate(d))
    assert summary["references"] == {} and set(summary["converters"]) == {"t_a"}
    assert not (root / "models_time/kd/reference").exists()
