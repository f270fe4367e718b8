"""ir-CSN: architecture, mmaction2 names, BN freezing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replaylab.models import build_backbone, create_csn
from replaylab.models.csn import STAGE_BLOCKS, CSNBottleneck


def test_stage_blocks_and_widths():
    assert STAGE_BLOCKS[50] == (3, 4, 6, 3) and STAGE_BLOCKS[152] == (3, 8, 36, 3) and STAGE_BLOCKS[26] == (2, 2, 2, 2)
    with torch.device("meta"):
        m = create_csn(depth=152)
    assert [len(getattr(m, f"layer{i}")) for i in range(1, 5)] == [3, 8, 36, 3]
    assert m.feature_dim == 2048
    assert abs(sum(p.numel() for p in m.parameters()) - 28.88e6) < 0.05e6  # ir-CSN-152 without its fc
    with pytest.raises(ValueError, match="depth must be one of"):
        create_csn(depth=34)


def test_mmaction2_layout():
    m = create_csn(depth=26, base_width=8)
    sd = m.state_dict()
    for key in ("conv1.conv.weight", "conv1.bn.running_var", "layer1.0.conv1.conv.weight", "layer1.0.conv2.0.conv.weight",
                "layer1.0.conv2.0.bn.weight", "layer1.0.conv3.bn.bias", "layer1.0.downsample.conv.weight",
                "layer4.1.conv3.conv.weight", "layer2.0.downsample.bn.num_batches_tracked"):  # fmt: skip
        assert key in sd, key
    assert not any(k.startswith(("fc", "cls_head")) for k in sd)
    assert tuple(sd["conv1.conv.weight"].shape) == (8, 3, 3, 7, 7)
    assert m.conv1.conv.stride == (1, 2, 2) and m.maxpool.stride == (1, 2, 2)
    b = m.layer2[0]
    assert isinstance(b, CSNBottleneck)
    dw = b.conv2[0].conv
    assert dw.groups == dw.in_channels == 16 and dw.kernel_size == (3, 3, 3) and dw.stride == (2, 2, 2)  # depthwise, strided
    assert b.conv1.conv.kernel_size == (1, 1, 1) and b.conv3.conv.out_channels == 64
    assert b.downsample.conv.stride == (2, 2, 2)
    assert m.layer1[0].conv2[0].conv.stride == (1, 1, 1) and m.layer1[1].downsample is None
    assert all(bn.eps == 1e-3 for bn in m.modules() if isinstance(bn, nn.BatchNorm3d))


def test_temporal_and_spatial_downsampling():
    m = create_csn(depth=26, base_width=8).eval()
    shapes = []
    for name in ("maxpool", "layer1", "layer2", "layer3", "layer4"):
        getattr(m, name).register_forward_hook(lambda mod, i, o: shapes.append(tuple(o.shape[2:])))
    with torch.no_grad():
        out = m(torch.randn(1, 3, 16, 64, 64))
    assert shapes == [(16, 16, 16), (16, 16, 16), (8, 8, 8), (4, 4, 4), (2, 2, 2)]
    assert out.shape == (1, 256, 2, 2, 2) and m.feature_strides == (8, 32, 32)


def test_bn_frozen_keeps_statistics_and_affine_fixed():
    m = build_backbone("csn26", frames=4, size=(32, 32), base_width=8, bn_frozen=True).train()
    bns = [x for x in m.modules() if isinstance(x, nn.BatchNorm3d)]
    assert bns and all(not bn.training and not bn.weight.requires_grad for bn in bns)
    before = [bn.running_mean.clone() for bn in bns]
    m(torch.randn(2, 3, 4, 32, 32)).sum().backward()
    assert all(torch.equal(b, bn.running_mean) for b, bn in zip(before, bns))
    assert m.conv1.conv.weight.grad is not None and bns[0].weight.grad is None
