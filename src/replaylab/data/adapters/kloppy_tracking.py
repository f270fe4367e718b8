"""Tracking data from commercial providers, read through ``kloppy``, as ReplayLab's canonical tracking table.

The table (``tracking.csv`` of the match layout) has exactly the columns of :data:`TRACKING_COLUMNS`,
one row per object per video frame:

- ``frame``: the video frame the row belongs to, ``floor((t - video_offset_s) * video_fps + 0.5)``
  (round half up) for tracking time ``t``; ``time``: that frame's time, ``frame / video_fps`` seconds
  from the video start (as in the synthetic world's tables; the tracking sample itself is within half
  a video frame of it). When several tracking samples fall on one video frame (tracking faster than
  the video) the one nearest the frame's time is kept; when tracking is slower (10 Hz tracking, 25 fps
  video) the frames in between have no rows. Samples before the video start (negative frame) are dropped.
- ``track_id``: 0 for the ball, players 1..N in order of first appearance (within a frame: home
  before away, then jersey number); :func:`player_table` / ``players.csv`` maps them back to the
  provider's player ids.
- ``team``: ``ball``, ``home`` or ``away`` (referees and other non-team objects are left out);
  ``jersey``: the shirt number, empty for the ball.
- ``x``, ``y``: metres on a ``pitch_length`` x ``pitch_width`` pitch (default 105 x 68) with the origin
  at the corner on the main-camera side, x along that touchline and y across the pitch (kloppy's
  bottom-left origin, bottom-to-top y, as providers draw the broadcast side at the bottom). A real
  pitch of another size is mapped onto it by kloppy (keeping the lines and boxes where they belong).
  Teams keep the sides the provider reports (they change ends at half time, as in the video).
- ``z``: ball height in metres, empty when the provider gives none; box columns are always empty.

Tracking time ``t`` is the provider's clock: kloppy gives each frame a timestamp relative to its
period's start, and each period a start on the feed's clock (a timedelta from the start of the feed,
or a UTC datetime, taken relative to the first period's start). ``t = period start + frame timestamp``,
so the second half continues after the first (with the half-time break, as in a full-match video).
``video_offset_s`` is the tracking time of the video's first frame; ``"auto"`` takes the feed's first frame
(the earliest tracking time), which suits a video cut to start with the feed.

:func:`check_table` warns about what a converted table should not hold (counted in ``tracking_summary.json`` by
:func:`convert_provider`): rows off the pitch (beyond :data:`OFF_PITCH_MARGIN_M` of its lines) and speeds
above physical limits (ball :data:`MAX_BALL_SPEED`, players :data:`MAX_PLAYER_SPEED`, metres per second,
between consecutive rows of one track). When the video's duration is known the feed's time span (after the
offset) must overlap it, else the conversion fails naming both spans; without it a feed that would start
beyond :data:`MAX_VIDEO_S` fails the same way.

``kloppy`` is an optional dependency (``pip install 'replaylab[kloppy]'``); it is imported only inside
the functions here.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ...io import write_csv
from ..samples import AdapterError

TRACKING_COLUMNS = ("frame", "time", "track_id", "team", "jersey", "x", "y", "z", "box_x1", "box_y1", "box_x2", "box_y2")
PLAYER_COLUMNS = ("track_id", "player_id", "team", "jersey", "name")
BALL_TRACK_ID = 0
MAX_BALL_SPEED = 45.0  # m/s: faster than any shot on record
MAX_PLAYER_SPEED = 13.0  # m/s: faster than any sprinter
OFF_PITCH_MARGIN_M = 5.0  # rows further than this outside the lines are off the pitch
MAX_VIDEO_S = 4 * 3600.0  # no match video is longer: a feed starting later than this is misaligned

# provider name -> (kloppy module, loader); the keyword arguments of load_provider go to the loader
PROVIDERS: dict[str, tuple[str, str]] = {
    "metrica_csv": ("kloppy.metrica", "load_tracking_csv"),  # home_data=, away_data=
    "metrica_epts": ("kloppy.metrica", "load_tracking_epts"),  # meta_data=, raw_data=
    "skillcorner": ("kloppy.skillcorner", "load"),  # meta_data=, raw_data=
    "tracab": ("kloppy.tracab", "load"),  # meta_data=, raw_data=
    "secondspectrum": ("kloppy.secondspectrum", "load"),  # meta_data=, raw_data=, additional_meta_data=
    "statsperform": ("kloppy.statsperform", "load_tracking"),  # ma1_data=, ma25_data=
    "sportec": ("kloppy.sportec", "load_tracking"),  # meta_data=, raw_data=
    "signality": ("kloppy.signality", "load"),  # meta_data=, raw_data_feeds=, venue_information=
    "hawkeye": ("kloppy.hawkeye", "load"),  # ball_feeds=, player_centroid_feeds=, meta_data=
    "pff": ("kloppy.pff", "load_tracking"),  # meta_data=, roster_meta_data=, raw_data=
}


class KloppyNotInstalledError(AdapterError, ImportError):
    """kloppy, the optional dependency for provider tracking data, is missing."""


def _import(module: str = "kloppy"):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        if module == "kloppy" or (e.name or "").split(".")[0] == "kloppy":
            raise KloppyNotInstalledError(
                f"reading provider tracking data needs kloppy, which is not installed: pip install 'replaylab[kloppy]' ({e})"
            ) from e
        raise


def load_provider(provider: str, **files: Any):
    """Read a provider's tracking files with kloppy; ``files`` are the kloppy loader's keyword arguments
    (file paths and options such as ``sample_rate``), e.g.
    ``load_provider("metrica_csv", home_data="home.csv", away_data="away.csv")``."""
    if provider not in PROVIDERS:
        raise AdapterError(f"unknown tracking provider {provider!r}; supported: {', '.join(sorted(PROVIDERS))}")
    module_name, func_name = PROVIDERS[provider]
    _import()
    loader = getattr(_import(module_name), func_name)
    sig = inspect.signature(loader)
    try:
        sig.bind(**files)
    except TypeError as e:
        raise AdapterError(f"tracking provider {provider!r}: {e}; {module_name}.{func_name} takes {sig}") from None
    for key, value in files.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, (str, os.PathLike)) and "://" not in str(item) and not Path(item).exists():
                raise AdapterError(f"tracking provider {provider!r}: {key}={str(item)!r} does not exist")
    try:
        return loader(**files)
    except AdapterError:
        raise
    except Exception as e:
        names = ", ".join(f"{k}={v}" for k, v in files.items() if isinstance(v, (str, os.PathLike)))
        raise AdapterError(f"tracking provider {provider!r} ({names}): kloppy could not read it: {type(e).__name__}: {e}") from e


def canonical_coordinate_system(pitch_length: float = 105.0, pitch_width: float = 68.0):
    """kloppy coordinate system of the canonical table: metres, origin bottom-left, y bottom-to-top."""
    from kloppy.domain import CustomCoordinateSystem, Dimension, MetricPitchDimensions, Origin, VerticalOrientation

    dims = MetricPitchDimensions(
        x_dim=Dimension(0.0, pitch_length), y_dim=Dimension(0.0, pitch_width), pitch_length=pitch_length, pitch_width=pitch_width,
        standardized=False,
    )  # fmt: skip
    return CustomCoordinateSystem(
        origin=Origin.BOTTOM_LEFT, vertical_orientation=VerticalOrientation.BOTTOM_TO_TOP, pitch_dimensions=dims
    )


def to_canonical(dataset, *, pitch_length: float = 105.0, pitch_width: float = 68.0, orientation=None):
    """``dataset`` transformed to :func:`canonical_coordinate_system` (orientation unchanged unless given)."""
    _import()
    target = canonical_coordinate_system(pitch_length, pitch_width)
    try:
        if dataset.metadata.coordinate_system is not None:
            return dataset.transform(to_coordinate_system=target, to_orientation=orientation)
        # no coordinate system, only pitch dimensions: rescale, keeping the provider's y direction
        return dataset.transform(to_pitch_dimensions=target.pitch_dimensions, to_orientation=orientation)
    except Exception as e:
        raise AdapterError(
            f"cannot convert the tracking data to metres on a {pitch_length:g} x {pitch_width:g} pitch: {type(e).__name__}: {e}"
        ) from e


def _seconds(value) -> float:
    return value.total_seconds()


def tracking_time(frame, first_period_start=None) -> float:
    """Seconds on the provider's clock: the frame's period start plus its timestamp within the period."""
    start = frame.period.start_timestamp
    if isinstance(start, datetime):
        if first_period_start is None:
            raise AdapterError("tracking_time: periods start at datetimes; pass the first period's start")
        base = (start - first_period_start).total_seconds()
    else:
        base = _seconds(start) if start is not None else 0.0
    return base + _seconds(frame.timestamp)


def _team_name(player) -> str | None:
    ground = getattr(getattr(player, "team", None), "ground", None)
    value = getattr(ground, "value", ground)
    return value if value in ("home", "away") else None


def _player_order(player) -> tuple:
    jersey = player.jersey_no if isinstance(player.jersey_no, int) else 10**6
    return (0 if _team_name(player) == "home" else 1, jersey, str(player.player_id))


def _finite(*values) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def track_ids(dataset) -> dict[str, int]:
    """Provider player id -> track id: 1..N in order of first appearance in the frames (home before
    away, then by jersey, within a frame). Players never seen on the pitch get no id."""
    ids: dict[str, int] = {}
    for frame in dataset.frames:
        for player in sorted(frame.players_data, key=_player_order):
            if _team_name(player) is None:
                continue
            coords = frame.players_data[player].coordinates
            if coords is None or not _finite(coords.x, coords.y):
                continue
            pid = str(player.player_id)
            if pid not in ids:
                ids[pid] = len(ids) + 1
    return ids


def player_table(dataset) -> list[dict]:
    """Rows of ``players.csv`` (:data:`PLAYER_COLUMNS`): track id, provider player id, team, jersey, name."""
    ids = track_ids(dataset)
    players = {str(p.player_id): p for team in dataset.metadata.teams for p in team.players}
    for frame in dataset.frames:  # players in the frames but not in the metadata's line-ups
        for p in frame.players_data:
            players.setdefault(str(p.player_id), p)
    rows = []
    for pid, tid in sorted(ids.items(), key=lambda kv: kv[1]):
        p = players[pid]
        rows.append({"track_id": tid, "player_id": pid, "team": _team_name(p), "jersey": "" if p.jersey_no is None else str(p.jersey_no),
                     "name": p.full_name or ""})  # fmt: skip
    return rows


def _first_start(ds):
    periods = ds.metadata.periods
    first_start = periods[0].start_timestamp if periods and isinstance(periods[0].start_timestamp, datetime) else None
    if first_start is None and ds.frames and isinstance(ds.frames[0].period.start_timestamp, datetime):
        first_start = min(f.period.start_timestamp for f in ds.frames)
    return first_start


def feed_span(dataset) -> tuple[float, float]:
    """(first, last) tracking time of the feed's frames, seconds on the provider's clock."""
    if not dataset.frames:
        raise AdapterError("the tracking feed has no frames")
    first_start = _first_start(dataset)
    times = [tracking_time(f, first_start) for f in dataset.frames]
    return min(times), max(times)


def resolve_offset(dataset, video_offset_s: float | str) -> float:
    """``video_offset_s`` as seconds: a number as is, ``"auto"`` the feed's first tracking time."""
    if isinstance(video_offset_s, str):
        if video_offset_s.strip().lower() != "auto":
            try:
                return float(video_offset_s)
            except ValueError:
                raise AdapterError(f"video_offset_s: expected seconds or 'auto', got {video_offset_s!r}") from None
        return feed_span(dataset)[0]
    return float(video_offset_s)


