from __future__ import annotations

import copy
import csv
import json
import logging
import shutil

import pytest
import torch

from replaylab.training import FitResult, TaskAdapter, TrainConfig, fit, load_best
from replaylab.training.losses import WeightedCrossEntropy

from .toy import TinyConv, ToyDataset, ToyTask, mlp, params_of, tree_bytes

BASE = TrainConfig(epochs=4, batch_size=32, optimizer="adamw", lr_head=0.02, weight_decay=0.01, schedule="cosine",
                   warmup_epochs=0.5, monitor="val_accuracy", monitor_mode="max", seed=3, log_every=2)  # fmt: skip


def _fit(tmp_path, tag: str, cfg: TrainConfig = BASE, *, model=None, task=None, n_train=256, noise=0.05, **kw) -> FitResult:
    return fit(model=model if model is not None else mlp(), task=task if task is not None else ToyTask(),
               train_set=ToyDataset(n_train, 0, noise), val_set=ToyDataset(128, 1), cfg=cfg,
               out_dir=tmp_path / f"out{tag}", live_dir=tmp_path / f"live{tag}", **kw)  # fmt: skip


def _csv(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t" if str(path).endswith(".tsv") else ","))


def test_fit_learns_and_writes_its_files(tmp_path):
    task = ToyTask()
    train = ToyDataset(256, 0, 0.05)
    assert isinstance(task, TaskAdapter)
    res = fit(model=mlp(), task=task, train_set=train, val_set=ToyDataset(128, 1), cfg=BASE,
              out_dir=tmp_path / "out", live_dir=tmp_path / "live")  # fmt: skip
    assert res.epochs_run == 4 and not res.stopped_early and res.resumed_from == 0
    assert res.best_metrics["val_accuracy"] > 0.85  # chance is ~0.5
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert train.epochs_seen == [0, 1, 2, 3]
    out = tmp_path / "out"
    assert res.best_path == out / "best.pt" and res.last_path == out / "last.pt"
    rows = _csv(out / "metrics_epoch.csv")
    assert list(rows[0]) == ["epoch", "step", "lr", "train_loss", "val_loss", "val_accuracy"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4] and [int(r["step"]) for r in rows] == [8, 16, 24, 32]
    preds = _csv(out / "val_predictions.csv")
    assert len(preds) == 128 and list(preds[0]) == ["sample_id", "label", "prediction", "probability"]
    best = json.loads((out / "best_metrics.json").read_text())
    assert best["epoch"] == res.best_epoch and best["val_accuracy"] == res.best_metrics["val_accuracy"]
    ckpt = torch.load(out / "best.pt", weights_only=True)
    assert ckpt["epoch"] == res.best_epoch and ckpt["config"] == BASE.to_dict() and ckpt["metrics"] == res.best_metrics
    last = torch.load(out / "last.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "scaler", "epoch", "global_step", "best_value", "best_epoch", "bad_epochs",
            "live_step", "rng", "config", "history"} <= set(last)  # fmt: skip
    assert (last["epoch"], last["global_step"], last["live_step"]) == (4, 32, 4)
    for name in ("train_loss", "lr", "val_loss", "val_accuracy"):
        assert [int(r["step"]) for r in _csv(tmp_path / "live" / "plots" / "metrics" / f"{name}.tsv")] == [0, 1, 2, 3]
    assert not (tmp_path / "live" / "dvc.yaml").exists() and not (tmp_path / "dvc.yaml").exists()
    # the selected model reproduces its validation metrics
    assert hasattr(ckpt["model"], "_metadata")  # module versions survive the canonical save
    fresh = mlp(seed=99)
    meta = load_best(fresh, out)
    assert meta["epoch"] == res.best_epoch and "model" not in meta
    fresh.eval()
    with torch.no_grad():
        metrics, _ = ToyTask().evaluate(
            fresh, torch.utils.data.DataLoader(ToyDataset(128, 1), batch_size=32), torch.device("cpu")
        )
    assert metrics["val_accuracy"] == res.best_metrics["val_accuracy"]


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    cfg = BASE.replace(epochs=2)
    m1, m2, m3 = mlp(), mlp(), mlp()
    a = _fit(tmp_path, "a", cfg, model=m1)
    b = _fit(tmp_path, "b", cfg, model=m2)
    c = _fit(tmp_path, "c", cfg.replace(seed=4), model=m3)
    assert a.history == b.history
    assert all(torch.equal(v, params_of(m2)[k]) for k, v in params_of(m1).items())
    assert a.history != c.history


def test_killed_run_resumes_exactly(tmp_path):
    cfg = BASE.replace(num_workers=1, accumulate=2, grad_clip=1.0)
    model_a = mlp()
    a = _fit(tmp_path, "A", cfg, model=model_a)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "B", cfg, _stop_after_epoch=2)
    assert len(_csv(tmp_path / "outB" / "metrics_epoch.csv")) == 2
    model_b = mlp()
    b = _fit(tmp_path, "B", cfg, model=model_b)
    assert b.resumed_from == 2 and b.epochs_run == 4
    assert b.history == a.history
    assert (b.best_epoch, b.best_metrics) == (a.best_epoch, a.best_metrics)
    assert all(torch.equal(v, params_of(model_b)[k]) for k, v in params_of(model_a).items())
    rows_a = _csv(tmp_path / "outA" / "metrics_epoch.csv")
    assert _csv(tmp_path / "outB" / "metrics_epoch.csv") == rows_a and len(rows_a) == 4
    for name in ("train_loss", "val_accuracy", "lr"):
        hist_a = _csv(tmp_path / "liveA" / "plots" / "metrics" / f"{name}.tsv")
        hist_b = _csv(tmp_path / "liveB" / "plots" / "metrics" / f"{name}.tsv")
        assert hist_b == hist_a and [r["step"] for r in hist_b] == ["0", "1", "2", "3"]
    assert json.loads((tmp_path / "liveB" / "metrics.json").read_text())["step"] == 3
    assert _csv(tmp_path / "outB" / "val_predictions.csv") == _csv(tmp_path / "outA" / "val_predictions.csv")
    # the resumed run's files are byte-identical to the uninterrupted run's (pickle memo included)
    assert tree_bytes(tmp_path / "outB") == tree_bytes(tmp_path / "outA")
    assert tree_bytes(tmp_path / "liveB") == tree_bytes(tmp_path / "liveA")


