from __future__ import annotations

import pytest
import torch

from replaylab.features.memory import Memory
from replaylab.tasks.actions.model import ActionHead, build_detector

ROI = {"output_size": 3, "sampling_ratio": 0, "spatial_pool": "max", "hidden": 8}
IA = {"blocks": ["P", "O", "M"], "structure": "serial", "dim_inner": 8, "dropout": 0.0, "layer_norm": True, "memory_span_s": 2}


def _rois():
    return torch.tensor([[0, 0.0, 0.0, 16, 32], [0, 20, 4, 40, 30], [1, 8, 8, 24, 24]])


def test_roi_head_scores_every_box():
    head = ActionHead(channels=6, num_classes=4, spatial_stride=8, roi=ROI, dropout=0.0).eval()
    out = head(torch.randn(2, 6, 2, 4, 6), _rois())
    assert out.shape == (3, 4)


def test_ia_memory_is_one_row_per_clip_and_is_required():
    head = ActionHead(channels=6, num_classes=4, spatial_stride=8, roi=ROI, dropout=0.0, ia=IA, memory_dim=5).eval()
    fmap = torch.randn(2, 6, 2, 4, 6)
    memory = Memory(torch.randn(2, 3, 5), torch.tensor([[True, True, False], [True, True, True]]),
                    torch.tensor([[-1, 0, 0], [-1, 0, 2]]))  # fmt: skip
    out = head(fmap, _rois(), memory=memory)
    assert out.shape == (3, 4) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="memory"):
        head(fmap, _rois())
    with pytest.raises(ValueError, match="memory_dim"):
        ActionHead(channels=6, num_classes=4, spatial_stride=8, roi=ROI, dropout=0.0, ia=IA)


def test_features_and_video_detectors_share_the_head_keys():
    arch = {"backbone": "compact3d", "backbone_options": {"width": 0.25}, "frames": 4, "size": [32, 48], "channels": 0,
            "spatial_stride": 0, "num_classes": 3, "roi": ROI, "dropout": 0.1, "ia": None}  # fmt: skip
    from replaylab.models import build_backbone

    probe = build_backbone("compact3d", frames=4, size=(32, 48), width=0.25)
    arch |= {"channels": probe.feature_dim, "spatial_stride": probe.feature_strides[1]}
    video = build_detector(arch, features=False)
    feats = build_detector(arch, features=True)
    assert {k for k in video.state_dict() if k.startswith("head.")} == set(feats.state_dict())
    clip = torch.randn(2, 3, 4, 32, 48)
    rois = torch.tensor([[0, 0.0, 0.0, 16, 32], [1, 8, 8, 40, 30]])
    feats.load_state_dict({k: v for k, v in video.state_dict().items() if k.startswith("head.")})
    video.eval(), feats.eval()
    torch.testing.assert_close(video(clip, rois), feats(video.backbone(clip), rois))


def _video_detector(**options):
    from replaylab.models import build_backbone

    probe = build_backbone("compact3d", frames=4, size=(32, 48), width=0.25, **options)
    arch = {"backbone": "compact3d", "backbone_options": {"width": 0.25, **options}, "frames": 4, "size": [32, 48],
            "channels": probe.feature_dim, "spatial_stride": probe.feature_strides[1], "num_classes": 3, "roi": ROI,
            "dropout": 0.0, "ia": None}  # fmt: skip
    return build_detector(arch, features=False)


def _bn_stats(module):
    return {n: b.clone() for n, b in module.named_buffers() if "running" in n}


def _train_step(model):
    model.train()
    model(torch.randn(2, 3, 4, 32, 48), torch.tensor([[0, 0.0, 0.0, 16, 32], [1, 8, 8, 40, 30]])).sum().backward()


def test_frozen_backbone_keeps_its_weights_and_bn_statistics():
    from replaylab.models import param_groups, set_finetune_mode

    model = _video_detector()
    set_finetune_mode(model, mode="frozen")
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    before = _bn_stats(model.backbone)
    _train_step(model)
    assert model.training and model.head.training and not model.backbone.training
    assert all(torch.equal(before[n], b) for n, b in _bn_stats(model.backbone).items())
    assert {g["name"] for g in param_groups(model, lr_backbone=0.1, lr_head=0.1, weight_decay=0.0)} <= {"head", "head_no_decay"}
    set_finetune_mode(model, mode="full")  # back to full: everything trains, BN statistics move again
    assert all(p.requires_grad for p in model.parameters())
    _train_step(model)
    assert any(not torch.equal(before[n], b) for n, b in _bn_stats(model.backbone).items())


def test_partial_trains_the_last_blocks_only():
    from replaylab.models import set_finetune_mode

    model = _video_detector()
    blocks = list(model.backbone.blocks())
    set_finetune_mode(model, mode="partial", partial_blocks=2)
    for i, block in enumerate(blocks):
        assert all(p.requires_grad == (i >= len(blocks) - 2) for p in block.parameters()), i
    frozen = [_bn_stats(b) for b in blocks]
    _train_step(model)
    assert sum(1 for f in frozen if f) >= 3  # BN layers in frozen and in trained blocks
    for i, block in enumerate(blocks):
        trains = i >= len(blocks) - 2
        assert block.training == trains, i
        if frozen[i]:
            assert any(not torch.equal(frozen[i][n], b) for n, b in _bn_stats(block).items()) == trains, i
    with pytest.raises(ValueError, match="partial_blocks"):
        set_finetune_mode(model, mode="partial", partial_blocks=len(blocks) + 1)


def test_a_video_detector_needs_its_backbone_name():
    from replaylab.models import build_backbone
    from replaylab.tasks.actions.model import ActionDetector

    head = ActionHead(channels=6, num_classes=4, spatial_stride=8, roi=ROI, dropout=0.0)
    with pytest.raises(ValueError, match="backbone_name"):
        ActionDetector(build_backbone("compact3d", frames=4, size=(32, 48), width=0.25), head)
