"""Fusion heads over [student, converted_1 .. converted_K] pooled features -> class logits (TC-BombKD).

Every head takes the student's pooled vector (B, Ds) and the K converted teacher vectors [(B, D_1) ..
(B, D_K)] (in the order of ``teacher_dims``); ``forward`` returns logits (B, C) and
``forward_with_weights`` returns (logits, weights): the per-source weights (B, K + 1) (source 0 = the student,
each row sums to 1) for ``gated`` / ``attention``, None for ``concat``. Kinds (the registry :data:`FUSIONS`,
built by :func:`build_fusion`):

* ``concat`` (:class:`ConcatFusion`): concatenate (B, Ds + sum D_k) -> Linear(hidden) -> GELU -> Dropout ->
  Linear(C);
* ``gated`` (:class:`GatedFusion`): per source LayerNorm(D_k) -> Linear(D_k, width); softmax gates over the
  K + 1 sources from the student alone (Linear(Ds, gate_hidden) -> GELU -> Linear(gate_hidden, K + 1));
  weighted sum of the projections -> LayerNorm(width) -> Dropout -> Linear(width, C);
* ``attention`` (:class:`AttentionFusion`): the same per-source projections; one query from the student
  (Linear(Ds, width)), one key per source (a shared Linear(width, width) of its projection), softmax over the
  sources of q . k_k / sqrt(width); weighted sum of the projections -> LayerNorm -> Dropout -> Linear(C).
  Gates depend on the student only; attention weights also depend on what each converter produced.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "FUSIONS",
    "AttentionFusion",
    "ConcatFusion",
    "FusionHead",
    "FusionSpec",
    "GatedFusion",
    "build_fusion",
]


class FusionHead(nn.Module, ABC):
    """Base of the fusion heads; shared input checks: ``student_dim`` Ds, ``teacher_dims`` (D_1 .. D_K), ``num_classes`` C."""

    def __init__(self, *, student_dim: int, teacher_dims: Sequence[int], num_classes: int) -> None:
        super().__init__()
        dims = [student_dim, *teacher_dims]
        if min(dims) < 1 or num_classes < 1:  # no teachers: a head over the student alone (the reference row)
            raise ValueError(
                f"fusion head needs positive sizes, got student_dim={student_dim}, "
                f"teacher_dims={list(teacher_dims)}, num_classes={num_classes}"
            )
        self.source_dims: tuple[int, ...] = tuple(dims)
        self.num_classes = num_classes

    def _sources(self, student: torch.Tensor, converted: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        sources = [student, *converted]
        if len(sources) != len(self.source_dims):
            raise ValueError(f"expected {len(self.source_dims) - 1} converted teacher features, got {len(converted)}")
        for i, (x, d) in enumerate(zip(sources, self.source_dims)):
            if x.ndim != 2 or x.shape[1] != d or x.shape[0] != student.shape[0]:
                name = "student" if i == 0 else f"converted[{i - 1}]"
                raise ValueError(f"{name}: expected shape ({student.shape[0]}, {d}), got {tuple(x.shape)}")
        return sources

    @abstractmethod
    def forward_with_weights(
        self, student: torch.Tensor, converted: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, Ds), [(B, D_k)] -> (logits (B, C), source weights (B, K + 1) or None)."""

    def forward(self, student: torch.Tensor, converted: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, Ds), [(B, D_k)] -> logits (B, C)."""
        return self.forward_with_weights(student, converted)[0]


class ConcatFusion(FusionHead):
    """[(B, Ds), (B, D_1) .. (B, D_K)] -> concatenation -> Linear(hidden) -> GELU -> Dropout -> Linear(C)."""

    def __init__(
        self, *, student_dim: int, teacher_dims: Sequence[int], num_classes: int, hidden: int = 256, dropout: float = 0.0
    ) -> None:
        super().__init__(student_dim=student_dim, teacher_dims=teacher_dims, num_classes=num_classes)
        self.mlp = nn.Sequential(
            nn.Linear(sum(self.source_dims), hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
        )

    def forward_with_weights(
        self, student: torch.Tensor, converted: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> (logits (B, C), None): concatenation has no source weights."""
        return self.mlp(torch.cat(self._sources(student, converted), dim=1)), None


