"""Video backbones behind one registry (each returns a feature map), heads on the map (global pooling +
linear, ROI), the clip classifier built on them, and local checkpoint loading.

>>> from replaylab.models import build_classifier, set_finetune_mode, param_groups
>>> model = build_classifier(backbone="compact3d", num_classes=2, frames=16, size=(64, 64))
>>> model.feature_map(torch.zeros(1, 3, 16, 64, 64)).shape  # strides model.backbone.feature_strides = (4, 16, 16)
torch.Size([1, 128, 4, 4, 4])
>>> model.features(torch.zeros(1, 3, 16, 64, 64)).shape  # its pooled features (compact3d: mean and max)
torch.Size([1, 256])

Importing the package registers every backbone (see :data:`BACKBONES`).
"""

from __future__ import annotations

from . import compact, csn, i3d, slowfast, torchvision_backbones, videomae  # noqa: F401  (register the backbones)
from .checkpoints import CheckpointError, LoadReport, find_checkpoint_file, load_pretrained, read_state_dict
from .classifier import VideoClassifier, build_classifier, normalisation_of, param_groups, set_finetune_mode
from .compact import create_compact3d
from .csn import create_csn
from .heads import GlobalPool, PoolingHead, RoiHead, global_pool_of
from .i3d import create_i3d
from .registry import BACKBONES, BackboneSpec, build_backbone, get_spec, input_constraints, register
from .slowfast import create_slowfast
from .videomae import create_videomae

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "CheckpointError",
    "GlobalPool",
    "LoadReport",
    "PoolingHead",
    "RoiHead",
    "VideoClassifier",
    "build_backbone",
    "build_classifier",
    "create_compact3d",
    "create_csn",
    "create_i3d",
    "create_slowfast",
    "create_videomae",
    "find_checkpoint_file",
    "get_spec",
    "global_pool_of",
    "input_constraints",
    "load_pretrained",
    "normalisation_of",
    "param_groups",
    "read_state_dict",
    "register",
    "set_finetune_mode",
]
