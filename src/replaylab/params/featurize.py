"""Schema of the ``featurize`` section: frozen backbones over a task's clip cache -> a feature store."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Section as _Section


class FeatureModelParams(_Section):
    """One frozen backbone whose features the store keeps (``data/features/<task>/<key>/``)."""

    key: str = Field("compact3d", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    backbone: str = "compact3d"  # a name of the replaylab.models registry
    pretrained: str | None = None  # local checkpoint of the backbone (its head, if any, is not used)
    backbone_options: dict[str, int | float | str | bool] = Field(default_factory=dict)
    frames: int | None = Field(None, ge=1, le=1024)  # input frames; null = the cache's
    size: list[int] | None = Field(None, min_length=2, max_length=2)  # input (height, width); null = the cache's
    resize: Literal["trilinear", "nearest"] = "trilinear"  # how cached clips are resampled to frames x size
    norm: Literal["auto", "imagenet", "kinetics", "videomae", "clip", "none"] = "auto"
    store_maps: bool = False  # also keep the spatio-temporal map (B, C, T', H', W'), not just the pooled vector

    @model_validator(mode="after")
    def _size(self):
        if self.size is not None and min(self.size) < 1:
            raise ValueError(f"size must be positive, got {self.size}")
        return self


class FeaturizeTaskParams(_Section):
    """``featurize.<task>``: the backbones to run over the task's cache and how the shards are cut."""

    models: list[FeatureModelParams] = Field(default_factory=lambda: [FeatureModelParams()], min_length=1)
    shard_size: int = Field(256, ge=1, le=1_000_000)  # samples per shard file
    dtype: Literal["float16", "float32"] = "float16"

    @model_validator(mode="after")
    def _unique_keys(self):
        keys = [m.key for m in self.models]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"models: every key must be unique, {', '.join(dup)} repeats")
        return self


class FeaturizeCommon(_Section):
    """The ``featurize`` keys shared by every task (each task has its own sub-section)."""

    out_dir: str = "data/features"
    batch_size: int = Field(8, ge=1, le=4096)  # clips through the backbone at a time
    threads: int = Field(0, ge=0, le=256)  # torch CPU threads (0 = all cores)
    device: Literal["auto", "cpu", "cuda"] = "auto"
