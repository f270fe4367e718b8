"""The training loop shared by every task.

A task supplies batches (datasets + collate function), the loss of a batch and the evaluation; :func:`fit`
owns the rest: seeding, data loading, devices and DDP, AMP, gradient accumulation and clipping, the
learning-rate schedule, validation-based model selection, early stopping, checkpoints, the epoch records
and dvclive logging, and resuming a killed run exactly where its last finished epoch left it.

Files in ``out_dir`` (written by rank 0 only, each atomically):

* ``last.pt``: everything needed to continue (see :func:`fit`), rewritten after every epoch;
* ``best.pt``: the model of the best validation epoch, with its epoch, metrics, config and identity;
* ``val_predictions.csv`` / ``best_metrics.json``: that epoch's prediction rows and metrics;
* ``metrics_epoch.csv``: one row per epoch (epoch, step, learning rates, train_loss, val metrics).

These files and the dvclive directory hold no wall-clock figure: the same seed, data, code and config give
the same bytes. Throughput (seconds, clips/s) goes to the log and to the optional, untracked ``timing_path``.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from . import checkpoint, distributed, records, seeding
from .checkpoint import BEST, LAST, load_best, unwrap
from .config import TrainConfig
from .losses import build_loss
from .schedule import LRSchedule, build_optimizer, lr_columns, resolve_param_groups

__all__ = ["FitResult", "NamesMetrics", "TaskAdapter", "fit", "load_best"]

log = logging.getLogger("replaylab.training")


@runtime_checkable
class TaskAdapter(Protocol):
    """What a task gives the loop."""

    def training_loss(self, model: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
        """Mean loss of ``batch`` (moving it to ``device`` is the task's job; the loop runs this under
        autocast when AMP is on and does the backward pass)."""
        ...

    def evaluate(self, model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[dict[str, float], list[dict]]:
        """Metrics over ``loader`` (keys such as ``val_loss``, ``val_auroc``; the monitor must be one of them)
        and one prediction row per sample (a dict; its keys become the columns of ``val_predictions.csv``)."""
        ...

    def batch_size_of(self, batch: Any) -> int:
        """Number of samples in ``batch``."""
        ...

    # Optional (not part of the runtime check): ``metric_names(prefix: str) -> Collection[str]``, the metric
    # names ``evaluate`` returns for ``prefix`` "val" (e.g. ``{"val_loss", "val_auroc"}``). A task that has it
    # gets its ``cfg.monitor`` checked before ``fit`` touches any file.


@runtime_checkable
class NamesMetrics(Protocol):
    """A task that can list its metric names up front (see :class:`TaskAdapter`)."""

    def metric_names(self, prefix: str) -> Collection[str]: ...


@dataclass
class FitResult:
    best_epoch: int | None  # 1-based; None when no epoch gave a finite monitor value
    best_metrics: dict[str, float]
    epochs_run: int  # epochs completed in total (including those of earlier, resumed invocations)
    stopped_early: bool
    history: list[dict] = field(default_factory=list)  # one row per epoch, as in metrics_epoch.csv
    best_path: Path | None = None
    last_path: Path | None = None
    resumed_from: int = 0  # epochs already done when this call started (0 = fresh start)
    timing: list[dict] = field(default_factory=list)  # this call's epochs: {epoch, seconds, clips_per_s}


@dataclass
class _State:
    """Run progress: everything besides model / optimiser / schedule / scaler that ``last.pt`` keeps."""

    epochs_done: int = 0
    global_step: int = 0
    best_value: float | None = None
    best_epoch: int | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict] = field(default_factory=list)


def fit(
    *,
    model: nn.Module,
    task: TaskAdapter,
    train_set: Dataset,
    val_set: Dataset,
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    live_dir: str | os.PathLike,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
    class_counts: Sequence[int] | None = None,
    collate_fn: Callable | None = None,
    resume: bool = True,
    resume_key: Mapping[str, Any] | None = None,
    timing_path: str | os.PathLike | None = None,
    _stop_after_epoch: int | None = None,
) -> FitResult:
    """Train ``model`` on ``train_set``, select on ``val_set``; see the module docstring for the files.

    * ``param_groups``: the model side's optimiser groups (``params``, ``lr``, optional ``name`` for the
      ``lr_<name>`` column, other optimiser keys); default one group of all trainable parameters at
      ``cfg.lr_head``. Frozen parameters are skipped.
    * ``class_counts``: training-set class counts; saved with the checkpoints, and used to build
      ``build_loss(cfg, class_counts=...)`` for a task whose ``loss`` attribute is None.
    * ``resume_key``: the caller's identity of the run, a JSON-compatible nested mapping (input digests,
      code digest, model options, ...; see :mod:`.fingerprint`), stored in both checkpoints.
    * ``resume``: continue from ``out_dir/last.pt`` when its config equals ``cfg`` except for ``epochs``, its
      stored ``resume_key`` equals this one, and the model and optimiser groups have the same layout;
      otherwise start fresh, logging every entry that changed. The previous files are removed only when the
      first new epoch is written, so a run that fails before that keeps them. A finished run (all epochs
      done, or stopped early) is not trained again: its result is returned, and ``live_dir`` is rewritten from
      the checkpoint's history when it is missing or differs from it (e.g. a DVC experiment that restored
      the persisted model but not the dvclive directory).
    * ``timing_path``: optional untracked CSV with one row per epoch, ``epoch,seconds,clips_per_s``
      (seconds: the epoch's training + evaluation wall time; clips_per_s: training samples over all ranks per
      second of the training pass). Rewritten after every epoch: a fresh start begins it anew, a resumed run
      keeps the rows of the epochs it continues from; a finished run leaves it alone.
    * A task with ``metric_names(prefix)`` has ``cfg.monitor`` checked against ``metric_names("val")`` first:
      a ``ValueError`` before any file is touched.
    * ``_stop_after_epoch``: test hook, raises KeyboardInterrupt after that epoch's files are written.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) every rank calls ``fit`` with the same arguments. ``fit`` joins the
    process group if it is not up yet and leaves it up (destroyed at exit; ``distributed.cleanup()`` ends it
    sooner), since re-creating a group in the same process races on the rendezvous port. The model is
    wrapped in DistributedDataParallel, each rank draws ``cfg.batch_size`` samples per step from its
    DistributedSampler shard, rank 0 alone evaluates (the full val set), writes files and logs, and the
    selection / early-stopping decisions are broadcast. The model is put in ``train()`` mode every epoch; a
    model that keeps parts frozen in eval mode should override ``train()``.
    """
    _check_monitor(task, cfg)
    resume_key = checkpoint.normalize_key(resume_key)
    device = _resolve_device(cfg.device)
    info, created = distributed.init(device.type)
    if created:  # the group lives as long as the process (a later fit, or the caller's test pass, reuses it)
        atexit.register(distributed.cleanup)
    if info.enabled and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    run = _Run(model=model, task=task, train_set=train_set, val_set=val_set, cfg=cfg, out_dir=Path(out_dir),
               live_dir=Path(live_dir), param_groups=param_groups, class_counts=class_counts, collate_fn=collate_fn,
               resume_key=resume_key, timing_path=timing_path, device=device, info=info)  # fmt: skip
    return run.execute(resume=resume, stop_after_epoch=_stop_after_epoch)


# ------------------------------------------------------------------------------------------ helpers
def _check_monitor(task: TaskAdapter, cfg: TrainConfig) -> None:
    """``cfg.monitor`` must be one of the task's validation metrics (when the task can name them)."""
    if not isinstance(task, NamesMetrics):
        return
    names = sorted(task.metric_names("val"))
    if cfg.monitor not in names:
        raise ValueError(f"TrainConfig.monitor={cfg.monitor!r} is not one of the task's validation metrics {names}; "
                         "nothing was trained and no file was changed")  # fmt: skip


