"""Checkpoint files of a run (``last.pt`` to resume, ``best.pt`` for the selected model): atomic,
byte-deterministic writes, safe loading, and the test that decides whether a ``last.pt`` can be continued.

The caller's identity of a run (``fit(resume_key=...)``: a nested mapping of input digests, code digest,
model options, ...) is stored in both files twice: as the JSON-compatible mapping under ``identity`` (what the
resume decision compares) and as its canonical JSON text under ``resume_key`` (what older readers parse)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..io import atomic_path
from .config import RESUME_IGNORED_FIELDS, TrainConfig
from .fingerprint import describe_changes

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


def _canonical(obj: Any) -> Any:
    """A copy of the containers in ``obj`` with every string interned: pickle writes an object seen twice as a
    back-reference, so equal states built differently (fresh vs. loaded from a checkpoint) would otherwise
    give different bytes. Tensors and other leaves are kept as they are."""
    if isinstance(obj, str):
        return sys.intern(obj)
    if isinstance(obj, OrderedDict):  # a state_dict keeps its ``_metadata`` (module versions) as an attribute
        out = OrderedDict((_canonical(k), _canonical(v)) for k, v in obj.items())
        out.__dict__.update(_canonical(vars(obj)))
        return out
    if isinstance(obj, dict):
        return {_canonical(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    if type(obj) is tuple:
        return tuple(_canonical(v) for v in obj)
    return obj


def save(obj: Mapping[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` to memory, then write the bytes to a temporary sibling and rename it over ``path``.
    The same state gives the same bytes: the containers are canonicalised (:func:`_canonical`), and saving to
    memory names the archive's records ``archive/...`` whatever the file is called."""
    buf = io.BytesIO()
    torch.save(_canonical(dict(obj)), buf)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buf.getbuffer())


def load(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint written by :func:`save`, on the CPU (``weights_only``: no arbitrary code runs)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def fingerprint(resume_key: Mapping[str, Any] | None) -> str | None:
    """Canonical JSON text of the caller's resume key (sorted keys; values JSON cannot hold become strings)."""
    return None if resume_key is None else json.dumps(dict(resume_key), sort_keys=True, default=str)


def normalize_key(resume_key: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The resume key as the JSON-compatible mapping that is stored (tuples become lists, other values JSON
    cannot hold become strings); a key that is not a mapping with string keys is a ``TypeError``."""
    if resume_key is None:
        return None
    if not isinstance(resume_key, Mapping):
        raise TypeError(f"resume_key must be a mapping, got {type(resume_key).__name__}")
    try:
        return json.loads(fingerprint(resume_key))
    except TypeError as err:  # mixed key types cannot be sorted
        raise TypeError(f"resume_key is not JSON-compatible: {err}") from err


def identity_fields(resume_key: Mapping[str, Any] | None) -> dict[str, Any]:
    """The checkpoint entries that carry the run's identity (see the module docstring)."""
    key = normalize_key(resume_key)
    return {"identity": key, "resume_key": fingerprint(key)}


def resume_key_of(ckpt: Mapping[str, Any]) -> dict[str, Any] | None:
    """The resume key stored in a checkpoint, as a mapping (also from files that hold only the JSON text)."""
    if "identity" in ckpt:
        return ckpt["identity"]
    text = ckpt.get("resume_key")
    return None if text is None else json.loads(text)


def key_mismatch(ckpt: Mapping[str, Any], resume_key: Mapping[str, Any] | None) -> str | None:
    """Why the identity stored in ``ckpt`` differs from ``resume_key`` (every differing entry), or None."""
    key = normalize_key(resume_key)
    if "identity" not in ckpt:
        return "the resume key changed (the checkpoint predates the stored identity mapping)"
    saved = ckpt["identity"]
    if fingerprint(saved) == fingerprint(key):
        return None
    if saved is None:
        saved = {}
    if not isinstance(saved, Mapping):
        return f"the resume key changed (a stored {type(saved).__name__} is not a mapping)"
    changes = describe_changes(saved, key or {}) or ["values that compare unequal (NaN?)"]
    return "the resume key changed (" + "; ".join(changes) + ")"


def resume_mismatch(ckpt: Mapping[str, Any], *, cfg: TrainConfig, resume_key: Mapping[str, Any] | None,
                    model: nn.Module, optimizer: torch.optim.Optimizer) -> str | None:  # fmt: skip
    """Why ``ckpt`` (a ``last.pt``) cannot be continued by this run, or None when it can."""
    if ckpt.get("format") != FORMAT:
        return f"it has format {ckpt.get('format')!r}, expected {FORMAT!r}"
    saved = {k: v for k, v in dict(ckpt.get("config", {})).items() if k not in RESUME_IGNORED_FIELDS}
    changed = describe_changes(saved, cfg.resume_signature())
    if changed:
        return "the training config changed (" + "; ".join(changed) + ")"
    reason = key_mismatch(ckpt, resume_key)
    if reason is not None:
        return reason
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
