"""compact3d: size, map shapes (time kept early), the motion input, and that it learns a small moving object."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from replaylab.models import build_backbone, create_compact3d
from replaylab.models.heads import global_pool_of


def test_small_and_keeps_early_temporal_resolution():
    m = build_backbone("compact3d", frames=16, size=(64, 64)).eval()
    assert sum(p.numel() for p in m.parameters()) < 1_000_000
    shapes = []
    for b in m.blocks():
        b.register_forward_hook(lambda mod, i, o: shapes.append(tuple(o.shape[1:])))
    with torch.no_grad():
        out = m(torch.randn(2, 3, 16, 64, 64))
    assert out.shape == (2, 128, 4, 4, 4) == (2, m.feature_dim, *m.feature_grid(16, (64, 64)))
    assert m.feature_strides == (4, 16, 16) and m.feature_pool == "mean+max" and global_pool_of(m).out_dim == 256
    assert shapes == [(16, 16, 32, 32), (16, 16, 32, 32), (32, 16, 16, 16), (64, 8, 8, 8), (128, 4, 4, 4)]


def test_motion_channels_and_width():
    assert create_compact3d().stem[0].in_channels == 6
    m = create_compact3d(width=2.0, motion=False)
    assert m.stem[0].in_channels == 3 and m.feature_dim == 256


def _clips(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy 8x32x32 clips; label 1: a 3-pixel bright square moves across, label 0: it stands still."""
    x = 0.3 * torch.randn(n, 3, 8, 32, 32, generator=gen)
    y = torch.arange(n) % 2
    for i in range(n):
        r, c = torch.randint(4, 24, (2,), generator=gen).tolist()
        for t in range(8):
            dc = 2 * t if y[i] == 1 else 0
            x[i, :, t, r : r + 3, c - 4 + dc : c - 1 + dc] += 2.0
    return x, y


def test_learns_a_small_moving_object_quickly():
    gen = torch.Generator().manual_seed(1)
    model = create_compact3d(width=0.5)
    pool = global_pool_of(model)
    head = torch.nn.Linear(pool.out_dim, 2)
    opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-2)
    losses = []
    for _ in range(40):
        x, y = _clips(16, gen)
        loss = F.cross_entropy(head(pool(model(x))), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
