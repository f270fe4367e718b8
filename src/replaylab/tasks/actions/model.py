"""The person-action detector: a backbone map -> per-box features (ROI align) -> optional IA -> MLP logits.

* :class:`ActionHead`: what trains on stored maps. :class:`~replaylab.models.heads.RoiHead` pools each person box
  out of the temporally averaged map; with ``ia`` the actor features pass through AlphAction's interaction
  aggregation (:class:`~replaylab.models.ia.IAStructure`: other actors of the clip, the clip's map cells as
  context, and a memory of actor features of neighbouring keyframes from the feature store) before the MLP.
* :class:`ActionDetector`: ``backbone`` + ``head``; in features mode the backbone is an ``nn.Identity`` and the
  input is the stored map, so the head's state dict is the same in both modes (``head.*``). In video mode it
  keeps the fine-tuning bookkeeping of :class:`~replaylab.models.classifier.VideoClassifier`, so
  :func:`replaylab.models.set_finetune_mode` (``full`` / ``frozen`` / ``partial``) and
  :func:`replaylab.models.param_groups` work on it as on the clip classifier.

Boxes enter as ``rois`` (N, 5) rows ``[batch_index, x1, y1, x2, y2]`` in pixels of the backbone's input.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ...models.heads import RoiHead

__all__ = ["ActionDetector", "ActionHead", "build_detector"]


class ActionHead(nn.Module):
    def __init__(self, *, channels: int, num_classes: int, spatial_stride: int, roi: dict[str, Any], dropout: float,
                 ia: dict[str, Any] | None = None, memory_dim: int | None = None) -> None:  # fmt: skip
        super().__init__()
        self.roi = RoiHead(channels, num_classes, spatial_stride=spatial_stride, output_size=int(roi["output_size"]),
                           sampling_ratio=int(roi["sampling_ratio"]), spatial_pool=roi["spatial_pool"],
                           hidden=int(roi["hidden"]), dropout=dropout)  # fmt: skip
        self.blocks: tuple[str, ...] = ()
        self.ia: nn.Module | None = None
        if ia is not None:
            from ...models.ia import IAStructure

            self.blocks = tuple(ia["blocks"])
            if "M" in self.blocks and memory_dim is None:
                raise ValueError("IA block M needs memory features (their width, memory_dim)")
            # fusion "add": the IA output is added to the actor features (AlphAction's configs), so the MLP keeps its width;
            # every context cell is a token (max_object); memory tokens carry their keyframe offset (temporal position)
            self.ia = IAStructure(dim_in=channels, dim_inner=int(ia["dim_inner"]), blocks=self.blocks,
                                  structure=ia["structure"], dropout=float(ia["dropout"]), layer_norm=bool(ia["layer_norm"]),
                                  max_object=100_000, memory_length=int(ia["memory_span_s"]) if "M" in self.blocks else None,
                                  dim_memory=int(memory_dim) if "M" in self.blocks else None, fusion="add")  # fmt: skip

    @property
    def uses_memory(self) -> bool:
        return "M" in self.blocks

    def actor_features(self, fmap: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """Per-box pooled features (N, C) before IA (parameter-free: what the memory bank stores)."""
        return self.roi.roi_features(fmap.float(), rois)

    def forward(self, fmap: torch.Tensor, rois: torch.Tensor, *, memory: Any = None) -> torch.Tensor:
        """Logits (N, classes); ``memory`` a :class:`replaylab.features.memory.Memory` (tokens, mask, offsets) per clip
        of the batch (the keyframe's memory; its boxes share it)."""
        fmap = fmap.float()
        feats = self.roi.roi_features(fmap, rois)
        if self.ia is not None:
            context = fmap.mean(dim=2).flatten(2).transpose(1, 2) if "O" in self.blocks else None  # (B, H'W', C)
            kw = {}
            if self.uses_memory:
                if memory is None:
                    raise ValueError("IA block M: no memory features given")
                kw = {
                    "memory": memory.tokens.float(),
                    "memory_mask": memory.mask,
                    "memory_offsets": memory.offsets,
                    "memory_rows": rois[:, 0].long(),
                }  # one memory per keyframe (clip), shared by its actors
            feats = self.ia(feats, rois[:, 0].long(), context=context, **kw)
        return self.roi.mlp(self.roi.dropout(feats))


class ActionDetector(nn.Module):
    """``backbone`` (a registry backbone named ``backbone_name``, or ``nn.Identity`` on stored maps) +
    :class:`ActionHead`.

    After :func:`replaylab.models.set_finetune_mode` the frozen part of the backbone stays in eval mode (BN
    statistics and dropout fixed) whatever ``train()`` is called with."""

    def __init__(self, backbone: nn.Module | None, head: ActionHead, *, backbone_name: str = "") -> None:
        super().__init__()
        if backbone is not None and not backbone_name:
            raise ValueError("ActionDetector: a backbone needs its registry name (backbone_name)")
        self.backbone = backbone if backbone is not None else nn.Identity()
        self.head = head
        self.backbone_name = backbone_name  # "" on stored maps (nothing to fine-tune)
        # the bookkeeping of replaylab.models.set_finetune_mode (as VideoClassifier)
        self.finetune_mode = "full"
        self.frozen_modules: list[nn.Module] = []  # a plain list: not registered, not in the state dict
        # what the backbone itself keeps fixed (e.g. bn_frozen); fine-tuning modes never unfreeze it
        self._trainable_by_design = {name: p.requires_grad for name, p in self.backbone.named_parameters()}

    def train(self, mode: bool = True) -> ActionDetector:
        super().train(mode)
        for m in self.frozen_modules:
            m.eval()
        return self

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor, rois: torch.Tensor, *, memory: Any = None) -> torch.Tensor:
        return self.head(self.backbone(x), rois, memory=memory)


def build_detector(arch: dict[str, Any], *, features: bool, pretrained: str | None = None,
                   backbone: nn.Module | None = None) -> ActionDetector:  # fmt: skip
    """The detector of ``arch`` (see :func:`replaylab.tasks.actions.trainer.architecture`): with ``features`` the
    head alone (on stored maps); else the registry backbone (``pretrained`` loaded; its head, if any, skipped):
    ``backbone`` when given (already built from ``arch``, e.g. the one ``architecture`` probed), else built here."""
    from ...models import build_backbone, load_pretrained

    head = ActionHead(channels=int(arch["channels"]), num_classes=int(arch["num_classes"]),
                      spatial_stride=int(arch["spatial_stride"]), roi=arch["roi"], dropout=float(arch["dropout"]),
                      ia=arch["ia"], memory_dim=arch.get("memory_dim"))  # fmt: skip
    if features:
        return ActionDetector(None, head)
    if backbone is None:
        backbone = build_backbone(arch["backbone"], frames=int(arch["frames"]), size=tuple(arch["size"]),
                                  **arch["backbone_options"])  # fmt: skip
    if pretrained:
        load_pretrained(backbone, pretrained)  # a head of another class count is skipped, with a message
    return ActionDetector(backbone, head, backbone_name=arch["backbone"])