def check_span(dataset, video_offset_s: float, video_duration_s: float | None = None) -> None:
    """Fail, naming both spans, when the feed (shifted by the offset) does not overlap the video."""
    t0, t1 = feed_span(dataset)
    a, b = t0 - video_offset_s, t1 - video_offset_s
    feed = f"the tracking feed spans {a:.1f} to {b:.1f} s of video time (feed clock {t0:.1f} to {t1:.1f} s, offset {video_offset_s:g} s)"
    if video_duration_s is not None:
        if b < 0 or a > video_duration_s:
            raise AdapterError(f"{feed}, but the video spans 0.0 to {video_duration_s:.1f} s: no overlap; "
                               "set the video offset (e.g. --video-offset-s auto)")  # fmt: skip
    elif a > MAX_VIDEO_S or b < 0:
        raise AdapterError(f"{feed}, but a match video spans 0 to at most {MAX_VIDEO_S:.0f} s; "
                           "set the video offset (e.g. --video-offset-s auto)")  # fmt: skip


def check_table(rows: Sequence[dict], *, pitch_length: float = 105.0, pitch_width: float = 68.0,
                video_fps: float) -> dict[str, Any]:  # fmt: skip
    """Counts (and a few examples) of rows off the pitch and of speeds above the physical limits."""
    m = OFF_PITCH_MARGIN_M
    off = [r for r in rows if not (-m <= r["x"] <= pitch_length + m and -m <= r["y"] <= pitch_width + m)]
    last: dict[int, dict] = {}
    fast = {"ball": [], "player": []}
    for r in rows:  # rows are ordered by frame
        prev = last.get(r["track_id"])
        last[r["track_id"]] = r
        if prev is None or r["frame"] <= prev["frame"]:
            continue
        dt = (r["frame"] - prev["frame"]) / video_fps
        speed = math.hypot(r["x"] - prev["x"], r["y"] - prev["y"]) / dt
        kind = "ball" if r["track_id"] == BALL_TRACK_ID else "player"
        if speed > (MAX_BALL_SPEED if kind == "ball" else MAX_PLAYER_SPEED):
            fast[kind].append({"frame": r["frame"], "track_id": r["track_id"], "speed_m_s": round(speed, 1)})
    return {
        "rows": len(rows),
        "off_pitch_rows": len(off),
        "off_pitch_examples": [{"frame": r["frame"], "track_id": r["track_id"], "x": r["x"], "y": r["y"]} for r in off[:5]],
        "ball_speed_warnings": len(fast["ball"]),
        "player_speed_warnings": len(fast["player"]),
        "speed_examples": (fast["ball"][:3] + fast["player"][:3]),
        "limits": {"ball_m_s": MAX_BALL_SPEED, "player_m_s": MAX_PLAYER_SPEED, "off_pitch_margin_m": OFF_PITCH_MARGIN_M},
    }


