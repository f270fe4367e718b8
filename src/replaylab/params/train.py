"""Schema of the `train` and `evaluate` sections: the keys every task shares (tasks add their own sub-sections)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section as _Section


# ------------------------------------------------------------------------------------------ train
class AugmentParams(_Section):
    flip: float = Field(0.5, ge=0.0, le=1.0)
    rotate_deg: float = Field(5.0, ge=0.0, le=45.0)
    brightness: float = Field(0.2, ge=0.0, le=1.0)
    contrast: float = Field(0.2, ge=0.0, le=1.0)
    temporal_jitter: int = Field(2, ge=0, le=64)


class TrainTaskParams(_Section):
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    input: Literal["video", "features"] = "video"  # features: train the head on featurize@<task>'s store
    features_model: str | None = None  # input features: the key of featurize.<task>.models to read (null = the first)
    features_source: Literal["pooled", "map"] = "pooled"  # input features: pooled vectors or the stored maps
    backbone: str = "compact3d"
    backbone_options: dict[str, int | float | str | bool] = Field(default_factory=dict)
    pretrained: str | None = None
    finetune_mode: Literal["full", "frozen", "partial"] = "full"
    partial_blocks: int = Field(1, ge=1, le=100)
    dropout: float = Field(0.3, ge=0.0, lt=1.0)
    norm: Literal["auto", "imagenet", "kinetics", "videomae", "inception", "clip", "none"] = "auto"
    epochs: int = Field(30, ge=1, le=10000)
    batch_size: int = Field(16, ge=1, le=4096)
    num_workers: int = Field(1, ge=0, le=64)
    threads: int = Field(0, ge=0, le=256)
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    lr_backbone: float | None = Field(None, gt=0.0, le=10.0)
    lr_head: float | None = Field(None, gt=0.0, le=10.0)
    weight_decay: float = Field(0.05, ge=0.0, le=10.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    schedule: Literal["none", "step", "cosine", "plateau"] = "cosine"
    warmup_epochs: float = Field(1.0, ge=0.0, le=1000.0)
    step_size: int = Field(10, ge=1)
    gamma: float = Field(0.1, gt=0.0, le=1.0)
    min_lr: float = Field(1e-6, ge=0.0)
    plateau_patience: int = Field(3, ge=0)
    amp: bool = False
    amp_dtype: Literal["auto", "bf16", "fp16"] = "auto"
    accumulate: int = Field(1, ge=1, le=1024)
    grad_clip: float = Field(0.0, ge=0.0)
    loss: Literal["ce", "focal"] = "ce"
    focal_gamma: float = Field(2.0, ge=0.0, le=10.0)
    class_weights: Literal["none", "inverse_frequency"] = "none"
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    early_stop_patience: int = Field(10, ge=0)
    monitor: str = "val_auroc"
    monitor_mode: Literal["max", "min"] = "max"
    select: Literal["best", "last"] = "best"  # the checkpoint kept: best (by monitor) or last (the final epoch)
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    deterministic: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    augment: AugmentParams = AugmentParams()


class TrainCommon(_Section):
    """The `train` keys shared by every task (each trainable task adds its own sub-section)."""

    out_dir: str = "models"
    live_dir: str = "dvclive"


# ------------------------------------------------------------------------------------------ evaluate
class EvaluateCommon(_Section):
    """The `evaluate` keys shared by every task (each evaluable task adds its own sub-section)."""

    out_dir: str = "reports"