def test_kill_between_dvclive_and_checkpoint_does_not_duplicate_history(tmp_path):
    cfg = BASE.replace(epochs=3)
    a = _fit(tmp_path, "A", cfg)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "B", cfg, _stop_after_epoch=1)
    shutil.copy(tmp_path / "outB" / "last.pt", tmp_path / "epoch1.pt")
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "B", cfg, _stop_after_epoch=2)
    shutil.copy(tmp_path / "epoch1.pt", tmp_path / "outB" / "last.pt")  # epoch 2 logged, its last.pt "never written"
    b = _fit(tmp_path, "B", cfg)
    assert b.resumed_from == 1 and b.history == a.history
    hist = _csv(tmp_path / "liveB" / "plots" / "metrics" / "val_loss.tsv")
    assert hist == _csv(tmp_path / "liveA" / "plots" / "metrics" / "val_loss.tsv") and len(hist) == 3


def test_finished_run_is_not_trained_again_and_more_epochs_continue(tmp_path):
    cfg = BASE.replace(epochs=2)
    first = _fit(tmp_path, "", cfg)
    last = tmp_path / "out" / "last.pt"
    stamp = last.stat().st_mtime_ns
    task = ToyTask()
    again = _fit(tmp_path, "", cfg, task=task)
    assert task.autocast_seen == [] and task.eval_calls == 0 and last.stat().st_mtime_ns == stamp
    assert again.resumed_from == 2 and again.history == first.history and again.best_metrics == first.best_metrics
    more = _fit(tmp_path, "", cfg.replace(epochs=3))
    assert (more.resumed_from, more.epochs_run, len(more.history)) == (2, 3, 3)
    assert more.history[:2] == first.history


def test_changed_config_or_resume_false_starts_fresh(tmp_path, caplog):
    cfg = BASE.replace(epochs=1)
    _fit(tmp_path, "", cfg)
    with caplog.at_level(logging.INFO, logger="replaylab.training"):
        res = _fit(tmp_path, "", cfg.replace(lr_head=0.01))
    assert res.resumed_from == 0 and res.epochs_run == 1
    assert "the training config changed (lr_head: 0.02 -> 0.01)" in caplog.text and "Starting fresh" in caplog.text
    assert len(_csv(tmp_path / "out" / "metrics_epoch.csv")) == 1
    assert len(_csv(tmp_path / "live" / "plots" / "metrics" / "train_loss.tsv")) == 1
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="replaylab.training"):
        res = _fit(tmp_path, "", cfg.replace(lr_head=0.01), resume_key={"backbone": "other"})
    assert res.resumed_from == 0 and "resume key changed" in caplog.text
    assert _fit(tmp_path, "", cfg.replace(lr_head=0.01), resume_key={"backbone": "other"}).resumed_from == 1
    assert _fit(tmp_path, "", cfg.replace(lr_head=0.01), resume_key={"backbone": "other"}, resume=False).resumed_from == 0


