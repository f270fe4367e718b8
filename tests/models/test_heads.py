"""Heads on feature maps: global pooling, the pooling (classification) head and the ROI head."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replaylab.models import build_backbone
from replaylab.models.heads import GlobalPool, PoolingHead, RoiHead, global_pool_of


def test_global_pool_modes_and_norm():
    x = torch.randn(2, 3, 2, 4, 5)
    torch.testing.assert_close(GlobalPool(3)(x), x.mean(dim=(2, 3, 4)))
    both = GlobalPool(3, mode="mean+max")
    assert both.out_dim == 6
    torch.testing.assert_close(both(x), torch.cat((x.mean(dim=(2, 3, 4)), x.amax(dim=(2, 3, 4))), 1))
    norm = nn.LayerNorm(3)
    pool = GlobalPool(3, norm=norm)
    torch.testing.assert_close(pool(x), norm(x.mean(dim=(2, 3, 4))))
    assert pool.norm is norm and not list(pool.parameters())  # applied, not owned
    with pytest.raises(ValueError, match=r"expected a feature map \(B, 3, T, H, W\)"):
        pool(torch.randn(2, 3))
    with pytest.raises(ValueError, match="pool mode must be one of mean, mean\\+max"):
        GlobalPool(3, mode="max")  # type: ignore[arg-type]


def test_pooling_head_is_the_linear_layer_with_pooling_before_it():
    torch.manual_seed(3)
    plain = nn.Linear(6, 4)
    torch.manual_seed(3)
    head = PoolingHead(GlobalPool(3, mode="mean+max"), 4, dropout=0.2)
    assert isinstance(head, nn.Linear) and head.in_features == 6 and head.out_features == 4
    assert list(head.state_dict()) == ["weight", "bias"]
    torch.testing.assert_close(head.weight, plain.weight)  # the same random draws as a plain Linear
    torch.testing.assert_close(head.bias, plain.bias)
    x = torch.randn(2, 3, 2, 4, 4)
    head.eval()
    torch.testing.assert_close(head(x), plain(head.features(x)))
    head.train()
    torch.manual_seed(0)
    a = head(x)
    torch.manual_seed(0)
    assert torch.equal(a, plain(nn.functional.dropout(head.features(x), 0.2, training=True)))
    with pytest.raises(ValueError, match="num_classes"):
        PoolingHead(GlobalPool(3), 0)
    with pytest.raises(ValueError, match="dropout"):
        PoolingHead(GlobalPool(3), 2, dropout=1.0)


def test_pooling_head_for_a_backbone():
    net = build_backbone("csn26", frames=2, size=(32, 32), base_width=4)
    head = PoolingHead.for_backbone(net, 5, dropout=0.0)
    assert head.in_features == net.feature_dim == 128 and head.pool.mode == "mean" and head.pool.norm is None
    assert global_pool_of(net).out_dim == 128
    assert head(net(torch.randn(2, 3, 2, 32, 32))).shape == (2, 5)


def _map() -> torch.Tensor:
    """Two clips, 3 channels, 2 frames, 8x8 cells (a 32x32 input at stride 4), zero except:
    clip 0 channel 0 = 4 then 6 (mean 5) in cells [0:2, 0:2]; clip 0 channel 1 = 7 in cells [5:8, 5:8];
    clip 1 channel 2 = 3 in cells [0:2, 0:2]."""
    x = torch.zeros(2, 3, 2, 8, 8)
    x[0, 0, 0, 0:2, 0:2] = 4.0
    x[0, 0, 1, 0:2, 0:2] = 6.0
    x[0, 1, :, 5:8, 5:8] = 7.0
    x[1, 2, :, 0:2, 0:2] = 3.0
    return x


def test_roi_head_pools_the_region_under_each_box():
    head = RoiHead(3, 2, spatial_stride=4, output_size=2, sampling_ratio=2, dropout=0.0).eval()
    rois = torch.tensor([[0, 0, 0, 8, 8], [0, 20, 20, 32, 32], [1, 0, 0, 8, 8], [1, 20, 20, 32, 32]], dtype=torch.float32)
    feats = head.roi_features(_map(), rois)
    expected = torch.tensor([[5.0, 0, 0], [0, 7, 0], [0, 0, 3], [0, 0, 0]])
    torch.testing.assert_close(feats, expected)
    # the same boxes given per clip
    per_clip = [rois[:2, 1:], rois[2:, 1:]]
    torch.testing.assert_close(head.roi_features(_map(), per_clip), expected)
    # logits: the linear layer on the pooled features (hidden=0, eval: no dropout)
    fc = head.mlp[-1]
    torch.testing.assert_close(head(_map(), rois), expected @ fc.weight.T + fc.bias)


def test_roi_head_mean_pool_and_constant_maps():
    x = torch.full((1, 4, 3, 6, 6), 2.5)
    rois = torch.tensor([[0, 3.0, 5.0, 40.0, 30.0], [0, 0.0, 0.0, 96.0, 96.0]])
    for pool in ("max", "mean"):
        head = RoiHead(4, 3, spatial_stride=16, output_size=(3, 2), spatial_pool=pool).eval()
        torch.testing.assert_close(head.roi_features(x, rois), torch.full((2, 4), 2.5))
    box = torch.tensor([[0, 0, 0, 8, 8]], dtype=torch.float32)
    mean = RoiHead(3, 2, spatial_stride=4, output_size=2, sampling_ratio=2, spatial_pool="mean").roi_features(_map(), box)
    assert 0 < mean[0, 0] < 5  # the edge samples mix in the zero cells next to the region


def test_roi_head_mlp_trains_the_backbone_end_to_end():
    net = build_backbone("compact3d", frames=4, size=(64, 64), width=0.25)
    head = RoiHead.for_backbone(net, 5, hidden=16, output_size=3)
    assert head.channels == net.feature_dim == 32 and head.spatial_stride == 16
    assert [type(m) for m in head.mlp] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    rois = torch.tensor([[0, 4, 4, 40, 60], [1, 10, 0, 64, 64], [1, 0, 0, 20, 20]], dtype=torch.float32)
    logits = head(net(torch.randn(2, 3, 4, 64, 64)), rois)
    assert logits.shape == (3, 5)
    logits.sum().backward()
    assert net.stem[0].weight.grad is not None and net.stem[0].weight.grad.abs().sum() > 0


def test_roi_head_checks():
    head = RoiHead(3, 2, spatial_stride=4)
    with pytest.raises(ValueError, match=r"rois must be \(N, 5\)"):
        head(_map(), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"batch indices must be in 0..1"):
        head(_map(), torch.tensor([[2, 0, 0, 4, 4]], dtype=torch.float32))
    with pytest.raises(ValueError, match="one \\(K, 4\\) box tensor per clip"):
        head(_map(), [torch.zeros(1, 4)])
    with pytest.raises(ValueError, match="feature map"):
        head(torch.zeros(2, 4, 2, 8, 8), torch.zeros(0, 5))
    for kw in ({"spatial_stride": 0}, {"spatial_stride": 4, "spatial_pool": "sum"}, {"spatial_stride": 4, "hidden": -1},
               {"spatial_stride": 4, "dropout": 1.0}, {"spatial_stride": 4, "sampling_ratio": -1}):  # fmt: skip
        with pytest.raises(ValueError):
            RoiHead(3, 2, **kw)  # type: ignore[arg-type]


def test_batchnorm_head_standardises_pooled_features_and_keeps_its_statistics():
    from replaylab.models.heads import GlobalPool, PoolingHead

    torch.manual_seed(0)
    head = PoolingHead(GlobalPool(8), 3, dropout=0.0, norm="batchnorm")
    scale = torch.tensor([0.1, 1.0, 10.0, 100.0, 1e3, 1.0, 1.0, 5.0])
    maps = torch.randn(64, 8, 2, 2, 2) * scale.view(1, 8, 1, 1, 1) + 50.0
    head.train()
    pooled = head.features(maps)
    z = head.norm(pooled)
    assert torch.allclose(z.mean(0), torch.zeros(8), atol=1e-3) and torch.allclose(
        z.std(0, unbiased=False), torch.ones(8), atol=1e-2
    )
    assert torch.allclose(head(maps), head.classify(pooled))
    assert {"norm.running_mean", "norm.running_var"} <= set(head.state_dict())
    plain = PoolingHead(GlobalPool(8), 3, dropout=0.0)
    assert not any(k.startswith("norm.") for k in plain.state_dict())
    with pytest.raises(ValueError, match="norm must be"):
        PoolingHead(GlobalPool(8), 3, norm="layer")
