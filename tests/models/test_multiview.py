"""The multi-view foul network: aggregations (shapes, masks, view order), the shared backbone, chunked evaluation."""

from __future__ import annotations

import pytest
import torch

from replaylab.models import param_groups, set_finetune_mode
from replaylab.models.multiview import AGGREGATIONS, AttentionViews, MultiViewNet, build_aggregation, build_multiview

MODES = ("max", "mean", "attention")


@pytest.mark.parametrize("mode", MODES)
def test_aggregation_shapes_for_two_and_four_views(mode):
    agg = build_aggregation(mode, dim=6)
    for v in (2, 4):
        out = agg(torch.randn(3, v, 6), torch.ones(3, v, dtype=torch.bool))
        assert out.shape == (3, 6) and torch.isfinite(out).all()


@pytest.mark.parametrize("mode", MODES)
def test_aggregation_is_invariant_to_the_view_order(mode):
    agg = build_aggregation(mode, dim=5)
    x = torch.randn(2, 4, 5)
    mask = torch.ones(2, 4, dtype=torch.bool)
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(agg(x, mask), agg(x[:, perm], mask[:, perm]))


def test_max_and_mean_values_and_masks():
    x = torch.tensor([[[1.0, -4.0], [3.0, 2.0], [100.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])  # the third view is padding
    torch.testing.assert_close(build_aggregation("max", dim=2)(x, mask), torch.tensor([[3.0, 2.0]]))
    torch.testing.assert_close(build_aggregation("mean", dim=2)(x, mask), torch.tensor([[2.0, -1.0]]))
    neg = -torch.ones(1, 2, 2)  # max over all-negative features is not clipped at 0 by the padding
    torch.testing.assert_close(build_aggregation("max", dim=2)(neg, torch.tensor([[True, False]])), -torch.ones(1, 2))


@pytest.mark.parametrize("mode", MODES)
def test_a_masked_view_does_not_change_the_output(mode):
    agg = build_aggregation(mode, dim=4)
    x = torch.randn(1, 3, 4)
    two = agg(x[:, :2], torch.ones(1, 2, dtype=torch.bool))
    garbage = x.clone()
    garbage[:, 2] = 1e3
    torch.testing.assert_close(agg(garbage, torch.tensor([[True, True, False]])), two)


def test_attention_weights_follow_the_relations():
    agg = AttentionViews(dim=2)
    with torch.no_grad():
        agg.proj.copy_(torch.eye(2))
    # view 0 and 1 agree, view 2 points elsewhere: relations r = relu(h h^T)
    x = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    out = agg(x, torch.ones(1, 3, dtype=torch.bool))
    r = torch.relu(x[0] @ x[0].T)
    w = r.sum(0) / r.sum()
    torch.testing.assert_close(agg.last_weights[0], w)
    torch.testing.assert_close(out[0], (w[:, None] * x[0]).sum(0))
    assert torch.isclose(agg.last_weights.sum(), torch.tensor(1.0))
    # no positive relation at all: uniform weights over the valid views
    out = agg(torch.zeros(1, 3, 2), torch.tensor([[True, True, False]]))
    torch.testing.assert_close(agg.last_weights, torch.tensor([[0.5, 0.5, 0.0]]))
    assert torch.isfinite(out).all()


def test_attention_learns():
    agg = AttentionViews(dim=3)
    x = torch.randn(4, 2, 3)
    agg(x, torch.ones(4, 2, dtype=torch.bool)).pow(2).sum().backward()
    assert agg.proj.grad is not None and agg.proj.grad.abs().sum() > 0


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown view aggregation 'sum'"):
        build_aggregation("sum", dim=3)
    assert set(AGGREGATIONS) == set(MODES)
    agg = build_aggregation("mean", dim=3)
    with pytest.raises(ValueError, match="at least one valid view"):
        agg(torch.randn(2, 2, 3), torch.tensor([[True, False], [False, False]]))
    with pytest.raises(ValueError, match="expected features"):
        agg(torch.randn(2, 3), torch.ones(2, 3, dtype=torch.bool))


def _net(mode: str = "max", chunk: int = 0) -> MultiViewNet:
    return build_multiview(backbone="compact3d", frames=4, size=(16, 16), aggregation=mode, hidden=8, view_chunk=chunk,
                           backbone_options={"width": 0.25})  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
def test_network_outputs_two_heads_for_any_view_count(mode):
    net = _net(mode).eval()
    for v in (2, 4):
        action, offence = net(torch.randn(3, v, 3, 4, 16, 16))
        assert action.shape == (3, 8) and offence.shape == (3, 4)


def test_weights_are_shared_across_views_and_missing_views_are_skipped():
    net = _net("mean").eval()
    assert not any("view" in n for n, _ in net.backbone.named_parameters())
    a = torch.randn(1, 1, 3, 4, 16, 16)
    b = torch.randn(1, 1, 3, 4, 16, 16)
    with torch.no_grad():
        both = net(torch.cat((a, b), 1))
        swapped = net(torch.cat((b, a), 1))
        padded = net(torch.cat((a, b, torch.zeros_like(a)), 1), torch.tensor([[True, True, False]]))
    for x, y in zip(both, swapped):
        torch.testing.assert_close(x, y)
    for x, y in zip(both, padded):
        torch.testing.assert_close(x, y)
    seen = []
    net.backbone.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
    with torch.no_grad():
        net(torch.randn(2, 3, 3, 4, 16, 16), torch.tensor([[True, True, False], [True, False, False]]))
    assert seen == [3]  # only the three valid views are encoded


@pytest.mark.parametrize("mode", MODES)
def test_chunked_evaluation_equals_unchunked(mode):
    torch.manual_seed(1)
    full = _net(mode, chunk=0)
    chunked = _net(mode, chunk=3)
    chunked.load_state_dict(full.state_dict())
    for m in (full, chunked):  # BN running statistics that are not the identity
        m.train()
        with torch.no_grad():
            m(torch.randn(4, 2, 3, 4, 16, 16))
    chunked.load_state_dict(full.state_dict())
    full.eval(), chunked.eval()
    x = torch.randn(3, 5, 3, 4, 16, 16)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False], [True] * 4 + [False]])
    calls = []
    chunked.backbone.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    with torch.no_grad():
        ref, got = full(x, mask), chunked(x, mask)
    assert calls == [3, 3, 3, 2]  # 11 valid views, at most 3 at a time
    for r, g in zip(ref, got):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-5)


