"""VideoMix for few-shot prompt tuning: mix each training clip with another clip of the batch.

* ``spatial``: a box of the patch grid (the same box in every frame) comes from the partner clip; the
  targets mix by the box's share of the patches. It acts on the tokens entering the split block; with the
  split at the input (block 0) that is exactly pasting the box's pixels (patches are embedded independently,
  and the class token and the position embeddings are the same for both clips).
* ``temporal``: a contiguous span of frames comes from the partner; targets mix by the span's share of the
  frames. Frames are encoded independently, so this equals mixing the decoded frames at any split.

The share ``lam`` is drawn from Beta(1, 1) (uniform), the partner is a random permutation of the batch.
"""

from __future__ import annotations

import torch

__all__ = ["videomix"]


def videomix(x: torch.Tensor, targets: torch.Tensor, *, kind: str, grid: int, generator: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``x``: (B, T, ...) clip inputs (``spatial`` needs tokens (B, T, 1 + grid², W)); ``targets``: (B, C) soft
    labels. Returns the mixed inputs and targets (new tensors)."""
    b, t = x.shape[:2]
    perm = torch.randperm(b, generator=generator)
    lam = float(torch.rand((), generator=generator))
    out = x.clone()
    if kind == "temporal":
        span = max(1, min(t - 1, round((1 - lam) * t))) if t > 1 else 0
        if span == 0:
            return out, targets.clone()
        start = int(torch.randint(0, t - span + 1, (), generator=generator))
        out[:, start : start + span] = x[perm, start : start + span]
        share = span / t
    elif kind == "spatial":
        if x.dim() != 4 or x.shape[2] != 1 + grid * grid:
            raise ValueError(f"spatial VideoMix needs patch tokens (B, T, 1 + {grid}², W), got {tuple(x.shape)}")
        side = (1 - lam) ** 0.5
        h = max(1, min(grid, round(side * grid)))
        w = max(1, min(grid, round(side * grid)))
        r0 = int(torch.randint(0, grid - h + 1, (), generator=generator))
        c0 = int(torch.randint(0, grid - w + 1, (), generator=generator))
        mask = torch.zeros(grid, grid, dtype=torch.bool)
        mask[r0 : r0 + h, c0 : c0 + w] = True
        idx = 1 + torch.nonzero(mask.flatten()).squeeze(1)
        out[:, :, idx] = x[perm][:, :, idx]
        share = h * w / (grid * grid)
    else:
        raise ValueError(f"videomix {kind!r}: expected spatial or temporal")
    return out, (1 - share) * targets + share * targets[perm]
