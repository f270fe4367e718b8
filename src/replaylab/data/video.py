"""Frame-accurate video reading with PyAV for the clip cache: probe a file, list its frame times, read frames at times.

Times are seconds relative to the video stream's first frame (the first frame is at 0.0). The frame "at" time t is the
last frame whose presentation time is <= t (+1 microsecond), which also holds for variable frame rate files.
Every failure raises :class:`VideoReadError` naming the file; a frame is never substituted.

MPEG-4 part 2 AVIs with DivX-style packed B-frames (a P-VOP and the next B-VOP in one chunk, an N-VOP placeholder
later; the layout of DivX 5 / XviD files such as UCF101 and HMDB51) carry demuxer timestamps that do not follow
display order. Such streams are detected (a chunk holding two VOPs), unpacked with FFmpeg's ``mpeg4_unpack_bframes``
bitstream filter, and every frame gets its display slot from the VOP coding types in decode order
(:func:`display_ranks`), so frame i of :func:`frame_times` is the i-th frame a player shows.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.bitstream
import cv2
import numpy as np

__all__ = [
    "VideoInfo",
    "VideoReadError",
    "clip_times",
    "crop_resize",
    "display_ranks",
    "frame_times",
    "probe",
    "read_frames",
    "uniform_times",
]

_EPS = 1e-6  # s: a frame is "at" t when its time is <= t + _EPS


class VideoReadError(RuntimeError):
    """A video could not be read as requested; the message names the file and the reason."""


@dataclass(frozen=True)
class VideoInfo:
    """Metadata of a file's first video stream."""

    path: Path
    codec: str
    width: int
    height: int
    fps: float  # average frame rate
    n_frames: int
    duration_s: float  # first frame to the end of the last frame
    vfr: bool  # frame durations vary by more than 1% of the median (beyond time-base rounding)


# ---------------------------------------------------------------- opening


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise VideoReadError(f"{p}: file not found")
    try:
        return av.open(str(p), mode="r")
    except av.error.FFmpegError as e:
        raise VideoReadError(f"{p}: cannot open as a video container: {_reason(e)}") from e
    except OSError as e:
        raise VideoReadError(f"{p}: cannot open: {e.strerror or e}") from e


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        kinds = ", ".join(s.type for s in container.streams) or "none"
        raise VideoReadError(f"{path}: no video stream (streams: {kinds})")
    return container.streams.video[0]


def _reason(e: BaseException) -> str:
    if isinstance(e, av.error.FFmpegError):
        return e.strerror or str(e)
    return str(e)


def _codec_name(stream: av.video.stream.VideoStream) -> str:
    codec = stream.codec_context.codec
    return getattr(codec, "canonical_name", None) or codec.name