def test_training_step_and_finetune_modes():
    net = _net("attention")
    net.train()
    action, offence = net(torch.randn(2, 2, 3, 4, 16, 16))
    (action.sum() + offence.sum()).backward()
    assert net.head["aggregate"].proj.grad is not None
    set_finetune_mode(net, mode="frozen")
    assert not any(p.requires_grad for p in net.backbone.parameters())
    assert all(p.requires_grad for p in net.head.parameters())
    net.train()
    assert not net.backbone.training and net.head.training
    groups = param_groups(net, lr_backbone=1e-4, lr_head=1e-3, weight_decay=0.05)
    assert {g["name"] for g in groups} == {"head", "head_no_decay"}
    set_finetune_mode(net, mode="full")
    names = [g["name"] for g in param_groups(net, lr_backbone=1e-4, lr_head=1e-3, weight_decay=0.05)]
    assert names == ["backbone", "backbone_no_decay", "head", "head_no_decay"]


def test_builder_checks():
    with pytest.raises(ValueError, match="compact3d"):
        build_multiview(backbone="compact3d", frames=1, size=(16, 16))
    with pytest.raises(ValueError, match="unknown backbone"):
        build_multiview(backbone="nope", frames=4, size=(16, 16))
    with pytest.raises(ValueError, match="view_chunk"):
        build_multiview(backbone="compact3d", frames=4, size=(16, 16), view_chunk=-1)
    with pytest.raises(ValueError, match="hidden"):
        MultiViewNet(_net().backbone, hidden=0)
    net = _net()
    with pytest.raises(ValueError, match=r"expected video \(B, V, 3, T, H, W\)"):
        net(torch.randn(2, 3, 4, 16, 16))
    with pytest.raises(ValueError, match="view_mask must be"):
        net(torch.randn(2, 2, 3, 4, 16, 16), torch.ones(2, 3, dtype=torch.bool))


@pytest.mark.parametrize("name", ["r3d_18", "s3d"])
def test_torchvision_backbones_plug_in(name):
    net = build_multiview(backbone=name, frames=8, size=(32, 32), aggregation="attention", hidden=8).eval()
    with torch.no_grad():
        action, offence = net(torch.randn(1, 2, 3, 8, 32, 32))
    assert action.shape == (1, 8) and offence.shape == (1, 4)


def test_view_features_are_the_pooled_backbone_maps():
    net = _net("mean").eval()
    clips = torch.randn(3, 3, 4, 16, 16)
    with torch.no_grad():
        fmap = net.backbone(clips)
        pooled = torch.cat((fmap.mean(dim=(2, 3, 4)), fmap.amax(dim=(2, 3, 4))), 1)  # compact3d: mean + max
        torch.testing.assert_close(net.encode(clips), pooled)
    assert net.feature_dim == 2 * net.backbone.feature_dim and not list(net.head["pool"].parameters())
