"""The trainable part of a model on stored features, and the frozen model that scores raw clips again.

* :class:`PooledClassifier`: a :class:`~replaylab.models.VideoClassifier`'s head (dropout -> linear) on pooled
  vectors (B, D), or on maps (B, C, T', H', W') through the head's own global pooling;
* :class:`PooledMultiView`: a :class:`~replaylab.models.multiview.MultiViewNet`'s head (view aggregation ->
  intermediate layer -> action / offence heads) on per-view features (B, V, D) or maps (B, V, C, T', H', W').

Both keep the head module of the full model they are made from, so their state dict has the same keys
(``head.weight`` / ``head.bias``, ``head.aggregate.*`` ...) and a trained head loads into the full model
(frozen backbone + head) to score clips end to end: :func:`frozen_classifier`, :func:`frozen_multiview`, each
wrapped in :class:`InputResample` (normalised clips at the cache's size -> the backbone's input).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["InputResample", "PooledClassifier", "PooledMultiView", "frozen_classifier", "frozen_multiview", "load_head"]


class PooledClassifier(nn.Module):
    """``head`` (a PoolingHead) on pooled features (B, D) or maps; ``backbone`` is empty (nothing else trains)."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.backbone = nn.Identity()  # so replaylab.models.param_groups sees a backbone without parameters
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            return self.head.classify(x)
        return self.head(x)


class PooledMultiView(nn.Module):
    """A MultiViewNet's ``head`` on per-view features: (B, V, D) pooled or (B, V, C, T', H', W') maps."""

    def __init__(self, head: nn.ModuleDict) -> None:
        super().__init__()
        self.backbone = nn.Identity()
        self.head = head

    def forward(self, feats: torch.Tensor, view_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        b, v = feats.shape[:2]
        if feats.ndim == 6:
            feats = self.head["pool"](feats.flatten(0, 1)).unflatten(0, (b, v))
        if feats.ndim != 3:
            raise ValueError(f"expected view features (B, V, D) or maps (B, V, C, T, H, W), got {tuple(feats.shape)}")
        mask = torch.ones(b, v, dtype=torch.bool, device=feats.device) if view_mask is None else view_mask.bool()
        feats = feats.masked_fill(~mask.unsqueeze(-1), 0.0)  # missing views: zero, as MultiViewNet leaves them
        z = self.head["inter"](self.head["aggregate"](feats, mask))
        return self.head["action"](z), self.head["offence"](z)


class InputResample(nn.Module):
    """Normalised clips (..., 3, T, H, W) resampled to the backbone's ``frames`` x ``size``, then ``model``."""

    def __init__(self, model: nn.Module, *, frames: int, size: Sequence[int], mode: str = "trilinear") -> None:
        super().__init__()
        self.model = model
        self.frames, self.size, self.mode = int(frames), (int(size[0]), int(size[1])), mode

    def forward(self, video: torch.Tensor, *args: Any) -> Any:
        from .featurize import resample

        return self.model(resample(video, frames=self.frames, size=self.size, mode=self.mode), *args)


def load_head(model: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Load a features-mode checkpoint (head keys only) into a full model whose backbone is already loaded."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    not_backbone = [k for k in missing if not k.startswith("backbone.")]
    if unexpected or not_backbone:
        raise ValueError(f"{where}: does not match the model's head (unexpected keys {unexpected[:4]}, "
                         f"missing head keys {not_backbone[:4]})")  # fmt: skip


def _check_weights(features: dict[str, Any], where: str) -> None:
    from ..models import find_checkpoint_file
    from ..training.fingerprint import file_digest

    path = features.get("pretrained")
    if not path:
        return
    md5 = file_digest(find_checkpoint_file(path))
    if md5 != features.get("pretrained_md5"):
        raise ValueError(f"{where}: the head was trained on features of {path} with md5 {features.get('pretrained_md5')}, "
                         f"but that file now has md5 {md5}; featurize and train again, or restore the file")  # fmt: skip


def _init_backbone(features: dict[str, Any]) -> None:
    if not features.get("pretrained"):  # random-weight backbones are made from the featurize seed
        torch.manual_seed(int(features.get("init_seed", 0)))


def frozen_classifier(
    features: dict[str, Any], *, num_classes: int, dropout: float, where: str, head_norm: str = "none"
) -> nn.Module:
    """The frozen backbone of ``features`` (a store model's identity) + a fresh PoolingHead, taking clips at
    the cache's size (resampled inside); load the trained head with :func:`load_head` on ``.model``."""
    from ..models import build_classifier, load_pretrained

    _check_weights(features, where)
    _init_backbone(features)
    model = build_classifier(backbone=features["backbone"], num_classes=num_classes, frames=features["frames"],
                             size=tuple(features["size"]), dropout=dropout, head_norm=head_norm,
                             backbone_options=dict(features["backbone_options"]))  # fmt: skip
    if features.get("pretrained"):
        load_pretrained(model.backbone, features["pretrained"])
    return InputResample(model, frames=features["frames"], size=features["size"], mode=features["resize"])


def frozen_multiview(features: dict[str, Any], arch: dict[str, Any], *, view_chunk: int, where: str) -> nn.Module:
    """The frozen backbone of ``features`` in a MultiViewNet of ``arch`` (load the head with :func:`load_head`)."""
    from ..models.multiview import build_multiview

    _check_weights(features, where)
    _init_backbone(features)
    model = build_multiview(**arch, view_chunk=view_chunk, pretrained=features.get("pretrained"))
    return InputResample(model, frames=features["frames"], size=features["size"], mode=features["resize"])
