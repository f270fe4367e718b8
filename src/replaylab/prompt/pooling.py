"""Frame features over time -> one video feature: ``mean`` or ``attention`` (a learned temporal attention pool).

The attention pool scores each frame feature with a small MLP (``dim -> dim/4 -> 1``), softmaxes the scores over
time and takes the weighted sum. Its last layer starts at zero, so before training it is exactly the mean.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TemporalPool"]


class TemporalPool(nn.Module):
    def __init__(self, *, kind: str, dim: int):
        super().__init__()
        if kind not in ("mean", "attention"):
            raise ValueError(f"temporal pooling {kind!r}: expected mean or attention")
        self.kind = kind
        if kind == "attention":
            hidden = max(dim // 4, 1)
            self.score = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 1))
            nn.init.zeros_(self.score[-1].weight)
            nn.init.zeros_(self.score[-1].bias)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) frame features -> (B, T) weights summing to 1 over time."""
        if self.kind == "mean":
            return torch.full(x.shape[:2], 1.0 / x.shape[1], dtype=x.dtype, device=x.device)
        return torch.softmax(self.score(x).squeeze(-1), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, D)."""
        return (self.weights(x).unsqueeze(-1) * x).sum(dim=1)
