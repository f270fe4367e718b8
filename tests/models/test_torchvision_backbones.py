"""torchvision video backbones: torchvision's names, small inputs, MViT built for the clip shape."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.video import mvit_v2_s, r2plus1d_18

from replaylab.models import build_backbone
from replaylab.models.torchvision_backbones import MViTBackbone


@pytest.mark.parametrize(("frames", "size"), [(16, (64, 64)), (8, (32, 32)), (3, (24, 40))])
def test_resnets_take_small_inputs(frames, size):
    model = build_backbone("r3d_18", frames=frames, size=size).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, frames, *size)).shape == (1, 512, *model.feature_grid(frames, size))


def test_resnet_keys_are_torchvision_keys_without_the_head():
    ours = set(build_backbone("r2plus1d_18", frames=8, size=(32, 32)).state_dict())
    theirs = set(r2plus1d_18(weights=None).state_dict())
    assert ours == theirs - {"fc.weight", "fc.bias"}


def test_s3d_at_the_clip_size_of_the_header_task():
    model = build_backbone("s3d", frames=8, size=(64, 64)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 8, 64, 64)).shape == (1, 1024, 1, 2, 2)


def test_mvit_matches_torchvision_layout_at_its_own_size():
    """Built for 16x224x224 our MViT has exactly torchvision's mvit_v2_s tensors (names and shapes), head aside."""
    with torch.device("meta"):
        ours = build_backbone("mvit_v2_s", frames=16, size=(224, 224)).state_dict()
        theirs = mvit_v2_s(weights=None).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {
        k: tuple(v.shape) for k, v in theirs.items() if not k.startswith("head.")
    }


def test_mvit_is_built_for_the_clip_shape():
    model = build_backbone("mvit_v2_s", frames=4, size=(32, 64), drop_path=0.0)
    assert isinstance(model, MViTBackbone)
    assert model.pos_encoding.temporal_size == 2 and model.pos_encoding.spatial_size == (8, 16)
    # relative position tables sized for this grid: 2 * max(8, 16) - 1 spatial, 2 * 2 - 1 temporal
    attn = model.layers[0].attn
    assert attn.rel_pos_h.shape[0] == 31 and attn.rel_pos_t.shape[0] == 3
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 4, 32, 64)).shape == (1, 768, 2, 1, 2)
        with pytest.raises(ValueError, match="built for 4x32x64 clips"):
            model(torch.randn(1, 3, 4, 32, 32))
    assert callable(model.blocks) and len(model.blocks()) == 17


def test_mvit_map_is_the_normalised_patch_tokens_on_their_grid():
    """The map is the patch tokens after the final norm in (t, h, w) order; the class token is dropped."""
    model = build_backbone("mvit_v2_s", frames=2, size=(32, 64), drop_path=0.0).eval()
    x = torch.randn(1, 3, 2, 32, 64)
    with torch.no_grad():
        tokens = model.pos_encoding(model.conv_proj(x).flatten(2).transpose(1, 2))
        thw = (model.pos_encoding.temporal_size, *model.pos_encoding.spatial_size)
        for block in model.layers:
            tokens, thw = block(tokens, thw)
        tokens = model.norm(tokens)
        fmap = model(x)
    assert fmap.shape == (1, 768, 1, 1, 2) and model.feature_grid(2, (32, 64)) == (1, 1, 2)
    torch.testing.assert_close(fmap.flatten(2).transpose(1, 2), tokens[:, 1:])
