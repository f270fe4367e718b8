"""KdNet: the student and the converters stay frozen and in eval mode; only the fusion head learns."""

from __future__ import annotations

import torch
from torch import nn

from replaylab.kd.converters import ConverterBank
from replaylab.kd.fusion import build_fusion
from replaylab.tasks.kd.model import KdNet, Standardise, converter_input


def _net(**kw):
    bank = ConverterBank(kind="mlp", in_dim=6, teacher_dims={"a": 4}, hidden=8, dropout=0.5)
    fusion = build_fusion("concat", student_dim=6, teacher_dims=[4], num_classes=3, hidden=8, dropout=0.0)
    scale = Standardise(torch.zeros(6), torch.ones(6) * 2)
    return KdNet(student=None, converters=bank, fusion=fusion, teachers=["a"], tokens="pooled", scale_in=scale,
                 scale_pooled=scale, **kw)  # fmt: skip


def test_only_the_fusion_head_has_gradients_and_frozen_parts_stay_in_eval():
    net = _net().train()
    assert not net.converters.training and net.fusion.training
    x = torch.randn(5, 6)
    a, b = net(x), net(x)  # converter dropout is off (eval) -> deterministic
    assert torch.equal(a, b)
    a.sum().backward()
    assert all(p.grad is None for p in net.converters.parameters())
    assert all(p.grad is not None for p in net.fusion.parameters())


def test_student_is_standardised_before_converters_and_fusion():
    net = _net().eval()
    x = torch.randn(4, 6)
    pooled, conv = net.converted(x)
    assert torch.allclose(pooled, x / 2)
    assert torch.allclose(conv[0], net.converters(x / 2)["a"])


def test_time_tokens_from_a_map_and_the_stored_map_needs_a_pool():
    fmap = torch.randn(2, 6, 3, 4, 5)
    tokens = converter_input(fmap, fmap.mean(dim=(2, 3, 4)), "time")
    assert tokens.shape == (2, 3, 6) and torch.allclose(tokens[:, 1], fmap[:, :, 1].mean(dim=(-2, -1)))
    try:
        _net(source="map")
    except ValueError as e:
        assert "pool" in str(e)
    else:
        raise AssertionError("a stored-map KdNet without a pool must be refused")
    net = _net(source="map", pool=nn.AdaptiveAvgPool3d(1).requires_grad_(False))
    assert net.pool is not None
