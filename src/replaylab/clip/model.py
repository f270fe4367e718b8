"""CLIP architectures built with ``open_clip`` (never a hand-written transformer) and its BPE tokenizer.

* :class:`TinyClipConfig` / :func:`build_tiny_clip`: a small ViT CLIP for CPU experiments and tests, laid out
  so that its ``state_dict`` in OpenAI's key names rebuilds to exactly the same model from tensor shapes
  (attention heads = width // 64 in both towers, QuickGELU, OpenAI's 49408-token BPE vocabulary);
* :func:`build_named_clip`: any built-in ``open_clip`` configuration (``ViT-B-32``, ``ViT-B-16``, ``RN50`` ...)
  that builds open_clip's :class:`~open_clip.model.CLIP`, randomly initialised;
* :func:`tokenizer`: open_clip's :class:`~open_clip.tokenizer.SimpleTokenizer` at a given context length.

Nothing is downloaded: weights are never fetched (``pretrained=None``, no tower pre-training), and the BPE
merges ship inside the ``open_clip`` package.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from functools import lru_cache

import open_clip
import torch
from open_clip.factory import get_model_config
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
from open_clip.tokenizer import SimpleTokenizer

__all__ = ["HEAD_WIDTH", "VOCAB_SIZE", "TinyClipConfig", "build_named_clip", "build_tiny_clip", "named_clip_models", "tokenizer"]

#: Token count of OpenAI's byte-pair vocabulary (open_clip's :class:`SimpleTokenizer`).
VOCAB_SIZE = 49408
#: Channels per attention head: what ``build_model_from_openai_state_dict`` assumes (heads = width // 64).
HEAD_WIDTH = 64
#: Models offered in error messages when a name is unknown.
_COMMON = ("ViT-B-32", "ViT-B-16", "ViT-L-14", "RN50")


@dataclass(frozen=True)
class TinyClipConfig:
    """A small ViT CLIP. Widths are multiples of 64 (one head per 64 channels) and ``image_size`` a multiple of
    ``patch_size``."""

    embed_dim: int = 128
    image_size: int = 64
    patch_size: int = 8
    vision_width: int = 128
    vision_layers: int = 3
    text_width: int = 128
    text_layers: int = 2
    context_length: int = 32

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TinyClipConfig.{name} must be a positive integer, got {value!r}")
        for name in ("vision_width", "text_width"):
            width = getattr(self, name)
            if width % HEAD_WIDTH:
                raise ValueError(
                    f"TinyClipConfig.{name}={width} is not a multiple of {HEAD_WIDTH}: heads are width // {HEAD_WIDTH}, "
                    "as OpenAI state dicts are rebuilt"
                )
        if self.image_size % self.patch_size:
            raise ValueError(f"TinyClipConfig.image_size={self.image_size} is not a multiple of patch_size={self.patch_size}")
        if self.context_length < 2:
            raise ValueError(f"TinyClipConfig.context_length={self.context_length} leaves no room for start and end tokens")

    def vision_cfg(self) -> CLIPVisionCfg:
        return CLIPVisionCfg(
            layers=self.vision_layers,
            width=self.vision_width,
            head_width=HEAD_WIDTH,
            patch_size=self.patch_size,
            image_size=self.image_size,
        )

    def text_cfg(self) -> CLIPTextCfg:
        return CLIPTextCfg(
            context_length=self.context_length,
            vocab_size=VOCAB_SIZE,
            width=self.text_width,
            heads=self.text_width // HEAD_WIDTH,
            layers=self.text_layers,
        )


def build_tiny_clip(*, cfg: TinyClipConfig, seed: int) -> CLIP:
    """A float32 :class:`CLIP` in eval mode, initialised from ``seed`` (the global RNG state is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIP(cfg.embed_dim, vision_cfg=cfg.vision_cfg(), text_cfg=cfg.text_cfg(), quick_gelu=True)
    return model.float().eval()


def named_clip_models() -> list[str]:
    """The built-in open_clip configurations :func:`build_named_clip` accepts (those that build open_clip's
    :class:`CLIP`; CoCa and Hugging Face text towers are left out: their text tower needs a download)."""
    return [name for name in open_clip.list_models() if _unsupported_reason(get_model_config(name)) is None]


def _unsupported_reason(cfg: dict) -> str | None:
    if "multimodal_cfg" in cfg:
        return "it is a CoCa model, not open_clip's CLIP"
    if "hf_model_name" in cfg.get("text_cfg", {}):
        return "its text tower is a Hugging Face model whose configuration would be downloaded"
    if cfg.get("custom_text"):
        return "it builds open_clip's CustomTextCLIP, not CLIP"
    return None


def build_named_clip(*, name: str) -> CLIP:
    """open_clip's built-in configuration ``name`` as a float32 :class:`CLIP` in eval mode, randomly initialised.
    No weights are fetched, for the CLIP model or either tower."""
    if ":" in name:
        raise ValueError(f"CLIP model {name!r}: schemas (hf-hub:, local-dir:) are not accepted; use a built-in open_clip name")
    cfg = get_model_config(name)
    if cfg is None:
        close = difflib.get_close_matches(name, open_clip.list_models(), n=4)
        suggestions = list(dict.fromkeys([*close, *_COMMON]))
        raise ValueError(
            f"unknown open_clip model {name!r}; valid names include {', '.join(suggestions)} (see open_clip.list_models())"
        )
    reason = _unsupported_reason(cfg)
    if reason is not None:
        raise ValueError(f"open_clip model {name!r} is not supported: {reason}")
    model = open_clip.create_model(
        name, pretrained=None, pretrained_image=False, pretrained_text=False, precision="fp32", device="cpu"
    )
    if not isinstance(model, CLIP):  # pragma: no cover - guarded by _unsupported_reason
        raise ValueError(f"open_clip model {name!r} built a {type(model).__name__}, not CLIP")
    return model.float().eval()


@lru_cache(maxsize=8)
def _simple_tokenizer(context_length: int) -> SimpleTokenizer:
    return SimpleTokenizer(context_length=context_length)


def tokenizer(*, context_length: int) -> SimpleTokenizer:
    """open_clip's BPE tokenizer: ``tok(["a red clip", ...])`` -> LongTensor ``(N, context_length)`` (start token,
    BPE tokens, end token, zero padding; over-long texts are cut and end with the end token)."""
    if context_length < 2:
        raise ValueError(f"context_length={context_length} leaves no room for start and end tokens")
    return _simple_tokenizer(int(context_length))
