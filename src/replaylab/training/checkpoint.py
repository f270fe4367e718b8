"""Checkpoint files of a run (``last.pt`` to resume, ``best.pt`` for the selected model): atomic writes,
safe loading, and the test that decides whether a ``last.pt`` can be continued."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..io import atomic_path
from .config import RESUME_IGNORED_FIELDS, TrainConfig

FORMAT = "replaylab.training/1"
LAST = "last.pt"
BEST = "best.pt"


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DistributedDataParallel / DataParallel / torch.compile wrappers."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def save(obj: Mapping[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary sibling, then rename over ``path``."""
    with atomic_path(path) as tmp:
        torch.save(dict(obj), tmp)


def load(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint written by :func:`save`, on the CPU (``weights_only``: no arbitrary code runs)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def fingerprint(resume_key: Mapping[str, Any] | None) -> str | None:
    """Canonical text of the caller's extra resume key (model options, data version, ...)."""
    return None if resume_key is None else json.dumps(dict(resume_key), sort_keys=True, default=str)


def resume_mismatch(ckpt: Mapping[str, Any], *, cfg: TrainConfig, resume_key: Mapping[str, Any] | None,
                    model: nn.Module, optimizer: torch.optim.Optimizer) -> str | None:  # fmt: skip
    """Why ``ckpt`` (a ``last.pt``) cannot be continued by this run, or None when it can."""
    if ckpt.get("format") != FORMAT:
        return f"it has format {ckpt.get('format')!r}, expected {FORMAT!r}"
    saved = {k: v for k, v in dict(ckpt.get("config", {})).items() if k not in RESUME_IGNORED_FIELDS}
    current = cfg.resume_signature()
    changed = [f"{k}: {saved.get(k, '<absent>')!r} -> {current.get(k, '<absent>')!r}"
               for k in sorted(set(saved) | set(current)) if saved.get(k, object()) != current.get(k, object())]  # fmt: skip
    if changed:
        return "the training config changed (" + "; ".join(changed) + ")"
    if ckpt.get("resume_key") != fingerprint(resume_key):
        return f"the resume key changed ({ckpt.get('resume_key')} -> {fingerprint(resume_key)})"
    mine = unwrap(model).state_dict()
    theirs = ckpt["model"]
    if set(mine) != set(theirs):
        diff = sorted(set(mine) ^ set(theirs))
        return f"the model's parameters differ ({len(diff)} names, e.g. {diff[:3]})"
    shapes = [k for k in mine if tuple(mine[k].shape) != tuple(theirs[k].shape)]
    if shapes:
        return f"the model's parameter shapes differ (e.g. {shapes[:3]})"
    saved_groups = [len(g["params"]) for g in ckpt["optimizer"]["param_groups"]]
    groups = [len(g["params"]) for g in optimizer.param_groups]
    if saved_groups != groups:
        return f"the optimiser's parameter groups differ ({saved_groups} -> {groups} parameters per group)"
    return None


def load_best(model: nn.Module, out_dir: str | os.PathLike, *, strict: bool = True,
              map_location: str | torch.device = "cpu") -> dict[str, Any]:  # fmt: skip
    """Load ``out_dir/best.pt`` into ``model`` (unwrapped from DDP / compile) for the final test evaluation.
    Returns the checkpoint's metadata: ``epoch``, ``metrics``, ``monitor``, ``monitor_value``, ``config``."""
    path = Path(out_dir) / BEST
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: no epoch improved the monitored metric yet")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    unwrap(model).load_state_dict(ckpt["model"], strict=strict)
    return {k: v for k, v in ckpt.items() if k != "model"}
