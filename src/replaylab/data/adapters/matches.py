"""Match layout (the synthetic world's, and the one users put their own matches in): one folder per match

``<root>/<match_id>/video.mp4``  broadcast footage
``<root>/<match_id>/tracking.csv``  canonical tracking table (frame, time, track_id, team, jersey, x, y, z, box_*)
``<root>/<match_id>/events.csv``  ground-truth events (frame, time, type, subtype, track_id, team, ball_x/y/z)
``<root>/<match_id>/camera.csv``  optional per-frame calibration (cam_x/y/z, pan, tilt, roll, focal, width, height)

turned into header-clip samples: a positive at every header event; negatives from look-alike events (kicks,
chest / thigh control, balls flying past a head, jumps that miss, bounces) and from random open play at
least ``min_gap_s`` away from any event, ``neg_ratio`` negatives per positive in each match. Crop centres
are the ball at the clip's centre frame (projected through the calibration), the ball in every frame
(``ball_track``: the window follows the ball, so it stays in view while it flies in and out; the 3D track is
smoothed first so tracking noise does not shake the crop), or the event's player box.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..paths import inside_root
from ..rowchecks import BadRows, OnBadRows, check_events
from ..samples import AdapterError, Sample, SampleIndex

HEADER_CLASSES = ["no_header", "header"]
DEFAULT_LOOKALIKES = ("kick", "chest", "thigh", "fly_past", "jump_miss", "bounce")
CROP_MODES = ("ball", "ball_track", "player", "none")
CAMERA_COLUMNS = ("frame", "cam_x", "cam_y", "cam_z", "pan", "tilt", "roll", "focal", "width", "height")


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise AdapterError(f"{path}: file not found")
    with open(path, newline="") as fh:
        r = csv.DictReader(fh)
        missing = [c for c in required if c not in (r.fieldnames or [])]
        if missing:
            raise AdapterError(f"{path}: missing columns {missing}")
        return list(r)


def _float(v: str, path: Path, row: int, col: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise AdapterError(f"{path}, row {row}: column {col!r} is not a number: {v!r}") from None


class BallTrack:
    """Ball position per frame from a tracking table, with gaps (dropouts, missing height) interpolated."""

    def __init__(self, path: Path, *, on_bad_rows: OnBadRows = "fail", tally: BadRows | None = None):
        from ...features.tracking import TrackingTable

        path = Path(path)
        if not path.is_file():
            raise AdapterError(f"{path}: file not found")
        table = TrackingTable.read(path, on_bad_rows=on_bad_rows, tally=tally)
        if table.frame is None:
            raise AdapterError(f"{path}: missing columns ['frame']")
        ball = table.team == 0
        frames = table.frame[ball].astype(np.int64)
        times = table.time[ball]
        xyz = np.stack([table.x[ball], table.y[ball], table.z[ball]], 1)
        if len(frames) < 2:
            raise AdapterError(f"{path}: fewer than two ball rows (team 'ball')")
        order = np.argsort(frames)
        self.frames = np.asarray(frames)[order]
        self.times = np.asarray(times)[order]
        self.xyz = np.asarray(xyz, float)[order]
        df = np.diff(self.frames)
        dt = np.diff(self.times)
        ok = df > 0
        if not ok.any():
            raise AdapterError(f"{path}: ball frames do not advance")
        self.fps = float(np.median(df[ok] / np.maximum(dt[ok], 1e-9)))
        self.n_frames = int(self.frames[-1]) + 1

    def position(self, frame: int) -> np.ndarray:
        return self.positions(np.array([frame]))[0]

    def positions(self, frames: np.ndarray) -> np.ndarray:
        """(len(frames), 3) ball positions, gaps interpolated (height 0 when the feed never has one)."""
        f = np.asarray(frames, float)
        x = np.interp(f, self.frames, self.xyz[:, 0])
        y = np.interp(f, self.frames, self.xyz[:, 1])
        known = ~np.isnan(self.xyz[:, 2])
        z = np.interp(f, self.frames[known], self.xyz[known, 2]) if known.any() else np.zeros_like(f)
        return np.stack([x, y, z], 1)

    def smoothed_positions(self, frames: np.ndarray, *, sigma_s: float) -> np.ndarray:
        """:meth:`positions` smoothed over time with a Gaussian of ``sigma_s`` seconds (0 = raw)."""
        frames = np.asarray(frames, int)
        sigma = sigma_s * self.fps
        if sigma <= 0 or len(frames) == 0:
            return self.positions(frames)
        r = int(math.ceil(3 * sigma))
        lo, hi = int(frames.min()) - r, int(frames.max()) + r
        dense = self.positions(np.arange(lo, hi + 1))
        k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
        k /= k.sum()
        padded = np.pad(dense, ((r, r), (0, 0)), mode="edge")
        smooth = np.stack([np.convolve(padded[:, c], k, mode="valid") for c in range(3)], 1)
        return smooth[frames - lo]


def read_cameras(path: str | Path) -> dict[int, object]:
    """Per-frame calibration of ``camera.csv``: frame -> :class:`replaylab.geometry.camera.Camera`."""
    return _cameras(Path(path))


def _cameras(path: Path) -> dict[int, object]:
    from ...geometry.camera import Camera

    out = {}
    for n, r in enumerate(_read_csv(path, CAMERA_COLUMNS), start=2):
        v = {c: _float(r[c], path, n, c) for c in CAMERA_COLUMNS}
        out[int(v["frame"])] = Camera(
            position=(v["cam_x"], v["cam_y"], v["cam_z"]), pan=v["pan"], tilt=v["tilt"], focal=v["focal"],
            width=int(v["width"]), height=int(v["height"]), roll=v["roll"],
        )  # fmt: skip
    return out


def _player_heads(path: Path, frames: set[int]) -> dict[tuple[int, int], tuple[float, float]]:
    """(frame, track_id) -> image point just below the top of the player's box (the head)."""
    out = {}
    for r in _read_csv(path, ("frame", "track_id", "box_x1", "box_y1", "box_x2", "box_y2")):
        f = int(r["frame"])
        if f in frames and r["box_x1"]:
            x1, y1, x2, y2 = (float(r[c]) for c in ("box_x1", "box_y1", "box_x2", "box_y2"))
            out[(f, int(r["track_id"]))] = ((x1 + x2) / 2, y1 + 0.12 * (y2 - y1))
    return out