class _ConstantTask(ToyTask):
    def metric_names(self, prefix):
        return {*super().metric_names(prefix), f"{prefix}_const"}

    def evaluate(self, model, loader, device):
        metrics, rows = super().evaluate(model, loader, device)
        return {**metrics, "val_const": 1.0}, rows


def test_early_stopping_stops_and_stays_stopped(tmp_path):
    cfg = BASE.replace(epochs=10, monitor="val_const", early_stop_patience=2, schedule="plateau", plateau_patience=0)
    res = _fit(tmp_path, "", cfg, task=_ConstantTask())
    assert res.stopped_early and res.epochs_run == 3 and res.best_epoch == 1
    lrs = [r["lr"] for r in res.history]
    assert lrs[0] == lrs[1] > lrs[2]  # the plateau schedule cut the rate after the first stale epoch
    task = _ConstantTask()
    again = _fit(tmp_path, "", cfg, task=task)
    assert again.stopped_early and again.epochs_run == 3 and task.eval_calls == 0
    with pytest.raises(ValueError, match="val_nope"):
        _fit(tmp_path, "x", cfg.replace(monitor="val_nope"))
    assert not (tmp_path / "outx").exists()


def test_accumulation_gives_the_gradients_of_the_big_batch(tmp_path):
    cfg = TrainConfig(epochs=1, optimizer="sgd", momentum=0.0, weight_decay=0.0, lr_head=0.5, schedule="none",
                      monitor="val_loss", seed=0)  # fmt: skip
    start = mlp(dropout=0.0)
    big, small = copy.deepcopy(start), copy.deepcopy(start)
    r1 = _fit(tmp_path, "big", cfg.replace(batch_size=8), model=big, n_train=8, noise=0.0)
    r2 = _fit(tmp_path, "small", cfg.replace(batch_size=4, accumulate=2), model=small, n_train=8, noise=0.0)
    assert r1.history[0]["step"] == r2.history[0]["step"] == 1
    moved = False
    for (name, p_big), p_small, p0 in zip(big.named_parameters(), small.parameters(), start.parameters()):
        assert torch.allclose(p_big, p_small, atol=1e-6), name
        moved |= not torch.allclose(p_big, p0)
    assert moved


def test_bf16_autocast_on_cpu(tmp_path):
    task = ToyTask()
    cfg = BASE.replace(epochs=1, amp=True, amp_dtype="auto", monitor="val_loss", monitor_mode="min")
    res = _fit(tmp_path, "", cfg, model=TinyConv(), task=task)
    assert task.autocast_seen and all(seen == (True, torch.bfloat16) for seen in task.autocast_seen)
    assert torch.isfinite(torch.tensor(res.history[0]["train_loss"]))
    last = torch.load(tmp_path / "out" / "last.pt", weights_only=True)
    assert last["scaler"] == {}  # no GradScaler for bf16


def test_param_groups_frozen_backbone_and_loss_from_class_counts(tmp_path):
    model = mlp()
    for p in model[0].parameters():
        p.requires_grad_(False)
    frozen = params_of(model[0])
    groups = [{"params": model[0].parameters(), "lr": 0.001, "name": "backbone"},
              {"params": model[3].parameters(), "lr": 0.05, "name": "head"}]  # fmt: skip
    task = ToyTask(loss=None)
    task.loss = None
    train = ToyDataset(256, 0)
    cfg = BASE.replace(epochs=1, schedule="none", class_weights="inverse_frequency")
    res = _fit(tmp_path, "", cfg, model=model, task=task, param_groups=groups, class_counts=train.class_counts())
    assert isinstance(task.loss, WeightedCrossEntropy) and task.loss.weight is not None
    row = res.history[0]
    assert (row["lr_backbone"], row["lr_head"]) == (0.001, 0.05)
    assert list(_csv(tmp_path / "out" / "metrics_epoch.csv")[0])[2:4] == ["lr_backbone", "lr_head"]
    assert all(torch.equal(v, params_of(model[0])[k]) for k, v in frozen.items())
    assert torch.load(tmp_path / "out" / "best.pt", weights_only=True)["class_counts"] == train.class_counts()


