from __future__ import annotations

import pytest
import torch

from replaylab.prompt.stt import SpatioTemporalTransformer, grid_tokens


def test_grid_tokens_average_the_patch_map():
    patches = torch.arange(16.0).view(1, 16, 1).repeat(1, 1, 3)  # a 4 x 4 grid, value = position
    out = grid_tokens(torch.full((1, 3), -1.0), patches, 2)
    assert out.shape == (1, 5, 3)
    assert out[0, 0, 0] == -1.0
    assert out[0, 1:, 0].tolist() == [2.5, 4.5, 10.5, 12.5]  # means of the four 2 x 2 quadrants
    with pytest.raises(ValueError, match="larger than the encoder's 4 x 4"):
        grid_tokens(torch.zeros(1, 3), patches, 5)


def test_stt_starts_as_the_mean_class_embedding_and_trains():
    torch.manual_seed(0)
    stt = SpatioTemporalTransformer(dim=16, frames=4, tokens_per_frame=5, layers=1, heads=2)
    x = torch.randn(3, 4, 5, 16)
    assert torch.allclose(stt(x), x[:, :, 0].mean(dim=1), atol=1e-6)
    stt(x).sum().backward()
    assert stt.out.weight.grad.abs().sum() > 0
    assert stt(x[:, :2]).shape == (3, 16)  # fewer frames than it was built for


def test_stt_shape_errors():
    stt = SpatioTemporalTransformer(dim=16, frames=2, tokens_per_frame=5, layers=1, heads=2)
    with pytest.raises(ValueError, match="built for <= 2 frames of 5 tokens"):
        stt(torch.zeros(1, 3, 5, 16))
    with pytest.raises(ValueError, match="does not divide"):
        SpatioTemporalTransformer(dim=10, frames=2, tokens_per_frame=5, layers=1, heads=3)