def dataset_to_table(
    dataset,
    *,
    video_fps: float,
    video_offset_s: float | str = 0.0,
    pitch_length: float = 105.0,
    pitch_width: float = 68.0,
    orientation=None,
) -> list[dict]:
    """The canonical tracking table (a dict per row, keys :data:`TRACKING_COLUMNS`) of a kloppy TrackingDataset.

    See the module docstring for the frame / time alignment, ids and coordinates. ``orientation``
    (a kloppy Orientation or its name) re-orients the teams; the default keeps the provider's.
    Positions are rounded to the millimetre; ``z`` and the boxes are None when empty.
    """
    if not video_fps or video_fps <= 0:
        raise AdapterError(f"dataset_to_table: video_fps must be positive, got {video_fps}")
    ids = track_ids(dataset)
    video_offset_s = resolve_offset(dataset, video_offset_s)
    ds = to_canonical(dataset, pitch_length=pitch_length, pitch_width=pitch_width, orientation=orientation)
    first_start = _first_start(ds)

    best: dict[int, tuple[float, float, Any]] = {}  # video frame -> (distance to frame time, time, kloppy frame)
    for frame in ds.frames:
        t = tracking_time(frame, first_start) - video_offset_s
        k = math.floor(t * video_fps + 0.5 + 1e-6)  # half up, robust to float noise (2990.1 s * 25 = 74752.4999...)
        if k < 0:
            continue
        dist = abs(t - k / video_fps)
        if k not in best or dist < best[k][0] - 1e-12:
            best[k] = (dist, t, frame)

    rows: list[dict] = []
    empty_box = {"box_x1": None, "box_y1": None, "box_x2": None, "box_y2": None}
    for k in sorted(best):
        frame = best[k][2]
        time = round(k / video_fps, 6)
        ball = frame.ball_coordinates
        if ball is not None and _finite(ball.x, ball.y):
            z = getattr(ball, "z", None)
            rows.append({"frame": k, "time": time, "track_id": BALL_TRACK_ID, "team": "ball", "jersey": "", "x": round(ball.x, 3),
                         "y": round(ball.y, 3), "z": round(z, 3) if _finite(z) else None, **empty_box})  # fmt: skip
        players = []
        for player, data in frame.players_data.items():
            team = _team_name(player)
            coords = data.coordinates
            if team is None or coords is None or not _finite(coords.x, coords.y):
                continue
            players.append((ids[str(player.player_id)], team, player, coords))
        for tid, team, player, coords in sorted(players, key=lambda p: p[0]):
            rows.append({"frame": k, "time": time, "track_id": tid, "team": team, "jersey": "" if player.jersey_no is None else str(player.jersey_no),
                         "x": round(coords.x, 3), "y": round(coords.y, 3), "z": None, **empty_box})  # fmt: skip
    return rows


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(v)
    return str(v)


