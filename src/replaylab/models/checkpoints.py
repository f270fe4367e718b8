"""Loading local pre-trained weights into a :class:`~replaylab.models.classifier.VideoClassifier` (or a bare
backbone). Nothing is downloaded.

Understood layouts (the wrapper and prefixes are recognised, whatever the file's name):

* torchvision video models: a bare state dict, ``stem.0.weight`` ... with the head ``fc.*`` (ResNets),
  ``classifier.1.*`` (S3D, a 1x1x1 conv) or ``head.1.*`` (MViT; relative position tables of another clip
  size are resampled);
* VideoMAE-v2: ``model`` / ``module`` wrapper or bare; fine-tuned (``head.*``) or pre-trained (``encoder.``
  prefix; decoder, ``encoder_to_decoder`` and ``mask_token`` dropped); ``pos_embed`` of another token grid
  regenerated (sinusoidal) or resampled (learned);
* mmaction2 (CSN, SlowFast and others): ``state_dict`` wrapper, ``backbone.`` prefix, head ``cls_head.fc_cls.*``;
* PySlowFast: ``model_state`` wrapper, head ``head.projection.*``; pytorchvideo SlowFast: head
  ``blocks.6.proj.*`` (the SlowFast backbone renames both layouts' keys);
* this project's own checkpoints (``model`` wrapper, ``backbone.*`` + ``head.*``), and ``module.`` /
  ``_orig_mod.`` prefixes of DDP / ``torch.compile``.

A directory holding exactly one ``.pth`` / ``.pt`` / ``.bin`` / ``.safetensors`` file stands for it.

Rules: a head of another shape (another class count) is skipped and the model's head re-initialised,
with a message naming both; a backbone of which fewer than half the tensors load, or with any tensor of
another shape, is an error naming the file (never a silent random init). Missing and unexpected keys go
into the :class:`LoadReport` and the log.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "WEIGHT_SUFFIXES",
    "CheckpointError",
    "LoadReport",
    "convert_trusted_checkpoint",
    "find_checkpoint_file",
    "load_pretrained",
    "read_state_dict",
]

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")
WRAPPER_KEYS = ("state_dict", "model", "module", "model_state", "model_state_dict")
# (weight, bias) names of classification heads, most specific first
HEAD_KEYS: tuple[tuple[str, str], ...] = (
    ("cls_head.fc_cls.weight", "cls_head.fc_cls.bias"),  # mmaction2
    ("head.projection.weight", "head.projection.bias"),  # PySlowFast (ResNetBasicHead / ResNetRoIHead)
    ("blocks.6.proj.weight", "blocks.6.proj.bias"),  # pytorchvideo SlowFast (create_slowfast)
    ("head.1.weight", "head.1.bias"),  # torchvision MViT
    ("classifier.1.weight", "classifier.1.bias"),  # torchvision S3D (1x1x1 conv)
    ("head.weight", "head.bias"),  # VideoMAE, this project
    ("fc.weight", "fc.bias"),  # torchvision ResNets
)
PRETRAINING_ONLY = ("decoder.", "encoder_to_decoder.", "mask_token")
MIN_LOADED_FRACTION = 0.5


class CheckpointError(ValueError):
    """A checkpoint that cannot be (safely) used for this model."""


@dataclass
class LoadReport:
    path: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    skipped_head: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.path}: {len(self.loaded)} tensors loaded, {len(self.missing)} missing, "
                f"{len(self.unexpected)} unexpected, head {'skipped' if self.skipped_head else 'kept'}")  # fmt: skip


# ------------------------------------------------------------------------------------------ files
def _safetensors_available() -> bool:
    return importlib.util.find_spec("safetensors") is not None


def find_checkpoint_file(path: str | os.PathLike) -> Path:
    """``path`` itself, or the one weight file inside directory ``path`` (searched recursively when the
    top level has none)."""
    p = Path(path)
    if p.is_file():
        return p
    if not p.exists():
        raise FileNotFoundError(f"pretrained checkpoint {p} does not exist")
    suffixes = WEIGHT_SUFFIXES if _safetensors_available() else tuple(s for s in WEIGHT_SUFFIXES if s != ".safetensors")
    found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in suffixes)
    if not found:
        found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in suffixes)
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        listed = "" if not found else ": " + ", ".join(str(f.relative_to(p)) for f in found[:8])
        raise CheckpointError(f"checkpoint directory {p} holds {what} weight files ({', '.join(suffixes)}){listed}; "
                              "expected exactly one (or give the file itself)")  # fmt: skip
    return found[0]


def _read(file: Path, *, messages: list[str]) -> Any:
    """The file's contents, read without running code: safetensors, or ``torch.load(weights_only=True)``
    (tensors, plain containers and numbers only). A full-pickle file is refused, never unpickled."""
    if file.suffix == ".safetensors":
        if not _safetensors_available():
            raise CheckpointError(f"{file}: reading .safetensors needs the safetensors package")
        from safetensors.torch import load_file

        return load_file(str(file), device="cpu")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{file}: a full-pickle checkpoint (it stores Python objects other than tensors and plain containers: "
            f"{first}); such files can run code when loaded, so they are refused. If you trust the file, convert it "
            f"once to a weights-only file: python -m replaylab.models.checkpoints {file} converted.pth "
            f"(or save its state_dict with torch.save / safetensors) and point the pretrained param at the result"
        ) from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{file}: not a readable PyTorch checkpoint ({e})") from e


def _unwrap(obj: Any, file: Path, messages: list[str]) -> dict[str, torch.Tensor]:
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    for _ in range(4):
        if not isinstance(obj, dict):
            raise CheckpointError(f"{file}: holds a {type(obj).__name__}, not a state dict")
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        inner = next((k for k in WRAPPER_KEYS if isinstance(obj.get(k), dict | nn.Module)), None)
        if inner is None:
            break
        messages.append(f"using the checkpoint's {inner!r} entry")
        obj = obj[inner].state_dict() if isinstance(obj[inner], nn.Module) else obj[inner]
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    dropped = len(obj) - len(tensors)
    if not tensors:
        raise CheckpointError(f"{file}: no tensors found (top-level keys: {', '.join(map(str, list(obj)[:10]))})")
    if dropped:
        messages.append(f"ignored {dropped} non-tensor entries")
    return tensors


def _strip(state: dict[str, torch.Tensor], messages: list[str]) -> dict[str, torch.Tensor]:
    """Remove wrapper prefixes (``module.``, ``_orig_mod.``, ``backbone.``) and pre-training-only parts."""
    for prefix in ("module.", "_orig_mod.", "backbone."):
        if any(k.startswith(prefix) for k in state):
            state = {k.removeprefix(prefix): v for k, v in state.items()}
            messages.append(f"stripped the {prefix!r} prefix")
    if any(k.startswith("encoder.") for k in state):
        kept = {k.removeprefix("encoder."): v for k, v in state.items() if not k.startswith(PRETRAINING_ONLY)}
        n = len(state) - len(kept)
        messages.append(
            "pre-training checkpoint: took the 'encoder.' weights" + (f", dropped {n} decoder / mask-token tensors" if n else "")
        )
        state = kept
    return state


def read_state_dict(path: str | os.PathLike) -> tuple[Path, dict[str, torch.Tensor], list[str]]:
    """(the weight file, its tensors with wrappers and prefixes removed, messages). Never unpickles
    arbitrary objects (see :func:`convert_trusted_checkpoint` for legacy full-pickle files)."""
    file = find_checkpoint_file(path)
    messages: list[str] = []
    state = _strip(_unwrap(_read(file, messages=messages), file, messages), messages)
    return file, state, messages


# ------------------------------------------------------------------------------------------ loading
def _pop_head(state: dict[str, torch.Tensor]) -> tuple[list[str], dict[str, torch.Tensor]]:
    for w, b in HEAD_KEYS:
        if w in state:
            names = [w] + ([b] if b in state else [])
            weight = state.pop(w)
            if weight.ndim > 2:  # a 1x1x1 conv head
                weight = weight.flatten(1)
            head = {"weight": weight}
            if b in state:
                head["bias"] = state.pop(b)
            return names, head
    return [], {}


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _examples(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" ... ({len(items)} in all)" if len(items) > n else "")


def load_pretrained(model: nn.Module, path: str | os.PathLike, *, strict_backbone: bool = True) -> LoadReport:
    """Load local checkpoint ``path`` (file or directory) into ``model``: a VideoClassifier (``backbone`` +
    ``head``) or a bare backbone.

    ``strict_backbone`` (default): any backbone tensor of another shape, or fewer than half the backbone
    tensors found, raises :class:`CheckpointError` naming the file. Without it, tensors of another shape
    are skipped (reported) and only a checkpoint with no usable backbone tensor at all raises.
    The file is read with ``weights_only=True`` (or as safetensors); a full-pickle file is refused with
    a :class:`CheckpointError` saying how to convert it."""
    file, state, messages = read_state_dict(path)
    report = LoadReport(path=str(file), messages=messages)
    has_head = isinstance(getattr(model, "head", None), nn.Linear) and isinstance(getattr(model, "backbone", None), nn.Module)
    backbone: nn.Module = model.backbone if has_head else model  # type: ignore[assignment]
    prefix = "backbone." if has_head else ""
    head_names, head_state = _pop_head(state)

    adapt = getattr(backbone, "adapt_checkpoint", None)
    if callable(adapt):
        try:
            report.messages.extend(adapt(state))
        except ValueError as e:  # a checkpoint the backbone recognises but cannot take as built
            raise CheckpointError(f"{file}: {e}") from e

    own = backbone.state_dict()
    countable = [k for k in own if not k.endswith("num_batches_tracked")]
    matched = {k: state[k] for k in own if k in state and _shape(state[k]) == _shape(own[k])}
    mismatched = [
        f"{k} {_shape(state[k])} in the checkpoint vs {_shape(own[k])} in the model"
        for k in own
        if k in state and k not in matched
    ]
    n_loaded = sum(1 for k in matched if not k.endswith("num_batches_tracked"))
    name = getattr(model, "backbone_name", "") or type(backbone).__name__
    if mismatched and strict_backbone:
        raise CheckpointError(
            f"{file}: does not fit backbone {name}: {len(mismatched)} tensors have another shape, e.g. {_examples(mismatched, 3)}"
        )
    if n_loaded == 0 or (strict_backbone and n_loaded < MIN_LOADED_FRACTION * len(countable)):
        absent = [k for k in countable if k not in state]
        raise CheckpointError(
            f"{file}: not a checkpoint of backbone {name}: only {n_loaded} of its {len(countable)} tensors found "
            f"(model keys missing, e.g. {_examples(absent)}; checkpoint keys, e.g. {_examples([k for k in state if k not in own])})"
        )
    backbone.load_state_dict(matched, strict=False)
    report.loaded = [prefix + k for k in matched]
    report.missing = [prefix + k for k in own if k not in matched and not (k.endswith("num_batches_tracked") and k not in state)]
    report.unexpected = [k for k in state if k not in own]
    if mismatched:
        report.messages.append(f"skipped {len(mismatched)} backbone tensors of another shape, e.g. {_examples(mismatched, 3)}")

    _load_head(model if has_head else None, head_names, head_state, report)
    _log(report)
    return report


def _load_head(model: nn.Module | None, names: list[str], state: dict[str, torch.Tensor], report: LoadReport) -> None:
    if not names:
        if model is not None:
            report.messages.append("the checkpoint has no classification head; the head starts from scratch")
        return
    if model is None:
        report.skipped_head = names
        report.messages.append(f"head {', '.join(names)} not used (the model has no head)")
        return
    head: nn.Linear = model.head  # type: ignore[assignment]
    want = {"weight": _shape(head.weight), "bias": _shape(head.bias)}
    got = {k: _shape(v) for k, v in state.items()}
    if all(got[k] == want[k] for k in got) and "weight" in got:
        head.load_state_dict(state, strict=False)
        report.loaded += [f"head.{k}" for k in state]
        if "bias" not in state:
            report.missing.append("head.bias")
        return
    report.skipped_head = names
    ckpt = " / ".join(f"{n} {s}" for n, s in zip(names, got.values()))
    report.messages.append(
        f"head skipped: checkpoint {ckpt} does not fit head.weight {want['weight']} / head.bias {want['bias']} "
        f"(another class count); the head is re-initialised"
    )
    reset = getattr(model, "reset_head", None)
    if callable(reset):
        reset()
    else:
        head.reset_parameters()


def _log(report: LoadReport) -> None:
    log.info(report.summary())
    for m in report.messages:
        log.info("%s: %s", report.path, m)
    if report.missing:
        log.warning(
            "%s: %d model tensors not in the checkpoint (kept as initialised): %s",
            report.path,
            len(report.missing),
            _examples(report.missing, 8),
        )
    if report.unexpected:
        log.warning(
            "%s: %d checkpoint tensors not used: %s", report.path, len(report.unexpected), _examples(report.unexpected, 8)
        )
    if report.skipped_head:
        log.warning("%s: head %s skipped", report.path, ", ".join(report.skipped_head))


# ------------------------------------------------------------------------------------------ conversion
def convert_trusted_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Rewrite a legacy full-pickle checkpoint ``src`` as a weights-only file ``dst`` (its tensors, with
    wrappers such as ``state_dict`` / ``model`` unwrapped; prefixes kept). This unpickles ``src`` fully and
    so runs whatever code it holds: call it only, by hand, on a file you trust. The pipeline never calls it."""
    file = find_checkpoint_file(src)
    out = Path(dst)
    if out.resolve() == file.resolve():
        raise CheckpointError(f"{out}: write the converted checkpoint to another file than {file}")
    messages: list[str] = []
    obj = torch.load(file, map_location="cpu", weights_only=False)  # explicit, user-invoked, trusted file only
    state = _unwrap(obj, file, messages)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.save({k: v.detach().clone().contiguous() for k, v in state.items()}, tmp)
    os.replace(tmp, out)
    torch.load(out, map_location="cpu", weights_only=True)  # the result must load safely
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m replaylab.models.checkpoints",
        description="Convert a TRUSTED legacy full-pickle checkpoint into a weights-only one "
        "(unpickling runs code stored in the file: never use this on a file you did not make or verify).",
    )
    ap.add_argument("src", help="the full-pickle checkpoint (file, or directory with one weight file)")
    ap.add_argument("dst", help="the weights-only .pth to write")
    args = ap.parse_args(argv)
    out = convert_trusted_checkpoint(args.src, args.dst)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
