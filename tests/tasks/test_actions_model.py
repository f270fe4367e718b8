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
