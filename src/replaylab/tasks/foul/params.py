"""The foul task's params sections: ``cache_clips.foul``, ``train.foul`` and ``evaluate.foul``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ...params.base import Section
from ...params.data import ClipParams, MvfoulSource, SplitTaskParams
from ...params.train import TrainTaskParams

__all__ = ["FoulCacheParams", "FoulEvaluateParams", "FoulTrainParams", "SPLIT_DEFAULT"]


class FoulCacheParams(ClipParams):
    source: MvfoulSource = MvfoulSource(format="mvfoul")
    size: list[int] = Field(default_factory=lambda: [64, 112], min_length=2, max_length=2)
    views: int = Field(4, ge=1, le=16)
    min_views: int = Field(1, ge=1, le=16)  # keep an action while at least this many views are readable

    @model_validator(mode="after")
    def _min_views(self):
        if self.min_views > self.views:
            raise ValueError(f"min_views ({self.min_views}) cannot exceed views ({self.views})")
        return self


class FoulTrainParams(TrainTaskParams):
    """The multi-view foul network: shared backbone, view aggregation, two heads."""

    aggregation: Literal["max", "mean", "attention"] = "max"
    hidden: int = Field(256, ge=1, le=65536)
    views: int = Field(2, ge=1, le=16)
    view_chunk: int = Field(0, ge=0, le=4096)
    action_loss_weight: float = Field(1.0, ge=0.0, le=100.0)
    offence_loss_weight: float = Field(1.0, ge=0.0, le=100.0)
    monitor: str = "val_leaderboard_value_present"
    early_stop_patience: int = Field(0, ge=0)


class FoulEvaluateParams(Section):
    splits: list[Literal["val", "test"]] = Field(default_factory=lambda: ["val", "test"], min_length=1)


SPLIT_DEFAULT = SplitTaskParams(strategy="official")
