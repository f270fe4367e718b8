"""VideoMAE-v2-style ViT video encoder.

Tubelets of ``tubelet_size`` x ``patch_size`` x ``patch_size`` (Conv3d, ``patch_embed.proj``) become
tokens; position embeddings are the fixed sinusoidal table of VideoMAE (not saved) or learned
(``pos_embed``); timm ``Block`` transformer layers whose attention, as in VideoMAE, has a bias-free ``qkv``
projection plus separate ``q_bias`` and ``v_bias`` (the key bias is zero). ``forward`` returns the patch
tokens on their grid, (B, D, T/tubelet, H/patch, W/patch) (strides (tubelet, patch, patch), exact: the input
check asks for multiples). Two layouts (``pool``):

* ``mean`` (VideoMAE's default): no class token, no norm on the tokens; the pooled features are ``fc_norm``
  of the token mean. A LayerNorm does not commute with the mean, so ``fc_norm`` stays a backbone module
  (checkpoint key ``fc_norm.*``) that the backbone declares as its ``post_pool_norm`` and the pooling head
  applies after pooling: global pooling + linear is the function VideoMAE's classifier computes;
* ``cls``: a class token joins the attention and ``norm`` normalises every token; the map holds the normalised
  patch tokens (the class token is dropped), so the pooled features are their mean.

Parameter names follow the released VideoMAE-v2 fine-tuning checkpoints (``patch_embed.proj.weight``,
``blocks.N.attn.qkv.weight``, ``blocks.N.attn.q_bias`` / ``v_bias``, ``blocks.N.mlp.fc1.weight``,
``fc_norm.weight``, ``norm.weight``); layer-scale ``gamma_1`` / ``gamma_2`` map to timm's ``ls1.gamma`` /
``ls2.gamma`` and position embeddings of another token grid are regenerated or resampled at load time
(:meth:`VideoMAEEncoder.adapt_checkpoint`). Input normalisation: ``videomae`` (mean = std = 0.5).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn

from .parts import BlockGroup
from .registry import BackboneSpec, Size, input_constraints, register

__all__ = [
    "VIDEOMAE_SIZES",
    "SplitBiasAttention",
    "TubeletEmbed",
    "VideoMAEEncoder",
    "VideoMAESize",
    "create_videomae",
    "infer_grid",
    "resample_grid",
    "sinusoid_table",
]


@dataclass(frozen=True)
class VideoMAESize:
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float = 4.0
    patch_size: int = 16


VIDEOMAE_SIZES: dict[str, VideoMAESize] = {
    "tiny": VideoMAESize(192, 4, 3),
    "small": VideoMAESize(384, 12, 6),
    "base": VideoMAESize(768, 12, 12),
    "large": VideoMAESize(1024, 24, 16),
    "giant": VideoMAESize(1408, 40, 16, mlp_ratio=48 / 11, patch_size=14),
}


class SplitBiasAttention(nn.Module):
    """Multi-head self-attention with VideoMAE's biases: ``qkv`` has no bias of its own; learnable
    ``q_bias`` and ``v_bias`` (and a zero key bias) are added. Takes timm ``Block``'s ``attn_layer`` arguments."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        qk_norm: bool = False,
        proj_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        **_: object,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed dim {dim} is not divisible by {num_heads} heads")
        if qk_norm:
            raise ValueError("SplitBiasAttention has no q/k normalisation")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = self.v_bias = None
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, is_causal: bool = False) -> torch.Tensor:
        b, n, c = x.shape
        bias = None
        if self.q_bias is not None and self.v_bias is not None:
            bias = torch.cat((self.q_bias, torch.zeros_like(self.q_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.attn_drop if self.training else 0.0, is_causal=is_causal
        )
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, n, c)))


class TubeletEmbed(nn.Module):
    """(B, C, T, H, W) -> (B, N, D) tokens, N = T/t * H/p * W/p (``proj``: Conv3d kernel = stride = (t, p, p))."""

    def __init__(self, *, embed_dim: int, patch_size: int, tubelet_size: int, in_chans: int = 3) -> None:
        super().__init__()
        k = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


