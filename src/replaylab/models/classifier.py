"""Clip classifier = registered backbone (a feature map) + pooling head, fine-tuning modes and optimiser groups."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from .heads import HeadNorm, PoolingHead
from .registry import Size, build_backbone, get_spec

__all__ = ["FinetuneMode", "VideoClassifier", "build_classifier", "normalisation_of", "param_groups", "set_finetune_mode"]

log = logging.getLogger(__name__)

FinetuneMode = Literal["full", "frozen", "partial"]
NO_DECAY_NAMES = ("pos_embed", "cls_token", "class_token", "rel_pos_h", "rel_pos_w", "rel_pos_t")


class VideoClassifier(nn.Module):
    """``head(backbone(x))`` for clips (B, 3, T, H, W) -> logits (B, num_classes): the backbone's feature map
    through a :class:`~replaylab.models.heads.PoolingHead` (global pooling as the backbone declares it ->
    dropout -> linear; its parameters are ``head.weight`` / ``head.bias``).

    After :func:`set_finetune_mode` the frozen part of the backbone stays in eval mode (BN statistics and
    dropout fixed) whatever ``train()`` is called with."""

    def __init__(self, backbone: nn.Module, num_classes: int, *, dropout: float = 0.5, backbone_name: str = "",
                 head_norm: HeadNorm = "none") -> None:  # fmt: skip
        super().__init__()
        self.backbone = backbone
        self.head = PoolingHead.for_backbone(backbone, num_classes, dropout=dropout, norm=head_norm)
        self.backbone_name = backbone_name
        self.num_classes = num_classes
        self.finetune_mode: FinetuneMode = "full"
        self.frozen_modules: list[nn.Module] = []  # a plain list: not registered, not in the state dict
        # what the backbone itself keeps fixed (e.g. CSN's bn_frozen); fine-tuning modes never unfreeze it
        self._trainable_by_design = {name: p.requires_grad for name, p in backbone.named_parameters()}
        self.load_report: Any = None  # the LoadReport of build_classifier(pretrained=...)
        self.reset_head()

    @property
    def feature_dim(self) -> int:
        """Width of the pooled features (what the linear layer takes)."""
        return int(self.head.in_features)

    @property
    def dropout(self) -> nn.Dropout:
        return self.head.dropout

    def reset_head(self) -> None:
        nn.init.trunc_normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's map (B, C, T', H', W'); strides in ``backbone.feature_strides``."""
        return self.backbone(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, ``feature_dim``): what the linear layer sees (before dropout)."""
        return self.head.features(self.backbone(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def train(self, mode: bool = True) -> VideoClassifier:
        super().train(mode)
        for m in self.frozen_modules:
            m.eval()
        return self


def build_classifier(
    *,
    backbone: str,
    num_classes: int,
    frames: int,
    size: Size,
    dropout: float = 0.5,
    pretrained: str | None = None,
    backbone_options: dict[str, Any] | None = None,
    head_norm: HeadNorm = "none",
) -> VideoClassifier:
    """Registered ``backbone`` for ``frames`` x ``size`` clips with a ``num_classes`` head; ``pretrained``:
    a local checkpoint file or directory (see :func:`replaylab.models.checkpoints.load_pretrained`; its
    :class:`LoadReport` is kept as ``model.load_report``)."""
    net = build_backbone(backbone, frames=frames, size=size, **(backbone_options or {}))
    model = VideoClassifier(net, num_classes, dropout=dropout, backbone_name=backbone, head_norm=head_norm)
    if pretrained:
        from .checkpoints import load_pretrained

        model.load_report = load_pretrained(model, pretrained)
    return model


# ------------------------------------------------------------------------------------------ fine-tuning
def _frozen_none(blocks: list[nn.Module], backbone: nn.Module, n: int) -> list[nn.Module]:
    return []


def _frozen_all(blocks: list[nn.Module], backbone: nn.Module, n: int) -> list[nn.Module]:
    return [backbone]


def _frozen_all_but_last(blocks: list[nn.Module], backbone: nn.Module, n: int) -> list[nn.Module]:
    if not 1 <= n <= len(blocks):
        raise ValueError(f"partial_blocks must be in 1..{len(blocks)} (the backbone has {len(blocks)} blocks), got {n}")
    return blocks[:-n]


_FROZEN_PARTS: dict[str, Callable[[list[nn.Module], nn.Module, int], list[nn.Module]]] = {
    "full": _frozen_none,
    "frozen": _frozen_all,
    "partial": _frozen_all_but_last,
}


def set_finetune_mode(model: VideoClassifier, *, mode: FinetuneMode, partial_blocks: int = 1) -> None:
    """``full``: everything trains; ``frozen``: only the head trains, the backbone is fixed and kept in eval
    mode (BN statistics unchanged); ``partial``: the head and the last ``partial_blocks`` backbone blocks
    train, earlier blocks are fixed and in eval mode. Can be called again to change mode."""
    if mode not in _FROZEN_PARTS:
        raise ValueError(f"finetune mode must be one of {', '.join(_FROZEN_PARTS)}, got {mode!r}")
    backbone = model.backbone
    spec_blocks = get_spec(model.backbone_name).blocks if model.backbone_name else None
    blocks = spec_blocks(backbone) if spec_blocks else list(backbone.blocks())
    frozen = _FROZEN_PARTS[mode](blocks, backbone, partial_blocks)
    frozen_ids = {id(p) for m in frozen for p in m.parameters()}
    for name, p in backbone.named_parameters():
        p.requires_grad_(model._trainable_by_design.get(name, True) and id(p) not in frozen_ids)
    for p in model.head.parameters():
        p.requires_grad_(True)
    model.finetune_mode = mode
    model.frozen_modules = frozen
    model.train(model.training)


# ------------------------------------------------------------------------------------------ optimiser groups
def _no_decay(name: str, p: torch.Tensor) -> bool:
    return p.ndim <= 1 or name.rsplit(".", 1)[-1] in NO_DECAY_NAMES


def param_groups(model: VideoClassifier, *, lr_backbone: float, lr_head: float, weight_decay: float) -> list[dict[str, Any]]:
    """Optimiser groups of the trainable parameters: ``backbone`` / ``head`` at their learning rates with
    ``weight_decay``, and ``backbone_no_decay`` / ``head_no_decay`` (biases, norm weights, position
    embeddings, class tokens, layer scales) without. Empty groups are left out."""
    groups: dict[str, dict[str, Any]] = {}
    for part, module, lr in (("backbone", model.backbone, lr_backbone), ("head", model.head, lr_head)):
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            no_decay = _no_decay(name, p)
            key = f"{part}_no_decay" if no_decay else part
            group = groups.setdefault(
                key, {"name": key, "params": [], "lr": lr, "weight_decay": 0.0 if no_decay else weight_decay}
            )
            group["params"].append(p)
    order = ("backbone", "backbone_no_decay", "head", "head_no_decay")
    return [groups[k] for k in order if k in groups]


def normalisation_of(name: str) -> str:
    """The input normalisation (``imagenet`` / ``kinetics`` / ``videomae`` / ``inception``) backbone ``name`` expects."""
    return get_spec(name).norm