# ------------------------------------------------------------------ identity, validation, determinism, sweeps
KEY = {"inputs": {"cache": "0123456789abcdef0123456789abcdef", "split_train": "1a2b3c4d" * 4},
       "code": "aa" * 16, "model": {"backbone": "mlp", "widths": (16,)}}  # fmt: skip


def test_changed_resume_key_names_every_changed_entry(tmp_path, caplog):
    cfg = BASE.replace(epochs=1)
    _fit(tmp_path, "", cfg, resume_key=KEY)
    assert _fit(tmp_path, "", cfg, resume_key=copy.deepcopy(KEY)).resumed_from == 1  # tuple == stored list
    changed = {**KEY, "inputs": {**KEY["inputs"], "split_train": "9f8e7d6c" * 4}, "code": "bb" * 16, "crop": "ball"}
    with caplog.at_level(logging.INFO, logger="replaylab.training"):
        res = _fit(tmp_path, "", cfg, resume_key=changed)
    assert res.resumed_from == 0 and res.epochs_run == 1
    assert ("the resume key changed (code: aaaaaaaa -> bbbbbbbb; crop: <absent> -> ball; "
            "inputs.split_train: 1a2b3c4d -> 9f8e7d6c)") in caplog.text  # fmt: skip
    for name in ("last.pt", "best.pt"):
        ckpt = torch.load(tmp_path / "out" / name, weights_only=True)
        assert ckpt["identity"] == json.loads(json.dumps(changed)) and json.loads(ckpt["resume_key"]) == ckpt["identity"]
    # a checkpoint of the older format (the key stored as JSON text only) counts as changed
    last = torch.load(tmp_path / "out" / "last.pt", weights_only=True)
    del last["identity"]
    torch.save(last, tmp_path / "out" / "last.pt")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="replaylab.training"):
        assert _fit(tmp_path, "", cfg, resume_key=changed).resumed_from == 0
    assert "predates the stored identity mapping" in caplog.text


def test_bad_monitor_fails_before_touching_the_finished_run(tmp_path):
    cfg = BASE.replace(epochs=1)
    _fit(tmp_path, "", cfg, resume_key=KEY)
    before = {**tree_bytes(tmp_path / "out"), **{f"live/{k}": v for k, v in tree_bytes(tmp_path / "live").items()}}
    task = ToyTask()
    with pytest.raises(ValueError, match=r"monitor='val_auroc'.*\['val_accuracy', 'val_loss'\]"):
        _fit(tmp_path, "", cfg.replace(monitor="val_auroc"), task=task, resume_key={**KEY, "code": "cc" * 16})
    assert task.train_steps == 0
    after = {**tree_bytes(tmp_path / "out"), **{f"live/{k}": v for k, v in tree_bytes(tmp_path / "live").items()}}
    assert after == before and "best.pt" in after and "last.pt" in after


class _UnnamedTask:
    """A TaskAdapter without ``metric_names``: the monitor is only checked after the first evaluation."""

    def __init__(self):
        self.inner = ToyTask()

    def training_loss(self, model, batch, device):
        return self.inner.training_loss(model, batch, device)

    def evaluate(self, model, loader, device):
        return self.inner.evaluate(model, loader, device)

    def batch_size_of(self, batch):
        return self.inner.batch_size_of(batch)


def test_a_fresh_run_failing_in_its_first_epoch_keeps_the_previous_files(tmp_path):
    cfg = BASE.replace(epochs=1)
    _fit(tmp_path, "", cfg)
    before = tree_bytes(tmp_path / "out"), tree_bytes(tmp_path / "live")
    task = _UnnamedTask()
    assert isinstance(task, TaskAdapter)
    with pytest.raises(KeyError, match="val_nope"):
        _fit(tmp_path, "", cfg.replace(monitor="val_nope"), task=task)
    assert task.inner.train_steps > 0  # it trained an epoch, then failed
    assert (tree_bytes(tmp_path / "out"), tree_bytes(tmp_path / "live")) == before