def write_tracking_csv(rows: Iterable[dict], path: str | os.PathLike) -> None:
    """Write canonical tracking rows (dicts keyed by :data:`TRACKING_COLUMNS`) atomically; None is written empty."""
    write_csv(path, TRACKING_COLUMNS, ([_cell(r.get(c)) for c in TRACKING_COLUMNS] for r in rows))


def write_players_csv(players: Sequence[dict], path: str | os.PathLike) -> None:
    """Write :func:`player_table` rows atomically."""
    write_csv(path, PLAYER_COLUMNS, ([_cell(r.get(c)) for c in PLAYER_COLUMNS] for r in players))


def convert_provider(provider: str, out_dir: str | os.PathLike, *, video_fps: float, video_offset_s: float | str = 0.0,
                     pitch_length: float = 105.0, pitch_width: float = 68.0, video_duration_s: float | None = None,
                     **files: Any) -> tuple[Path, Path]:  # fmt: skip
    """Read a provider's files (:func:`load_provider`; list values for loaders that take several feeds, options
    such as ``sample_rate`` as keywords too) and write ``out_dir/tracking.csv``, ``out_dir/players.csv`` and
    ``out_dir/tracking_summary.json`` (spans, offset, :func:`check_table` warnings)."""
    from ...io import write_json

    dataset = load_provider(provider, **files)
    offset = resolve_offset(dataset, video_offset_s)
    check_span(dataset, offset, video_duration_s)
    out = Path(out_dir)
    rows = dataset_to_table(
        dataset, video_fps=video_fps, video_offset_s=offset, pitch_length=pitch_length, pitch_width=pitch_width
    )
    t0, t1 = feed_span(dataset)
    summary = {"provider": provider, "video_offset_s": offset, "feed_span_s": [t0, t1],
               "video_span_s": [0.0, video_duration_s] if video_duration_s is not None else None,
               "frames": len({r["frame"] for r in rows}),
               **check_table(rows, pitch_length=pitch_length, pitch_width=pitch_width, video_fps=video_fps)}  # fmt: skip
    write_tracking_csv(rows, out / "tracking.csv")
    write_players_csv(player_table(dataset), out / "players.csv")
    write_json(out / "tracking_summary.json", summary)
    return out / "tracking.csv", out / "players.csv"


__all__ = [
    "PLAYER_COLUMNS", "PROVIDERS", "TRACKING_COLUMNS", "KloppyNotInstalledError", "canonical_coordinate_system", "check_span",
    "check_table", "convert_provider", "dataset_to_table", "feed_span", "resolve_offset", "load_provider", "player_table", "to_canonical", "track_ids", "tracking_time", "write_players_csv",
    "write_tracking_csv",
]  # fmt: skip
