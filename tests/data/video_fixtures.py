"""Synthetic test videos whose frames carry their own index, so a decoded frame can be identified after lossy coding.

Each frame is split into ``BITS`` vertical bands; band k is white when bit k of the frame index is set, else black.
"""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np

BITS = 10  # up to 1023 frames

# Per-codec encoder options: fast, small, high enough quality that the bands survive.
_OPTIONS = {
    "libx264": {"preset": "ultrafast", "crf": "18"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0", "lag-in-frames": "0"},
    "libsvtav1": {"preset": "12", "crf": "30"},
}


def index_pattern(index: int, size: tuple[int, int]) -> np.ndarray:
    """RGB frame (height, width, 3) showing ``index`` as BITS black/white vertical bands; ``size`` is (width, height)."""
    width, height = size
    edges = np.linspace(0, width, BITS + 1).round().astype(int)
    frame = np.zeros((height, width, 3), np.uint8)
    for k in range(BITS):
        if index >> k & 1:
            frame[:, edges[k] : edges[k + 1]] = 255
    return frame


def decode_index(frame_rgb: np.ndarray) -> int:
    """Inverse of :func:`index_pattern`, robust to compression: threshold the mean of each band's inner half."""
    height, width = frame_rgb.shape[:2]
    edges = np.linspace(0, width, BITS + 1)
    gray = frame_rgb.astype(np.float32).mean(axis=2)
    rows = slice(height // 4, max(height // 4 + 1, 3 * height // 4))
    index = 0
    for k in range(BITS):
        lo, hi = edges[k], edges[k + 1]
        a, b = int(lo + (hi - lo) / 4 + 0.5), int(hi - (hi - lo) / 4 + 0.5)
        if gray[rows, a : max(b, a + 1)].mean() > 127:
            index |= 1 << k
    return index


def make_video(
    path: str | os.PathLike,
    *,
    codec: str = "libx264",
    fps: float | Fraction = 25,
    n_frames: int = 50,
    size: tuple[int, int] = (96, 64),
    pts_seconds: list[float] | None = None,
    gop: int = 12,
    b_frames: int | None = None,
    container_options: dict[str, str] | None = None,
) -> list[float]:
    """Write an index-pattern video (container from the suffix) and return each frame's true presentation time (s).

    ``pts_seconds`` (one per frame, increasing) makes a variable-frame-rate video with a 1/90000 (1/1000 for
    Matroska/WebM) time base; ``fps`` then only sets the nominal rate.
    """
    rate = Fraction(fps).limit_denominator(1001)
    width, height = size
    if pts_seconds is not None:
        n_frames = len(pts_seconds)
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    with av.open(os.fspath(path), mode="w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        ctx = stream.codec_context
        ctx.gop_size = gop
        ctx.thread_count = 1
        if codec in ("mpeg4", "msmpeg4v2"):
            ctx.bit_rate = 2_000_000
            ctx.qmax = 4
        if b_frames is not None:
            ctx.max_b_frames = b_frames
        options = dict(_OPTIONS.get(codec, {}))
        if codec == "libx264":
            options.update(keyint_min=str(gop), sc_threshold="0")
            if b_frames is not None:
                options["bf"] = str(b_frames)
        if codec == "libsvtav1":
            options["svtav1-params"] = f"keyint={gop}"
        stream.options = options
        if pts_seconds is not None:
            time_base = Fraction(1, 1000) if suffix in ("mkv", "webm") else Fraction(1, 90000)
            ctx.time_base = time_base
            ticks = [round(t / time_base) for t in pts_seconds]
            times = [float(t * time_base) for t in ticks]
        else:
            time_base = 1 / rate
            ctx.time_base = time_base
            ticks = list(range(n_frames))
            times = [float(i / rate) for i in range(n_frames)]
        for i, tick in enumerate(ticks):
            frame = av.VideoFrame.from_ndarray(index_pattern(i, size), format="rgb24")
            frame.pts = tick
            frame.time_base = time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return times


def make_audio_only(path: str | os.PathLike, *, seconds: float = 0.5, rate: int = 8000) -> None:
    """A file with a single PCM audio stream (container from the suffix, e.g. .wav or .mkv) and no video."""
    with av.open(os.fspath(path), mode="w") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        n = int(seconds * rate)
        samples = (np.sin(np.arange(n) * 0.05) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


_VOP = b"\x00\x00\x01\xb6"
# N-VOP ("not coded" placeholder): P-VOP header, modulo_time_base 0, marker, 5-bit time increment 0 (25 fps), marker,
# vop_coded 0, then stuffing (0 and ones) to the byte boundary.
_NVOP_25FPS = _VOP + bytes([0b01010000, 0b01001111])


def _vop_kind(data: bytes) -> str:
    return "IPBS"[data[data.find(_VOP) + 4] >> 6]


def make_packed_avi(path: str | os.PathLike, *, n_frames: int = 30, gop: int = 12, b_frames: int = 2) -> list[float]:
    """An MPEG-4 part 2 AVI with DivX-style packed B-frames (as DivX 5 / XviD write them); returns true frame times.

    Encodes a B-frame stream, then repacks it the DivX way: each I/P chunk also carries the first B-VOP decoded
    after it, the other B-VOPs move one chunk later, and an N-VOP fills the freed slot; the first chunk carries
    the 'DivX503b1393p' user data that tells decoders the stream is packed. FFmpeg logs "Video uses a non-standard
    and wasteful way to store B-frames ('packed B-frames')" for the result."""
    path = os.fspath(path)
    plain = path + ".plain.avi"
    make_video(plain, codec="mpeg4", fps=25, n_frames=n_frames, gop=gop, b_frames=b_frames)
    with av.open(plain) as src:
        data = [bytes(p) for p in src.demux(src.streams.video[0]) if p.size]
        chunks: list[bytes] = []
        i = 0
        while i < len(data):
            j = i + 1
            while j < len(data) and _vop_kind(data[j]) == "B":
                j += 1
            bs = data[i + 1 : j]
            if bs:  # anchor + first B | other Bs | N-VOP
                chunks += [data[i] + bs[0], *bs[1:], _NVOP_25FPS]
            else:
                chunks.append(data[i])
            i = j
        first = chunks[0].find(_VOP)
        chunks[0] = chunks[0][:first] + b"\x00\x00\x01\xb2DivX503b1393p" + chunks[0][first:]
        with av.open(path, mode="w") as out:
            stream = out.add_stream_from_template(src.streams.video[0])
            for k, chunk in enumerate(chunks):
                packet = av.Packet(chunk)
                packet.pts = packet.dts = k
                packet.time_base = Fraction(1, 25)
                packet.stream = stream
                packet.is_keyframe = _vop_kind(chunk) == "I"
                out.mux(packet)
    os.remove(plain)
    assert len(chunks) == n_frames
    return [i / 25 for i in range(n_frames)]


def sequential_decode(path: str | os.PathLike) -> list[np.ndarray]:
    """Every frame in decoder output order (what a player shows, one after the other), as RGB arrays."""
    with av.open(os.fspath(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
