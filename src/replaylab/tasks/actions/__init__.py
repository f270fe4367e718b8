"""The actions task (AVA-style person-action detection): clip cache and splits so far; no model yet."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ...params.data import AvaCocoSource, AvaSource, ClipParams, SplitTaskParams
from ..registry import TaskSpec, register_task


class ActionsCacheParams(ClipParams):
    source: Annotated[AvaSource | AvaCocoSource, Field(discriminator="format")] = AvaSource(format="ava")
    stride: int = Field(2, ge=1, le=100)
    size: list[int] = Field(default_factory=lambda: [96, 160], min_length=2, max_length=2)


SPEC = register_task(
    TaskSpec(
        name="actions",
        description="what each person does at each keyframe (AVA layout); cache and split only",
        package=__name__,
        cache_params=ActionsCacheParams,
        split_params=SplitTaskParams(strategy="official"),
    )
)
