"""The recognition task (short-clip classification, UCF101 / HMDB51 / Kinetics layouts): clip cache and splits so far."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ...params.data import ClipParams, Hmdb51Source, KineticsSource, SplitTaskParams, Ucf101Source
from ..registry import TaskSpec, register_task


class RecognitionCacheParams(ClipParams):
    source: Annotated[Ucf101Source | Hmdb51Source | KineticsSource, Field(discriminator="format")] = Ucf101Source(format="ucf101")


SPEC = register_task(
    TaskSpec(
        name="recognition",
        description="classify short clips (UCF101 / HMDB51 split lists, Kinetics CSVs); cache and split only",
        package=__name__,
        cache_params=RecognitionCacheParams,
        split_params=SplitTaskParams(strategy="official"),
    )
)
