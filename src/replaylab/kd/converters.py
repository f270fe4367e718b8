"""Converters: a frozen student's features -> one teacher's pooled feature vector (TC-BombKD).

Every converter takes either student pooled vectors (B, Ds) or student token / time sequences (B, T, Ds)
(with an optional boolean ``mask`` (B, T), True = a real token) and returns the teacher's pooled vector
(B, Dt). Kinds (the registry :data:`CONVERTERS`, built by :func:`build_converter`):

* ``linear`` (:class:`LinearConverter`): one affine map Ds -> Dt. A sequence is mean-pooled over its (masked)
  tokens first: an affine map commutes with the mean, so mapping each token and then pooling gives the same
  vector at T times the cost;
* ``mlp`` (:class:`MLPConverter`): masked token mean m, then skip(m) + [Linear -> GELU -> Dropout] x depth
  -> Linear(hidden, Dt) of m, where skip is an affine map Ds -> Dt;
* ``transformer`` (:class:`TemporalTransformerConverter`): a small temporal transformer over the tokens:
  Linear(Ds, width) + a learned position embedding (max_tokens, width) -> ``layers`` pre-norm encoder layers
  (``heads`` heads, feed-forward width * ffn_mult, GELU) -> LayerNorm -> masked mean over tokens ->
  Linear(width, Dt), plus skip(masked token mean of the input). A pooled (B, Ds) input is one token.

The nonlinear kinds add an affine skip path and zero-initialise their nonlinear branch's last layer, so
they start as (and can always fall back to) the ``linear`` converter and learn a correction on top (the
transformer's LayerNorms drop each token's norm, which a feature-space regression needs kept).

:class:`ConverterBank` holds one converter per teacher (a ``ModuleDict`` keyed by teacher name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "CONVERTERS",
    "ConverterBank",
    "ConverterSpec",
    "LinearConverter",
    "MLPConverter",
    "TemporalTransformerConverter",
    "build_converter",
    "masked_mean",
]


def _check_input(x: torch.Tensor, in_dim: int, mask: torch.Tensor | None) -> None:
    if x.ndim not in (2, 3) or x.shape[-1] != in_dim:
        raise ValueError(f"expected student features (B, {in_dim}) or (B, T, {in_dim}), got shape {tuple(x.shape)}")
    if mask is not None:
        if x.ndim != 3:
            raise ValueError("a token mask needs token features (B, T, Ds)")
        if mask.shape != x.shape[:2] or mask.dtype != torch.bool:
            raise ValueError(f"expected a bool mask of shape {tuple(x.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
        if not bool(mask.any(dim=1).all()):
            raise ValueError("every sample needs at least one unmasked token")


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T, D) -> (B, D): mean over the tokens where ``mask`` (B, T) is True (all tokens when None)."""
    if mask is None:
        return x.mean(dim=1)
    w = mask.to(x.dtype).unsqueeze(-1)
    return (x * w).sum(dim=1) / w.sum(dim=1)