def _resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("TrainConfig.device='cuda' but CUDA is not available")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def _amp_settings(cfg: TrainConfig, device: torch.device) -> tuple[bool, torch.dtype | None, bool]:
    """(autocast on, autocast dtype, GradScaler on)."""
    if not cfg.amp:
        return False, None, False
    if device.type != "cuda":
        if cfg.amp_dtype == "fp16":
            log.warning("amp_dtype='fp16' is not supported on %s: using bf16 autocast", device.type)
        return True, torch.bfloat16, False
    if cfg.amp_dtype == "bf16":
        if torch.cuda.is_bf16_supported():
            return True, torch.bfloat16, False
        log.warning("this GPU has no bf16 support: using fp16 autocast with a GradScaler")
    return True, torch.float16, True


def _ensure_console_logging() -> None:
    """Show the loop's INFO messages on stderr when the application configured no logging at all."""
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[train] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _improves(value: float | None, best: float | None, mode: str) -> bool:
    if value is None or not math.isfinite(value):
        return False
    return best is None or (value > best if mode == "max" else value < best)


def _as_metrics(metrics: Mapping[str, Any], reserved: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in metrics.items():
        if k in reserved:
            raise ValueError(f"evaluate() returned the metric {k!r}, a name the loop uses for its own columns")
        try:
            out[str(k)] = float(v) if v is not None else float("nan")
        except (TypeError, ValueError) as err:
            raise TypeError(f"evaluate() metric {k!r} is not a number: {v!r}") from err
    return out


# ------------------------------------------------------------------------------------------ the run
class _Run:
    def __init__(self, *, model, task, train_set, val_set, cfg: TrainConfig, out_dir: Path, live_dir: Path, param_groups,
                 class_counts, collate_fn, resume_key, timing_path, device: torch.device, info: distributed.DistInfo):  # fmt: skip
        self.cfg, self.task, self.train_set, self.val_set = cfg, task, train_set, val_set
        self.out_dir, self.live_dir, self.collate_fn = out_dir, live_dir, collate_fn
        self.class_counts = None if class_counts is None else [int(c) for c in class_counts]
        self.resume_key = resume_key
        self.timing_path = None if timing_path is None else Path(timing_path)
        self.timing: list[dict] = []  # rank 0: rows of timing_path (earlier invocations' included)
        self.new_timing: list[dict] = []  # rank 0: this invocation's rows
        self.pending_clear = False  # rank 0: a fresh start whose first epoch must first remove the old files
        self.device, self.info = device, info
        self.main = info.is_main
        if self.main:
            _ensure_console_logging()

        seeding.set_deterministic(cfg.deterministic)
        seeding.seed_everything(seeding.derive_seed(cfg.seed, info.rank))
        self.autocast_on, self.autocast_dtype, scaler_on = _amp_settings(cfg, device)
        if getattr(task, "loss", False) is None:
            task.loss = build_loss(cfg, class_counts=self.class_counts)  # type: ignore[attr-defined]

        self.module = unwrap(model).to(device)
        groups = resolve_param_groups(self.module, param_groups, cfg)
        self.optimizer = build_optimizer(cfg, groups)
        self.params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self.lr_cols = lr_columns(self.optimizer)
        self.steps_per_epoch = math.ceil(len(self._train_loader(0)) / cfg.accumulate)
        self.schedule = LRSchedule(self.optimizer, cfg, steps_per_epoch=self.steps_per_epoch)
        self.scaler = torch.amp.GradScaler(device.type, enabled=scaler_on)
        self.model: nn.Module = self.module
        self.state = _State()
        self._epoch_rows: list[dict] = []  # rank 0: prediction rows of the epoch just evaluated

    # -------------------------------------------------------------- data
    def _train_loader(self, epoch: int) -> DataLoader:
        cfg, info = self.cfg, self.info
        sampler = None
        n = len(self.train_set)  # type: ignore[arg-type]
        if info.enabled:
            sampler = DistributedSampler(self.train_set, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                         seed=cfg.seed, drop_last=False)  # fmt: skip
            sampler.set_epoch(epoch)
            n = len(sampler)
        if n == 0:
            raise ValueError("the training set is empty")
        # a lone last sample would break BatchNorm in train mode: drop it (a different sample every epoch,
        # since the order is reshuffled)
        drop_last = n > cfg.batch_size and n % cfg.batch_size == 1
        return DataLoader(self.train_set, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
                          num_workers=cfg.num_workers, collate_fn=self.collate_fn, pin_memory=self.device.type == "cuda",
                          drop_last=drop_last, worker_init_fn=seeding.seed_worker,
                          generator=seeding.loader_generator(cfg.seed, epoch, info.rank, seeding.LOADER_STREAM))  # fmt: skip

    def _val_loader(self) -> DataLoader:
        cfg = self.cfg
        return DataLoader(self.val_set, batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.num_workers,
                          collate_fn=self.collate_fn, pin_memory=self.device.type == "cuda",
                          worker_init_fn=seeding.seed_worker,
                          generator=seeding.loader_generator(cfg.seed, seeding.VAL_STREAM))  # fmt: skip

    def _autocast(self):
        if not self.autocast_on:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    # -------------------------------------------------------------- resume
    def _decide_resume(self, resume: bool) -> dict | None:
        """Rank 0 reads ``last.pt`` and decides; the checkpoint (or None) is broadcast to every rank."""
        ckpt = None
        if self.main:
            path = self.out_dir / LAST
            if not resume:
                log.info("Starting fresh in %s (resume=False)", self.out_dir)
            elif path.exists():
                try:
                    ckpt = checkpoint.load(path)
                    reason = checkpoint.resume_mismatch(ckpt, cfg=self.cfg, resume_key=self.resume_key,
                                                        model=self.module, optimizer=self.optimizer)  # fmt: skip
                except Exception as err:  # noqa: BLE001 - an unreadable or foreign file starts a fresh run
                    reason = f"it cannot be read ({type(err).__name__}: {err})"
                if reason is not None:
                    ckpt = None
                    log.warning("Not resuming from %s: %s. Starting fresh.", path, reason)
            self.pending_clear = ckpt is None
        return distributed.broadcast_object(ckpt)

    def _clear_outputs(self) -> None:
        """A fresh start must not leave an older run's files behind (a stale last.pt would be resumed); called
        when its first epoch is written, so that a run failing before that keeps the previous model."""
        for name in (LAST, BEST, records.METRICS_CSV, records.PREDICTIONS_CSV, records.BEST_METRICS_JSON):
            (self.out_dir / name).unlink(missing_ok=True)
        self.pending_clear = False

    def _restore(self, ckpt: dict) -> None:
        self.module.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.schedule.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        s = self.state
        s.epochs_done, s.global_step = int(ckpt["epoch"]), int(ckpt["global_step"])
        s.best_value, s.best_epoch = ckpt["best_value"], ckpt["best_epoch"]
        s.best_metrics = dict(ckpt["best_metrics"])
        s.bad_epochs, s.stopped_early = int(ckpt["bad_epochs"]), bool(ckpt["stopped_early"])
        s.history = [dict(r) for r in ckpt["history"]]
        if self.main and ckpt.get("rng") is not None:
            seeding.set_rng_state(ckpt["rng"])
        if ckpt.get("world_size", 1) != self.info.world_size:
            log.warning("resuming a run trained on %s processes with %s: the effective batch size changes",
                        ckpt.get("world_size", 1), self.info.world_size)  # fmt: skip

    def _last_checkpoint(self) -> dict[str, Any]:
        s = self.state
        return {
            "format": checkpoint.FORMAT, "config": self.cfg.to_dict(), **checkpoint.identity_fields(self.resume_key),
            "model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(), "scaler": self.scaler.state_dict(),
            "epoch": s.epochs_done, "global_step": s.global_step, "best_value": s.best_value, "best_epoch": s.best_epoch,
            "best_metrics": s.best_metrics, "bad_epochs": s.bad_epochs, "stopped_early": s.stopped_early,
            "live_step": s.epochs_done, "history": s.history, "rng": seeding.rng_state(),
            "class_counts": self.class_counts, "world_size": self.info.world_size,
        }  # fmt: skip

    def _result(self, resumed_from: int) -> FitResult:
        s = self.state
        best = self.out_dir / BEST if s.best_epoch is not None else None
        return FitResult(best_epoch=s.best_epoch, best_metrics=dict(s.best_metrics), epochs_run=s.epochs_done,
                         stopped_early=s.stopped_early, history=[dict(r) for r in s.history], best_path=best,
                         last_path=self.out_dir / LAST, resumed_from=resumed_from,
                         timing=[dict(r) for r in self.new_timing])  # fmt: skip

    # -------------------------------------------------------------- main
    def execute(self, *, resume: bool, stop_after_epoch: int | None) -> FitResult:
        cfg, s = self.cfg, self.state
        if self.main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        ckpt = self._decide_resume(resume)
        if ckpt is not None:
            self._restore(ckpt)
            del ckpt
        resumed_from = s.epochs_done
        if resumed_from and (s.stopped_early or s.epochs_done >= cfg.epochs):
            if self.main:
                why = "stopped early" if s.stopped_early else "all epochs done"
                log.info("Training in %s already finished after epoch %d (%s): nothing to do", self.out_dir, s.epochs_done, why)
                if records.sync_live(self.live_dir, s.history):
                    log.info("Rewrote %s from the checkpoint's history (it was missing or incomplete)", self.live_dir)
            return self._result(resumed_from)
        if resumed_from and self.main:
            log.info("Resuming %s after epoch %d of %d (step %d)", self.out_dir, s.epochs_done, cfg.epochs, s.global_step)

        if self.info.enabled:
            self.model = nn.parallel.DistributedDataParallel(
                self.module, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=False)  # fmt: skip
        live = None  # opened when the first epoch is written (a fresh dvclive directory wipes the old one)
        val_loader = self._val_loader() if self.main else None
        if self.main and self.timing_path is not None:
            self.timing = records.read_timing(self.timing_path, upto_epoch=resumed_from) if resumed_from else []

        for epoch in range(s.epochs_done, cfg.epochs):
            seeding.seed_everything(seeding.derive_seed(cfg.seed, epoch, self.info.rank, seeding.GLOBAL_STREAM))
            if hasattr(self.train_set, "set_epoch"):
                self.train_set.set_epoch(epoch)
            epoch_start = time.perf_counter()
            train_loss, clips_per_s, lrs = self._train_epoch(epoch)

            decision, failure = None, None
            if self.main:
                try:
                    decision = self._evaluate_and_decide(epoch, val_loader, train_loss, lrs)
                except Exception as err:  # noqa: BLE001 - re-raised below, after telling the waiting ranks
                    decision, failure = {"error": f"{type(err).__name__}: {err}"}, err
            distributed.barrier()
            decision = distributed.broadcast_object(decision)
            if "error" in decision:
                if failure is not None:
                    raise failure
                raise RuntimeError(f"evaluation failed on rank 0: {decision['error']}")
            if self.main and live is None:  # before the epoch joins the history that a resumed dvclive replays
                if self.pending_clear:
                    self._clear_outputs()
                live = self._open_live(resumed=resumed_from > 0)
            self._apply_decision(decision)
            if self.main:
                self._write_epoch(decision, live)
            distributed.barrier()
            if self.main:
                row = s.history[-1]
                seconds = time.perf_counter() - epoch_start
                self._record_timing(epoch + 1, seconds, clips_per_s)
                log.info("epoch %d/%d  train_loss %.4f  %s %.4f  (best %.4f at epoch %s)  %.1f s, %.1f clips/s%s",
                         epoch + 1, cfg.epochs, train_loss, cfg.monitor, row.get(cfg.monitor, float("nan")),
                         float("nan") if s.best_value is None else s.best_value, s.best_epoch, seconds, clips_per_s,
                         "  -> early stop" if s.stopped_early else "")  # fmt: skip
            if stop_after_epoch is not None and epoch + 1 == stop_after_epoch:
                raise KeyboardInterrupt(f"_stop_after_epoch={stop_after_epoch}")
            if s.stopped_early:
                break
        if live is not None:
            live.end()
        return self._result(resumed_from)

    def _record_timing(self, epoch: int, seconds: float, clips_per_s: float) -> None:
        row = {"epoch": epoch, "seconds": round(seconds, 3), "clips_per_s": round(clips_per_s, 1)}
        self.new_timing.append(row)
        if self.timing_path is not None:
            self.timing = [r for r in self.timing if int(r["epoch"]) < epoch] + [row]
            records.write_rows(self.timing_path, self.timing)

    def _open_live(self, *, resumed: bool):
        from dvclive import Live

        live = Live(str(self.live_dir), resume=resumed, dvcyaml=None, save_dvc_exp=False, report=None)
        if resumed:
            records.replay_history(live, self.state.history)
        return live

    # -------------------------------------------------------------- one epoch
    def _train_epoch(self, epoch: int) -> tuple[float, float, list[float]]:
        cfg, task, device = self.cfg, self.task, self.device
        loader = self._train_loader(epoch)
        n_batches = len(loader)
        accumulate = cfg.accumulate
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        count = 0
        lrs = self.schedule.current_lrs()
        start = time.perf_counter()
        bar = tqdm(loader, total=n_batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not self.main,
                   leave=False, dynamic_ncols=True, mininterval=1.0)  # fmt: skip
        group_len = accumulate
        for i, batch in enumerate(bar):
            if i % accumulate == 0:
                group_len = min(accumulate, n_batches - i)
            sync = (i + 1) % accumulate == 0 or i + 1 == n_batches
            no_sync = self.model.no_sync() if self.info.enabled and not sync else nullcontext()
            with no_sync:
                with self._autocast():
                    loss = task.training_loss(self.model, batch, device)
                self.scaler.scale(loss / group_len).backward()
            bs = int(task.batch_size_of(batch))
            loss_sum += loss.detach().to(torch.float64) * bs
            count += bs
            if not sync:
                continue
            if cfg.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
            lrs = self.schedule.current_lrs()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.schedule.step()
            self.state.global_step += 1
            if self.main and self.state.global_step % cfg.log_every == 0:
                elapsed = max(time.perf_counter() - start, 1e-9)
                bar.set_postfix(loss=f"{float(loss_sum) / max(count, 1):.4f}",
                                clips_s=f"{count * self.info.world_size / elapsed:.1f}", refresh=False)  # fmt: skip
        bar.close()
        total, n = distributed.sum_loss_and_count(loss_sum, count, device)
        elapsed = max(time.perf_counter() - start, 1e-9)
        return total / max(n, 1.0), n / elapsed, lrs

    def _evaluate_and_decide(self, epoch: int, val_loader, train_loss: float, lrs: list[float]) -> dict:
        cfg, s = self.cfg, self.state
        self.module.eval()
        with torch.no_grad(), self._autocast():
            metrics, rows = self.task.evaluate(self.module, val_loader, self.device)
        self.module.train()
        metrics = _as_metrics(metrics, (*records.INDEX_KEYS, *self.lr_cols, "train_loss"))
        self._epoch_rows = rows
        if cfg.monitor not in metrics:
            raise KeyError(f"monitor {cfg.monitor!r} is not among the metrics evaluate() returned: {sorted(metrics)}")
        value = metrics[cfg.monitor]
        # select "last": every epoch replaces the selected checkpoint (the monitor is still logged)
        improved = True if cfg.select == "last" else _improves(value, s.best_value, cfg.monitor_mode)
        bad = 0 if improved else s.bad_epochs + 1
        stop = cfg.early_stop_patience > 0 and bad >= cfg.early_stop_patience and epoch + 1 < cfg.epochs
        row = {"epoch": epoch + 1, "step": s.global_step, **dict(zip(self.lr_cols, lrs)), "train_loss": train_loss,
               **metrics}  # fmt: skip
        return {"row": row, "metrics": metrics, "value": value, "improved": improved, "bad": bad, "stop": stop}

    def _apply_decision(self, d: dict) -> None:
        s = self.state
        s.epochs_done = int(d["row"]["epoch"])
        s.history.append(d["row"])
        s.bad_epochs = d["bad"]
        s.stopped_early = d["stop"]
        if d["improved"]:
            s.best_value, s.best_epoch, s.best_metrics = d["value"], s.epochs_done, dict(d["metrics"])
        self.schedule.epoch_end(d["value"])

    def _write_epoch(self, d: dict, live) -> None:
        """Rank 0: best files (if improved), the epoch CSV, dvclive, then last.pt (last, so a run killed in
        between repeats the epoch and rewrites the same files)."""
        s, out = self.state, self.out_dir
        if d["improved"]:
            checkpoint.save({"format": checkpoint.FORMAT, "model": self.module.state_dict(), "epoch": s.best_epoch,
                             "metrics": s.best_metrics, "monitor": self.cfg.monitor, "monitor_value": s.best_value,
                             "config": self.cfg.to_dict(), "class_counts": self.class_counts,
                             **checkpoint.identity_fields(self.resume_key)}, out / BEST)  # fmt: skip
            records.write_rows(out / records.PREDICTIONS_CSV, self._epoch_rows)
            records.write_best_metrics(out / records.BEST_METRICS_JSON, s.best_epoch, s.best_metrics)
        records.write_rows(out / records.METRICS_CSV, s.history)
        live.step = s.epochs_done - 1
        records.log_row(live, d["row"])
        live.next_step()
        checkpoint.save(self._last_checkpoint(), out / LAST)
