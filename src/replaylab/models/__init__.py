"""Video backbones behind one registry, the clip classifier built on them, and local checkpoint loading.

>>> from replaylab.models import build_classifier, set_finetune_mode, param_groups
>>> model = build_classifier(backbone="compact3d", num_classes=2, frames=16, size=(64, 64))

Importing the package registers every backbone (see :data:`BACKBONES`).
"""

from __future__ import annotations

from . import compact, csn, torchvision_backbones, videomae  # noqa: F401  (register the backbones)
from .checkpoints import CheckpointError, LoadReport, find_checkpoint_file, load_pretrained, read_state_dict
from .classifier import VideoClassifier, build_classifier, normalisation_of, param_groups, set_finetune_mode
from .compact import create_compact3d
from .csn import create_csn
from .registry import BACKBONES, BackboneSpec, build_backbone, get_spec, input_constraints, register
from .videomae import create_videomae

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "CheckpointError",
    "LoadReport",
    "VideoClassifier",
    "build_backbone",
    "build_classifier",
    "create_compact3d",
    "create_csn",
    "create_videomae",
    "find_checkpoint_file",
    "get_spec",
    "input_constraints",
    "load_pretrained",
    "normalisation_of",
    "param_groups",
    "read_state_dict",
    "register",
    "set_finetune_mode",
]