def sinusoid_table(n_positions: int, dim: int) -> torch.Tensor:
    """VideoMAE's fixed position table (1, n, dim): angle ``pos / 10000 ** (2 * (j // 2) / dim)``, sine on
    even channels, cosine on odd ones (computed in float64, returned as float32)."""
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    table = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float().unsqueeze(0)


class VideoMAEEncoder(nn.Module):
    """ViT encoder over tubelet tokens of a ``frames`` x ``size`` clip; ``forward`` -> map (B, ``feature_dim``,
    *``grid``)."""

    feature_pool = "mean"

    def __init__(
        self,
        *,
        frames: int,
        size: Size,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        patch_size: int = 16,
        tubelet_size: int = 2,
        pos_embed: Literal["sinusoidal", "learned"] = "sinusoidal",
        pool: Literal["mean", "cls"] = "mean",
        drop_path: float = 0.0,
        init_values: float = 0.0,
        qkv_bias: bool = True,
    ) -> None:
        super().__init__()
        h, w = size
        if frames % tubelet_size or h % patch_size or w % patch_size:
            raise ValueError(
                f"clip {frames}x{h}x{w} does not split into {tubelet_size}x{patch_size}x{patch_size} tubelets "
                f"(frames must be a multiple of {tubelet_size}, size multiples of {patch_size})"
            )
        if pos_embed not in ("sinusoidal", "learned"):
            raise ValueError(f"pos_embed must be 'sinusoidal' or 'learned', got {pos_embed!r}")
        if pool not in ("mean", "cls"):
            raise ValueError(f"pool must be 'mean' or 'cls', got {pool!r}")
        self.frames, self.size = frames, (h, w)
        self.grid = (frames // tubelet_size, h // patch_size, w // patch_size)
        self.feature_strides = (tubelet_size, patch_size, patch_size)
        self.num_tokens = math.prod(self.grid)
        self.pos_embed_kind, self.pool = pos_embed, pool
        self.feature_dim: int = embed_dim
        self.patch_embed = TubeletEmbed(embed_dim=embed_dim, patch_size=patch_size, tubelet_size=tubelet_size)
        if pool == "cls":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, self.num_tokens, embed_dim))
        else:
            self.register_buffer("pos_embed", sinusoid_table(self.num_tokens, embed_dim), persistent=False)
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        rates = [drop_path * i / (depth - 1) for i in range(depth)] if depth > 1 else [drop_path]  # stochastic depth rule
        self.blocks = nn.ModuleList(  # registered as ``blocks``; attribute lookup finds the method below
            Block(
                embed_dim,
                num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                init_values=init_values or None,
                drop_path=rates[i],
                norm_layer=norm_layer,
                attn_layer=SplitBiasAttention,
            )
            for i in range(depth)
        )
        if pool == "mean":
            self.norm: nn.Module = nn.Identity()
            self.fc_norm: nn.Module | None = norm_layer(embed_dim)
        else:
            self.norm = norm_layer(embed_dim)
            self.fc_norm = None
        self._init_weights()

    @property
    def layers(self) -> nn.ModuleList:
        return self._modules["blocks"]  # type: ignore[return-value]

    @property
    def post_pool_norm(self) -> nn.Module | None:
        """``fc_norm`` (``pool="mean"``), applied by the pooling head to the pooled tokens; None for ``cls``."""
        return self.fc_norm

    def feature_grid(self, frames: int, size: Size) -> tuple[int, int, int]:
        t, p, _ = self.feature_strides
        return (frames // t, size[0] // p, size[1] // p)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if isinstance(self.pos_embed, nn.Parameter):
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if self.pool == "cls":
            nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != (self.frames, *self.size):
            raise ValueError(f"encoder built for {self.frames}x{self.size[0]}x{self.size[1]} clips, got {tuple(x.shape[2:])}")
        x = self.patch_embed(x) + self.pos_embed.to(x.dtype)
        if self.pool == "cls":
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x), dim=1)
        for block in self.layers:
            x = block(x)
        x = self.norm(x)  # per token (identity in the ``mean`` layout)
        if self.pool == "cls":
            x = x[:, 1:]
        return x.transpose(1, 2).unflatten(2, self.grid)  # tokens are in (t, h, w) order

    def blocks(self) -> list[nn.Module]:  # type: ignore[override]
        loose = {n: p for n, p in self.named_parameters(recurse=False)}  # pos_embed (learned), cls_token
        layers = list(self.layers)
        tail = [m for m in (self.norm, self.fc_norm) if m is not None]
        return [BlockGroup(self.patch_embed, params=loose), *layers[:-1], BlockGroup(layers[-1], *tail)]

    # ------------------------------------------------------------------ checkpoints
    def adapt_checkpoint(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Bring a VideoMAE / timm-layout state dict (keys relative to the encoder) to this model's layout:
        ``gamma_1/2`` -> ``ls1/2.gamma``; a timm ``qkv.bias`` -> ``q_bias`` / ``v_bias``; ``pos_embed``
        regenerated (sinusoidal) or resampled trilinearly over the token grid (learned)."""
        messages: list[str] = []
        renamed = 0
        for key in list(state):
            for old, new in ((".gamma_1", ".ls1.gamma"), (".gamma_2", ".ls2.gamma")):
                if key.endswith(old):
                    state[key[: -len(old)] + new] = state.pop(key)
                    renamed += 1
            if key.endswith(".attn.qkv.bias") and key in state:
                q, _, v = state.pop(key).chunk(3)
                stem = key[: -len("qkv.bias")]
                state.setdefault(stem + "q_bias", q)
                state.setdefault(stem + "v_bias", v)
                renamed += 1
        if renamed:
            messages.append(f"mapped {renamed} layer-scale / qkv-bias tensors to this layout")
        if "pos_embed" in state:
            messages.extend(self._adapt_pos_embed(state))
        return messages

    def _adapt_pos_embed(self, state: dict[str, torch.Tensor]) -> list[str]:
        pos = state["pos_embed"]
        if not isinstance(self.pos_embed, nn.Parameter):
            state.pop("pos_embed")
            if (
                pos.ndim == 3
                and pos.shape[-1] == self.feature_dim
                and torch.allclose(pos.float(), sinusoid_table(pos.shape[1], self.feature_dim), atol=1e-4)
            ):
                return []  # the same fixed table, regenerated for this grid
            note = (f"checkpoint pos_embed {tuple(pos.shape)} ignored: this encoder uses fixed sinusoidal positions "
                    "(backbone option pos_embed='learned' keeps a learned one)")  # fmt: skip
            return [note]
        want = tuple(self.pos_embed.shape)
        if tuple(pos.shape) == want:
            return []
        if pos.ndim != 3 or pos.shape[-1] != want[-1]:
            return []  # left for the loader to report as a shape mismatch
        tokens = pos[:, -self.num_tokens :] if pos.shape[1] == self.num_tokens + 1 else pos
        if tokens.shape[1] != self.num_tokens:
            src = infer_grid(tokens.shape[1], self.grid)
            if src is None:
                return []
            tokens = resample_grid(tokens, src, self.grid)
            msg = f"pos_embed resampled from a {src[0]}x{src[1]}x{src[2]} to a {self.grid[0]}x{self.grid[1]}x{self.grid[2]} token grid"
        else:
            msg = "dropped the class-token position of the checkpoint's pos_embed"
        state["pos_embed"] = tokens.contiguous()
        return [msg]


def infer_grid(n: int, target: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """The (t, h, w) token grid of a checkpoint's ``n`` positions, guessed from the target grid: the target's
    frame grid with another length, or square frames; a guess whose length is the target's or a usual one
    (1, 2, 4, 8, 16 tubelets) wins, the target's frame grid first (16x224x224 = 8x14x14 = 1568 positions
    read as 8x14x14, not as 98x4x4 for a 4x4 target)."""
    t, h, w = target
    guesses: list[tuple[int, int, int]] = []
    if n % (h * w) == 0:
        guesses.append((n // (h * w), h, w))
    for length in dict.fromkeys((t, 8, 16, 4, 2, 1)):
        side = math.isqrt(n // length) if n % length == 0 else 0
        if side and side * side * length == n:
            guesses.append((length, side, side))
    usual = {t, 1, 2, 4, 8, 16}
    return next((g for g in guesses if g[0] in usual), guesses[0] if guesses else None)


def resample_grid(tokens: torch.Tensor, src: tuple[int, int, int], dst: tuple[int, int, int]) -> torch.Tensor:
    """(1, t*h*w, D) embeddings on grid ``src`` -> (1, t'*h'*w', D) on ``dst`` (trilinear)."""
    d = tokens.shape[-1]
    grid = tokens.float().reshape(1, *src, d).permute(0, 4, 1, 2, 3)
    out = F.interpolate(grid, size=dst, mode="trilinear", align_corners=False)
    return out.permute(0, 2, 3, 4, 1).reshape(1, -1, d).to(tokens.dtype)


def create_videomae(
    variant: str,
    *,
    frames: int,
    size: Size,
    tubelet_size: int = 2,
    pos_embed: Literal["sinusoidal", "learned"] = "sinusoidal",
    pool: Literal["mean", "cls"] = "mean",
    drop_path: float = 0.0,
    init_values: float = 0.0,
) -> VideoMAEEncoder:
    """VideoMAE encoder of ``variant`` (``tiny``, ``small``, ``base``, ``large``, ``giant``)."""
    if variant not in VIDEOMAE_SIZES:
        raise ValueError(f"unknown VideoMAE size {variant!r}; known: {', '.join(VIDEOMAE_SIZES)}")
    s = VIDEOMAE_SIZES[variant]
    return VideoMAEEncoder(
        frames=frames,
        size=size,
        embed_dim=s.embed_dim,
        depth=s.depth,
        num_heads=s.num_heads,
        mlp_ratio=s.mlp_ratio,
        patch_size=s.patch_size,
        tubelet_size=tubelet_size,
        pos_embed=pos_embed,
        pool=pool,
        drop_path=drop_path,
        init_values=init_values,
    )


def _builder(variant: str) -> Callable[..., nn.Module]:
    def build(
        *,
        frames: int,
        size: Size,
        tubelet_size: int = 2,
        pos_embed: Literal["sinusoidal", "learned"] = "sinusoidal",
        pool: Literal["mean", "cls"] = "mean",
        drop_path: float = 0.0,
        init_values: float = 0.0,
    ) -> nn.Module:
        return create_videomae(
            variant, frames=frames, size=size, tubelet_size=tubelet_size, pos_embed=pos_embed, pool=pool,
            drop_path=drop_path, init_values=init_values,
        )  # fmt: skip

    build.__name__ = f"build_videomae_{variant}"
    return build


_DESCRIPTIONS = {
    "tiny": "VideoMAE-style ViT-Ti (192-d, 4 blocks, 3 heads) for tests and CPUs; no released weights",
    "small": "VideoMAE-v2 ViT-S (384-d, 12 blocks, 6 heads), 22M params",
    "base": "VideoMAE-v2 ViT-B (768-d, 12 blocks, 12 heads), 86M params",
    "large": "VideoMAE-v2 ViT-L (1024-d, 24 blocks, 16 heads), 304M params",
    "giant": "VideoMAE-v2 ViT-g/14 (1408-d, 40 blocks, 16 heads, mlp 48/11, 14-pixel patches), 1.0B params",
}

for _variant, _size in VIDEOMAE_SIZES.items():
    _p = _size.patch_size
    register(
        BackboneSpec(
            name=f"videomae_{_variant}",
            builder=_builder(_variant),
            norm="videomae",
            check=input_constraints(min_frames=2, min_size=_p, frame_multiple=2, size_multiple=_p),
            description=_DESCRIPTIONS[_variant],
            default_input=(16, (224, 224)) if _variant != "tiny" else (16, (64, 64)),
            smallest_input=(2, (_p, _p)),
            heavy=_variant in ("large", "giant"),
        )
    )
