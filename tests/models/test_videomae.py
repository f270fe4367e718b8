"""VideoMAE encoder: VideoMAE-v2 names, its attention biases, position embeddings, pooling, sizes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from timm.layers import DropPath
from timm.models.vision_transformer import Block

from replaylab.models import build_backbone, create_videomae
from replaylab.models.heads import global_pool_of
from replaylab.models.videomae import SplitBiasAttention, infer_grid, resample_grid, sinusoid_table


def test_videomae_v2_key_names_and_shapes():
    m = build_backbone("videomae_tiny", frames=4, size=(32, 32))
    sd = m.state_dict()
    assert tuple(sd["patch_embed.proj.weight"].shape) == (192, 3, 2, 16, 16)
    for key in ("blocks.0.norm1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.q_bias", "blocks.0.attn.v_bias",
                "blocks.0.attn.proj.weight", "blocks.0.norm2.bias", "blocks.0.mlp.fc1.weight", "blocks.3.mlp.fc2.bias",
                "fc_norm.weight", "fc_norm.bias"):  # fmt: skip
        assert key in sd, key
    assert "blocks.0.attn.qkv.bias" not in sd and "pos_embed" not in sd and "norm.weight" not in sd
    assert isinstance(m.layers[0], Block) and len(m.layers) == 4
    assert m.num_tokens == 2 * 2 * 2 and m.pos_embed.shape == (1, 8, 192)


def test_attention_uses_q_and_v_bias_and_a_zero_key_bias():
    attn = SplitBiasAttention(12, num_heads=3).eval()
    with torch.no_grad():
        attn.q_bias.normal_()
        attn.v_bias.normal_()
    x = torch.randn(2, 5, 12)
    qkv = x @ attn.qkv.weight.T + torch.cat((attn.q_bias, torch.zeros(12), attn.v_bias))
    q, k, v = (t.reshape(2, 5, 3, 4).transpose(1, 2) for t in qkv.split(12, dim=-1))
    ref = (F.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1) @ v).transpose(1, 2).reshape(2, 5, 12)
    torch.testing.assert_close(attn(x), attn.proj(ref))


def test_sinusoid_table():
    t = sinusoid_table(10, 6)
    assert t.shape == (1, 10, 6)
    assert math.isclose(t[0, 3, 0].item(), math.sin(3), rel_tol=1e-6)
    assert math.isclose(t[0, 3, 1].item(), math.cos(3), rel_tol=1e-6)
    assert math.isclose(t[0, 3, 2].item(), math.sin(3 / 10000 ** (2 / 6)), rel_tol=1e-6)


def test_learned_position_embedding_and_cls_pooling():
    m = build_backbone("videomae_tiny", frames=2, size=(32, 16), pos_embed="learned", pool="cls")
    sd = m.state_dict()
    assert tuple(sd["pos_embed"].shape) == (1, 2, 192) and "cls_token" in sd and "norm.weight" in sd
    assert "fc_norm.weight" not in sd
    assert m(torch.randn(2, 3, 2, 32, 16)).shape == (2, 192, 1, 2, 1) and m.post_pool_norm is None
    stem = m.blocks()[0]
    assert {id(p) for p in stem.parameters()} >= {id(m.pos_embed), id(m.cls_token)}


def test_mean_pooling_is_fc_norm_of_the_token_mean():
    m = create_videomae("tiny", frames=2, size=(32, 32)).eval()
    x = torch.randn(1, 3, 2, 32, 32)
    tokens = m.patch_embed(x) + m.pos_embed
    for b in m.layers:
        tokens = b(tokens)
    fmap = m(x)
    assert fmap.shape == (1, 192, 1, 2, 2) and m.feature_strides == (2, 16, 16) and m.post_pool_norm is m.fc_norm
    torch.testing.assert_close(fmap.flatten(2).transpose(1, 2), tokens)  # the map is the tokens on their grid
    torch.testing.assert_close(global_pool_of(m)(fmap), m.fc_norm(tokens.mean(1)))


def test_options_drop_path_and_layer_scale():
    m = create_videomae("tiny", frames=2, size=(16, 16), drop_path=0.3, init_values=0.1)
    assert isinstance(m.layers[-1].drop_path1, DropPath) and m.layers[-1].drop_path1.drop_prob == pytest.approx(0.3)
    assert not isinstance(m.layers[0].drop_path1, DropPath)  # rate 0 in the first block
    assert torch.allclose(m.layers[0].ls1.gamma, torch.full((192,), 0.1))


@pytest.mark.parametrize(("variant", "dim", "depth", "heads", "hidden", "patch"),
                         [("small", 384, 12, 6, 1536, 16), ("base", 768, 12, 12, 3072, 16),
                          ("large", 1024, 24, 16, 4096, 16), ("giant", 1408, 40, 16, 6144, 14)])  # fmt: skip
def test_sizes(variant, dim, depth, heads, hidden, patch):
    with torch.device("meta"):
        m = create_videomae(variant, frames=16, size=(patch * 4, patch * 4))
    assert m.feature_dim == dim and len(m.layers) == depth and m.layers[0].attn.num_heads == heads
    assert m.layers[0].mlp.fc1.out_features == hidden
    assert m.patch_embed.proj.kernel_size == (2, patch, patch)


def test_input_shape_is_checked():
    m = create_videomae("tiny", frames=4, size=(32, 32))
    with pytest.raises(ValueError, match="built for 4x32x32 clips"):
        m(torch.randn(1, 3, 2, 32, 32))
    with pytest.raises(ValueError, match="tubelets"):
        create_videomae("tiny", frames=4, size=(32, 32), tubelet_size=3)


def test_checkpoint_token_grids_are_recognised():
    assert infer_grid(1568, (8, 4, 4)) == (8, 14, 14)  # released 16x224x224 into 16x64x64
    assert infer_grid(392, (8, 4, 4)) == (8, 7, 7)
    assert infer_grid(1568, (4, 14, 14)) == (8, 14, 14)  # another frame count, same frames
    assert infer_grid(16, (4, 2, 4)) == (2, 2, 4)  # non-square frames of this project's clips
    assert infer_grid(7, (4, 2, 2)) is None
    table = torch.arange(8.0).reshape(1, 8, 1)  # 2x2x2 grid, value = position
    out = resample_grid(table, (2, 2, 2), (2, 2, 2))
    torch.testing.assert_close(out, table)


def test_released_learned_pos_embed_into_a_small_clip():
    m = create_videomae("tiny", frames=16, size=(64, 64), pos_embed="learned")
    state = {"pos_embed": torch.randn(1, 1568, 192)}
    messages = m.adapt_checkpoint(state)
    assert state["pos_embed"].shape == (1, 128, 192)
    assert messages == ["pos_embed resampled from a 8x14x14 to a 8x4x4 token grid"]
    sinus = create_videomae("tiny", frames=16, size=(64, 64))
    state = {"pos_embed": sinusoid_table(1568, 192)}
    assert sinus.adapt_checkpoint(state) == [] and "pos_embed" not in state  # the same fixed table: regenerated
    state = {"pos_embed": torch.randn(1, 1568, 192)}
    assert "ignored" in sinus.adapt_checkpoint(state)[0]
