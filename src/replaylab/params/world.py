"""Schema of the `synthesize` section (the synthetic football world)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Section as _Section


# ------------------------------------------------------------------------------------------ synthesize
class VideoParams(_Section):
    crf: int = Field(20, ge=0, le=51)
    gop: int = Field(12, ge=1, le=300)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "ultrafast"


class LookParams(_Section):
    blur_sigma: float = Field(0.6, ge=0.0, le=5.0)
    noise_std: float = Field(3.0, ge=0.0, le=40.0)
    light_drift: float = Field(0.06, ge=0.0, le=0.5)


class BallPhysicsParams(_Section):
    restitution: float = Field(0.62, gt=0.0, le=1.0)
    bounce_friction: float = Field(0.8, gt=0.0, le=1.0)
    rolling_friction: float = Field(0.35, gt=0.0, le=3.0)


class OutcomeWeights(_Section):
    header: float = Field(0.45, ge=0.0)
    chest: float = Field(0.08, ge=0.0)
    thigh: float = Field(0.08, ge=0.0)
    volley: float = Field(0.1, ge=0.0)
    fly_past: float = Field(0.14, ge=0.0)
    jump_miss: float = Field(0.1, ge=0.0)
    bounce: float = Field(0.1, ge=0.0)

    @model_validator(mode="after")
    def _some_weight(self):
        if sum(self.model_dump().values()) <= 0:
            raise ValueError("at least one outcome weight must be positive")
        return self


class MatchParams(_Section):
    count: int = Field(6, ge=1, le=1000)
    duration_s: float = Field(180.0, ge=10.0, le=6000.0)
    width: int = Field(480, ge=64, le=3840, multiple_of=2)
    height: int = Field(270, ge=64, le=2160, multiple_of=2)
    view_width_m: float = Field(24.0, ge=5.0, le=120.0)
    lofted_prob: float = Field(0.7, ge=0.0, le=1.0)
    foul_prob: float = Field(0.06, ge=0.0, le=1.0)
    outcomes: OutcomeWeights = OutcomeWeights()

    @model_validator(mode="after")
    def _probs(self):
        if self.lofted_prob + self.foul_prob > 1.0:
            raise ValueError("lofted_prob + foul_prob must not exceed 1")
        return self


class TrackingParams(_Section):
    position_noise_m: float = Field(0.08, ge=0.0, le=5.0)
    ball_xy_noise_m: float = Field(0.12, ge=0.0, le=5.0)
    ball_z_noise_m: float = Field(0.25, ge=0.0, le=5.0)
    ball_z_missing: float = Field(0.4, ge=0.0, lt=1.0)
    dropout_rate: float = Field(0.01, ge=0.0, le=5.0)
    dropout_s: list[float] = Field(default_factory=lambda: [0.2, 1.5], min_length=2, max_length=2)

    @model_validator(mode="after")
    def _range(self):
        lo, hi = self.dropout_s
        if not 0 < lo <= hi:
            raise ValueError("dropout_s must be [min, max] seconds with 0 < min <= max")
        return self


class FoulSplits(_Section):
    train: int = Field(360, ge=0)
    valid: int = Field(80, ge=0)
    test: int = Field(80, ge=0)


class FoulClassWeights(_Section):
    tackling: float = Field(1.0, ge=0.0)
    standing_tackling: float = Field(1.0, ge=0.0)
    high_leg: float = Field(1.0, ge=0.0)
    holding: float = Field(1.0, ge=0.0)
    pushing: float = Field(1.0, ge=0.0)
    elbowing: float = Field(1.0, ge=0.0)
    challenge: float = Field(1.0, ge=0.0)
    dive: float = Field(1.0, ge=0.0)


class SeverityWeights(_Section):
    no_offence: float = Field(1.0, ge=0.0)
    offence_1: float = Field(1.0, ge=0.0)
    offence_3: float = Field(1.0, ge=0.0)
    offence_5: float = Field(1.0, ge=0.0)


class FoulParams(_Section):
    splits: FoulSplits = FoulSplits()
    clip_frames: int = Field(50, ge=8, le=2000)
    contact_frame: int = Field(30, ge=4)
    width: int = Field(224, ge=32, le=1920, multiple_of=2)
    height: int = Field(128, ge=32, le=1080, multiple_of=2)
    class_weights: FoulClassWeights = FoulClassWeights()
    severity_weights: SeverityWeights = SeverityWeights()
    severity_noise: float = Field(0.04, ge=0.0, le=1.0)
    ambiguous_fraction: float = Field(0.03, ge=0.0, le=1.0)
    distractors: int = Field(4, ge=0, le=20)

    @model_validator(mode="after")
    def _contact_inside(self):
        if self.contact_frame >= self.clip_frames - 4:
            raise ValueError(
                f"contact_frame ({self.contact_frame}) must be at least 4 frames before clip_frames ({self.clip_frames})"
            )
        return self


class ActionParams(_Section):
    val_matches: int = Field(2, ge=0)
    min_box_px: float = Field(12.0, ge=1.0)
    proposal_jitter: float = Field(0.04, ge=0.0, le=0.5)
    proposal_miss: float = Field(0.05, ge=0.0, le=1.0)
    false_positives: float = Field(0.5, ge=0.0, le=20.0)


RecognitionClass = Literal["Header", "Kick", "Tackle", "Dive", "ThrowIn", "Celebration", "ChestControl", "Dribble"]


class RecognitionParams(_Section):
    classes: list[RecognitionClass] = Field(
        default_factory=lambda: ["Header", "Kick", "Tackle", "Dive", "ThrowIn", "Celebration", "ChestControl", "Dribble"],
        min_length=2,
    )
    groups: int = Field(7, ge=2, le=99)
    clips_per_group: int = Field(3, ge=1, le=99)
    test_groups: int = Field(2, ge=1)
    frames: int = Field(40, ge=8, le=1000)
    width: int = Field(160, ge=32, le=1920, multiple_of=2)
    height: int = Field(120, ge=32, le=1080, multiple_of=2)
    extras: int = Field(2, ge=0, le=20)
    # captions per clip in ucf101/captions.csv (action, actor's kit, camera; for contrastive text-video
    # pretraining); drawn from their own random stream, so they never change a rendered clip. 0 = no file
    captions_per_clip: int = Field(3, ge=0, le=50)

    @model_validator(mode="after")
    def _groups(self):
        if self.test_groups >= self.groups:
            raise ValueError(f"test_groups ({self.test_groups}) must be fewer than groups ({self.groups})")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("classes must not repeat")
        return self


class HeaderClipParams(_Section):
    frames: int = Field(16, ge=2, le=256)
    size: int = Field(64, ge=16, le=512)
    crop_px: int = Field(96, ge=16, le=1080)
    negatives_per_positive: float = Field(2.0, ge=0.0, le=100.0)
    random_negative_share: float = Field(0.3, ge=0.0, le=1.0)


class SheetParams(_Section):
    examples: int = Field(4, ge=1, le=20)
    steps: int = Field(7, ge=2, le=20)


class SynthesizeParams(_Section):
    out_dir: str = "data/raw/synthetic"
    workers: int = Field(2, ge=0, le=256)
    fps: float = Field(25.0, gt=0.0, le=120.0)
    video: VideoParams = VideoParams()
    look: LookParams = LookParams()
    ball: BallPhysicsParams = BallPhysicsParams()
    matches: MatchParams = MatchParams()
    tracking: TrackingParams = TrackingParams()
    fouls: FoulParams = FoulParams()
    actions: ActionParams = ActionParams()
    recognition: RecognitionParams = RecognitionParams()
    header_clips: HeaderClipParams = HeaderClipParams()
    contact_sheets: SheetParams = SheetParams()

    @model_validator(mode="after")
    def _val_matches(self):
        if self.actions.val_matches >= self.matches.count and self.matches.count > 1:
            raise ValueError(
                f"actions.val_matches ({self.actions.val_matches}) must be fewer than matches.count ({self.matches.count})"
            )
        return self
