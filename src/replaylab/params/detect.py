"""Schema of the header-detection sections after training: `export_probs` and `evaluate.header`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section as _Section


class EnsembleParams(_Section):
    rule: Literal["mean", "weighted", "geometric", "max", "cnn", "pre_xgb"] = "mean"
    weight: float = Field(0.5, ge=0.0, le=1.0)


class ExportProbsParams(_Section):
    out: str = "data/probs/header.csv"
    batch_size: int = Field(32, ge=1, le=4096)
    threads: int = Field(0, ge=0, le=256)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    ensemble: EnsembleParams = EnsembleParams()
    dense_splits: list[Literal["train", "val", "test"]] = Field(default_factory=lambda: ["val", "test"])
    dense_stride: int = Field(4, ge=1, le=100)


class EvaluateHeaderParams(_Section):
    tolerance_s: float = Field(0.5, gt=0.0, le=60.0)
    map_deltas_s: list[float] = Field(default_factory=lambda: [0.2, 0.4, 0.6, 0.8, 1.0], min_length=1)
    map_framerate: float | None = Field(None, gt=0.0, le=240.0)
    nms_frames: int = Field(12, ge=0, le=10000)
    min_score: float = Field(0.01, ge=0.0, le=1.0)
    timeline_match: str | None = None
