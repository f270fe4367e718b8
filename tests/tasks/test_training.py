"""train_task end to end on a tiny header cache: outputs, params mapping, same seed -> same metrics."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from replaylab import params as P
from replaylab.data.cache import build_cache, spec_from_params
from replaylab.data.samples import read_csv
from replaylab.data.sources import task_index
from replaylab.data.task_splits import make_splits, write_splits
from replaylab.tasks.training import train_config, train_task


@pytest.fixture(scope="module")
def tiny_header(tiny_world, tmp_path_factory):
    root = tmp_path_factory.mktemp("hdr")
    matches = root / "matches"
    shutil.copytree(tiny_world[0] / "matches", matches)
    shutil.copytree(matches / "match_000", matches / "match_002")  # a third group for train / val / test
    data = {
        "seed": 3,
        "cache_clips": {"out_dir": str(root / "cache"), "header": {"source": {"format": "matches", "root": str(matches)},
                                                                     "frames": 4, "size": [32, 32], "crop_px": 64}},
        "split": {"out_dir": str(root / "splits"), "header": {"fractions": {"train": 0.34, "val": 0.33, "test": 0.33}}},
        "train": {"out_dir": str(root / "models"), "live_dir": str(root / "live"),
                  "header": {"epochs": 2, "batch_size": 4, "num_workers": 0, "threads": 1, "early_stop_patience": 0}},
    }  # fmt: skip
    params = P.validate(data)
    cfg = params.cache_clips.header
    spec = spec_from_params(cfg)
    build_cache(task_index("header", cfg, seed=3, margin_s=0.1), spec, out_h5=root / "cache/header.h5",
                out_index=root / "cache/header_index.csv", work_dir=root / "w", progress=False)  # fmt: skip
    by = make_splits(
        read_csv(root / "cache/header_index.csv"),
        strategy="grouped",
        fractions={"train": 0.34, "val": 0.33, "test": 0.33},
        seed=3,
    )
    write_splits(by, root / "splits/header")
    return root, data


def test_train_task_outputs_and_determinism(tiny_header, monkeypatch):
    root, data = tiny_header
    monkeypatch.chdir(root)  # dvclive looks for a DVC repo from the working directory
    first = train_task("header", P.validate(data))
    assert first["epochs_run"] == 2 and first["backbone"] == "compact3d"
    assert set(first["val"]) >= {"auroc", "ap", "f1", "loss"} and set(first["test"]) >= {"auroc", "ap", "f1", "loss"}
    out = root / "models/header"
    for name in (
        "best.pt",
        "last.pt",
        "config.yaml",
        "metrics_epoch.csv",
        "val_predictions.csv",
        "plots/roc.csv",
        "plots/test/pr.csv",
    ):
        assert (out / name).is_file(), name
    assert "event_types" in (out / "config.yaml").read_text()
    again = dict(data, train=dict(data["train"], out_dir=str(root / "models2"), live_dir=str(root / "live2")))
    second = train_task("header", P.validate(again))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)  # same params + seed -> same metrics
    rerun = train_task("header", P.validate(data))  # finished: resumes to the end without training again
    assert rerun["epochs_run"] == 2 and rerun["test"] == first["test"]


def test_lr_fills_unset_rates_and_unknown_task():
    cfg = P.validate({"train": {"header": {"lr": 3e-4, "lr_head": 1e-3}}}).train.header
    tc = train_config(cfg, seed=5)
    assert (tc.lr_backbone, tc.lr_head, tc.seed, tc.monitor) == (3e-4, 1e-3, 5, "val_auroc")
    from replaylab.params.data import ClipParams, SplitTaskParams
    from replaylab.tasks import TaskSpec, register_task, unregister_task

    register_task(TaskSpec(name="untrained", description="t", package=__name__, cache_params=ClipParams,
                           split_params=SplitTaskParams()))  # fmt: skip
    try:
        with pytest.raises(SystemExit, match=r"train@untrained: this task has no trainer \(tasks with one: header, foul, actions, "
                                             r"recognition, kd\)"):  # fmt: skip
            train_task("untrained", P.validate({}))
    finally:
        unregister_task("untrained")


def _copy_inputs(root, dst):
    shutil.copytree(root / "cache", dst / "cache")
    shutil.copytree(root / "splits", dst / "splits")
    return dst


def _rows(path):
    lines = path.read_text().splitlines()
    return lines[0], lines[1:]


def _flip_label(work):
    head, rows = _rows(work / "splits/header/train.csv")
    col = head.split(",").index("label")
    cells = rows[0].split(",")
    cells[col] = "0" if cells[col] == "1" else "1"
    (work / "splits/header/train.csv").write_text("\n".join([head, ",".join(cells), *rows[1:]]) + "\n")


def _drop_sample(work):
    head, rows = _rows(work / "splits/header/train.csv")
    (work / "splits/header/train.csv").write_text("\n".join([head, *rows[1:]]) + "\n")


def _move_to_val(work):
    head, rows = _rows(work / "splits/header/train.csv")
    vhead, vrows = _rows(work / "splits/header/val.csv")
    (work / "splits/header/train.csv").write_text("\n".join([head, *rows[1:]]) + "\n")
    (work / "splits/header/val.csv").write_text("\n".join([vhead, *vrows, rows[0]]) + "\n")


def _change_crop(work, data):
    changed = dict(data["cache_clips"]["header"], crop_px=48)
    params = P.validate({**data, "cache_clips": {**data["cache_clips"], "out_dir": str(work / "cache"), "header": changed}})
    cfg = params.cache_clips.header
    build_cache(task_index("header", cfg, seed=3, margin_s=0.1), spec_from_params(cfg), out_h5=work / "cache/header.h5",
                out_index=work / "cache/header_index.csv", work_dir=work / "w", progress=False)  # fmt: skip


@pytest.mark.parametrize("change", ["label", "drop", "split", "crop"])
def test_a_changed_input_retrains(tiny_header, tmp_path, monkeypatch, caplog, change):
    """A finished model is never reused for other data: each change starts fresh, says what changed and gives
    another model; the unchanged inputs give back the finished run as it was."""
    root, data = tiny_header
    work = _copy_inputs(root, tmp_path)
    monkeypatch.chdir(work)
    log = logging.getLogger("replaylab.training")
    monkeypatch.setattr(log, "handlers", [*log.handlers, caplog.handler])  # it may not propagate (it prints itself)
    monkeypatch.setattr(log, "level", logging.INFO)
    local = {**data, "cache_clips": {**data["cache_clips"], "out_dir": str(work / "cache")},
             "split": {**data["split"], "out_dir": str(work / "splits")},
             "train": {**data["train"], "out_dir": str(work / "models"), "live_dir": str(work / "live")}}  # fmt: skip
    first = train_task("header", P.validate(local))
    best = (work / "models/header/best.pt").read_bytes()
    caplog.clear()
    again = train_task("header", P.validate(local))
    assert again == first and (work / "models/header/best.pt").read_bytes() == best
    assert any("already finished" in r.getMessage() for r in caplog.records)

    {"label": _flip_label, "drop": _drop_sample, "split": _move_to_val}.get(change, lambda w: _change_crop(w, data))(work)
    caplog.clear()
    retrained = train_task("header", P.validate(local))
    said = " ".join(r.getMessage() for r in caplog.records)
    changed = "inputs.cache" if change == "crop" else "inputs.split_val" if change == "split" else "inputs.split_train"
    assert "Starting fresh" in said and changed in said, said
    assert "already finished" not in said and retrained["epochs_run"] == 2
    assert (work / "models/header/best.pt").read_bytes() != best


def test_a_bad_monitor_fails_before_anything_is_touched(tiny_header, tmp_path, monkeypatch):
    root, data = tiny_header
    monkeypatch.chdir(tmp_path)
    local = {**data, "train": {**data["train"], "out_dir": str(tmp_path / "models"), "live_dir": str(tmp_path / "live")}}
    train_task("header", P.validate(local))
    before = {p: p.read_bytes() for p in (tmp_path / "models/header").rglob("*") if p.is_file()}
    bad = {**local, "train": {**local["train"], "header": {**local["train"]["header"], "monitor": "val_aucroc"}}}
    with pytest.raises(SystemExit, match="train.header.monitor: 'val_aucroc' is not a validation metric.*val_auroc"):
        train_task("header", P.validate(bad))
    assert {p: p.read_bytes() for p in (tmp_path / "models/header").rglob("*") if p.is_file()} == before


def test_train_seed_defaults_to_the_top_level_seed_and_can_be_set_alone():
    from types import SimpleNamespace

    from replaylab.tasks.training import train_seed

    params = SimpleNamespace(seed=42)
    assert train_seed(params, SimpleNamespace(seed=None)) == 42
    assert train_seed(params, SimpleNamespace(seed=7)) == 7
    assert train_seed(params, SimpleNamespace()) == 42  # a plugin's train section without the key


@pytest.mark.parametrize(("task", "modules"), [("actions", ["replaylab.features.memory", "replaylab.evaluation.ava"]),
                                               ("header", ["replaylab.evaluation.classification"]),
                                               ("foul", ["replaylab.evaluation.mvfoul"])])  # fmt: skip
def test_the_code_identity_covers_what_each_task_trains_with(task, modules):
    from replaylab.tasks.registry import get_task
    from replaylab.tasks.training import CODE, FEATURES_CODE, training_code

    spec = get_task(task)
    for mode in ("video", "features"):
        cfg = getattr(P.validate({"train": {task: {"input": mode}}}).train, task)
        code = training_code(spec, cfg)
        assert set(modules) | set(CODE) | {spec.package} <= set(code) and len(set(code)) == len(code)
        assert (set(FEATURES_CODE) <= set(code)) == (mode == "features")


def test_a_changed_task_module_changes_the_code_identity(tmp_path, monkeypatch):
    """The IA memory bank is no module of the actions package: its source still moves the training identity."""
    import replaylab.features.memory as memory
    from replaylab.tasks.registry import get_task
    from replaylab.tasks.training import training_code
    from replaylab.training.fingerprint import code_digest

    cfg = P.validate({}).train.actions
    code = training_code(get_task("actions"), cfg)
    before = code_digest(*code)
    edited = tmp_path / "memory.py"
    edited.write_text(Path(memory.__file__).read_text() + "\n# changed\n")
    monkeypatch.setattr(memory.__spec__, "origin", str(edited))  # where code_digest finds the module's source
    assert code_digest(*code) != before
