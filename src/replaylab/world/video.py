"""H.264 MP4 writing through PyAV, written to a temporary file and renamed when complete.

The encoder runs single-threaded with x264's deterministic, CPU-independent settings
(:data:`X264_PARAMS`), so the same frames give the same bytes on any x86_64 machine with the same
libx264 build (checked with x264's assembly switched off in tests/world/test_reproducibility.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# one frame thread, no sliced / lookahead threads, the same algorithms whatever CPU x264 finds
X264_PARAMS = "threads=1:lookahead-threads=1:sliced-threads=0:deterministic=1:cpu-independent=1"


@dataclass(frozen=True)
class VideoSettings:
    fps: float = 25.0
    crf: int = 20
    gop: int = 12  # keyframe interval, frames
    preset: str = "ultrafast"


class Mp4Writer:
    """Context manager: ``with Mp4Writer(path, w, h, settings) as w: w.write(frame_rgb)``."""

    def __init__(self, path: str | os.PathLike, width: int, height: int, settings: VideoSettings):
        if width % 2 or height % 2:
            raise ValueError(f"H.264 with yuv420p needs even frame sizes, got {width}x{height} for {path}")
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp.mp4")
        self.width, self.height, self.settings = width, height, settings
        self._container = None
        self._stream = None
        self.frames = 0

    def __enter__(self) -> Mp4Writer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        s = self.settings
        self._container = av.open(str(self.tmp), mode="w", format="mp4")
        rate = Fraction(s.fps).limit_denominator(1001)
        stream = self._container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
        stream.codec_context.gop_size = s.gop
        stream.codec_context.thread_count = 1
        stream.options = {"crf": str(s.crf), "preset": s.preset, "keyint_min": str(s.gop), "sc_threshold": "0", "bf": "0",
                          "x264-params": X264_PARAMS}  # fmt: skip
        self._stream = stream
        return self

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"{self.path}: frame {self.frames} has shape {frame.shape} {frame.dtype}, "
                             f"expected ({self.height}, {self.width}, 3) uint8")  # fmt: skip
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
        finally:
            self._container.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