def load_matches(
    root: str | Path,
    *,
    neg_ratio: float = 2.0,
    lookalike_share: float = 0.5,
    lookalike_types: Sequence[str] = DEFAULT_LOOKALIKES,
    min_gap_s: float = 1.0,
    margin_s: float = 0.0,
    crop_on: str = "ball",
    track_half_s: float = 1.0,
    track_smooth_s: float = 0.1,
    seed: int = 0,
    matches: Sequence[str] | None = None,
    on_bad_rows: OnBadRows = "fail",
    tally: BadRows | None = None,
) -> SampleIndex:
    """Header samples from every match folder under ``root`` (or the named ``matches``).

    ``margin_s`` drops events closer than that to either end of the match (so a clip window fits);
    ``crop_on`` is ``ball`` (the ball at the centre frame; needs camera.csv), ``ball_track`` (the ball in every
    frame within ``track_half_s`` of the centre, its 3D track smoothed with a Gaussian of ``track_smooth_s``
    seconds; needs camera.csv), ``player`` (the event's player box; random play uses the ball) or ``none``.
    Sampling of negatives is deterministic for ``seed`` and the match id.
    ``on_bad_rows``: bad tracking rows and events outside the video or the ball tracking
    (:mod:`replaylab.data.rowchecks`) are an error naming the file and row (``fail``) or left out and counted
    in ``tally`` (``drop``); such an event never becomes a sample.
    """
    root = Path(root)
    if crop_on not in CROP_MODES:
        raise AdapterError(f"crop_on: unknown value {crop_on!r} ({', '.join(CROP_MODES)})")
    if not root.is_dir():
        raise AdapterError(f"{root}: match folder not found")
    ids = list(matches) if matches is not None else sorted(p.name for p in root.iterdir() if (p / "events.csv").is_file())
    if not ids:
        raise AdapterError(f"{root}: no match folders (each needs video.mp4, tracking.csv, events.csv)")
    samples: list[Sample] = []
    for mid in ids:
        samples.extend(_match_samples(root, mid, neg_ratio, lookalike_share, set(lookalike_types), min_gap_s, margin_s, crop_on,
                                      (track_half_s, track_smooth_s), seed, on_bad_rows, tally))  # fmt: skip
    return SampleIndex(samples, list(HEADER_CLASSES), root, name=f"matches:{root}")


