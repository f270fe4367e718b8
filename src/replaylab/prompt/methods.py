"""The prompt-tuning methods, one class each, sharing a frozen CLIP (:class:`PromptModel`).

Every method turns a batch of clips into logits ``logit_scale * cos(video feature, class text feature)``
(CLIP's own, frozen scale). What it learns:

* ``zero_shot``: nothing; the text is ``template`` with the class words, frames mean-pooled (the baseline);
* ``video_coop``: CoOp's text context (:class:`~.text.ContextPrompts`) and, with ``pooling: attention``, a
  temporal attention pool (:class:`~.pooling.TemporalPool`) over the frozen frame features;
* ``dual_coop``: the text context plus ``visual_prompts`` learnable tokens inserted in the image transformer at
  ``visual_prompt_layer`` (:class:`~.visual.SplitImageEncoder`), and the temporal pool;
* ``stt``: a small spatio-temporal transformer over frame tokens (:class:`~.stt.SpatioTemporalTransformer`),
  text as in zero-shot.

The frozen part of each method is split off as :meth:`PromptModel.precompute` (run once per clip, under
``no_grad``): frame embeddings for zero_shot / video_coop, the tokens entering the split block for dual_coop,
the pooled frame tokens for stt. ``state_dict()`` holds the learned parameters only: the CLIP is held by
reference, not as a submodule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .pooling import TemporalPool
from .stt import SpatioTemporalTransformer, grid_tokens
from .text import ContextPrompts, template_features
from .visual import SplitImageEncoder

__all__ = ["METHODS", "MethodConfig", "PromptModel", "build_method"]


@dataclass(frozen=True)
class MethodConfig:
    """What a method is built from (the ``prompt`` params a run resolves)."""

    method: str
    pooling: str = "mean"
    ctx_len: int = 8
    class_specific: bool = False
    ctx_init: str | None = None
    visual_prompts: int = 4
    template: str = "a video of a {}."
    stt_layers: int = 1
    stt_heads: int = 2
    stt_grid: int = 2


class PromptModel(nn.Module):
    """Logits (B, C) from precomputed clip inputs; subclasses define the three hooks."""

    def __init__(self, *, encoder: SplitImageEncoder, logit_scale: float):
        super().__init__()
        self.encoder = encoder  # a plain object: the frozen tower is not part of the state dict
        self.logit_scale = float(logit_scale)

    def precompute(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T, L, W) tokens entering the split block -> this method's frozen input (default: frame embeddings
        (B, T, D))."""
        b, t = tokens.shape[:2]
        pooled, _ = self.encoder.suffix(tokens.flatten(0, 1))
        return pooled.view(b, t, -1)

    def video_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def text_features(self) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        video = F.normalize(self.video_features(x), dim=-1)
        return self.logit_scale * video @ self.text_features().t()


class ZeroShot(PromptModel):
    def __init__(self, *, encoder, logit_scale, text: torch.Tensor):
        super().__init__(encoder=encoder, logit_scale=logit_scale)
        self.register_buffer("text", text, persistent=False)

    def video_features(self, x):
        return x.mean(dim=1)

    def text_features(self):
        return self.text


class VideoCoOp(PromptModel):
    def __init__(self, *, encoder, logit_scale, prompts: ContextPrompts, pool: TemporalPool):
        super().__init__(encoder=encoder, logit_scale=logit_scale)
        self.prompts, self.pool = prompts, pool

    def video_features(self, x):
        return self.pool(x)

    def text_features(self):
        return self.prompts()


