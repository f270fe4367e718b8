"""Loading CLIP weights from local files into open_clip's :class:`~open_clip.model.CLIP`, and saving them.

Layouts (``layout="auto"`` tells them apart from the file):

* ``"openai_jit"``: OpenAI's TorchScript archives (a zip holding ``constants.pkl`` or a ``code/`` folder). Only
  the tensors are read (``torch.jit.load(...).state_dict()``); the scripted code is never called.
* ``"openai_state_dict"``: a bare state dict in OpenAI's key names (``visual.proj`` / ``text_projection`` /
  ``token_embedding.weight`` ...), e.g. from :func:`save_openai_state_dict` (open_clip's CLIP uses the same
  names). A ``.safetensors`` file is read as a bare state dict.
* ``"open_clip"``: an open_clip training checkpoint, ``{"epoch": ..., "state_dict": {"module.visual...": ...}}``.

For both OpenAI layouts the file defines the architecture: it is inferred from the tensor shapes as open_clip's
``build_model_from_openai_state_dict`` does (ViT or ModifiedResNet image tower, heads = width // 64,
QuickGELU) and recorded in the report. For ``"open_clip"`` the architecture is the one named by ``model``
(``"tiny"``: :class:`~replaylab.clip.model.TinyClipConfig`; ``"auto"``: inferred from shapes as well).
Weights are loaded non-strictly: missing and unexpected keys go into the :class:`LoadReport`; a tensor of
another shape is an error naming the key, both shapes and the file. Loaded models are float32, in eval mode.

Files are read with ``torch.load(weights_only=True)`` only (never arbitrary pickles).
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

from ..io import atomic_path
from .model import TinyClipConfig, build_named_clip, build_tiny_clip

__all__ = ["LAYOUTS", "LoadReport", "infer_openai_architecture", "load_clip", "save_openai_state_dict"]

log = logging.getLogger(__name__)

LAYOUTS = ("openai_jit", "openai_state_dict", "open_clip")
#: Keys that hold no weights in OpenAI's files (scalars of the JIT models).
NON_TENSOR_KEYS = ("input_resolution", "context_length", "vocab_size")
#: Keys any CLIP state dict in OpenAI / open_clip naming holds.
CLIP_MARKERS = ("visual.proj", "text_projection", "token_embedding.weight")
_CHUNK = 1 << 20


@dataclass
class LoadReport:
    """What :func:`load_clip` read: the file, its md5, the layout, and the keys that did not match the model.
    ``architecture``: the inferred shapes (OpenAI layouts, ``model="auto"``) or the requested model."""

    path: str
    md5: str
    layout: str
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    architecture: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _md5(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            md5.update(chunk)
    return md5.hexdigest()


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            parts = name.split("/")
            if parts[1:] == ["constants.pkl"] or (len(parts) > 2 and parts[1] == "code"):
                return True
    return False


def _read(path: Path) -> tuple[str, Any]:
    """(kind, object): kind "jit" (a state dict read from a TorchScript archive) or "pickle" (what torch.load gave)."""
    if _is_torchscript(path):
        try:
            with warnings.catch_warnings():  # torch.jit is deprecated in favour of torch.export; OpenAI ships these archives
                warnings.filterwarnings("ignore", message=".*torch.jit.load.*", category=FutureWarning)
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception as e:  # noqa: BLE001 - any failure means the archive is unusable
            raise ValueError(f"{path}: a TorchScript archive that torch.jit.load cannot read ({type(e).__name__}: {e})") from e
        return "jit", dict(module.state_dict())
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return "pickle", load_file(str(path), device="cpu")
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})") from e
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch.load raises many types for foreign files
        reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(
            f"{path}: not a checkpoint torch.load can read with weights_only=True ({type(e).__name__}: {reason})"
        ) from e
    return "pickle", obj


def _strip_module(state: Mapping[str, Any]) -> dict[str, Any]:
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


def _state_dict(path: Path, kind: str, obj: Any) -> tuple[str, dict[str, torch.Tensor]]:
    """(detected layout, clean float32 state dict)."""
    if kind == "jit":
        layout, state = "openai_jit", obj
    elif not isinstance(obj, Mapping):
        raise ValueError(f"{path}: not a checkpoint: torch.load gave a {type(obj).__name__}, not a dict of tensors")
    elif isinstance(obj.get("state_dict"), Mapping):
        layout, state = "open_clip", obj["state_dict"]
    else:
        layout, state = "openai_state_dict", obj
    state = _strip_module(state)
    for key in NON_TENSOR_KEYS:
        state.pop(key, None)
    if not any(k in state for k in CLIP_MARKERS):
        shown = ", ".join(sorted(map(str, obj if kind != "jit" else state))[:8]) or "none"
        raise ValueError(f"{path}: no CLIP keys (expected {', '.join(CLIP_MARKERS)}); top-level keys: {shown}")
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{path}: entries that are not tensors: {', '.join(sorted(bad)[:8])}")
    return layout, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def _require(state: Mapping[str, torch.Tensor], key: str, path: Path) -> torch.Tensor:
    if key not in state:
        raise ValueError(f"{path}: cannot infer the CLIP architecture, key {key!r} is missing")
    return state[key]


def infer_openai_architecture(
    state: Mapping[str, torch.Tensor], *, path: str | Path = "<state dict>"
) -> tuple[int, CLIPVisionCfg, CLIPTextCfg]:
    """(embed_dim, vision config, text config) from the tensor shapes of an OpenAI-layout state dict, by the rules
    of open_clip's ``build_model_from_openai_state_dict`` (ViT when ``visual.proj`` exists, else ModifiedResNet)."""
    path = Path(path)
    if "visual.proj" in state:
        conv1 = _require(state, "visual.conv1.weight", path)
        pos = _require(state, "visual.positional_embedding", path)
        grid = round((pos.shape[0] - 1) ** 0.5)
        vision = CLIPVisionCfg(
            layers=sum(1 for k in state if k.startswith("visual.") and k.endswith(".attn.in_proj_weight")),
            width=conv1.shape[0],
            patch_size=conv1.shape[-1],
            image_size=conv1.shape[-1] * grid,
        )
    else:
        stem = _require(state, "visual.layer1.0.conv1.weight", path)
        pos = _require(state, "visual.attnpool.positional_embedding", path)
        out = round((pos.shape[0] - 1) ** 0.5)
        if out * out + 1 != pos.shape[0]:
            raise ValueError(f"{path}: visual.attnpool.positional_embedding has {pos.shape[0]} rows, not a square grid + 1")
        layers = tuple(len({k.split(".")[2] for k in state if k.startswith(f"visual.layer{b}.")}) for b in (1, 2, 3, 4))
        vision = CLIPVisionCfg(layers=layers, width=stem.shape[0], patch_size=None, image_size=out * 32)
    width = _require(state, "ln_final.weight", path).shape[0]
    text = CLIPTextCfg(
        context_length=_require(state, "positional_embedding", path).shape[0],
        vocab_size=_require(state, "token_embedding.weight", path).shape[0],
        width=width,
        heads=width // 64,
        layers=len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")}),
    )
    embed_dim = _require(state, "text_projection", path).shape[1]
    return int(embed_dim), vision, text