def _match_samples(
    root,
    mid,
    neg_ratio,
    lookalike_share,
    lookalike_types,
    min_gap_s,
    margin_s,
    crop_on,
    track,
    seed,
    on_bad_rows="fail",
    tally=None,
) -> list[Sample]:
    folder = root / mid
    for name in ("video.mp4", "events.csv", "tracking.csv", "camera.csv"):  # symlinks must not lead out
        if (folder / name).exists() or (folder / name).is_symlink():
            inside_root(root, f"{mid}/{name}", where=f"{root}, match {mid}", what="file")
    video = folder / "video.mp4"
    if not video.is_file():
        raise AdapterError(f"{video}: match video not found")
    events_path = folder / "events.csv"
    ball = BallTrack(folder / "tracking.csv", on_bad_rows=on_bad_rows, tally=tally)
    fps = ball.fps
    events, rows = [], []
    for n, r in enumerate(_read_csv(events_path, ("frame", "type")), start=2):
        f = _float(r["frame"], events_path, n, "frame")
        if not math.isfinite(f) or f != int(f):
            raise AdapterError(f"{events_path}, row {n}: frame {r['frame']!r} is not a frame index")
        tid = r.get("track_id", "").strip()
        events.append((int(f), r["type"].strip(), r.get("subtype", "").strip(), int(tid) if tid else -1))
        rows.append(n)
    first, last, span = _span(ball, video)
    keep = check_events(events_path, np.array([e[0] for e in events], np.int64), first=first, last=last, span=span,
                        on_bad_rows=on_bad_rows, tally=tally, rows=np.array(rows))  # fmt: skip
    events = [e for e, k in zip(events, keep) if k]
    margin = int(math.ceil(margin_s * fps))
    lo, hi = margin, last - margin  # random play too stays inside the video and the ball tracking
    inside = [e for e in events if lo <= e[0] <= hi]
    pos = [e for e in inside if e[1] == "header"]
    rng = np.random.default_rng([seed, *mid.encode()])
    n_neg = int(round(neg_ratio * len(pos)))
    n_alike = int(round(n_neg * lookalike_share))
    alike = _round_robin([e for e in inside if e[1] in lookalike_types], n_alike, rng)
    busy = np.zeros(ball.n_frames, bool)
    gap = int(round(min_gap_s * fps))
    for e in events:
        busy[max(e[0] - gap, 0) : e[0] + gap + 1] = True
    free = np.flatnonzero(~busy[lo : hi + 1]) + lo
    n_rand = min(n_neg - len(alike), len(free))
    rand = [(int(f), "random", "", -1) for f in sorted(rng.choice(free, n_rand, replace=False))] if n_rand > 0 else []
    chosen: dict[int, tuple] = {}
    for e in pos + alike + rand:  # one clip per frame; a header wins over anything at the same frame
        chosen.setdefault(e[0], e)
    picked = [chosen[f] for f in sorted(chosen)]
    if crop_on == "ball_track":
        tracks = _crop_tracks(folder, picked, ball, *track)
        points = [next((x, y) for t, x, y in tr if abs(t * fps - e[0]) < 0.5) for e, tr in zip(picked, tracks)]
    else:
        points, tracks = _crop_points(folder, picked, ball, crop_on), [None] * len(picked)
    out = []
    for (f, kind, sub, tid), pt, tr in zip(picked, points, tracks):
        out.append(
            Sample(
                sample_id=f"{mid}_{f:06d}", sources=(f"{mid}/video.mp4",), group=mid, label=int(kind == "header"),
                center_s=f / fps, point=pt, track=tr,
                meta={"frame": f, "event": kind, "subtype": sub, "kind": event_kind(kind, sub), "track_id": tid, "match": mid},
            )
        )  # fmt: skip
    return out


def _span(ball: BallTrack, video: Path) -> tuple[int, int, str]:
    """(first, last frame, description) that events must lie in: the ball tracking's frames, cut to the
    video's length (read from its packets; a video that cannot be probed is left to the cache's
    ``on_bad_video``)."""
    from ..video import VideoReadError, probe

    first, last = int(ball.frames[0]), int(ball.frames[-1])
    span = f"the ball tracking (frames {first}-{last})"
    try:
        n_video = int(probe(video).n_frames)
    except (VideoReadError, OSError, ValueError):
        return first, last, span
    if n_video - 1 < last:
        last = n_video - 1
    return first, last, f"{span} and the video ({video.name}: {n_video} frames)"


