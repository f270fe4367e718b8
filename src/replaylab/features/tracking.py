"""The header pre-filter's 36 features per video frame, from the canonical tracking table.

Input: the canonical tracking table (``tracking.csv`` of the match layout, or what
:mod:`replaylab.data.adapters.kloppy_tracking` writes for a provider feed): one row per object and
tracking sample, ``time`` in seconds of the video clock, ``track_id`` 0 / ``team`` ``ball`` for the
ball, ``home`` / ``away`` players, ``x, y`` metres on the pitch, ``z`` the ball height in metres (empty
when the provider has none). Output: a float32 matrix ``(n_frames, 36)``, row ``i`` for the video frame at
``frame_times[i]``, columns :data:`FEATURE_NAMES`. No NaN or inf, ever: a missing ball height, a dropout or
an absent player becomes an explicit indicator plus a neutral value.

**Alignment and rates.** Ball and player positions are linearly interpolated in time onto the video frame
times, so a 10, 25 or 50 Hz feed gives a row per video frame. All windows are in seconds (converted to
frames with the median frame step) and all values are in metres and seconds, so the same physical
situation gives the same values whatever the tracking rate. Ball heights are not interpolated: every
provider height sample is put on its nearest video frame and heights are *fitted* there (below).

**Ball kinematics** (horizontal x/y unless stated; ``W`` = ``side_s`` = 0.28 s):

====  =========================  =======  ==================================================================
 #    name                       unit     meaning
====  =========================  =======  ==================================================================
 0    ball_speed                 m/s      horizontal speed, local linear fit over +-``short_s`` (0.12 s)
 1    ball_speed_before          m/s      speed over the ``W`` before the frame (one-sided linear fit)
 2    ball_speed_after           m/s      speed over the ``W`` after the frame
 3    ball_speed_log_ratio       1        ``log((after + 0.5) / (before + 0.5))``: < 0 the ball is stopped
                                          (chest / thigh control), ~0 it keeps its pace
 4    ball_accel                 m/s^2    horizontal acceleration magnitude, local quadratic over +-``accel_s``
 5    ball_accel_peak_ratio      1        ``ball_accel`` over its maximum within +-``peak_s``; 1 at the
                                          contact frame of a touch
 6    ball_dir_change            rad      angle between the velocities before and after (0 when either
                                          speed is under ``min_speed``)
 7    ball_dv                    m/s      magnitude of the horizontal velocity change, after - before
 8    ball_curvature             1/m      ``ball_dir_change`` per metre of path over the two windows
 9    ball_speed_trend_before    m/s^2    speed change from ``t - 0.8 s`` to ``t - 0.2 s`` per second: ~0 for a
                                          ball in flight, about -3.4 for a rolling ball (friction)
====  =========================  =======  ==================================================================

**Ball height** (provider heights are noisy and missing in runs):

====  =========================  =======  ==================================================================
 10   ball_z                     m        height: local quadratic fit of the measured heights within
                                          +-``z_fit_s``; where there are none, a ballistic extrapolation
                                          (gravity) from the nearest fitted frame, clipped to 0..30 m
 11   ball_z_missing             0/1      1 when ``ball_z`` is not from measured heights around the frame
 12   ball_z_gap_s               s        time to the nearest measured height (capped at ``cap_s``)
 13   ball_vz                    m/s      vertical velocity (from the fit or the extrapolation)
 14   ball_az                    m/s^2    vertical acceleration of the local quadratic (0 when missing)
 15   ball_vz_before             m/s      vertical velocity over the ``W`` before (0 when too few heights)
 16   ball_vz_after              m/s      vertical velocity over the ``W`` after
 17   ball_z_max_context         m        highest fitted measured height within +-``context_s`` (1 s): a
                                          lofted ball (0 when none was measured)
 18   ball_height_above_head     m        ``ball_z - head_height_m`` (head level: a parameter, 1.75 m)
====  =========================  =======  ==================================================================

**Ball data quality:**

====  =========================  =======  ==================================================================
 19   ball_dropout               0/1      the frame lies in a gap of the ball feed (longer than
                                          ``dropout_factor`` x its usual sample step), or outside the feed
 20   ball_gap_s                 s        length of the feed interval around the frame (0.04 s at 25 Hz,
                                          0.1 s at 10 Hz, longer in a dropout; capped at ``cap_s``)
====  =========================  =======  ==================================================================

**Player-spatial** (players are points on the ground; their head is taken at ``head_height_m``):

====  =========================  =======  ==================================================================
 21   nearest_dist               m        horizontal distance from the ball to the nearest player (``cap_m``
                                          when no player is tracked)
 22   nearest_dist_min           m        minimum of ``nearest_dist`` within +-``contact_s`` (0.2 s)
 23   second_dist                m        horizontal distance to the second-nearest player
 24   head_dist                  m        3-D distance from the ball to the nearest player's head point
 25   head_dist_min              m        minimum of ``head_dist`` within +-``contact_s``
 26   nearest_speed              m/s      speed of the nearest player
 27   rel_speed                  m/s      magnitude of ball velocity minus the nearest player's velocity
 28   approach_speed             m/s      how fast the ball closed in on that player over the ``W`` before
 29   depart_speed               m/s      how fast it moves away from that player over the ``W`` after
 30   players_1m                 count    players within 1 m (horizontal) of the ball
 31   players_2m                 count    players within 2 m
 32   players_5m                 count    players within 5 m
 33   opponents_2m               count    players within 2 m from the other team than the nearest player's
 34   nearest_team               +-1/0    team of the nearest player: +1 home, -1 away, 0 no player tracked
 35   nearest_interpolated       0/1      the nearest player's position is bridged over a dropout
====  =========================  =======  ==================================================================

Player positions are bridged over dropouts up to ``max_player_gap_s`` (2 s); longer gaps and times before
a player's first / after his last sample leave him out of the frame.

**Physically impossible samples are dropouts.** Between two consecutive samples of one object the implied
horizontal speed must stay under ``max_ball_speed`` (45 m/s) for the ball and ``max_player_speed`` (13 m/s)
for a player (the limits ``import-tracking`` warns about). A sample with an impossible speed both in and out
(a glitch) is removed before interpolation; every frame between two samples still joined by an impossible
speed (a glitch, or a jump such as an identity switch) counts as a dropout: for the ball ``ball_dropout`` = 1
and the frame stays out of the kinematic fits, for a player ``nearest_interpolated`` = 1. The computation is vectorised numpy:
a 90-minute match (135,000 frames, 23 objects) takes a few seconds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.rowchecks import BadRows, OnBadRows, check_tracking
from ..data.samples import AdapterError
from .signal import frames_for, local_fit, shift, sliding_max, sliding_min, window_sum

GRAVITY = 9.81
BALL_RADIUS_M = 0.11

FEATURE_NAMES: tuple[str, ...] = (
    "ball_speed", "ball_speed_before", "ball_speed_after", "ball_speed_log_ratio", "ball_accel", "ball_accel_peak_ratio",
    "ball_dir_change", "ball_dv", "ball_curvature", "ball_speed_trend_before",
    "ball_z", "ball_z_missing", "ball_z_gap_s", "ball_vz", "ball_az", "ball_vz_before", "ball_vz_after", "ball_z_max_context",
    "ball_height_above_head",
    "ball_dropout", "ball_gap_s",
    "nearest_dist", "nearest_dist_min", "second_dist", "head_dist", "head_dist_min", "nearest_speed", "rel_speed",
    "approach_speed", "depart_speed", "players_1m", "players_2m", "players_5m", "opponents_2m", "nearest_team",
    "nearest_interpolated",
)  # fmt: skip
N_FEATURES = len(FEATURE_NAMES)
assert N_FEATURES == 36

TEAM_CODES = {"ball": 0, "home": 1, "away": 2}
REQUIRED_COLUMNS = ("time", "track_id", "team", "x", "y", "z")

__all__ = [
    "FEATURE_NAMES", "N_FEATURES", "FeatureConfig", "TrackingTable", "compute_features", "default_frame_times", "load_tracking",
]  # fmt: skip


@dataclass(frozen=True)
class FeatureConfig:
    """Windows (seconds), the head level and caps of the features (see the module docstring)."""

    head_height_m: float = 1.75
    short_s: float = 0.12
    side_s: float = 0.28
    accel_s: float = 0.2
    peak_s: float = 0.4
    z_fit_s: float = 0.24
    ballistic_s: float = 0.6
    contact_s: float = 0.2
    context_s: float = 1.0
    trend_s: tuple[float, float] = (0.2, 0.8)
    min_speed: float = 0.3
    max_player_gap_s: float = 2.0
    dropout_factor: float = 2.5
    max_ball_speed: float = 45.0
    max_player_speed: float = 13.0
    cap_m: float = 50.0
    cap_s: float = 5.0


# ------------------------------------------------------------------------------------------ the table
@dataclass(frozen=True)
class TrackingTable:
    """Columns of a canonical tracking table as arrays, one entry per row (object and sample).

    ``team`` codes: 0 ball, 1 home, 2 away, 3 anything else (ignored); ``z`` is NaN where empty.
    """

    time: np.ndarray
    track_id: np.ndarray
    team: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    source: str = "<table>"
    frame: np.ndarray | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @classmethod
    def read(
        cls, path: str | os.PathLike, *, fps: float | None = None, on_bad_rows: OnBadRows = "fail", tally: BadRows | None = None
    ) -> TrackingTable:
        """Read ``tracking.csv`` (pandas); a missing file or column, or a cell that is not a number, names the file
        and row. With a ``frame`` column the rows are also checked (:func:`replaylab.data.rowchecks.check_tracking`:
        non-finite values, repeated or backward frames, ``time`` off ``frame / fps``): an error naming the row, or,
        with ``on_bad_rows="drop"``, the row left out and counted in ``tally``."""
        import pandas as pd

        p = Path(path)
        if not p.is_file():
            raise AdapterError(f"{p}: tracking table not found")
        try:
            df = pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False)
        except pd.errors.EmptyDataError:
            raise AdapterError(f"{p}: empty file (expected the header {','.join(REQUIRED_COLUMNS)})") from None
        except pd.errors.ParserError as e:
            raise AdapterError(f"{p}: {str(e).strip()} (line = CSV row; the header has the column count)") from None
        df.columns = [str(c).strip() for c in df.columns]
        missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
        if missing:
            raise AdapterError(f"{p}: missing columns {missing}")

        def numbers(name: str, empty_ok: bool = False) -> np.ndarray:
            text = df[name].str.strip()
            if empty_ok:
                text = text.where(text != "", "nan")
            values = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
            bad = np.isnan(values) & ~text.str.lower().isin(["nan", "+nan", "-nan"]).to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise AdapterError(f"{p}, row {i + 2}: column {name!r} is not a number: {df[name].iloc[i]!r}")
            return values

        team = df["team"].to_numpy(dtype=str)
        frame = numbers("frame") if "frame" in df.columns else None
        table = cls(time=numbers("time"), track_id=numbers("track_id"), team=_team_codes(team), x=numbers("x"),
                    y=numbers("y"), z=numbers("z", empty_ok=True), source=str(p), frame=frame)  # fmt: skip
        keep = check_tracking(p, frame=table.frame, time=table.time, track_id=table.track_id, x=table.x, y=table.y,
                              z=table.z, fps=fps, on_bad_rows=on_bad_rows, tally=tally)  # fmt: skip
        if np.any(~np.isfinite(table.track_id[keep])):
            i = int(np.flatnonzero(keep & ~np.isfinite(table.track_id))[0])
            raise AdapterError(f"{p}, row {i + 2}: track_id {df['track_id'].iloc[i]!r} is not finite")
        return cls(time=table.time[keep], track_id=table.track_id[keep].astype(np.int64), team=table.team[keep],
                   x=table.x[keep], y=table.y[keep], z=table.z[keep], source=str(p),
                   frame=None if frame is None else frame[keep])  # fmt: skip

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping], source: str = "<rows>") -> TrackingTable:
        """From dict rows keyed like the CSV columns (e.g. kloppy_tracking.dataset_to_table); None / '' z is missing."""
        rows = list(rows)
        for i, r in enumerate(rows):
            for c in REQUIRED_COLUMNS:
                if c not in r:
                    raise AdapterError(f"{source}, row {i}: missing key {c!r}")

        def z(v) -> float:
            return math.nan if v is None or v == "" else float(v)

        return cls(
            time=np.array([float(r["time"]) for r in rows], dtype=np.float64),
            track_id=np.array([int(r["track_id"]) for r in rows], dtype=np.int64),
            team=_team_codes(np.array([str(r["team"]) for r in rows], dtype=str)),
            x=np.array([float(r["x"]) for r in rows], dtype=np.float64),
            y=np.array([float(r["y"]) for r in rows], dtype=np.float64),
            z=np.array([z(r["z"]) for r in rows], dtype=np.float64),
            source=source,
        )


def _team_codes(team: np.ndarray) -> np.ndarray:
    codes = np.full(team.shape, 3, dtype=np.int8)
    for name, code in TEAM_CODES.items():
        codes[np.char.strip(team) == name] = code
    return codes


def load_tracking(tracking: TrackingTable | str | os.PathLike) -> TrackingTable:
    return tracking if isinstance(tracking, TrackingTable) else TrackingTable.read(tracking)


def default_frame_times(table: TrackingTable, fps: float, n_frames: int | None = None) -> np.ndarray:
    """Frame times ``i / fps`` for ``n_frames`` frames (default: up to the table's last sample)."""
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if n_frames is None:
        n_frames = math.floor(float(np.max(table.time)) * fps + 0.5) + 1 if len(table) else 0
    return np.arange(n_frames, dtype=np.float64) / fps


# ------------------------------------------------------------------------------------------ resampling
def _samples(t: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sorted by time, one sample per distinct time (the first)."""
    order = np.argsort(t, kind="stable")
    t = t[order]
    keep = np.concatenate([[True], np.diff(t) > 1e-9]) if t.size else np.zeros(0, bool)
    return (t[keep], *(c[order][keep] for c in cols))


def _bracket(ts: np.ndarray, ft: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each frame time: left / right sample index, interpolation weight, and the enclosing interval length.

    Frames before the first or after the last sample (beyond half a sample step) get interval ``inf``.
    """
    n = ts.shape[0]
    right = np.searchsorted(ts, ft, side="right")
    left = np.clip(right - 1, 0, n - 1)
    right_c = np.clip(right, 0, n - 1)
    step = float(np.median(np.diff(ts))) if n > 1 else 0.0
    tol = max(0.5 * step, 1e-6)
    interval = np.where((right > 0) & (right < n), ts[right_c] - ts[left], np.inf)
    exact = np.abs(ts[left] - ft) <= tol
    exact |= np.abs(ts[right_c] - ft) <= tol
    interval = np.where(np.isinf(interval) & exact, step if step > 0 else 0.0, interval)
    span = np.maximum(ts[right_c] - ts[left], 1e-12)
    w = np.clip((ft - ts[left]) / span, 0.0, 1.0)
    w = np.where(right_c == left, 0.0, w)
    return left, right_c, w, interval


def _interp(vals: np.ndarray, left: np.ndarray, right: np.ndarray, w: np.ndarray) -> np.ndarray:
    return vals[left] * (1.0 - w) + vals[right] * w


def _impossible(ts: np.ndarray, xs: np.ndarray, ys: np.ndarray, ft: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Samples to keep (glitches removed) and the frames lying between samples joined by a speed above ``limit``.

    A glitch is a sample whose speed from the previous and to the next sample both exceed ``limit`` (m/s).
    """
    n = ts.shape[0]
    if n < 2:
        return np.ones(n, bool), np.zeros(ft.shape[0], bool)
    seg = np.hypot(np.diff(xs), np.diff(ys)) / np.maximum(np.diff(ts), 1e-9)
    fast = seg > limit
    keep = np.ones(n, bool)
    keep[1:-1] = ~(fast[:-1] & fast[1:])
    seg_i = np.searchsorted(ts, ft, side="right") - 1  # the segment [ts[i], ts[i+1]) holding each frame
    inside = (seg_i >= 0) & (seg_i < n - 1)
    on_fast = np.zeros(ft.shape[0], bool)
    on_fast[inside] = fast[seg_i[inside]]
    return keep, on_fast


# ------------------------------------------------------------------------------------------ features
def compute_features(
    tracking: TrackingTable | str | os.PathLike,
    *,
    frame_times: np.ndarray | None = None,
    fps: float | None = None,
    n_frames: int | None = None,
    config: FeatureConfig = FeatureConfig(),
) -> np.ndarray:
    """The ``(n_frames, 36)`` float32 feature matrix (columns :data:`FEATURE_NAMES`) of one match.

    ``frame_times``: the video's frame times in seconds (``replaylab.data.video.frame_times``); without
    them, ``i / fps`` for ``n_frames`` frames (default: to the last tracking sample).
    """
    table = load_tracking(tracking)
    if frame_times is None:
        if fps is None:
            raise ValueError("compute_features: give the video's frame_times or its fps")
        frame_times = default_frame_times(table, fps, n_frames)
    ft = np.asarray(frame_times, dtype=np.float64)
    if ft.ndim != 1:
        raise ValueError(f"frame_times must be 1-D, got shape {ft.shape}")
    n = ft.shape[0]
    if n == 0:
        return np.zeros((0, N_FEATURES), np.float32)
    if n > 1 and not (np.diff(ft) > 0).all():
        raise ValueError("frame_times must increase")
    for name in ("time", "x", "y"):
        if not np.isfinite(getattr(table, name)).all():
            bad = int(np.flatnonzero(~np.isfinite(getattr(table, name)))[0])
            raise AdapterError(f"{table.source}, row {bad + 2}: column {name!r} is empty or not finite")
    dt = float(np.median(np.diff(ft))) if n > 1 else (1.0 / fps if fps else 0.04)
    ball_rows = table.team == 0
    if not ball_rows.any():
        raise AdapterError(f"{table.source}: no ball rows (team 'ball'); the pre-filter needs the ball track")
    out = np.zeros((n, N_FEATURES), dtype=np.float64)
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    ball = _ball_features(table, ft, dt, config)
    for name, values in ball.items():
        if name in col:
            out[:, col[name]] = values
    players = _player_features(table, ft, dt, config, ball)
    for name, values in players.items():
        out[:, col[name]] = values
    if not np.isfinite(out).all():  # a bug, never bad input: every path above fills explicit values
        bad = [FEATURE_NAMES[j] for j in np.flatnonzero(~np.isfinite(out).all(0))]
        raise AssertionError(f"non-finite tracking features {bad} for {table.source}")
    return out.astype(np.float32)


def _ball_features(table: TrackingTable, ft: np.ndarray, dt: float, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    sel = table.team == 0
    tb, xb, yb, zb = _samples(table.time[sel], table.x[sel], table.y[sel], table.z[sel])
    n = ft.shape[0]
    step = float(np.median(np.diff(tb))) if tb.size > 1 else dt
    keep, glitch = _impossible(tb, xb, yb, ft, cfg.max_ball_speed)
    tb, xb, yb, zb = tb[keep], xb[keep], yb[keep], zb[keep]
    left, right, w, interval = _bracket(tb, ft)
    feed = np.isfinite(interval)
    inside = feed & ~glitch
    bx, by = _interp(xb, left, right, w), _interp(yb, left, right, w)
    out: dict[str, np.ndarray] = {}
    out["ball_dropout"] = (~inside | (interval > cfg.dropout_factor * max(step, dt))).astype(np.float64)
    out["ball_gap_s"] = np.minimum(np.where(feed, interval, cfg.cap_s), cfg.cap_s)

    # horizontal kinematics on the interpolated track (frames outside the feed do not enter the fits)
    k_short, k_side, k_acc = frames_for(cfg.short_s, dt), frames_for(cfg.side_s, dt), frames_for(cfg.accel_s, dt)
    vel = {}
    for axis, v in (("x", bx), ("y", by)):
        vel[axis] = local_fit(v, inside, -k_short, k_short, dt, degree=1).slope
        vel[axis + "_before"] = local_fit(v, inside, -k_side, 0, dt, degree=1).slope
        vel[axis + "_after"] = local_fit(v, inside, 0, k_side, dt, degree=1).slope
        vel[axis + "_acc"] = local_fit(v, inside, -k_acc, k_acc, dt, degree=2).curvature
    speed = np.hypot(vel["x"], vel["y"])
    before = np.hypot(vel["x_before"], vel["y_before"])
    after = np.hypot(vel["x_after"], vel["y_after"])
    accel = np.hypot(vel["x_acc"], vel["y_acc"])
    dot = vel["x_before"] * vel["x_after"] + vel["y_before"] * vel["y_after"]
    cross = vel["x_before"] * vel["y_after"] - vel["y_before"] * vel["x_after"]
    angle = np.arctan2(np.abs(cross), dot)
    angle = np.where((before >= cfg.min_speed) & (after >= cfg.min_speed), angle, 0.0)
    path = cfg.side_s * (before + after)
    k1, k2 = frames_for(cfg.trend_s[0], dt), frames_for(cfg.trend_s[1], dt)
    out.update(
        ball_speed=speed, ball_speed_before=before, ball_speed_after=after,
        ball_speed_log_ratio=np.log((after + 0.5) / (before + 0.5)),
        ball_accel=accel, ball_accel_peak_ratio=accel / (sliding_max(accel, frames_for(cfg.peak_s, dt)) + 1e-6),
        ball_dir_change=angle, ball_dv=np.hypot(vel["x_after"] - vel["x_before"], vel["y_after"] - vel["y_before"]),
        ball_curvature=angle / (path + 0.1),
        ball_speed_trend_before=(shift(speed, -k1) - shift(speed, -k2)) / max((k2 - k1) * dt, dt),
    )  # fmt: skip
    out["_bx"], out["_by"], out["_vx"], out["_vy"] = bx, by, vel["x"], vel["y"]

    # height: measured samples on their nearest frame, fitted locally; ballistic extrapolation elsewhere
    known = np.isfinite(zb)
    zsum, zcnt = np.zeros(n), np.zeros(n)
    if known.any():
        idx = np.clip(np.searchsorted(ft, tb[known]), 1, n - 1) if n > 1 else np.zeros(int(known.sum()), np.int64)
        if n > 1:
            prev = idx - 1
            idx = np.where(np.abs(ft[prev] - tb[known]) <= np.abs(ft[idx] - tb[known]), prev, idx)
        near = np.abs(ft[idx] - tb[known]) <= max(0.5 * max(step, dt), 1e-6)  # samples outside the video are dropped
        np.add.at(zsum, idx[near], zb[known][near])
        np.add.at(zcnt, idx[near], 1.0)
    zmask = zcnt > 0
    zgrid = np.where(zmask, zsum / np.maximum(zcnt, 1), 0.0)
    k_z, k_b = frames_for(cfg.z_fit_s, dt), frames_for(cfg.ballistic_s, dt)
    quad = local_fit(zgrid, zmask, -k_z, k_z, dt, degree=2)
    covered = quad.valid & (window_sum(zmask, -k_z, 0) > 0) & (window_sum(zmask, 0, k_z) > 0)
    z_ex, vz_ex = _ballistic(ft, zgrid, zmask, k_b, dt)
    z = np.clip(np.where(covered, quad.value, z_ex), 0.0, 30.0)
    vz = np.where(covered, quad.slope, vz_ex)
    az = np.where(covered, quad.curvature, 0.0)
    zk = np.flatnonzero(zmask)
    if zk.size:
        pos = np.clip(np.searchsorted(ft[zk], ft), 0, zk.size - 1)
        gap = np.minimum(np.abs(ft[zk[pos]] - ft), np.abs(ft[zk[np.maximum(pos - 1, 0)]] - ft))
    else:
        gap = np.full(n, cfg.cap_s)
    vz_b = local_fit(zgrid, zmask, -k_side, 0, dt, degree=1, min_count=3)
    vz_a = local_fit(zgrid, zmask, 0, k_side, dt, degree=1, min_count=3)
    measured = np.where(covered, z, -np.inf)
    zmax = sliding_max(measured, frames_for(cfg.context_s, dt))
    out.update(
        ball_z=z, ball_z_missing=(~covered).astype(np.float64), ball_z_gap_s=np.minimum(gap, cfg.cap_s), ball_vz=vz,
        ball_az=az, ball_vz_before=vz_b.slope, ball_vz_after=vz_a.slope, ball_z_max_context=np.where(np.isfinite(zmax), zmax, 0.0),
        ball_height_above_head=z - cfg.head_height_m,
    )  # fmt: skip
    return out


def _ballistic(ft: np.ndarray, zgrid: np.ndarray, zmask: np.ndarray, k: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Height and vertical velocity where no height was measured around the frame: the free-flight
    parabola (gravity fixed, height and vertical velocity fitted) through the measured heights of the
    ``k`` frames up to the last measured frame before (or from the first one after), extrapolated to the
    frame from whichever side was measured more recently. Ball on the ground (radius) when nothing was measured."""
    n = ft.shape[0]
    if not zmask.any():
        return np.full(n, BALL_RADIUS_M), np.zeros(n)
    fit_b = local_fit(zgrid, zmask, -k, 0, dt, degree=1, gravity=GRAVITY, min_count=3)
    fit_a = local_fit(zgrid, zmask, 0, k, dt, degree=1, gravity=GRAVITY, min_count=3)
    idx = np.arange(n)
    prev = np.maximum.accumulate(np.where(zmask & fit_b.valid, idx, -1))
    nxt = np.minimum.accumulate(np.where(zmask & fit_a.valid, idx, n)[::-1])[::-1]
    p, q = np.clip(prev, 0, n - 1), np.clip(nxt, 0, n - 1)
    dp = np.where(prev >= 0, ft - ft[p], np.inf)
    dq = np.where(nxt < n, ft[q] - ft, np.inf)
    use_prev = dp <= dq
    d = np.where(use_prev, dp, -dq)  # signed time from the anchor frame
    none = ~np.isfinite(d)
    d = np.where(none, 0.0, d)
    value = np.where(use_prev, fit_b.value[p], fit_a.value[q])
    slope = np.where(use_prev, fit_b.slope[p], fit_a.slope[q])
    z = np.where(none, BALL_RADIUS_M, value + slope * d - 0.5 * GRAVITY * d**2)
    vz = np.where(none, 0.0, slope - GRAVITY * d)
    return np.maximum(z, BALL_RADIUS_M), vz


def _player_features(table: TrackingTable, ft: np.ndarray, dt: float, cfg: FeatureConfig, ball: dict) -> dict[str, np.ndarray]:
    n = ft.shape[0]
    sel = (table.team == 1) | (table.team == 2)
    ids = np.unique(table.track_id[sel])
    P = ids.shape[0]
    px = np.full((n, max(P, 1)), np.nan)
    py = np.full((n, max(P, 1)), np.nan)
    bridged = np.zeros((n, max(P, 1)), bool)
    teams = np.zeros(max(P, 1), np.int8)
    if P:
        order = np.argsort(table.track_id[sel], kind="stable")
        tid, t, x, y, tm = (a[sel][order] for a in (table.track_id, table.time, table.x, table.y, table.team))
        bounds = np.searchsorted(tid, ids, side="left").tolist() + [tid.shape[0]]
        for j in range(P):
            s = slice(bounds[j], bounds[j + 1])
            ts, xs, ys = _samples(t[s], x[s], y[s])
            teams[j] = tm[s][0]
            step = float(np.median(np.diff(ts))) if ts.size > 1 else dt
            keep, glitch = _impossible(ts, xs, ys, ft, cfg.max_player_speed)
            ts, xs, ys = ts[keep], xs[keep], ys[keep]
            left, right, w, interval = _bracket(ts, ft)
            ok = interval <= cfg.max_player_gap_s
            px[:, j] = np.where(ok, _interp(xs, left, right, w), np.nan)
            py[:, j] = np.where(ok, _interp(ys, left, right, w), np.nan)
            bridged[:, j] = ok & ((interval > cfg.dropout_factor * max(step, dt)) | glitch)
    bx, by, vbx, vby, z = ball["_bx"], ball["_by"], ball["_vx"], ball["_vy"], ball["ball_z"]
    dist = np.hypot(px - bx[:, None], py - by[:, None])
    present = np.isfinite(dist)
    dist = np.where(present, dist, np.inf)
    rows = np.arange(n)
    nearest = np.argmin(dist, axis=1)
    d1 = dist[rows, nearest]
    d2 = np.partition(dist, 1, axis=1)[:, 1] if dist.shape[1] > 1 else np.full(n, np.inf)
    anyone = np.isfinite(d1)
    cap = cfg.cap_m
    d1c, d2c = np.minimum(d1, cap), np.minimum(d2, cap)
    head = np.minimum(np.sqrt(d1c**2 + (z - cfg.head_height_m) ** 2), cap)
    k_short, k_side, k_contact = frames_for(cfg.short_s, dt), frames_for(cfg.side_s, dt), frames_for(cfg.contact_s, dt)
    # nearest player's velocity: centred difference of his bridged track (0 where it is not defined)
    lo, hi = np.clip(rows - k_short, 0, n - 1), np.clip(rows + k_short, 0, n - 1)
    span = np.maximum((hi - lo) * dt, dt)
    pvx = (px[hi, nearest] - px[lo, nearest]) / span
    pvy = (py[hi, nearest] - py[lo, nearest]) / span
    okv = np.isfinite(pvx) & np.isfinite(pvy) & anyone
    pvx, pvy = np.where(okv, pvx, 0.0), np.where(okv, pvy, 0.0)
    before_i, after_i = np.clip(rows - k_side, 0, n - 1), np.clip(rows + k_side, 0, n - 1)
    d_before, d_after = dist[before_i, nearest], dist[after_i, nearest]
    w_b, w_a = np.maximum((rows - before_i) * dt, dt), np.maximum((after_i - rows) * dt, dt)
    approach = np.where(np.isfinite(d_before) & anyone, (np.minimum(d_before, cap) - d1c) / w_b, 0.0)
    depart = np.where(np.isfinite(d_after) & anyone, (np.minimum(d_after, cap) - d1c) / w_a, 0.0)
    near_team = np.where(anyone, teams[nearest], 0)
    team_of = np.broadcast_to(teams[None, :], dist.shape)
    within2 = dist < 2.0
    return {
        "nearest_dist": d1c,
        "nearest_dist_min": sliding_min(d1c, k_contact),
        "second_dist": d2c,
        "head_dist": head,
        "head_dist_min": sliding_min(head, k_contact),
        "nearest_speed": np.hypot(pvx, pvy),
        "rel_speed": np.hypot(vbx - pvx, vby - pvy),
        "approach_speed": approach,
        "depart_speed": depart,
        "players_1m": (dist < 1.0).sum(1).astype(np.float64),
        "players_2m": within2.sum(1).astype(np.float64),
        "players_5m": (dist < 5.0).sum(1).astype(np.float64),
        "opponents_2m": (within2 & (team_of != near_team[:, None]) & (near_team[:, None] > 0)).sum(1).astype(np.float64),
        "nearest_team": np.select([near_team == 1, near_team == 2], [1.0, -1.0], 0.0),
        "nearest_interpolated": (bridged[rows, nearest] & anyone).astype(np.float64),
    }
