"""The three-stage header detector on one new match: pre-filter on the tracking data -> the CNN at the
candidate frames -> post-filter over the 31-frame probability window -> events.

Everything comes from a trained ``models/`` folder: ``pre_xgb/`` (pre-filter), ``header/`` (CNN: config.yaml +
best.pt) and ``post_xgb/`` (post-filter; its meta.json also records the ensemble rule it was trained with).
``replaylab detect`` is the command-line face of :func:`detect_headers`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .header_model import load_header_model
from .probs import match_probs
from .windows import MatchClips


@dataclass
class DetectResult:
    video: Path
    frames: np.ndarray  # every peak of the post-filter probability (frame index)
    times: np.ndarray  # seconds
    scores: np.ndarray
    detected: np.ndarray  # bool: score >= the post-filter's threshold (the final detections)
    n_frames: int
    fps: float
    cnn_windows: int
    candidates: np.ndarray  # the frames the CNN was run at (the pre-filter's candidates)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def throughput(self) -> dict[str, float]:
        total = sum(self.seconds.values())
        return {"frames_per_s": self.n_frames / max(total, 1e-9), "x_real_time": self.duration_s / max(total, 1e-9),
                "cnn_windows": self.cnn_windows, "seconds": total}  # fmt: skip

    def rows(self, *, all_peaks: bool = False) -> list[list]:
        keep = np.ones(len(self.frames), bool) if all_peaks else self.detected
        return [[self.video.parent.name if self.video.name == "video.mp4" else self.video.stem, int(f), round(float(t), 3),
                 round(float(s), 6), int(d)] for f, t, s, d, k in zip(self.frames, self.times, self.scores, self.detected, keep) if k]  # fmt: skip


EVENT_COLUMNS = ["video_id", "frame", "time", "score", "detected"]


def detect_headers(video: str | os.PathLike, tracking: str | os.PathLike, *, models: str | os.PathLike,
                   camera: str | os.PathLike | None = None, batch_size: int = 32, device: str = "cpu",
                   progress: bool = True) -> DetectResult:  # fmt: skip
    """Run the whole detector on one match. ``camera``: the per-frame calibration (default: ``camera.csv`` next to
    the tracking table); the CNN's ball-centred crops need it unless the model was trained on full frames."""
    from ..data.video import frame_times
    from ..filters.post import PostFilter
    from ..filters.pre import PreFilter

    models = Path(models)
    video, tracking = Path(video), Path(tracking)
    for p, what in ((video, "video"), (tracking, "tracking table")):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: {what} not found")
    if camera is None and (tracking.parent / "camera.csv").is_file():
        camera = tracking.parent / "camera.csv"
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    pre_model = PreFilter.load(models / "pre_xgb")
    post_model = PostFilter.load(models / "post_xgb")
    cnn_model = load_header_model(models / "header", device=device)
    seconds["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ft = frame_times(video)
    pre = pre_model.run(tracking, frame_times=ft)
    seconds["pre_filter"] = time.perf_counter() - t0

    clips = MatchClips(video, spec=cnn_model.spec, crop_on=cnn_model.crop_on, track_smooth_s=cnn_model.track_smooth_s,
                       tracking=tracking, camera=camera)  # fmt: skip
    rule = post_model.meta.get("ensemble", {"rule": "mean", "weight": 0.5})
    t0 = time.perf_counter()
    mp = match_probs(cnn_model, clips, video_id=video.stem, pre_prob=pre.probs, candidates=pre.candidates, rule=rule["rule"],
                     weight=rule["weight"], batch_size=batch_size, progress=progress)  # fmt: skip
    seconds["cnn"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    columns = {"cnn_prob": mp.cnn, "pre_xgb_prob": mp.pre, "ensemble_prob": mp.ens}
    missing = [c for c in post_model.columns if c not in columns]
    if missing:
        raise ValueError(f"{models / 'post_xgb'}: the post-filter reads {missing}, which detection does not produce")
    probs = np.stack([columns[c] for c in post_model.columns], 1)
    frames, scores, detected = post_model.detect(probs)
    seconds["post_filter"] = time.perf_counter() - t0
    return DetectResult(video=video, frames=frames, times=ft[frames] if len(frames) else np.zeros(0), scores=scores, detected=detected,
                        n_frames=len(ft), fps=1.0 / float(np.median(np.diff(ft))) if len(ft) > 1 else clips.fps,
                        cnn_windows=mp.windows, candidates=pre.candidates, seconds=seconds)  # fmt: skip


__all__ = ["EVENT_COLUMNS", "DetectResult", "detect_headers"]
