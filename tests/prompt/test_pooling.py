from __future__ import annotations

import pytest
import torch

from replaylab.prompt.pooling import TemporalPool


def test_mean_pool():
    x = torch.randn(2, 5, 8)
    assert torch.allclose(TemporalPool(kind="mean", dim=8)(x), x.mean(dim=1), atol=1e-6)
    assert not list(TemporalPool(kind="mean", dim=8).parameters())


def test_attention_starts_as_the_mean_and_learns_to_weight_frames():
    torch.manual_seed(0)
    pool = TemporalPool(kind="attention", dim=8)
    x = torch.randn(4, 6, 8)
    assert torch.allclose(pool(x), x.mean(dim=1), atol=1e-6)
    # target: the feature of frame 0, which carries a marker; the pool must learn to weight it
    x[:, 0, 0] = 5.0
    opt = torch.optim.Adam(pool.parameters(), lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        loss = ((pool(x) - x[:, 0]) ** 2).mean()
        loss.backward()
        opt.step()
    w = pool.weights(x)
    assert torch.allclose(w.sum(dim=1), torch.ones(4), atol=1e-6)
    assert (w[:, 0] > 0.8).all()


def test_unknown_kind():
    with pytest.raises(ValueError, match="expected mean or attention"):
        TemporalPool(kind="max", dim=4)
