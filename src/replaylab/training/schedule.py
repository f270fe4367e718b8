"""Optimiser construction and the learning-rate schedule (linear warmup, then none / step / cosine /
plateau), stepped once per optimiser step and saved with the checkpoint for an exact resume."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .config import TrainConfig


# ------------------------------------------------------------------------------------------ optimiser
def resolve_param_groups(
    model: nn.Module, param_groups: Sequence[Mapping[str, Any]] | None, cfg: TrainConfig
) -> list[dict[str, Any]]:
    """Parameter groups for the optimiser: the model side's groups (each a dict with ``params`` and its own
    ``lr``; ``name`` names its learning-rate column; other keys such as ``weight_decay`` pass through) or,
    without any, one group of every trainable parameter at ``cfg.lr_head``. Frozen parameters
    (``requires_grad=False``) are left out. A group without ``lr`` gets ``cfg.lr_backbone`` when it is named
    ``backbone``, else ``cfg.lr_head``."""
    if param_groups is None:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": cfg.lr_head, "name": "head"}]
    groups: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, group in enumerate(param_groups):
        if "params" not in group:
            raise ValueError(f"param_groups[{i}] has no 'params'")
        g = dict(group)
        params = [g["params"]] if isinstance(g["params"], torch.Tensor) else list(g["params"])
        for p in params:
            if id(p) in seen:
                raise ValueError(f"param_groups[{i}] repeats a parameter of an earlier group")
            seen.add(id(p))
        g["params"] = [p for p in params if p.requires_grad]
        g.setdefault("name", f"group{i}")
        g.setdefault("lr", cfg.lr_backbone if g["name"] == "backbone" else cfg.lr_head)
        groups.append(g)
    if not any(g["params"] for g in groups):
        raise ValueError("no trainable parameter in param_groups")
    return groups


def build_optimizer(cfg: TrainConfig, groups: Iterable[Mapping[str, Any]]) -> torch.optim.Optimizer:
    """``cfg.optimizer`` over ``groups`` (see :func:`resolve_param_groups`). Each group keeps its base
    learning rate in ``base_lr`` for the schedule."""
    groups = [dict(g) for g in groups]
    for g in groups:
        g["base_lr"] = float(g["lr"])
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr_head, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr_head, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(groups, lr=cfg.lr_head, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def lr_columns(optimizer: torch.optim.Optimizer) -> list[str]:
    """Column names of the groups' learning rates: ``lr`` for one group, else ``lr_<name>``."""
    if len(optimizer.param_groups) == 1:
        return ["lr"]
    return [f"lr_{g.get('name', f'group{i}')}" for i, g in enumerate(optimizer.param_groups)]