class _WeightedFusion(FusionHead):
    """Per-source LayerNorm -> Linear(D_k, width); a weighted sum over sources -> LayerNorm -> Dropout -> Linear(C)."""

    def __init__(
        self, *, student_dim: int, teacher_dims: Sequence[int], num_classes: int, width: int = 256, dropout: float = 0.0
    ) -> None:
        super().__init__(student_dim=student_dim, teacher_dims=teacher_dims, num_classes=num_classes)
        self.width = width
        self.proj = nn.ModuleList(nn.Sequential(nn.LayerNorm(d), nn.Linear(d, width)) for d in self.source_dims)
        self.norm = nn.LayerNorm(width)
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Linear(width, num_classes)

    @abstractmethod
    def _weights(self, student: torch.Tensor, projected: torch.Tensor) -> torch.Tensor:
        """(B, Ds), projected sources (B, K + 1, width) -> weights (B, K + 1), rows summing to 1."""

    def forward_with_weights(self, student: torch.Tensor, converted: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (logits (B, C), source weights (B, K + 1), rows summing to 1, source 0 = the student)."""
        sources = self._sources(student, converted)
        projected = torch.stack([p(x) for p, x in zip(self.proj, sources)], dim=1)  # (B, K + 1, width)
        weights = self._weights(student, projected)
        fused = (weights.unsqueeze(-1) * projected).sum(dim=1)
        return self.classifier(self.drop(self.norm(fused))), weights


class GatedFusion(_WeightedFusion):
    """Softmax gates over the K + 1 sources from the student: Linear(Ds, gate_hidden) -> GELU ->
    Linear(gate_hidden, K + 1) -> softmax; see :class:`_WeightedFusion` for the rest."""

    def __init__(
        self,
        *,
        student_dim: int,
        teacher_dims: Sequence[int],
        num_classes: int,
        width: int = 256,
        gate_hidden: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            student_dim=student_dim, teacher_dims=teacher_dims, num_classes=num_classes, width=width, dropout=dropout
        )
        self.gate = nn.Sequential(nn.Linear(student_dim, gate_hidden), nn.GELU(), nn.Linear(gate_hidden, len(self.source_dims)))

    def _weights(self, student: torch.Tensor, projected: torch.Tensor) -> torch.Tensor:
        return self.gate(student).softmax(dim=1)


class AttentionFusion(_WeightedFusion):
    """Single-head attention over the K + 1 projected sources with the student as the query:
    softmax_k(Linear_q(student) . Linear_k(proj_k) / sqrt(width)); see :class:`_WeightedFusion` for the rest."""

    def __init__(
        self, *, student_dim: int, teacher_dims: Sequence[int], num_classes: int, width: int = 256, dropout: float = 0.0
    ) -> None:
        super().__init__(
            student_dim=student_dim, teacher_dims=teacher_dims, num_classes=num_classes, width=width, dropout=dropout
        )
        self.query = nn.Linear(student_dim, width)
        self.key = nn.Linear(width, width)

    def _weights(self, student: torch.Tensor, projected: torch.Tensor) -> torch.Tensor:
        q = self.query(student).unsqueeze(1)  # (B, 1, width)
        scores = (q * self.key(projected)).sum(dim=-1) / math.sqrt(self.width)  # (B, K + 1)
        return scores.softmax(dim=1)


@dataclass(frozen=True)
class FusionSpec:
    """One fusion kind: ``builder(*, student_dim, teacher_dims, num_classes, **options)`` and a description."""

    name: str
    builder: Callable[..., FusionHead]
    description: str


FUSIONS: dict[str, FusionSpec] = {
    s.name: s
    for s in (
        FusionSpec("concat", ConcatFusion, "concatenate -> MLP -> classes"),
        FusionSpec("gated", GatedFusion, "per-source projection, softmax gates from the student, weighted sum -> classes"),
        FusionSpec("attention", AttentionFusion, "per-source projection, student-query attention over sources -> classes"),
    )
}


def build_fusion(kind: str, *, student_dim: int, teacher_dims: Sequence[int], num_classes: int, **options: object) -> FusionHead:
    """Build the fusion head ``kind`` (a key of :data:`FUSIONS`); ``options`` are the kind's own keyword
    arguments (``hidden``/``width``, ``gate_hidden``, ``dropout``); an unknown one raises ``TypeError``."""
    if kind not in FUSIONS:
        raise KeyError(f"unknown fusion kind {kind!r}; known: {sorted(FUSIONS)}")
    try:
        return FUSIONS[kind].builder(student_dim=student_dim, teacher_dims=teacher_dims, num_classes=num_classes, **options)
    except TypeError as e:
        raise TypeError(f"fusion {kind!r}: {e}") from e