class DualCoOp(VideoCoOp):
    def __init__(self, *, encoder, logit_scale, prompts, pool, n_visual: int, generator: torch.Generator):
        super().__init__(encoder=encoder, logit_scale=logit_scale, prompts=prompts, pool=pool)
        bound = (6.0 / (2 * encoder.width)) ** 0.5  # uniform Xavier over (n_visual, width), as in visual prompt tuning
        self.visual_prompts = nn.Parameter((torch.rand(n_visual, encoder.width, generator=generator) * 2 - 1) * bound)

    def precompute(self, tokens):
        return tokens

    def video_features(self, x):
        b, t = x.shape[:2]
        pooled, _ = self.encoder.suffix(x.flatten(0, 1), self.visual_prompts)
        return self.pool(pooled.view(b, t, -1))


class Stt(PromptModel):
    def __init__(self, *, encoder, logit_scale, text: torch.Tensor, frames: int, cfg: MethodConfig):
        super().__init__(encoder=encoder, logit_scale=logit_scale)
        self.register_buffer("text", text, persistent=False)
        self.grid = cfg.stt_grid
        self.stt = SpatioTemporalTransformer(dim=encoder.embed_dim, frames=frames, tokens_per_frame=1 + cfg.stt_grid**2,
                                             layers=cfg.stt_layers, heads=cfg.stt_heads)  # fmt: skip

    def precompute(self, tokens):
        b, t = tokens.shape[:2]
        pooled, patches = self.encoder.suffix(tokens.flatten(0, 1))
        return grid_tokens(pooled, patches, self.grid).view(b, t, 1 + self.grid**2, -1)

    def video_features(self, x):
        return self.stt(x)

    def text_features(self):
        return self.text


def _zero_shot(clip, tokenize, classes, encoder, cfg, frames, gen):
    return ZeroShot(encoder=encoder, logit_scale=_scale(clip), text=template_features(clip, tokenize, classes, cfg.template))


def _context(clip, tokenize, classes, cfg, gen):
    return ContextPrompts(clip=clip, tokenize=tokenize, classes=classes, ctx_len=cfg.ctx_len,
                          class_specific=cfg.class_specific, ctx_init=cfg.ctx_init, generator=gen)  # fmt: skip


def _video_coop(clip, tokenize, classes, encoder, cfg, frames, gen):
    return VideoCoOp(encoder=encoder, logit_scale=_scale(clip), prompts=_context(clip, tokenize, classes, cfg, gen),
                     pool=TemporalPool(kind=cfg.pooling, dim=encoder.embed_dim))  # fmt: skip


def _dual_coop(clip, tokenize, classes, encoder, cfg, frames, gen):
    return DualCoOp(encoder=encoder, logit_scale=_scale(clip), prompts=_context(clip, tokenize, classes, cfg, gen),
                    pool=TemporalPool(kind=cfg.pooling, dim=encoder.embed_dim), n_visual=cfg.visual_prompts,
                    generator=gen)  # fmt: skip


def _stt(clip, tokenize, classes, encoder, cfg, frames, gen):
    text = template_features(clip, tokenize, classes, cfg.template)
    return Stt(encoder=encoder, logit_scale=_scale(clip), text=text, frames=frames, cfg=cfg)


def _scale(clip: nn.Module) -> float:
    return float(clip.logit_scale.detach().exp().clamp(max=100.0))


METHODS: dict[str, Callable[..., PromptModel]] = {
    "zero_shot": _zero_shot,
    "video_coop": _video_coop,
    "dual_coop": _dual_coop,
    "stt": _stt,
}


def build_method(*, cfg: MethodConfig, clip: nn.Module, tokenize: Callable, classes: Sequence[str],
                 encoder: SplitImageEncoder, frames: int, seed: int) -> PromptModel:  # fmt: skip
    """The method ``cfg.method`` over the frozen ``clip``; its learned parameters start from ``seed``."""
    try:
        make = METHODS[cfg.method]
    except KeyError:
        raise ValueError(f"prompt method {cfg.method!r}: expected one of {', '.join(METHODS)}") from None
    gen = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))  # the few modules that initialise from the global generator (attention pool, STT)
    return make(clip, tokenize, list(classes), encoder, cfg, frames, gen)
