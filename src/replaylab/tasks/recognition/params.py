"""The recognition task's params sections: ``cache_clips.recognition``, ``train.recognition`` and
``evaluate.recognition``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ...params.base import Section
from ...params.data import ClipParams, Hmdb51Source, KineticsSource, SplitTaskParams, Ucf101Source
from ...params.train import TrainTaskParams

__all__ = ["RecognitionCacheParams", "RecognitionEvaluateParams", "RecognitionTrainParams", "SPLIT_DEFAULT"]


class RecognitionCacheParams(ClipParams):
    source: Annotated[Ucf101Source | Hmdb51Source | KineticsSource, Field(discriminator="format")] = Ucf101Source(format="ucf101")


class RecognitionTrainParams(TrainTaskParams):
    """The plain clip classifier: a registry backbone + pooling head on the clips (``input: video``), or the head
    alone on ``featurize@recognition``'s store (``input: features``); softmax cross-entropy over the classes."""

    head_norm: Literal["none", "batchnorm"] = "none"  # batchnorm: standardise the pooled features before the linear layer
    monitor: str = "val_top1"  # val_top1 | val_top5 | val_mean_class_accuracy | val_loss (with monitor_mode: min)
    epochs: int = Field(20, ge=1, le=10000)
    early_stop_patience: int = Field(8, ge=0)


class RecognitionEvaluateParams(Section):
    splits: list[Literal["val", "test"]] = Field(default_factory=lambda: ["val", "test"], min_length=1)


SPLIT_DEFAULT = SplitTaskParams(strategy="official")
