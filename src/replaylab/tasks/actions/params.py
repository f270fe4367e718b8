"""The actions task's params sections: ``cache_clips.actions``, ``train.actions`` and ``evaluate.actions``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ...params.base import Section
from ...params.data import AvaCocoSource, AvaSource, ClipParams, SplitTaskParams
from ...params.train import AugmentParams, TrainTaskParams

__all__ = ["ActionsCacheParams", "ActionsEvaluateParams", "ActionsTrainParams", "IAParams", "RoiParams", "SPLIT_DEFAULT"]

IABlock = Literal["P", "O", "M"]


class ActionsCacheParams(ClipParams):
    source: Annotated[AvaSource | AvaCocoSource, Field(discriminator="format")] = AvaSource(format="ava")
    stride: int = Field(2, ge=1, le=100)
    size: list[int] = Field(default_factory=lambda: [96, 160], min_length=2, max_length=2)


class RoiParams(Section):
    """The ROI action head: temporal mean -> roi_align per box -> spatial pool -> MLP."""

    output_size: int = Field(7, ge=1, le=32)  # roi_align bins per side
    sampling_ratio: int = Field(0, ge=0, le=16)  # points per bin side (0 = adaptive)
    spatial_pool: Literal["max", "mean"] = "max"
    hidden: int = Field(512, ge=0, le=65536)  # MLP width (0 = a single linear layer)


class IAParams(Section):
    """AlphAction's interaction aggregation structure over the actor features (``active: false`` = plain ROI head)."""

    active: bool = False
    structure: Literal["serial", "parallel", "dense"] = "serial"
    blocks: list[IABlock] = Field(default_factory=lambda: ["P", "O", "M"], min_length=1, max_length=12)
    dim_inner: int = Field(256, ge=8, le=4096)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    layer_norm: bool = True
    memory_span_s: int = Field(3, ge=1, le=600)  # M: actor features of keyframes within +- this many seconds
    memory_per_sec: int = Field(5, ge=1, le=100)  # M: at most this many actors per neighbouring keyframe


class ActionsTrainParams(TrainTaskParams):
    """The actor ROI head (+ optional IA) over a backbone map (video) or the feature store's maps (features)."""

    input: Literal["video", "features"] = "features"
    features_source: Literal["pooled", "map"] = "map"
    backbone: str = "i3d"
    frozen_bn: bool = True  # video mode: keep the backbone's BatchNorm statistics and shifts fixed (AVA practice)
    roi: RoiParams = RoiParams()
    ia: IAParams = IAParams()
    proposal_per_clip: int = Field(10, ge=1, le=1000)  # training boxes per keyframe (ground truth + proposals), at most
    proposal_iou: float = Field(
        0.5, gt=0.0, le=1.0
    )  # a proposal trains with the labels of a ground-truth box it overlaps this much
    box_jitter: float = Field(0.05, ge=0.0, le=0.5)  # training boxes: each side moved by N(0, jitter) x the box size
    pose_loss: Literal["sigmoid", "softmax"] = "sigmoid"
    pose_classes: list[str] = Field(default_factory=lambda: ["stand", "walk", "run/jog"])
    reference_batch: int = Field(16, ge=1, le=65536)  # lr is for this global batch; scaled by world_size * batch / it
    schedule: Literal["none", "step", "cosine", "plateau", "multistep"] = "multistep"
    warmup_iters: int = Field(50, ge=0, le=10_000_000)
    warmup_factor: float | None = Field(0.1, gt=0.0, le=1.0)
    epochs: int = Field(15, ge=1, le=10000)
    milestones: list[int] = Field(default_factory=lambda: [950, 1200])  # optimiser steps; lr *= gamma after each
    warmup_epochs: float = Field(0.0, ge=0.0, le=1000.0)
    monitor: str = "val_frame_map"
    early_stop_patience: int = Field(0, ge=0)
    augment: AugmentParams = AugmentParams(flip=0.0, rotate_deg=0.0)

    @model_validator(mode="after")
    def _check(self):
        unused = {k: getattr(self, k) for k, d in (("loss", "ce"), ("class_weights", "none"), ("label_smoothing", 0.0))
                  if getattr(self, k) != d}  # fmt: skip
        if unused:
            raise ValueError(
                f"{', '.join(unused)}: not used by actions (binary cross-entropy per class, see pose_loss); leave the defaults"
            )
        if self.augment.flip or self.augment.rotate_deg:
            raise ValueError("augment.flip and augment.rotate_deg must be 0 for actions (person boxes are not transformed)")
        if self.input == "features" and self.features_source != "map":
            raise ValueError("features_source must be 'map' for actions (the ROI head pools person boxes out of the map)")
        if list(self.milestones) != sorted(set(self.milestones)) or any(m < 1 for m in self.milestones):
            raise ValueError(f"milestones must be increasing optimiser-step counts >= 1, got {self.milestones}")
        return self


class ActionsEvaluateParams(Section):
    splits: list[Literal["val", "test"]] = Field(default_factory=lambda: ["val", "test"], min_length=1)


SPLIT_DEFAULT = SplitTaskParams(strategy="official")
