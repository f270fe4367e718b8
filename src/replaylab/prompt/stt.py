"""STT: a small spatio-temporal transformer over the frozen image encoder's frame tokens.

Input: per frame, the class-token embedding and the patch tokens average-pooled to a ``grid x grid`` map, all
in CLIP's joint embedding space: (B, T, 1 + grid², D). Learned time and space position embeddings are added,
the B x T(1 + grid²) tokens go through ``layers`` ``torch.nn.TransformerEncoderLayer`` blocks, are averaged,
and a zero-initialised linear map adds the result to the mean of the frames' class embeddings. Before training
the output is therefore the mean-pooled CLIP video feature (zero-shot), and training learns a correction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SpatioTemporalTransformer", "grid_tokens"]


def grid_tokens(pooled: torch.Tensor, patches: torch.Tensor, grid: int) -> torch.Tensor:
    """Class embedding (N, D) and patch tokens (N, G², D) -> (N, 1 + grid², D), patches pooled to grid x grid."""
    n, g2, d = patches.shape
    g = int(round(g2**0.5))
    if g * g != g2:
        raise ValueError(f"{g2} patch tokens do not form a square grid")
    if grid > g:
        raise ValueError(f"stt.grid {grid} is larger than the encoder's {g} x {g} patch grid")
    maps = patches.transpose(1, 2).reshape(n, d, g, g)
    small = F.adaptive_avg_pool2d(maps, grid).flatten(2).transpose(1, 2)
    return torch.cat([pooled.unsqueeze(1), small], dim=1)


class SpatioTemporalTransformer(nn.Module):
    def __init__(self, *, dim: int, frames: int, tokens_per_frame: int, layers: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"stt.heads {heads} does not divide the CLIP embedding width {dim}")
        self.time = nn.Parameter(torch.zeros(frames, 1, dim))
        self.space = nn.Parameter(torch.zeros(1, tokens_per_frame, dim))
        nn.init.normal_(self.time, std=0.02)
        nn.init.normal_(self.space, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, batch_first=True,
                                           norm_first=True, activation="gelu")  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 1 + grid², D) -> (B, D) video feature (not normalised)."""
        b, t, n, d = x.shape
        if t > self.time.shape[0] or n != self.space.shape[1]:
            raise ValueError(f"STT built for <= {self.time.shape[0]} frames of {self.space.shape[1]} tokens, got {t} x {n}")
        base = x[:, :, 0].mean(dim=1)
        h = (x + self.time[:t] + self.space).reshape(b, t * n, d)
        h = self.norm(self.encoder(h)).mean(dim=1)
        return base + self.out(h)
