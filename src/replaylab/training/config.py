"""The training loop's settings: one frozen, validated record shared by every task."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Optimizer = Literal["adam", "adamw", "sgd"]
Schedule = Literal["none", "step", "cosine", "plateau", "multistep"]
AmpDtype = Literal["auto", "bf16", "fp16"]
LossName = Literal["ce", "focal"]
ClassWeights = Literal["none", "inverse_frequency"]
MonitorMode = Literal["max", "min"]
Device = Literal["auto", "cpu", "cuda"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("adam", "adamw", "sgd"),
    "schedule": ("none", "step", "cosine", "plateau", "multistep"),
    "amp_dtype": ("auto", "bf16", "fp16"),
    "loss": ("ce", "focal"),
    "class_weights": ("none", "inverse_frequency"),
    "monitor_mode": ("max", "min"),
    "select": ("best", "last"),
    "device": ("auto", "cpu", "cuda"),
}

#: Fields that may differ between a checkpoint and the current run without forcing a fresh start.
RESUME_IGNORED_FIELDS: tuple[str, ...] = ("epochs", "num_workers", "log_every")


@dataclass(frozen=True)
class TrainConfig:
    """Everything the loop needs besides the model, the task and the data.

    Learning rates: ``lr_backbone`` / ``lr_head`` are the values the model side usually puts into its
    parameter groups (``fit(param_groups=...)``, each group carrying its own ``"lr"``); without groups the
    loop trains every trainable parameter at ``lr_head``. ``min_lr`` is the floor of the step, cosine and
    plateau schedules (a group whose base rate is below it keeps its base rate).
    """

    epochs: int = 30
    batch_size: int = 16
    num_workers: int = 0
    optimizer: Optimizer = "adamw"
    lr_backbone: float = 1e-4
    lr_head: float = 1e-3
    weight_decay: float = 0.05
    momentum: float = 0.9
    schedule: Schedule = "cosine"
    warmup_epochs: float = 0.0
    warmup_iters: int = 0  # > 0: warm up over this many optimiser steps (instead of warmup_epochs)
    warmup_factor: float | None = None  # None: ramp (s + 1) / (W + 1); a value f: linear from f to 1 (AlphAction's)
    step_size: int = 10
    gamma: float = 0.1
    milestones: tuple[int, ...] = ()  # multistep: optimiser steps after which the rate is multiplied by gamma
    min_lr: float = 1e-6
    plateau_patience: int = 3
    amp: bool = False
    amp_dtype: AmpDtype = "auto"
    accumulate: int = 1
    grad_clip: float = 0.0
    loss: LossName = "ce"
    focal_gamma: float = 2.0
    class_weights: ClassWeights = "none"
    label_smoothing: float = 0.0
    early_stop_patience: int = 0
    monitor: str = "val_loss"
    monitor_mode: MonitorMode = "min"
    select: Literal["best", "last"] = "best"  # best: the epoch with the best monitor value; last: the final epoch
    seed: int = 0
    device: Device = "auto"
    log_every: int = 10
    deterministic: bool = True

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"TrainConfig.{name}={value!r}: expected one of {', '.join(allowed)}")
        _check(self.epochs >= 1, "epochs", "must be >= 1")
        _check(self.batch_size >= 1, "batch_size", "must be >= 1")
        _check(self.num_workers >= 0, "num_workers", "must be >= 0")
        for name in ("lr_backbone", "lr_head"):
            _check(math.isfinite(getattr(self, name)) and getattr(self, name) > 0, name, "must be a positive number")
        _check(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        _check(0 <= self.momentum < 1, "momentum", "must be in [0, 1)")
        _check(math.isfinite(self.warmup_epochs) and self.warmup_epochs >= 0, "warmup_epochs", "must be >= 0")
        _check(self.warmup_iters >= 0, "warmup_iters", "must be >= 0 (0 = use warmup_epochs)")
        _check(self.warmup_factor is None or 0 < self.warmup_factor <= 1, "warmup_factor", "must be in (0, 1] or None")
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        _check(all(m >= 1 for m in self.milestones) and list(self.milestones) == sorted(set(self.milestones)),
               "milestones", "must be increasing optimiser-step counts >= 1")  # fmt: skip
        _check(self.schedule != "multistep" or bool(self.milestones), "milestones", "multistep needs at least one milestone")
        _check(self.step_size >= 1, "step_size", "must be >= 1")
        _check(0 < self.gamma <= 1, "gamma", "must be in (0, 1]")
        _check(self.min_lr >= 0, "min_lr", "must be >= 0")
        _check(self.plateau_patience >= 0, "plateau_patience", "must be >= 0")
        _check(self.accumulate >= 1, "accumulate", "must be >= 1")
        _check(self.grad_clip >= 0, "grad_clip", "must be >= 0 (0 = off)")
        _check(self.focal_gamma >= 0, "focal_gamma", "must be >= 0")
        _check(0 <= self.label_smoothing < 1, "label_smoothing", "must be in [0, 1)")
        _check(self.early_stop_patience >= 0, "early_stop_patience", "must be >= 0 (0 = off)")
        _check(bool(self.monitor), "monitor", "must name a metric returned by the task's evaluate()")
        _check(self.log_every >= 1, "log_every", "must be >= 1")
        _check(self.seed >= 0, "seed", "must be >= 0")

    # ------------------------------------------------------------------ conversions
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, ignore_unknown: bool = True, **overrides: Any) -> TrainConfig:
        """Build from a mapping (e.g. a params section). Keys that are not fields are skipped when
        ``ignore_unknown`` (the default), values of ``None`` mean "keep the default"; ``overrides`` win."""
        names = {f.name for f in dataclasses.fields(cls)}
        merged = {**dict(values), **overrides}
        unknown = sorted(set(merged) - names)
        if unknown and not ignore_unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**{k: v for k, v in merged.items() if k in names and v is not None})

    def resume_signature(self) -> dict[str, Any]:
        """The fields a checkpoint must match to be continued (all but :data:`RESUME_IGNORED_FIELDS`)."""
        return {k: v for k, v in self.to_dict().items() if k not in RESUME_IGNORED_FIELDS}

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _check(ok: bool, name: str, why: str) -> None:
    if not ok:
        raise ValueError(f"TrainConfig.{name}: {why}")
