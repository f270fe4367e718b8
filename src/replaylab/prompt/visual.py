"""A frozen open_clip image transformer split in two, so its first blocks run once per frame.

:class:`SplitImageEncoder` wraps an open_clip ``VisionTransformer`` (the ``visual`` tower of a ``CLIP``):

* :meth:`~SplitImageEncoder.prefix`: patch embedding, class token, positional embedding, ``ln_pre`` and the
  blocks before ``split``: frozen and prompt-free, so prompt tuning computes it once per frame and caches it;
* :meth:`~SplitImageEncoder.suffix`: the blocks from ``split`` on, with optional learnable prompt tokens inserted
  right after the class token (visual prompt tuning; ``split = 0`` inserts them at the input), then the
  tower's own pooling, ``ln_post`` and projection. The prompt tokens are dropped before pooling.

Without prompts, ``suffix(prefix(x))`` equals ``visual(x)`` (tested).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SplitImageEncoder", "resolve_split"]


def resolve_split(split: int, layers: int) -> int:
    """``split`` as a block index in ``0..layers`` (negative: counted from the end, -1 = the last block)."""
    s = split + layers if split < 0 else split
    if not 0 <= s <= layers:
        raise ValueError(f"visual_prompt_layer {split} is outside the image transformer's {layers} blocks "
                         f"(0..{layers}, or -{layers}..-1 from the end)")  # fmt: skip
    return s


class SplitImageEncoder:
    """The frozen image tower of an open_clip CLIP, run as prefix (cacheable) + suffix (with prompts)."""

    def __init__(self, visual: nn.Module, *, split: int):
        needed = ("conv1", "class_embedding", "positional_embedding", "transformer", "ln_post", "_embeds", "_pool")
        missing = [a for a in needed if not hasattr(visual, a)]
        if missing:
            raise TypeError(f"the image tower ({type(visual).__name__}) is not an open_clip VisionTransformer "
                            f"(no {', '.join(missing)}); prompt tuning needs a ViT CLIP")  # fmt: skip
        self.visual = visual
        self.blocks = list(visual.transformer.resblocks)
        self.split = resolve_split(split, len(self.blocks))
        self.batch_first = bool(getattr(visual.transformer, "batch_first", True))
        self.width = int(visual.class_embedding.shape[-1])
        self.grid = int(round((visual.positional_embedding.shape[0] - 1) ** 0.5))
        size = visual.image_size
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.embed_dim = int(visual.proj.shape[1]) if visual.proj is not None else self.width

    def _run(self, x: torch.Tensor, blocks: list[nn.Module]) -> torch.Tensor:
        if not blocks:
            return x
        if not self.batch_first:
            x = x.transpose(0, 1)
        for b in blocks:
            x = b(x)
        return x.transpose(0, 1) if not self.batch_first else x

    def prefix(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) normalised images -> (N, 1 + grid², width) tokens entering block ``split``."""
        return self._run(self.visual._embeds(images), self.blocks[: self.split])

    def suffix(self, tokens: torch.Tensor, prompts: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens from :meth:`prefix` (N, L, width), optional prompt tokens (P, width) or (N, P, width) ->
        (pooled embeddings (N, embed_dim), patch tokens through ``ln_post`` and the projection (N, grid², embed_dim))."""
        n_prompts = 0
        if prompts is not None:
            p = prompts.expand(tokens.shape[0], -1, -1) if prompts.dim() == 2 else prompts
            n_prompts = p.shape[1]
            tokens = torch.cat([tokens[:, :1], p.to(tokens.dtype), tokens[:, 1:]], dim=1)
        x = self._run(tokens, self.blocks[self.split :])
        if n_prompts:
            x = torch.cat([x[:, :1], x[:, 1 + n_prompts :]], dim=1)
        pooled, patches = self.visual._pool(x)
        if self.visual.proj is not None:
            pooled = pooled @ self.visual.proj
            patches = patches @ self.visual.proj
        return pooled, patches