def _describe(embed_dim: int, vision: CLIPVisionCfg, text: CLIPTextCfg) -> dict[str, Any]:
    layers = vision.layers if isinstance(vision.layers, int) else list(vision.layers)
    return {
        "source": "tensor shapes",
        "embed_dim": embed_dim,
        "vision": {"layers": layers, "width": vision.width, "patch_size": vision.patch_size, "image_size": vision.image_size},
        "text": {
            "context_length": text.context_length,
            "vocab_size": text.vocab_size,
            "width": text.width,
            "heads": text.heads,
            "layers": text.layers,
        },
        "quick_gelu": True,
    }


def _build(*, model: str, tiny: TinyClipConfig | None, seed: int) -> tuple[CLIP, dict[str, Any]]:
    if model == "tiny":
        cfg = tiny or TinyClipConfig()
        return build_tiny_clip(cfg=cfg, seed=seed), {"source": "model", "model": "tiny", **asdict(cfg)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_named_clip(name=model), {"source": "model", "model": model}


def _from_shapes(state: Mapping[str, torch.Tensor], *, path: Path, seed: int) -> tuple[CLIP, dict[str, Any]]:
    embed_dim, vision, text = infer_openai_architecture(state, path=path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIP(embed_dim, vision_cfg=vision, text_cfg=text, quick_gelu=True)
    return model.float().eval(), _describe(embed_dim, vision, text)


def _load_into(model: CLIP, state: dict[str, torch.Tensor], *, path: Path) -> tuple[list[str], list[str]]:
    own = model.state_dict()
    transient = {name for name, _ in model.named_buffers()} - set(own)  # e.g. attn_mask, kept by TorchScript
    state = {k: v for k, v in state.items() if k not in transient}
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            raise ValueError(
                f"{path}: tensor {key!r} has shape {tuple(value.shape)} in the file but {tuple(own[key].shape)} in the model"
            )
    if not any(k in own for k in state):
        raise ValueError(f"{path}: no CLIP keys of this architecture (none of the file's {len(state)} tensors match)")
    result = model.load_state_dict(state, strict=False)
    return sorted(result.missing_keys), sorted(result.unexpected_keys)


def load_clip(
    *,
    checkpoint: str | Path | None,
    model: str,
    tiny: TinyClipConfig | None = None,
    layout: str = "auto",
    seed: int = 0,
) -> tuple[CLIP, LoadReport | None]:
    """A float32 CLIP in eval mode and what was loaded into it.

    ``checkpoint=None``: the architecture ``model`` (``"tiny"``: :func:`build_tiny_clip` of ``tiny``, default
    :class:`TinyClipConfig`; else an open_clip name) with a random init from ``seed``; the report is None.
    Otherwise the file is read in ``layout`` (``"auto"``: detected) as the module docstring describes; an
    explicit ``"openai_state_dict"`` / ``"open_clip"`` picks how the architecture is found (from the shapes /
    from ``model``) for any dict checkpoint, with or without a ``state_dict`` wrapper.
    """
    if layout != "auto" and layout not in LAYOUTS:
        raise ValueError(f"unknown CLIP checkpoint layout {layout!r}; expected auto or one of {', '.join(LAYOUTS)}")
    if checkpoint is None:
        if model == "auto":
            raise ValueError("model='auto' takes the architecture from a checkpoint, but none was given")
        return _build(model=model, tiny=tiny, seed=seed)[0], None

    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"CLIP checkpoint not found: {path}")
    kind, obj = _read(path)
    detected, state = _state_dict(path, kind, obj)
    if layout == "auto":
        layout = detected
    elif (layout == "openai_jit") != (detected == "openai_jit"):
        what = "a TorchScript archive" if detected == "openai_jit" else "not a TorchScript archive"
        raise ValueError(f"{path}: layout {layout!r} was asked for, but the file is {what}")

    if layout == "open_clip" and model != "auto":
        clip, architecture = _build(model=model, tiny=tiny, seed=seed)
    else:
        if layout != "open_clip" and model not in ("auto", "tiny"):
            log.info(
                "%s: %s layout, the architecture comes from the file's tensor shapes (model=%r not used)", path, layout, model
            )
        clip, architecture = _from_shapes(state, path=path, seed=seed)
    missing, unexpected = _load_into(clip, state, path=path)
    report = LoadReport(
        path=str(path), md5=_md5(path), layout=layout, missing=missing, unexpected=unexpected, architecture=architecture
    )
    if missing or unexpected:
        log.warning("%s: %d missing keys, %d unexpected keys", path, len(missing), len(unexpected))
    return clip.float().eval(), report


def save_openai_state_dict(*, model: CLIP, path: str | os.PathLike) -> None:
    """Write the model's float32 state dict (OpenAI's key names: open_clip's CLIP uses them) atomically; it loads
    back through :func:`load_clip` as ``"openai_state_dict"``, architecture inferred from the shapes."""
    state = {
        k: (v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu())
        for k, v in model.state_dict().items()
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