# ------------------------------------------------------------------------------------------ schedule
class LRSchedule:
    """Learning rate of every group as a function of the optimiser-step count ``s`` (0-based):

    ``lr(s) = warm(s) * main(s)`` with ``warm(s) = (s + 1) / (W + 1)`` for ``s < W`` (W = warmup steps =
    ``warmup_iters``, or ``warmup_epochs * steps_per_epoch`` rounded, at least 1 when warmup is on) and 1
    afterwards; with ``warmup_factor`` f set, ``warm(s) = f (1 - s / W) + s / W`` instead; and

    * ``none``: ``base``;
    * ``step``: ``base * gamma ** (epoch // step_size)``, ``epoch = s // steps_per_epoch``;
    * ``multistep``: ``base * gamma ** k``, k = how many of ``milestones`` (optimiser steps) are <= s;
    * ``cosine``: from ``base`` to ``min_lr`` over the steps after warmup,
      ``t = (s - W) / (T - W)``, ``T = epochs * steps_per_epoch``;
    * ``plateau``: ``base * scale``; :meth:`epoch_end` multiplies ``scale`` by ``gamma`` when the monitored
      value has not improved for more than ``plateau_patience`` epochs.

    Step, cosine and plateau never go below ``min_lr`` (or the group's base rate if that is lower).
    The state (step count, plateau state) is saved by :meth:`state_dict`; the horizon ``T`` is not, so a
    resumed run with more epochs stretches the cosine over the new total.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, *, steps_per_epoch: int, epochs: int | None = None):
        if steps_per_epoch < 1:
            raise ValueError("steps_per_epoch must be >= 1")
        self.optimizer = optimizer
        self.kind = cfg.schedule
        self.steps_per_epoch = int(steps_per_epoch)
        self.total_steps = int(epochs if epochs is not None else cfg.epochs) * self.steps_per_epoch
        if cfg.warmup_iters > 0:
            self.warmup_steps = int(cfg.warmup_iters)
        else:
            self.warmup_steps = max(1, round(cfg.warmup_epochs * self.steps_per_epoch)) if cfg.warmup_epochs > 0 else 0
        self.warmup_factor = cfg.warmup_factor
        self.milestones = tuple(cfg.milestones)
        self.step_size = cfg.step_size
        self.gamma = cfg.gamma
        self.min_lr = cfg.min_lr
        self.patience = cfg.plateau_patience
        self.mode = cfg.monitor_mode
        self.base_lrs = [float(g.get("base_lr", g["lr"])) for g in optimizer.param_groups]
        self.steps = 0
        self.scale = 1.0
        self.plateau_best: float | None = None
        self.plateau_bad = 0
        self._apply()

    # -------------------------------------------------------------- values
    def lrs_at(self, step: int) -> list[float]:
        if step >= self.warmup_steps:
            warm = 1.0
        elif self.warmup_factor is None:
            warm = (step + 1) / (self.warmup_steps + 1)
        else:  # linear from warmup_factor at step 0 to 1 at step W (maskrcnn-benchmark's / AlphAction's warmup)
            alpha = step / self.warmup_steps
            warm = self.warmup_factor * (1.0 - alpha) + alpha
        return [warm * self._main(base, step) for base in self.base_lrs]

    def _main(self, base: float, step: int) -> float:
        floor = min(self.min_lr, base)
        if self.kind == "none":
            return base
        if self.kind == "step":
            epoch = step // self.steps_per_epoch
            return max(floor, base * self.gamma ** (epoch // self.step_size))
        if self.kind == "multistep":
            return max(floor, base * self.gamma ** bisect.bisect_right(self.milestones, step))
        if self.kind == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            t = min(1.0, max(0.0, (step - self.warmup_steps) / span))
            return floor + (base - floor) * 0.5 * (1.0 + math.cos(math.pi * t))
        return max(floor, base * self.scale)  # plateau

    def current_lrs(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def _apply(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self.lrs_at(self.steps)):
            group["lr"] = lr

    # -------------------------------------------------------------- stepping
    def step(self) -> None:
        """Call after every optimiser step: sets the rates of the next one."""
        self.steps += 1
        self._apply()

    def epoch_end(self, value: float | None) -> None:
        """Call after every epoch's evaluation with the monitored value (used by ``plateau`` only; a NaN or
        missing value counts as no improvement)."""
        if self.kind != "plateau":
            return
        ok = value is not None and math.isfinite(value)
        better = ok and (
            self.plateau_best is None or (value > self.plateau_best if self.mode == "max" else value < self.plateau_best)
        )
        if better:
            self.plateau_best = float(value)
            self.plateau_bad = 0
        else:
            self.plateau_bad += 1
            if self.plateau_bad > self.patience:
                self.scale *= self.gamma
                self.plateau_bad = 0
        self._apply()

    # -------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "scale": self.scale, "plateau_best": self.plateau_best,
                "plateau_bad": self.plateau_bad, "kind": self.kind}  # fmt: skip

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("kind", self.kind) != self.kind:
            raise ValueError(f"schedule state is for {state.get('kind')!r}, not {self.kind!r}")
        self.steps = int(state["steps"])
        self.scale = float(state["scale"])
        self.plateau_best = None if state["plateau_best"] is None else float(state["plateau_best"])
        self.plateau_bad = int(state["plateau_bad"])
        self._apply()
