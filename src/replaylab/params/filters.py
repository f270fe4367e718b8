"""Schema of the `pre_xgb` and `post_xgb` sections (the header pre- and post-filter)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Section as _Section

SplitName = Literal["train", "val", "test"]
ProbColumn = Literal["cnn_prob", "pre_xgb_prob", "ensemble_prob", "cnn_dense_prob"]


class XgbParams(_Section):
    n_estimators: int = Field(300, ge=1, le=100000)
    max_depth: int = Field(4, ge=1, le=32)
    learning_rate: float = Field(0.05, gt=0.0, le=1.0)
    subsample: float = Field(0.8, gt=0.0, le=1.0)
    colsample_bytree: float = Field(0.8, gt=0.0, le=1.0)
    min_child_weight: float = Field(1.0, ge=0.0, le=1e6)
    reg_lambda: float = Field(1.0, ge=0.0, le=1e6)
    threads: int = Field(1, ge=0, le=256)


class TrackingFeatureParams(_Section):
    head_height_m: float = Field(1.75, gt=0.5, lt=3.0)
    short_s: float = Field(0.12, gt=0.0, le=5.0)
    side_s: float = Field(0.28, gt=0.0, le=5.0)
    accel_s: float = Field(0.2, gt=0.0, le=5.0)
    peak_s: float = Field(0.4, gt=0.0, le=10.0)
    z_fit_s: float = Field(0.24, gt=0.0, le=5.0)
    ballistic_s: float = Field(0.6, gt=0.0, le=10.0)
    contact_s: float = Field(0.2, gt=0.0, le=5.0)
    context_s: float = Field(1.0, gt=0.0, le=30.0)
    max_player_gap_s: float = Field(2.0, ge=0.0, le=60.0)
    max_ball_speed: float = Field(45.0, gt=0.0, le=1000.0)
    max_player_speed: float = Field(13.0, gt=0.0, le=1000.0)


class PreDetectorParams(_Section):
    nms_frames: int = Field(12, ge=0, le=10000)
    peak_floor: float = Field(0.01, ge=0.0, le=1.0)
    tolerance_s: float = Field(0.5, gt=0.0, le=60.0)


class PreXgbParams(_Section):
    label_tolerance: int = Field(2, ge=0, le=1000)
    neg_ratio: float = Field(20.0, ge=0.0, le=1e6)
    hard_negative_share: float = Field(0.5, ge=0.0, le=1.0)
    n_folds: int = Field(5, ge=2, le=1000)
    target_recall: float = Field(0.98, gt=0.0, le=1.0)
    pad_frames: int = Field(2, ge=0, le=10000)
    on_bad_rows: Literal["fail", "drop"] = "fail"  # bad tracking rows / events outside the video: error or drop + count
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    detector: PreDetectorParams = PreDetectorParams()
    features: TrackingFeatureParams = TrackingFeatureParams()
    xgb: XgbParams = XgbParams()


class PostXgbParams(_Section):
    probs: str = "data/probs/header.csv"
    columns: list[ProbColumn] = Field(default_factory=lambda: ["cnn_prob", "pre_xgb_prob", "ensemble_prob"], min_length=1)
    active_column: ProbColumn | None = "cnn_prob"
    ablation_columns: list[ProbColumn] = Field(default_factory=lambda: ["cnn_prob"])
    half_window: int = Field(15, ge=0, le=1000)
    label_tolerance: int = Field(2, ge=0, le=1000)
    neg_ratio: float = Field(0.0, ge=0.0, le=1e6)
    n_folds: int = Field(5, ge=2, le=1000)
    train_splits: list[SplitName] = Field(default_factory=lambda: ["train", "val"], min_length=1)
    nms_frames: int = Field(12, ge=0, le=10000)
    min_score: float = Field(0.01, ge=0.0, le=1.0)
    tolerance_s: float = Field(0.5, gt=0.0, le=60.0)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    xgb: XgbParams = XgbParams()

    @model_validator(mode="after")
    def _checks(self):
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"columns repeat a name: {self.columns}")
        if self.active_column is not None and self.active_column not in self.columns:
            raise ValueError(f"active_column {self.active_column!r} must be one of columns {self.columns}")
        if len(set(self.train_splits)) != len(self.train_splits):
            raise ValueError(f"train_splits repeat a name: {self.train_splits}")
        return self