def test_same_params_give_byte_identical_tracked_files(tmp_path):
    cfg = BASE.replace(epochs=3)
    a = _fit(tmp_path, "A", cfg, resume_key=KEY, timing_path=tmp_path / "timingA.csv")
    b = _fit(tmp_path, "B", cfg, resume_key=KEY)
    assert a.history == b.history and all("clips_per_s" not in row for row in a.history)
    out_a, live_a = tree_bytes(tmp_path / "outA"), tree_bytes(tmp_path / "liveA")
    assert sorted(out_a) == ["best.pt", "best_metrics.json", "last.pt", "metrics_epoch.csv", "val_predictions.csv"]
    assert sorted(live_a) == ["metrics.json", "plots/metrics/lr.tsv", "plots/metrics/train_loss.tsv",
                              "plots/metrics/val_accuracy.tsv", "plots/metrics/val_loss.tsv"]  # fmt: skip
    assert out_a == tree_bytes(tmp_path / "outB") and live_a == tree_bytes(tmp_path / "liveB")
    assert b"clips" not in b"".join(live_a.values()) + out_a["metrics_epoch.csv"]
    # throughput lives only in the untracked timing file (and the result)
    rows = _csv(tmp_path / "timingA.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"] and list(rows[0]) == ["epoch", "seconds", "clips_per_s"]
    assert all(float(r["seconds"]) > 0 and float(r["clips_per_s"]) > 0 for r in rows)
    assert [r["epoch"] for r in a.timing] == [1, 2, 3]


def test_timing_file_follows_resume(tmp_path):
    cfg = BASE.replace(epochs=3)
    timing = tmp_path / "timing.csv"
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "", cfg, timing_path=timing, _stop_after_epoch=2)
    first = _csv(timing)
    assert [r["epoch"] for r in first] == ["1", "2"]
    res = _fit(tmp_path, "", cfg, timing_path=timing)
    assert res.resumed_from == 2 and [r["epoch"] for r in res.timing] == [3]
    rows = _csv(timing)
    assert rows[:2] == first and [r["epoch"] for r in rows] == ["1", "2", "3"]
    stamp = timing.stat().st_mtime_ns
    assert _fit(tmp_path, "", cfg, timing_path=timing).timing == [] and timing.stat().st_mtime_ns == stamp
    res = _fit(tmp_path, "", cfg.replace(lr_head=0.01), timing_path=timing)  # fresh start: the file starts anew
    assert res.resumed_from == 0 and [r["epoch"] for r in _csv(timing)] == ["1", "2", "3"]


@pytest.mark.parametrize("damage", ["delete", "drop_file", "truncate"])
def test_finished_run_restores_its_live_dir_without_training(tmp_path, damage):
    cfg = BASE.replace(epochs=2)
    first = _fit(tmp_path, "", cfg, resume_key=KEY)
    live = tmp_path / "live"
    expected, out_before = tree_bytes(live), tree_bytes(tmp_path / "out")
    if damage == "delete":
        shutil.rmtree(live)
    elif damage == "drop_file":
        (live / "plots" / "metrics" / "val_loss.tsv").unlink()
    else:
        tsv = live / "plots" / "metrics" / "train_loss.tsv"
        tsv.write_text(tsv.read_text().splitlines()[0] + "\n")
    task = ToyTask()
    again = _fit(tmp_path, "", cfg, task=task, resume_key=KEY)
    assert task.train_steps == 0 and task.eval_calls == 0
    assert again.resumed_from == again.epochs_run == 2 and again.history == first.history
    assert tree_bytes(live) == expected and tree_bytes(tmp_path / "out") == out_before
    assert not list(tmp_path.glob(".*"))  # no rebuild directory left behind
    stamp = (live / "metrics.json").stat().st_mtime_ns
    _fit(tmp_path, "", cfg, resume_key=KEY)  # an intact directory is not rewritten
    assert (live / "metrics.json").stat().st_mtime_ns == stamp


def test_select_last_keeps_the_final_epoch_whatever_the_monitor(tmp_path):
    """``select: last``: the final epoch is the selected checkpoint even when an earlier one scored better."""
    worse = dataclasses_replace(BASE, monitor="val_loss", monitor_mode="max")  # an earlier epoch has the highest loss
    best = _fit(tmp_path, "best", worse)
    last = _fit(tmp_path, "last", dataclasses_replace(worse, select="last"))
    assert best.best_epoch == 1 and last.best_epoch == last.epochs_run == 4
    assert torch.load(tmp_path / "outlast" / "best.pt", weights_only=True)["epoch"] == 4
    with pytest.raises(ValueError, match="select"):
        dataclasses_replace(BASE, select="first")


def dataclasses_replace(cfg: TrainConfig, **kw) -> TrainConfig:
    import dataclasses

    return dataclasses.replace(cfg, **kw)
