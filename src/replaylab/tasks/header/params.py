"""The header task's params sections: ``cache_clips.header``, ``train.header`` and ``evaluate.header``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ...params.data import ClipParams, HeaderCsvSource, MatchesSource, SplitTaskParams
from ...params.detect import EvaluateHeaderParams
from ...params.train import TrainTaskParams

__all__ = ["HeaderCacheParams", "HeaderTrainParams", "EvaluateHeaderParams", "SPLIT_DEFAULT"]


class HeaderCacheParams(ClipParams):
    source: Annotated[MatchesSource | HeaderCsvSource, Field(discriminator="format")] = MatchesSource(format="matches")
    crop_px: int | None = Field(96, ge=8, le=4096)


class HeaderTrainParams(TrainTaskParams):
    targets: Literal["binary", "event_types"] = "event_types"
    head_norm: Literal["none", "batchnorm"] = "none"  # batchnorm: standardise the pooled features before the linear layer


SPLIT_DEFAULT = SplitTaskParams()
