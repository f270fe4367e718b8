"""Clips at candidate frames of a match video, cut exactly as the clip cache cuts the training clips.

The header classifier was trained on clips from ``cache_clips@header``: ``spec.frames`` frames around the
clip centre (``ClipSpec.window_times``, edge frames repeated), a ``crop_px`` square around the ball, resized to
``spec.size``. :class:`MatchClips` cuts the same clips around any frame of a match: it groups nearby
candidates into runs, decodes each run's frames once (one seek, forward decoding) and crops every candidate's
window from them, so a dense run of candidates costs one decode per frame rather than one per clip.

Crop modes (the ``crop_on`` the model was trained with): ``ball`` (the ball's image position at the centre
frame, for the whole clip), ``ball_track`` (the ball's position in every frame, its 3D track smoothed as in
training) and ``none`` (full frames). Both ball modes need the tracking table and the camera calibration.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..data.adapters.matches import BallTrack, ball_image_track, read_cameras
from ..data.cache import ClipSpec
from ..data.samples import AdapterError
from ..data.video import crop_resize, probe, read_frames

CROP_MODES = ("ball", "ball_track", "none")


class MatchClips:
    """Clips around frames of one match video (see the module docstring)."""

    def __init__(self, video: str | os.PathLike, *, spec: ClipSpec, crop_on: str, track_smooth_s: float = 0.0,
                 tracking: str | os.PathLike | None = None, camera: str | os.PathLike | None = None) -> None:  # fmt: skip
        if crop_on not in CROP_MODES:
            raise ValueError(f"crop_on={crop_on!r}: detection can cut clips for {', '.join(CROP_MODES)} only "
                             f"(a model trained on event-player crops or pre-cut clips cannot scan a match)")  # fmt: skip
        self.video = Path(video)
        self.spec = spec
        self.crop_on = crop_on
        self.track_smooth_s = track_smooth_s
        info = probe(self.video)
        self.fps, self.duration_s = info.fps, info.duration_s
        self.n_frames = int(round(self.duration_s * self.fps))
        self.ball: BallTrack | None = None
        self.cams: dict | None = None
        self.camera_path = Path(camera) if camera is not None else None
        if crop_on != "none":
            if tracking is None or camera is None:
                raise AdapterError(f"{self.video}: crop_on={crop_on} needs the tracking table and the camera calibration")
            self.ball = BallTrack(Path(tracking))
            self.cams = read_cameras(camera)

    # ---------------------------------------------------------------- geometry
    def window_times(self, frame: int) -> np.ndarray:
        # the clip centre as the matches adapter computes it (frame / the tracking's rate), to the last bit: the
        # probed video rate can differ from it by 1e-14, which moves a crop edge that falls on a half pixel
        rate = self.ball.fps if self.ball is not None else self.fps
        return self.spec.window_times(frame / rate, self.duration_s, self.fps)

    def centres(self, frame: int, times: np.ndarray) -> list[tuple[float, float]] | None:
        """Crop centre of each output frame of the clip centred at ``frame`` (None: full frames)."""
        if self.crop_on == "none":
            return None
        where = str(self.camera_path)
        if self.crop_on == "ball":
            (uv,) = ball_image_track(self.ball, self.cams, np.array([frame]), smooth_s=0.0, where=where)
            return [(float(uv[0]), float(uv[1]))] * len(times)
        # the matches adapter's crop track, to the last bit: every frame within the clip's half span + 0.2 s,
        # times frame / rate (6 decimals), pixels to 2 decimals, interpolated at the clip's times
        rate = self.ball.fps
        half = max(int(math.ceil((self.spec.half_window_s() + 0.2) * rate)), 1)
        frames = np.arange(max(frame - half, 0), min(frame + half, self.ball.n_frames - 1) + 1)
        uv = ball_image_track(self.ball, self.cams, frames, smooth_s=self.track_smooth_s, where=where)
        tt = np.array([round(float(f) / rate, 6) for f in frames])
        xs = np.array([round(float(x), 2) for x in uv[:, 0]])
        ys = np.array([round(float(y), 2) for y in uv[:, 1]])
        ts = np.asarray(times, float)
        return list(zip(np.interp(ts, tt, xs).tolist(), np.interp(ts, tt, ys).tolist()))

    # ---------------------------------------------------------------- clips
    def runs(self, frames: Sequence[int], *, max_run: int = 128) -> list[np.ndarray]:
        """Candidates grouped so that the windows of a run overlap or touch (at most ``max_run`` per run)."""
        fs = np.unique(np.asarray(frames, int))
        if fs.size == 0:
            return []
        span = self.spec.frames * self.spec.stride
        cuts = np.flatnonzero(np.diff(fs) > span) + 1
        out = []
        for run in np.split(fs, cuts):
            out.extend(run[i : i + max_run] for i in range(0, len(run), max_run))
        return out

    def clips(self, run: np.ndarray) -> np.ndarray:
        """uint8 (len(run), T, H, W, 3) clips centred on the frames of one run."""
        windows = [self.window_times(int(f)) for f in run]
        keys = [np.rint(w * 1e6).astype(np.int64) for w in windows]
        unique, first = np.unique(np.concatenate(keys), return_index=True)
        all_times = np.concatenate(windows)[first]
        full = read_frames(self.video, all_times)  # (U, H, W, 3) full frames, each decoded once
        pos = {int(k): i for i, k in enumerate(unique)}
        spec = self.spec
        out = np.empty((len(run), spec.frames, spec.size[0], spec.size[1], 3), np.uint8)
        for j, (f, w, k) in enumerate(zip(run, windows, keys)):
            centres = self.centres(int(f), w)
            for t in range(spec.frames):
                out[j, t] = crop_resize(full[pos[int(k[t])]], crop_center=None if centres is None else centres[t],
                                        crop_px=spec.crop_px, size=spec.size)  # fmt: skip
        return out

    def batches(
        self, frames: Sequence[int], *, batch_size: int = 32, max_run: int = 128
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(centre frames, clips) in batches of at most ``batch_size``, candidates in ascending order."""
        pend_f: list[np.ndarray] = []
        pend_c: list[np.ndarray] = []
        n = 0
        for run in self.runs(frames, max_run=max_run):
            pend_f.append(run)
            pend_c.append(self.clips(run))
            n += len(run)
            while n >= batch_size:
                fs, cs = np.concatenate(pend_f), np.concatenate(pend_c)
                yield fs[:batch_size], cs[:batch_size]
                pend_f, pend_c, n = [fs[batch_size:]], [cs[batch_size:]], len(fs) - batch_size
        if n:
            yield np.concatenate(pend_f), np.concatenate(pend_c)