def _pooled(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return x if x.ndim == 2 else masked_mean(x, mask)


class LinearConverter(nn.Module):
    """(B, Ds) or (B, T, Ds) -> (B, Dt): masked token mean (sequences), then one affine map Ds -> Dt."""

    def __init__(self, *, in_dim: int, out_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.proj = nn.Linear(in_dim, out_dim, bias=bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_input(x, self.in_dim, mask)
        return self.proj(_pooled(x, mask))


class MLPConverter(nn.Module):
    """(B, Ds) or (B, T, Ds) -> (B, Dt): masked token mean m -> skip(m) + net(m), with skip an affine map
    Ds -> Dt and net = [Linear -> GELU -> Dropout] x ``depth`` (width ``hidden``) -> Linear(hidden, Dt)
    (zero-initialised, so the converter starts linear)."""

    def __init__(self, *, in_dim: int, out_dim: int, hidden: int = 256, depth: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"mlp converter: depth must be >= 1, got {depth}")
        self.in_dim, self.out_dim = in_dim, out_dim
        self.skip = nn.Linear(in_dim, out_dim)
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout)]
            width = hidden
        last = nn.Linear(width, out_dim)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_input(x, self.in_dim, mask)
        m = _pooled(x, mask)
        return self.skip(m) + self.net(m)


class TemporalTransformerConverter(nn.Module):
    """(B, T, Ds) (or (B, Ds) as T = 1) -> (B, Dt): Linear(Ds, width) + learned position embedding
    (``max_tokens``, width) -> ``layers`` pre-norm ``nn.TransformerEncoderLayer`` (``heads`` heads, feed-forward
    width * ``ffn_mult``, GELU, ``dropout``; padded tokens masked from attention) -> LayerNorm(width) -> masked
    mean over tokens -> Linear(width, Dt) (zero-initialised), plus an affine skip Ds -> Dt of the input's masked
    token mean (the converter starts linear)."""

    def __init__(
        self,
        *,
        in_dim: int,
        out_dim: int,
        width: int = 128,
        heads: int = 4,
        layers: int = 2,
        ffn_mult: int = 2,
        max_tokens: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"transformer converter: width {width} is not divisible by heads {heads}")
        if layers < 1 or max_tokens < 1:
            raise ValueError(f"transformer converter: layers and max_tokens must be >= 1, got {layers}, {max_tokens}")
        self.in_dim, self.out_dim, self.max_tokens = in_dim, out_dim, max_tokens
        self.embed = nn.Linear(in_dim, width)
        self.pos = nn.Parameter(torch.zeros(max_tokens, width))
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d_model=width,
            nhead=heads,
            dim_feedforward=width * ffn_mult,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, out_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.skip = nn.Linear(in_dim, out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_input(x, self.in_dim, mask)
        if x.ndim == 2:
            x = x.unsqueeze(1)
        if x.shape[1] > self.max_tokens:
            raise ValueError(f"transformer converter: {x.shape[1]} tokens exceed max_tokens={self.max_tokens}")
        h = self.embed(x) + self.pos[: x.shape[1]]
        h = self.encoder(h, src_key_padding_mask=None if mask is None else ~mask)
        return self.skip(masked_mean(x, mask)) + self.out(masked_mean(self.norm(h), mask))


@dataclass(frozen=True)
class ConverterSpec:
    """One converter kind: ``builder(*, in_dim, out_dim, **options) -> nn.Module`` and a one-line description."""

    name: str
    builder: Callable[..., nn.Module]
    description: str


CONVERTERS: dict[str, ConverterSpec] = {
    s.name: s
    for s in (
        ConverterSpec("linear", LinearConverter, "token mean -> one affine map"),
        ConverterSpec("mlp", MLPConverter, "token mean -> affine skip + GELU MLP"),
        ConverterSpec(
            "transformer", TemporalTransformerConverter, "pre-norm temporal transformer -> token mean -> linear, + affine skip"
        ),
    )
}


def build_converter(kind: str, *, in_dim: int, out_dim: int, **options: object) -> nn.Module:
    """Build the converter ``kind`` (a key of :data:`CONVERTERS`) from Ds = ``in_dim`` to Dt = ``out_dim``;
    ``options`` are the kind's own keyword arguments (an unknown one raises ``TypeError`` naming it)."""
    if kind not in CONVERTERS:
        raise KeyError(f"unknown converter kind {kind!r}; known: {sorted(CONVERTERS)}")
    if in_dim < 1 or out_dim < 1:
        raise ValueError(f"converter {kind!r}: in_dim and out_dim must be >= 1, got {in_dim}, {out_dim}")
    try:
        return CONVERTERS[kind].builder(in_dim=in_dim, out_dim=out_dim, **options)
    except TypeError as e:
        raise TypeError(f"converter {kind!r}: {e}") from e


class ConverterBank(nn.Module):
    """One converter per teacher: ``forward(x, mask)`` -> {teacher name: (B, Dt_teacher)} in the order of
    ``teacher_dims``."""

    def __init__(self, *, kind: str, in_dim: int, teacher_dims: Mapping[str, int], **options: object) -> None:
        super().__init__()
        if not teacher_dims:
            raise ValueError("converter bank: no teachers")
        self.converters = nn.ModuleDict(
            {name: build_converter(kind, in_dim=in_dim, out_dim=dim, **options) for name, dim in teacher_dims.items()}
        )

    @property
    def teachers(self) -> list[str]:
        """The teacher names, in order."""
        return list(self.converters.keys())

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """(B, Ds) or (B, T, Ds) (+ mask (B, T)) -> {teacher: (B, Dt_teacher)}."""
        return {name: conv(x, mask) for name, conv in self.converters.items()}