def _nominal_rate(stream: av.video.stream.VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return None


def _expected_end_ticks(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int | None:
    """Absolute end of the video stream according to the header, in stream ticks, or None if unknown.

    A container-level duration is only trusted when the video is the only stream (it may cover audio otherwise)."""
    start = stream.start_time or 0
    promised = None  # the header's frame count (AVI dwLength, MP4 sample count) at the nominal rate
    rate = _nominal_rate(stream)
    if stream.frames and rate:
        promised = start + math.floor(Fraction(stream.frames) / Fraction(rate).limit_denominator(10**6) / stream.time_base)
    if stream.duration:
        return max(start + stream.duration, promised or 0)
    if promised is not None:
        return promised
    if container.duration and len(container.streams) == 1:
        seconds = ((container.start_time or 0) + container.duration) / av.time_base
        return math.floor(Fraction(seconds).limit_denominator(10**9) / stream.time_base)
    return None


def _truncated(end_s: float, expected_s: float | None, frame_s: float) -> bool:
    return expected_s is not None and end_s < expected_s - (2 * frame_s + 0.01 * expected_s + 1e-3)


# ---------------------------------------------------------------- packed B-frames (MPEG-4 part 2 in AVI)

_VOP = b"\x00\x00\x01\xb6"  # MPEG-4 part 2 video object plane start code
_VOP_TYPES = "IPBS"  # vop_coding_type: intra, predicted, bidirectional, sprite (GMC, predicted from the past)


def _vop_type(data: bytes) -> str | None:
    """Coding type of the first VOP in a packet ('I', 'P', 'B', 'S'), or None without a complete VOP header."""
    i = data.find(_VOP)
    if i < 0 or i + 4 >= len(data):
        return None
    return _VOP_TYPES[data[i + 4] >> 6]


def display_ranks(types: Sequence[str]) -> list[int]:
    """Display index of each frame of an MPEG-style stream from its coding types in decode order.

    B-frames are shown as soon as they are decoded; an I/P/S frame is held back until the next I/P/S frame (or the
    end) because the B-frames decoded after it are shown before it. E.g. I P B B P B B -> 0 3 1 2 6 4 5.
    """
    ranks = [0] * len(types)
    held: int | None = None  # anchor frame waiting for its display slot
    shown = 0
    for k, kind in enumerate(types):
        if kind not in _VOP_TYPES:
            raise ValueError(f"unknown coding type {kind!r} at frame {k} (expected one of {_VOP_TYPES})")
        if kind == "B":
            ranks[k] = shown
            shown += 1
            continue
        if held is not None:
            ranks[held] = shown
            shown += 1
        held = k
    if held is not None:
        ranks[held] = shown
    return ranks


def _packed(codec: str, data: bytes) -> bool:
    """Whether a packet of a ``codec`` stream holds two VOPs (DivX-style packed B-frames)."""
    return codec == "mpeg4" and data.count(_VOP) >= 2


def _unpacker(stream: av.video.stream.VideoStream) -> av.bitstream.BitStreamFilterContext:
    return av.bitstream.BitStreamFilterContext("mpeg4_unpack_bframes", stream)


def _packed_ticks(path: Path, container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> dict:
    """Display time (stream ticks) of each unpacked packet, keyed by the dts the unpacker gives it.

    Chunk k of a packed AVI is slot k (dts k); after unpacking, packet k is the k-th frame in decode order and is shown
    in slot ``first dts + display rank``."""
    codec = _codec_name(stream)
    unpack = _unpacker(stream)
    dts: list[int] = []
    types: list[str] = []

    def take(packets) -> None:
        for q in packets:
            kind = _vop_type(bytes(q))
            if kind is None:
                continue  # an N-VOP left over (no picture)
            if q.dts is None:
                raise VideoReadError(f"{path}: codec {codec}: packed B-frames without chunk timestamps")
            dts.append(q.dts)
            types.append(kind)

    container.seek(0, backward=True, any_frame=False, stream=stream)
    try:
        for packet in container.demux(stream):
            take(unpack.filter(packet if packet.size else None))
    except av.error.FFmpegError:
        pass  # data cut off: the caller reports the demuxing error; the slots before it stand
    if len(set(dts)) != len(dts):
        raise VideoReadError(f"{path}: codec {codec}: packed B-frames with repeated chunk timestamps")
    first = min(dts) if dts else 0
    return {d: first + r for d, r in zip(dts, display_ranks(types), strict=True)}


# ---------------------------------------------------------------- scanning (demux, no decoding)


@dataclass
class _Scan:
    info: VideoInfo
    times: np.ndarray  # sorted frame times, s from the first frame
    truncated: str | None  # reason when the stream ends early
    packed: bool = False  # DivX-style packed B-frames: read through the unpacker with display-rank timestamps


def _frame_ticks(frame: av.VideoFrame, previous: tuple[int, int] | None) -> int | None:
    """Presentation time of a decoded frame in stream ticks: pts, else previous pts + duration, else dts."""
    if frame.pts is not None:
        return frame.pts
    if previous is not None and previous[1] > 0:
        return previous[0] + previous[1]
    return frame.dts


def _scan(path: Path) -> _Scan:
    with _open(path) as container:
        stream = _video_stream(container, path)
        codec, tb = _codec_name(stream), stream.time_base
        pts: list[int | None] = []
        dts: list[int | None] = []
        durations: dict[int, int] = {}
        error = None
        packed = False
        slots = 0  # packets with a timestamp, empty ones (dropped-frame chunks) included
        last_corrupt = False
        try:
            for packet in container.demux(stream):
                if packet.dts is not None or packet.pts is not None or packet.size:
                    slots += 1
                if packet.size == 0 or packet.is_discard:
                    continue
                last_corrupt = bool(packet.is_corrupt)
                pts.append(packet.pts)
                dts.append(packet.dts)
                if packet.pts is not None and packet.duration:
                    durations[packet.pts] = packet.duration
                packed = packed or (codec == "mpeg4" and _packed(codec, bytes(packet)))
        except av.error.FFmpegError as e:
            error = f"demuxing stopped after {len(pts)} packets: {_reason(e)}"
        if packed and error is None:
            ticks, durations = sorted(_packed_ticks(path, container, stream).values()), {}
        elif pts and all(p is not None for p in pts):
            ticks = sorted(pts)
        elif dts and all(d is not None for d in dts):
            ticks = sorted(dts)  # display times of a constant-rate stream; order is irrelevant once sorted
            durations = {}
        else:
            ticks, durations = _decode_ticks(path)
        if not ticks:
            raise VideoReadError(f"{path}: codec {codec}: the video stream has no frames" + (f" ({error})" if error else ""))
        origin = ticks[0]
        times = np.array([(t - origin) * tb for t in ticks], dtype=np.float64)
        rate = _nominal_rate(stream)
        steps = np.diff(times)
        median = float(np.median(steps)) if steps.size else (1.0 / rate if rate else 0.0)
        last = durations.get(ticks[-1], 0) * tb
        last_s = float(last) if last > 0 else median
        duration = float(times[-1]) + last_s
        vfr = bool(steps.size) and bool(np.any(np.abs(steps - median) > max(0.01 * median, float(tb)) + 1e-9))
        fps = rate if rate else (len(times) / duration if duration > 0 else 0.0)
        expected = _expected_end_ticks(container, stream)
        expected_s = float((expected - origin) * tb) if expected is not None else None
        truncated = error
        promised = int(stream.frames or 0)  # AVI header / MP4 sample table frame count
        if truncated is None and last_corrupt:
            truncated = f"truncated: the last packet (frame {slots - 1}) is cut short"
        if truncated is None and promised and slots < promised:
            truncated = f"truncated: the header promises {promised} frames, the file holds {slots}"
        if truncated is None and _truncated(duration, expected_s, last_s):
            truncated = f"truncated: the stream ends at {duration:.3f} s but the header says {expected_s:.3f} s"
        info = VideoInfo(path, codec, stream.width, stream.height, float(fps), len(times), duration, vfr)
        return _Scan(info, times, truncated, packed)


def _decode_ticks(path: Path) -> tuple[list[int], dict[int, int]]:
    """Frame times by decoding everything (only when packets carry neither pts nor dts)."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        codec = _codec_name(stream)
        ticks: list[int] = []
        durations: dict[int, int] = {}
        previous = None
        try:
            for frame in container.decode(stream):
                t = _frame_ticks(frame, previous)
                if t is None:
                    raise VideoReadError(f"{path}: codec {codec}: frame {len(ticks)} has no timestamp (raw elementary stream?)")
                ticks.append(t)
                durations[t] = frame.duration or 0
                previous = (t, frame.duration or 0)
        except av.error.FFmpegError as e:
            raise VideoReadError(f"{path}: codec {codec}: {_reason(e)} after frame {len(ticks) - 1}") from e
    return sorted(ticks), durations


def _complete_scan(path: Path) -> _Scan:
    scan = _scan(path)
    if scan.truncated:
        info = scan.info
        raise VideoReadError(f"{info.path}: codec {info.codec}: {scan.truncated} ({info.n_frames} frames readable)")
    return scan


def probe(path: str | os.PathLike) -> VideoInfo:
    """Metadata of the first video stream; frame count, timing and VFR from demuxed packets (no decoding)."""
    return _complete_scan(Path(path)).info


def frame_times(path: str | os.PathLike) -> np.ndarray:
    """Presentation time (s, first frame at 0.0) of every frame in display order; index i is frame i."""
    return _complete_scan(Path(path)).times


# ---------------------------------------------------------------- sampling


def clip_times(*, center_s: float, frames: int, step_s: float) -> np.ndarray:
    """``frames`` times ``step_s`` apart with index ``frames // 2`` at ``center_s``."""
    return center_s + (np.arange(frames) - frames // 2) * float(step_s)


def uniform_times(*, duration_s: float, frames: int) -> np.ndarray:
    """Middle of each of ``frames`` equal segments of [0, duration_s) (TSN-style sampling)."""
    return (np.arange(frames) + 0.5) * (float(duration_s) / max(frames, 1))


# ---------------------------------------------------------------- crop / resize


def _crop_box(h: int, w: int, crop_center: tuple[float, float] | None, crop_px: int | None) -> tuple[int, int, int, int]:
    """(y0, x0, side_h, side_w) of the crop window inside an h x w frame."""
    if crop_center is None and crop_px is None:
        return 0, 0, h, w
    if crop_px is not None and crop_px < 1:
        raise ValueError(f"crop_px must be >= 1, got {crop_px}")
    side = min(int(crop_px) if crop_px is not None else min(h, w), h, w)
    cx, cy = crop_center if crop_center is not None else (w / 2, h / 2)
    x0 = min(max(math.floor(cx - side / 2 + 0.5), 0), w - side)
    y0 = min(max(math.floor(cy - side / 2 + 0.5), 0), h - side)
    return y0, x0, side, side


def crop_resize(
    frame: np.ndarray,
    *,
    crop_center: tuple[float, float] | None = None,
    crop_px: int | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Square crop of side ``min(crop_px, h, w)`` around ``crop_center`` = (x, y), shifted to stay inside the frame,
    then resize to ``size`` = (h, w) (INTER_AREA when shrinking, INTER_LINEAR when enlarging).

    No centre and no ``crop_px`` keeps the full frame; ``crop_px`` alone crops the centre."""
    h, w = frame.shape[:2]
    y0, x0, ch, cw = _crop_box(h, w, crop_center, crop_px)
    out = frame[y0 : y0 + ch, x0 : x0 + cw]
    if size is not None:
        th, tw = int(size[0]), int(size[1])
        if th < 1 or tw < 1:
            raise ValueError(f"size must be positive (h, w), got {size}")
        if (th, tw) != (ch, cw):
            shrink = th <= ch and tw <= cw
            out = cv2.resize(out, (tw, th), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.ascontiguousarray(out)


def _output_shape(h: int, w: int, crop_center, crop_px, size) -> tuple[int, int]:
    if size is not None:
        return int(size[0]), int(size[1])
    _, _, ch, cw = _crop_box(h, w, crop_center, crop_px)
    return ch, cw


# ---------------------------------------------------------------- reading


@functools.lru_cache(maxsize=256)
def _packed_map_cached(path: str, size: int, mtime_ns: int) -> dict | None:
    p = Path(path)
    with _open(p) as container:
        stream = _video_stream(container, p)
        if _codec_name(stream) != "mpeg4":
            return None
        packed = False
        try:
            for packet in container.demux(stream):
                if packet.size and _packed(_codec_name(stream), bytes(packet)):
                    packed = True
                    break
        except av.error.FFmpegError:
            pass  # reading reports it
        return _packed_ticks(p, container, stream) if packed else None


def _packed_map(path: Path, stream: av.video.stream.VideoStream) -> dict | None:
    """Display ticks by unpacked dts for a packed-B-frame stream (cached per file version), else None."""
    if _codec_name(stream) != "mpeg4":
        return None
    st = path.stat()
    return _packed_map_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


def _decoded(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    landed: list | None = None,
    packed: dict | None = None,
) -> Iterator[av.VideoFrame]:
    """Decoded frames from the current position; ``landed`` receives the first packet's dts (else pts).

    ``packed`` (display ticks by dts, :func:`_packed_ticks`) unpacks DivX-style packed B-frames first and stamps
    each unpacked packet with its display time, which the decoder carries through its reordering."""
    unpack = _unpacker(stream) if packed is not None else None
    for packet in container.demux(stream):
        if landed is not None and not landed and packet.size:
            landed.append(packet.dts if packet.dts is not None else packet.pts)
        if unpack is None:
            yield from packet.decode()
            continue
        end = not packet.size  # (the filter takes the packet's data)
        for q in unpack.filter(None if end else packet):
            q.pts = packed.get(q.dts) if q.dts is not None else None
            yield from stream.codec_context.decode(q)
        if end:
            yield from stream.codec_context.decode(None)


def read_frames(
    path: str | os.PathLike,
    times: Sequence[float] | np.ndarray,
    *,
    crop_center: tuple[float, float] | None = None,
    crop_px: int | None = None,
    size: tuple[int, int] | None = None,
    stats: dict | None = None,
    crop_centers: Sequence[tuple[float, float]] | None = None,
) -> np.ndarray:
    """Frames displayed at ``times`` (s from the first frame; any order) as (len(times), H, W, 3) uint8 RGB.

    Seeks once to the keyframe before the earliest time and decodes forward only past the latest one. Times before
    0 give the first frame; times more than half a frame past the end raise. ``crop_centers`` (one (x, y) per
    time) moves the crop window frame by frame (e.g. following the ball) instead of the fixed ``crop_center``.
    ``stats``, if given, receives ``decoded`` (frames decoded) and ``seeks``."""
    p = Path(path)
    ts = np.asarray(times, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(ts)):
        raise VideoReadError(f"{p}: requested times must be finite, got {ts[~np.isfinite(ts)][:3].tolist()}")
    if crop_centers is not None and len(crop_centers) != ts.size:
        raise ValueError(f"{p}: {len(crop_centers)} crop centres for {ts.size} times")
    counters = {"decoded": 0, "seeks": 0}
    try:
        with _open(p) as container:
            stream = _video_stream(container, p)
            stream.thread_type = "AUTO"
            if ts.size == 0:
                return np.zeros((0, *_output_shape(stream.height, stream.width, crop_center, crop_px, size), 3), np.uint8)
            if crop_centers is None:  # one conversion serves every target shown by the same frame
                fixed = functools.partial(crop_resize, crop_center=crop_center, crop_px=crop_px, size=size)
                return _read(container, stream, p, ts, counters, lambda rgb, k: fixed(rgb), per_target=False)
            centers = [(float(x), float(y)) for x, y in crop_centers]
            return _read(container, stream, p, ts, counters,
                         lambda rgb, k: crop_resize(rgb, crop_center=centers[k], crop_px=crop_px, size=size), per_target=True)  # fmt: skip
    finally:
        if stats is not None:
            stats.update(counters)


def _read(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: Path,
    ts: np.ndarray,
    counters: dict,
    convert: Callable[[np.ndarray, int | None], np.ndarray],
    *,
    per_target: bool,
) -> np.ndarray:
    """Decode the frames shown at ``ts``; ``convert(rgb, k)`` makes output ``k`` from a frame (``k`` is None, and the
    result shared by every output of that frame, unless ``per_target``)."""
    codec, tb = _codec_name(stream), stream.time_base
    rate = _nominal_rate(stream)
    packed = _packed_map(path, stream)

    def fail(reason: str, e: BaseException | None = None) -> VideoReadError:
        err = VideoReadError(f"{path}: codec {codec}: {reason}")
        if e is not None:
            err.__cause__ = e
        return err

    # Origin: pts of the first frame in display order (not stream.start_time, which e.g. AVI with B-frames sets to 0).
    origin = None
    try:
        for frame in _decoded(container, stream, packed=packed):
            counters["decoded"] += 1
            origin = _frame_ticks(frame, None)
            if origin is None:
                raise fail("the first frame has no timestamp (raw elementary stream?)")
            break
    except av.error.FFmpegError as e:
        raise fail(f"{_reason(e)} before the first frame", e) from e
    if origin is None:
        raise fail("the video stream has no decodable frames")

    order = np.argsort(np.maximum(ts, 0.0), kind="stable")
    targets = np.maximum(ts, 0.0)[order]  # ascending
    t_min = float(targets[0])
    out: np.ndarray | None = None
    j = 0  # next unresolved target
    prev: tuple[av.VideoFrame, float, int, int] | None = None  # last decoded frame: (frame, time s, pts, duration ticks)
    prev_rgb: np.ndarray | None = None  # prev, converted (once it is needed)

    def place(k: int, img: np.ndarray) -> None:
        nonlocal out
        if out is None:
            out = np.empty((len(ts), *img.shape), np.uint8)
        elif img.shape != out.shape[1:]:
            raise fail(f"frame size changed to {img.shape} at t={prev[1]:.3f} s")
        out[k] = img

    def emit(upto: int) -> None:
        """Assign prev to targets j..upto-1."""
        nonlocal j, prev_rgb
        if prev_rgb is None:
            if prev[0].is_corrupt:
                raise fail(f"corrupt frame at t={prev[1]:.3f} s")
            prev_rgb = prev[0].to_ndarray(format="rgb24")
            if not per_target:
                prev_rgb = convert(prev_rgb, None)
        while j < upto:
            place(int(order[j]), convert(prev_rgb, int(order[j])) if per_target else prev_rgb)
            j += 1

    seek_ticks = origin + math.floor(t_min / tb)
    backoff = 0.0
    while True:
        try:
            container.seek(seek_ticks, backward=True, any_frame=False, stream=stream)
        except av.error.FFmpegError as e:
            raise fail(f"cannot seek to t={float((seek_ticks - origin) * tb):.3f} s: {_reason(e)}", e) from e
        counters["seeks"] += 1
        landed: list = []
        j, prev, prev_rgb = 0, None, None
        last_dur = 1.0 / rate if rate else 0.0
        overshoot = False

        try:
            for frame in _decoded(container, stream, landed, packed):
                counters["decoded"] += 1
                ticks = _frame_ticks(frame, prev[2:] if prev else None)
                if ticks is None:
                    raise fail(f"frame after t={prev[1] if prev else 0.0:.3f} s has no timestamp")
                t = float((ticks - origin) * tb)
                if prev is None and t > t_min + _EPS and ticks > origin:
                    overshoot = True  # the seek landed after the earliest target: retry from further back
                    break
                if prev is not None and t < prev[1] - _EPS:
                    raise fail(
                        f"frame timestamps go backwards in decoder output (t={t:.3f} s after t={prev[1]:.3f} s): "
                        "display order unknown"
                    )
                if prev is not None and t > prev[1]:
                    last_dur = t - prev[1]
                # targets before this frame belong to the previous one
                upto = j
                while upto < len(targets) and targets[upto] + _EPS < t:
                    upto += 1
                if upto > j:
                    emit(upto)
                if j == len(targets):
                    break
                prev, prev_rgb = (frame, t, ticks, frame.duration or 0), None
                if frame.duration:
                    last_dur = float(frame.duration * tb)
        except av.error.FFmpegError as e:
            where = f"after t={prev[1]:.3f} s{_index_hint(path, prev[1])}" if prev else "right after seeking"
            raise fail(f"{_reason(e)} {where} while reading t={float(targets[j]):.3f} s", e) from e
        if overshoot or (prev is None and seek_ticks > origin):
            # The seek landed after the earliest target (indexes keyed by dts, e.g. AVI with B-frames) or nothing
            # decodes there (data cut off): retry just before the keyframe it landed on, then ever further back.
            if seek_ticks <= origin:
                raise fail(f"seeking to the start landed at a later frame (t>{t_min:.3f} s)")
            if overshoot and landed and landed[0] is not None and landed[0] <= seek_ticks and backoff == 0.0:
                seek_ticks = max(landed[0] - 1, origin)
                backoff = -1.0  # used the precise retry once
            else:
                backoff = max(2 * backoff, 1.0)
                seek_ticks = max(origin + math.floor((t_min - backoff) / tb), origin)
            continue
        break

    if j < len(targets):  # end of stream before all targets were resolved
        if prev is None:
            raise fail("no frame decodes from the start of the stream")
        end = prev[1] + last_dur
        expected = _expected_end_ticks(container, stream)
        expected_s = float((expected - origin) * tb) if expected is not None else None
        want = float(targets[-1])  # the latest request decides
        if want <= end + 0.5 * last_dur + _EPS:
            emit(len(targets))
        elif _truncated(end, expected_s, last_dur):
            raise fail(
                f"truncated: decoding stopped at t={prev[1]:.3f} s{_index_hint(path, prev[1])} but the stream should last "
                f"{expected_s:.3f} s; requested t={want:.3f} s"
            )
        else:
            raise fail(f"requested t={want:.3f} s beyond the end ({end:.3f} s)")
    assert out is not None
    return out


def _index_hint(path: Path, t: float) -> str:
    """' (frame N)' for the frame at time t, from demuxed packet times; best effort for error messages."""
    try:
        times = _scan(path).times
    except Exception:  # noqa: BLE001 - only decorates a message
        return ""
    return f" (frame {int(np.searchsorted(times, t + _EPS, side='right')) - 1})"
