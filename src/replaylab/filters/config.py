"""params.yaml sections (``pre_xgb``, ``post_xgb``) -> the filters' configs."""

from __future__ import annotations

from ..features.tracking import FeatureConfig
from ..params.filters import PostXgbParams, PreXgbParams, XgbParams
from .post import PostFilterConfig
from .pre import PreFilterConfig
from .xgb import XgbConfig


def xgb_config(p: XgbParams, seed: int) -> XgbConfig:
    return XgbConfig(n_estimators=p.n_estimators, max_depth=p.max_depth, learning_rate=p.learning_rate, subsample=p.subsample,
                     colsample_bytree=p.colsample_bytree, min_child_weight=p.min_child_weight, reg_lambda=p.reg_lambda,
                     threads=p.threads, seed=seed)  # fmt: skip


def pre_config(p: PreXgbParams, *, seed: int) -> PreFilterConfig:
    s = seed if p.seed is None else p.seed
    return PreFilterConfig(
        label_tolerance=p.label_tolerance, neg_ratio=p.neg_ratio, hard_negative_share=p.hard_negative_share, n_folds=p.n_folds,
        target_recall=p.target_recall, pad_frames=p.pad_frames, nms_frames=p.detector.nms_frames, peak_floor=p.detector.peak_floor,
        tolerance_s=p.detector.tolerance_s, seed=s, features=FeatureConfig(**p.features.model_dump()), xgb=xgb_config(p.xgb, s),
    )  # fmt: skip


def post_config(p: PostXgbParams, *, seed: int) -> PostFilterConfig:
    s = seed if p.seed is None else p.seed
    return PostFilterConfig(
        columns=tuple(p.columns), active_column=p.active_column, half_window=p.half_window, label_tolerance=p.label_tolerance,
        neg_ratio=p.neg_ratio, n_folds=p.n_folds, train_splits=tuple(p.train_splits), nms_frames=p.nms_frames, min_score=p.min_score,
        tolerance_s=p.tolerance_s, seed=s, xgb=xgb_config(p.xgb, s),
    )  # fmt: skip
