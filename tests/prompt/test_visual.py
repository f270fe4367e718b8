from __future__ import annotations

import pytest
import torch

from replaylab.prompt.visual import SplitImageEncoder, resolve_split

from .conftest import frames


@pytest.mark.parametrize("split", [0, 1, 2, -1])
def test_prefix_then_suffix_is_the_image_tower(tiny_clip, split):
    enc = SplitImageEncoder(tiny_clip.visual, split=split)
    x = frames(3, 1)
    with torch.no_grad():
        pooled, patches = enc.suffix(enc.prefix(x))
        want = tiny_clip.visual(x)
    assert torch.allclose(pooled, want, atol=1e-5)
    assert patches.shape == (3, 16, 64)
    assert enc.grid == 4 and enc.width == 64 and enc.embed_dim == 64 and enc.image_size == 32


def test_prompt_tokens_change_the_features_and_are_dropped_before_pooling(tiny_clip):
    enc = SplitImageEncoder(tiny_clip.visual, split=1)
    x = frames(2, 1)
    with torch.no_grad():
        tokens = enc.prefix(x)
        assert tokens.shape == (2, 17, 64)
        plain, _ = enc.suffix(tokens)
        prompted, patches = enc.suffix(tokens, torch.randn(3, 64))
    assert not torch.allclose(plain, prompted)
    assert patches.shape == (2, 16, 64)


def test_prompts_get_gradients_through_the_frozen_blocks(tiny_clip):
    enc = SplitImageEncoder(tiny_clip.visual, split=-1)
    prompts = torch.zeros(2, 64, requires_grad=True)
    pooled, _ = enc.suffix(enc.prefix(frames(2, 1)), prompts)
    pooled.sum().backward()
    assert prompts.grad.abs().sum() > 0


def test_split_positions():
    assert resolve_split(-1, 3) == 2 and resolve_split(0, 3) == 0 and resolve_split(3, 3) == 3
    with pytest.raises(ValueError, match="outside the image transformer's 3 blocks"):
        resolve_split(4, 3)
    with pytest.raises(ValueError, match="outside"):
        resolve_split(-4, 3)


def test_a_tower_that_is_not_a_vit_is_refused():
    with pytest.raises(TypeError, match="not an open_clip VisionTransformer"):
        SplitImageEncoder(torch.nn.Linear(2, 2), split=0)