def event_kind(kind: str, subtype: str) -> str:
    """The kind of look-alike an event is: its type, refined by its subtype where it has one (``kick/volley`` is a
    ball met in the air, ``kick/pass`` one on the ground; ``bounce/designed`` ends a lofted ball)."""
    return f"{kind}/{subtype}" if subtype and kind != "header" else kind  # every header is the one positive kind


def _round_robin(events: list[tuple], n: int, rng: np.random.Generator) -> list[tuple]:
    """Up to ``n`` events spread evenly over the kinds of event (type and subtype), so the rare hard negatives
    (volleys, missed jumps) are not swamped by ground passes."""
    by_type: dict[str, list[tuple]] = {}
    for e in events:
        by_type.setdefault(event_kind(e[1], e[2]), []).append(e)
    queues = [[lst[i] for i in rng.permutation(len(lst))] for _, lst in sorted(by_type.items())]
    out: list[tuple] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop())
    return sorted(out)


def ball_image_track(
    ball: BallTrack, cams: dict, frames: np.ndarray, *, smooth_s: float, where: str = "camera.csv"
) -> np.ndarray:
    """(len(frames), 2) image positions (pixels) of the ball at ``frames``: the 3D track smoothed over
    ``smooth_s`` seconds, projected through each frame's calibration. Frames where the ball is behind the camera
    take the nearest frame's position; a frame without calibration is an error naming ``where``."""
    frames = np.asarray(frames, int)
    xyz = ball.smoothed_positions(frames, sigma_s=smooth_s)
    uv = np.zeros((len(frames), 2))
    ok = np.zeros(len(frames), bool)
    for k, (f, p) in enumerate(zip(frames.tolist(), xyz)):
        cam = cams.get(f)
        if cam is None:
            raise AdapterError(f"{where}: no calibration row for frame {f}")
        pix, depth = cam.project(p[None])
        uv[k], ok[k] = pix[0], depth[0] > 0
    if not ok.any():
        raise AdapterError(f"{where}: the ball is behind the camera at every frame {frames[0]}..{frames[-1]}")
    if not ok.all():
        good = np.flatnonzero(ok)
        nearest = good[np.abs(np.arange(len(frames))[:, None] - good[None]).argmin(1)]
        uv = uv[nearest]
    return uv


def _crop_tracks(folder: Path, picked: list[tuple], ball: BallTrack, half_s: float, smooth_s: float) -> list[tuple]:
    """Per sample: ((time_s, x, y), ...) for every frame within ``half_s`` of its centre (clamped to the match)."""
    cam_path = folder / "camera.csv"
    if not cam_path.is_file():
        raise AdapterError(f"{cam_path}: crop_on=ball_track needs the camera calibration; set crop_on: none to use full frames")
    cams = _cameras(cam_path)
    half = max(int(math.ceil(half_s * ball.fps)), 1)
    out = []
    for f, *_ in picked:
        frames = np.arange(max(f - half, 0), min(f + half, ball.n_frames - 1) + 1)
        uv = ball_image_track(ball, cams, frames, smooth_s=smooth_s, where=str(cam_path))
        out.append(
            tuple((round(float(t) / ball.fps, 6), round(float(x), 2), round(float(y), 2)) for t, (x, y) in zip(frames, uv))
        )
    return out


def _crop_points(folder: Path, picked: list[tuple], ball: BallTrack, crop_on: str) -> list[tuple[float, float] | None]:
    if crop_on == "none":
        return [None] * len(picked)
    cam_path = folder / "camera.csv"
    if not cam_path.is_file():
        raise AdapterError(f"{cam_path}: crop_on={crop_on} needs the camera calibration; set crop_on: none to use full frames")
    cams = _cameras(cam_path)
    heads = _player_heads(folder / "tracking.csv", {p[0] for p in picked}) if crop_on == "player" else {}
    out = []
    for f, _kind, _sub, tid in picked:
        if crop_on == "player" and (f, tid) in heads:
            out.append(heads[(f, tid)])
            continue
        cam = cams.get(f)
        if cam is None:
            raise AdapterError(f"{cam_path}: no calibration row for frame {f}")
        uv, depth = cam.project(ball.position(f)[None])
        if depth[0] <= 0:
            raise AdapterError(f"{cam_path}: the ball is behind the camera at frame {f}")
        out.append((float(uv[0, 0]), float(uv[0, 1])))
    return out
