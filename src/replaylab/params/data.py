"""Schema of the `cache_clips` and `split` sections."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Section as _Section


# ------------------------------------------------------------------------------------------ cache_clips
class MatchesSource(_Section):
    format: Literal["matches"]
    root: str = "data/raw/synthetic/matches"
    neg_ratio: float = Field(2.0, ge=0.0, le=100.0)
    lookalike_share: float = Field(0.5, ge=0.0, le=1.0)
    lookalike_types: list[str] = Field(default_factory=lambda: ["kick", "chest", "thigh", "fly_past", "jump_miss", "bounce"])
    min_gap_s: float = Field(1.0, ge=0.0, le=60.0)
    crop_on: Literal["ball", "ball_track", "player", "none"] = "ball"
    track_smooth_s: float = Field(0.1, ge=0.0, le=5.0)
    on_bad_rows: Literal["fail", "drop"] = "fail"  # bad tracking rows / events outside the video: error or drop + count


class HeaderCsvSource(_Section):
    format: Literal["header_csv"]
    root: str = "data/raw/synthetic/header_clips"
    csv: str = "dataset.csv"


class MvfoulSource(_Section):
    format: Literal["mvfoul"]
    root: str = "data/raw/synthetic/mvfoul"
    splits: list[Literal["train", "valid", "test", "challenge"]] = Field(
        default_factory=lambda: ["train", "valid", "test"], min_length=1
    )
    center_frame: int = Field(75, ge=0)
    source_fps: float = Field(25.0, gt=0.0, le=240.0)


class AvaSource(_Section):
    format: Literal["ava"]
    root: str = "data/raw/synthetic/ava"
    splits: list[Literal["train", "val"]] = Field(default_factory=lambda: ["train", "val"], min_length=1)
    timestamp_offset: float = Field(0.0, ge=0.0)
    min_proposal_score: float = Field(0.0, ge=0.0, le=1.0)


class AvaCocoSource(_Section):
    format: Literal["ava_coco"]
    root: str = "data/raw/synthetic/ava_coco"
    splits: list[Literal["train", "val"]] = Field(default_factory=lambda: ["train", "val"], min_length=1)
    annotations_dir: str = "annotations"  # <split>.json
    boxes_dir: str = "boxes"  # <split>_person_bbox.json (optional)
    clips_dir: str = "clips"  # <video_id>/<timestamp>.mp4; "{split}" is replaced by the split name
    label_map: str | None = None  # AVA pbtxt naming action ids when `categories` are not the actions (AlphAction's)
    min_proposal_score: float = Field(0.0, ge=0.0, le=1.0)
    keyframe_s: float | None = Field(None, ge=0.0, le=3600.0)  # keyframe time in its clip; None = the middle frame


class Ucf101Source(_Section):
    format: Literal["ucf101"]
    root: str = "data/raw/synthetic/ucf101"
    split_id: int = Field(1, ge=1, le=3)


class Hmdb51Source(_Section):
    format: Literal["hmdb51"]
    root: str
    split_id: int = Field(1, ge=1, le=3)


class KineticsSource(_Section):
    format: Literal["kinetics"]
    root: str
    # annotation CSVs (label,youtube_id,time_start,time_end,split[,is_cc]), relative to root
    split_csvs: list[str] = Field(default_factory=lambda: ["annotations/train.csv", "annotations/val.csv"], min_length=1)
    clips_dir: str = "{split}"  # clip folder under root; "{split}" = the row's split value (train, val, validate, test)
    extensions: list[str] = Field(default_factory=lambda: ["mp4", "mkv", "webm"], min_length=1)
    # the CSVs' split values -> official split
    split_map: dict[str, Literal["train", "val", "test"]] = Field(
        default_factory=lambda: {"train": "train", "val": "val", "validate": "val", "test": "test"}
    )
    missing: Literal["skip", "fail"] = "skip"  # listed clips not on disk: skip (counted) or fail


class ClipParams(_Section):
    frames: int = Field(16, ge=1, le=512)
    stride: int = Field(1, ge=1, le=100)
    fps: float | None = Field(None, gt=0.0, le=240.0)
    size: list[int] = Field(default_factory=lambda: [64, 64], min_length=2, max_length=2)
    crop_px: int | None = Field(None, ge=8, le=4096)
    outside: Literal["skip", "fail", "pad"] = "skip"  # clip windows reaching outside their video

    @model_validator(mode="after")
    def _size(self):
        if not all(8 <= v <= 1024 for v in self.size):
            raise ValueError(f"size must be [height, width] with each in 8..1024, got {self.size}")
        return self


class CacheCommon(_Section):
    """The `cache_clips` keys shared by every task (each task adds its own sub-section: see replaylab.tasks)."""

    out_dir: str = "data/cache"
    workers: int = Field(2, ge=0, le=256)
    on_bad_video: Literal["fail", "skip"] = "fail"
    compression: Literal["none", "lzf", "gzip"] = "none"


# ------------------------------------------------------------------------------------------ split
class Fractions(_Section):
    train: float = Field(0.7, ge=0.0, le=1.0)
    val: float = Field(0.15, ge=0.0, le=1.0)
    test: float = Field(0.15, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sum(self):
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self


class SplitTaskParams(_Section):
    strategy: Literal["grouped", "official"] = "grouped"
    fractions: Fractions = Fractions()
    seed: int | None = Field(None, ge=0, le=2**32 - 1)


class SplitCommon(_Section):
    """The `split` keys shared by every task (each task adds its own `SplitTaskParams` sub-section)."""

    out_dir: str = "data/splits"
