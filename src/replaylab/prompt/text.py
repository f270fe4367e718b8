"""The text side of prompt tuning: class names in words, fixed template prompts, and CoOp's learnable context.

:class:`ContextPrompts` (CoOp / Video-CoOp) puts ``ctx_len`` learnable vectors in front of each class name,
``[SOS] v_1 ... v_M <class words> . [EOS]``, and runs the sequence through CLIP's frozen text tower
(token embedding, positional embedding, transformer, ``ln_final``, the feature at the end-of-text token,
``text_projection``). The context is shared by all classes or one per class (``class_specific``), and starts
from the embeddings of ``ctx_init``'s words or from N(0, 0.02²). Only the context is a parameter of the module:
the CLIP is held by reference, so the module's ``state_dict`` is the learned prompt alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from open_clip.transformer import text_global_pool
from torch import nn

__all__ = ["ContextPrompts", "class_words", "template_features"]

PLACEHOLDER = "x"  # one BPE token; its embeddings are replaced by the context vectors


def class_words(name: str) -> str:
    """A class name as words: ``ChestControl`` -> ``chest control``, ``throw_in`` -> ``throw in``,
    ``ApplyEyeMakeup`` -> ``apply eye makeup``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name.replace("_", " ").replace("-", " "))
    return " ".join(spaced.lower().split())


def _tokens(tokenize: Callable, texts: Sequence[str], context_length: int) -> torch.Tensor:
    tok = tokenize(list(texts))
    # the end-of-text token has the highest id; a prompt cut at the context length loses its class words
    lengths = (tok != 0).sum(dim=1)
    too_long = [t for t, n in zip(texts, lengths.tolist()) if n >= context_length]
    if too_long:
        raise ValueError(f"prompt {too_long[0]!r} does not fit CLIP's {context_length} text tokens")
    return tok


def _encode(clip: nn.Module, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Token embeddings (C, L, width) -> L2-normalised text features (C, D), CLIP's text tower after the lookup."""
    x = x + clip.positional_embedding.to(x.dtype)
    x = clip.transformer(x, attn_mask=clip.attn_mask)
    x = clip.ln_final(x)
    x = text_global_pool(x, tokens, clip.text_pool_type, eos_token_id=getattr(clip, "text_eos_id", None))
    proj = clip.text_projection
    if proj is not None:
        x = proj(x) if isinstance(proj, nn.Linear) else x @ proj
    return F.normalize(x, dim=-1)


@torch.no_grad()
def template_features(clip: nn.Module, tokenize: Callable, classes: Sequence[str], template: str) -> torch.Tensor:
    """Normalised text features (C, D) of ``template.format(<class words>)`` (zero-shot CLIP)."""
    texts = [template.format(class_words(c)) for c in classes]
    tokens = _tokens(tokenize, texts, clip.positional_embedding.shape[0])
    return _encode(clip, clip.token_embedding(tokens), tokens)


class ContextPrompts(nn.Module):
    """Learnable text context (CoOp) in front of every class name; ``forward()`` -> text features (C, D)."""

    def __init__(self, *, clip: nn.Module, tokenize: Callable, classes: Sequence[str], ctx_len: int,
                 class_specific: bool, ctx_init: str | None, generator: torch.Generator):  # fmt: skip
        super().__init__()
        self._clip = (clip,)  # a tuple: the frozen CLIP is not a submodule (its weights are not the prompt's)
        n_ctx_tokens = clip.positional_embedding.shape[0]
        texts = [" ".join([PLACEHOLDER] * ctx_len + [class_words(c)]) + "." for c in classes]
        tokens = _tokens(tokenize, texts, n_ctx_tokens)
        with torch.no_grad():
            emb = clip.token_embedding(tokens)
        self.register_buffer("tokens", tokens, persistent=False)
        self.register_buffer("prefix", emb[:, :1].clone(), persistent=False)
        self.register_buffer("suffix", emb[:, 1 + ctx_len :].clone(), persistent=False)
        width = emb.shape[-1]
        if ctx_init is not None:
            init_tok = _tokens(tokenize, [ctx_init], n_ctx_tokens)
            n_words = int((init_tok[0] != 0).sum()) - 2
            if n_words != ctx_len:
                raise ValueError(f"ctx_init {ctx_init!r} is {n_words} text tokens, ctx_len is {ctx_len}")
            with torch.no_grad():
                init = clip.token_embedding(init_tok)[0, 1 : 1 + ctx_len].clone()
        else:
            init = torch.randn(ctx_len, width, generator=generator) * 0.02
        if class_specific:
            init = init.unsqueeze(0).repeat(len(classes), 1, 1)
        self.ctx = nn.Parameter(init.to(emb.dtype))
        self.class_specific = class_specific

    def forward(self) -> torch.Tensor:
        n = self.prefix.shape[0]
        ctx = self.ctx if self.class_specific else self.ctx.unsqueeze(0).expand(n, -1, -1)
        return _encode(self._clip[0], torch.cat([self.prefix, ctx, self.suffix], dim=1), self.tokens)
