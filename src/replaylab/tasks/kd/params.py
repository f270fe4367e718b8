"""The kd task's params sections: ``train.kd`` (converters + fusion head) and ``evaluate.kd``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ...params.base import Section
from ...params.train import AugmentParams, TrainTaskParams

__all__ = ["ConverterParams", "FusionParams", "KdEvaluateParams", "KdTrainParams"]


class ConverterParams(Section):
    """Phase 1: one converter per teacher, student features -> that teacher's (standardised) pooled features."""

    kind: Literal["linear", "mlp", "transformer"] = "linear"
    tokens: Literal["pooled", "time"] = "pooled"  # time: the student's map averaged over space, one token per time step
    hidden: int = Field(256, ge=1, le=65536)  # mlp: hidden width
    depth: int = Field(1, ge=1, le=16)  # mlp: hidden layers
    width: int = Field(128, ge=8, le=4096)  # transformer: token width
    layers: int = Field(1, ge=1, le=12)  # transformer: encoder layers
    heads: int = Field(4, ge=1, le=64)  # transformer: attention heads (width must divide by it)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    loss: Literal["mse", "cosine"] = "mse"  # regression loss against the teacher's features
    relational: Literal["none", "cka", "similarity"] = "none"  # optional batch-relational term
    relational_weight: float = Field(0.1, ge=0.0, le=100.0)
    epochs: int = Field(200, ge=1, le=100000)  # at most; early stopping on the val converter loss
    patience: int = Field(20, ge=1)  # epochs without a lower val converter loss before stopping
    batch_size: int = Field(32, ge=2, le=4096)
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    weight_decay: float = Field(1e-2, ge=0.0, le=10.0)

    @model_validator(mode="after")
    def _heads_divide_width(self) -> ConverterParams:
        if self.kind == "transformer" and self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        return self


class FusionParams(Section):
    """Phase 2: the head over [student, converted teacher features], converters frozen."""

    kind: Literal["concat", "gated", "attention"] = "concat"
    hidden: int = Field(256, ge=1, le=65536)  # concat: the MLP's hidden width
    width: int = Field(256, ge=8, le=65536)  # gated / attention: the common width of every source
    gate_hidden: int = Field(64, ge=1, le=4096)  # gated: hidden width of the gate network


class KdTrainParams(TrainTaskParams):
    """Distillation fusion (TC-BombKD) on the recognition data: ``features_model`` names the student and
    ``teachers`` the teachers, all keys of ``featurize.recognition.models``; ``input`` is the fusion training mode
    (``features``: stored student features; ``video``: decoded clips through the frozen student each step)."""

    input: Literal["video", "features"] = "features"
    features_model: str | None = "student"
    teachers: list[str] = Field(default_factory=lambda: ["i3d"], min_length=1)
    converter: ConverterParams = ConverterParams()
    fusion: FusionParams = FusionParams()
    # video mode may augment the clips; the default (none) keeps video and features mode the same function
    augment: AugmentParams = AugmentParams(flip=0.0, rotate_deg=0.0, brightness=0.0, contrast=0.0, temporal_jitter=0)
    references: bool = True  # also train the student-alone and teacher-alone heads (same recipe) for the table
    monitor: str = "val_top1"
    select: Literal["best", "last"] = "last"
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    epochs: int = Field(60, ge=1, le=10000)
    early_stop_patience: int = Field(20, ge=0)

    @model_validator(mode="after")
    def _roles(self) -> KdTrainParams:
        if self.features_model is None:
            raise ValueError("features_model: name the student (a key of featurize.recognition.models)")
        if self.features_model in self.teachers:
            raise ValueError(f"teachers: {self.features_model!r} is the student (features_model)")
        if len(set(self.teachers)) != len(self.teachers):
            raise ValueError(f"teachers: listed twice in {self.teachers}")
        if self.converter.tokens == "time" and self.input == "features" and self.features_source != "map":
            raise ValueError("converter.tokens: time reads the student's stored maps: set features_source: map "
                             "(and store_maps: true for the student in featurize.recognition.models)")  # fmt: skip
        return self


class KdEvaluateParams(Section):
    splits: list[Literal["val", "test"]] = Field(default_factory=lambda: ["val", "test"], min_length=1)
