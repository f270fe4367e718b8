"""Prompt checkpoints: the learned parameters only (never the frozen CLIP), with the run's config.

A file is ``torch.save`` of ``{"format": FORMAT, "method": str, "state_dict": {name: tensor}, "config": {...}}``
(strings, numbers and tensors only), read back with ``weights_only=True``. :func:`load_into` restores a model's
learned parameters from one (``prompt.continue_from``): the method, the parameter names and their shapes must
match, or the error names the file and the first difference.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..io import atomic_path

__all__ = ["FORMAT", "load_into", "read_checkpoint", "resolve_checkpoint", "save_checkpoint"]

FORMAT = "replaylab-prompt/1"


def save_checkpoint(path: str | os.PathLike, *, method: str, state_dict: dict[str, torch.Tensor], config: dict) -> None:
    obj = {"format": FORMAT, "method": method, "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
           "config": config}  # fmt: skip
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a run folder (``models/prompt/<method>``: its ``last.pt``, to continue training)."""
    p = Path(path)
    if p.is_dir():
        p = p / "last.pt"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: prompt checkpoint not found (prompt.continue_from)")
    return p


def read_checkpoint(path: str | os.PathLike) -> dict:
    p = resolve_checkpoint(path)
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is reported the same way
        raise ValueError(f"{p}: not a readable prompt checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("state_dict"), dict):
        raise ValueError(f"{p}: not a prompt checkpoint (expected format {FORMAT!r}, as train writes)")
    return obj


def load_into(model: nn.Module, path: str | os.PathLike, *, method: str) -> dict:
    """Restore ``model``'s learned parameters from the checkpoint at ``path``; returns the checkpoint's config."""
    obj = read_checkpoint(path)
    where = resolve_checkpoint(path)
    if obj["method"] != method:
        raise ValueError(f"{where}: a {obj['method']} checkpoint cannot continue a {method} run")
    want, got = model.state_dict(), obj["state_dict"]
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing or extra:
        raise ValueError(f"{where}: learned parameters differ (missing {missing[:3]}, unexpected {extra[:3]}); "
                         "the same method with the same ctx_len / pooling / prompts is needed")  # fmt: skip
    bad = next((k for k in want if tuple(want[k].shape) != tuple(got[k].shape)), None)
    if bad is not None:
        raise ValueError(f"{where}: {bad} has shape {tuple(got[bad].shape)}, this run's is {tuple(want[bad].shape)}")
    model.load_state_dict(got)
    return obj.get("config", {})
