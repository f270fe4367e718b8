"""What the header filters read from the match layout: which match belongs to which split, each match's
video frame times and its ground-truth header frames, and per-frame labels.

Matches come from ``<root>/<match_id>/`` (``video.mp4``, ``tracking.csv``, ``events.csv``); the split of
a match is the split CSV (``data/splits/header/{train,val,test}.csv``) whose ``group`` column names it.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.rowchecks import BadRows, OnBadRows, check_events
from ..data.samples import AdapterError
from ..tables import read_table

SPLITS = ("train", "val", "test")

__all__ = [
    "SPLITS",
    "Match",
    "frame_labels",
    "match_events",
    "match_frame_times",
    "read_event_frames",
    "read_event_rows",
    "read_match_splits",
    "split_matches",
]


@dataclass(frozen=True)
class Match:
    match_id: str
    folder: Path
    split: str

    @property
    def tracking(self) -> Path:
        return self.folder / "tracking.csv"

    @property
    def events(self) -> Path:
        return self.folder / "events.csv"

    @property
    def video(self) -> Path:
        return self.folder / "video.mp4"


def read_match_splits(splits_dir: str | os.PathLike, splits: tuple[str, ...] = SPLITS) -> dict[str, str]:
    """match id -> split, from the ``group`` column of each split CSV. A match in two splits is an error."""
    d = Path(splits_dir)
    out: dict[str, str] = {}
    for split in splits:
        path = d / f"{split}.csv"
        if not path.is_file():
            raise AdapterError(f"{path}: split file not found (run split@header first)")
        table = _table(path, "split file")
        if "group" not in table.columns:
            raise AdapterError(f"{path}: missing column 'group' (the match id)")
        for n, group in enumerate(table["group"].tolist(), start=2):
            g = group.strip()
            if not g:
                raise AdapterError(f"{path}, row {n}: empty group")
            if out.get(g, split) != split:
                raise AdapterError(f"{path}, row {n}: match {g!r} is in both {out[g]} and {split}")
            out[g] = split
    if not out:
        raise AdapterError(f"{d}: the split files list no matches")
    return out


def _table(path: Path, what: str):
    """The CSV at ``path`` through pandas (string cells); its errors as AdapterError."""
    try:
        return read_table(path, what=what)
    except ValueError as e:
        raise AdapterError(str(e)) from None


def split_matches(root: str | os.PathLike, splits_dir: str | os.PathLike) -> list[Match]:
    """The matches of the splits, in (split, match id) order, each checked to have its tracking and events."""
    root = Path(root)
    if not root.is_dir():
        raise AdapterError(f"{root}: match folder not found")
    assignment = read_match_splits(splits_dir)
    out = []
    for mid, split in sorted(assignment.items(), key=lambda kv: (SPLITS.index(kv[1]), kv[0])):
        m = Match(mid, root / mid, split)
        for p in (m.tracking, m.events):
            if not p.is_file():
                raise AdapterError(f"{p}: not found (match {mid!r} of split {split!r})")
        out.append(m)
    return out


def read_event_rows(path: str | os.PathLike, types: tuple[str, ...] = ("header",)) -> tuple[np.ndarray, np.ndarray]:
    """(frames, CSV rows) of the events of ``types`` in an ``events.csv`` (columns ``frame``, ``type``), sorted by frame."""
    p = Path(path)
    if not p.is_file():
        raise AdapterError(f"{p}: events file not found")
    found = []
    with open(p, newline="") as fh:
        r = csv.DictReader(fh)
        missing = [c for c in ("frame", "type") if c not in (r.fieldnames or [])]
        if missing:
            raise AdapterError(f"{p}: missing columns {missing}")
        for n, row in enumerate(r, start=2):
            if row["type"].strip() not in types:
                continue
            try:
                f = float(row["frame"])
            except ValueError:
                raise AdapterError(f"{p}, row {n}: frame {row['frame']!r} is not a number") from None
            if not math.isfinite(f) or f < 0 or f != int(f):
                raise AdapterError(f"{p}, row {n}: frame {row['frame']!r} is not a frame index")
            found.append((int(f), n))
    found.sort()
    return np.array([f for f, _ in found], dtype=np.int64), np.array([n for _, n in found], dtype=np.int64)


def read_event_frames(path: str | os.PathLike, types: tuple[str, ...] = ("header",)) -> np.ndarray:
    """Sorted frames of the events of ``types`` in an ``events.csv`` (columns ``frame``, ``type``)."""
    return read_event_rows(path, types)[0]


def match_events(
    match: Match, types: tuple[str, ...], *, n_frames: int, tracked: tuple[int, int] | None = None,
    on_bad_rows: OnBadRows = "fail", tally: BadRows | None = None,
) -> np.ndarray:  # fmt: skip
    """Sorted frames of the match's events of ``types`` that lie in its video (``n_frames``) and, when given,
    in the ball tracking's ``tracked`` (first, last) frames. An event outside is an error naming the row, or
    (``on_bad_rows="drop"``) left out and counted: never a label, never a missed detection."""
    frames, rows = read_event_rows(match.events, types)
    first, last = 0, n_frames - 1
    span = f"the video ({n_frames} frames)"
    if tracked is not None:
        first, last = max(first, tracked[0]), min(last, tracked[1])
        span += f" and the ball tracking (frames {tracked[0]}-{tracked[1]})"
    keep = check_events(match.events, frames, first=first, last=last, span=span, on_bad_rows=on_bad_rows, tally=tally,
                        rows=rows)  # fmt: skip
    return frames[keep]


def match_frame_times(match: Match, *, fps: float | None = None) -> np.ndarray:
    """The video's frame times (``replaylab.data.video.frame_times``); without a video, ``i / fps`` up to the
    tracking table's last frame (``fps`` from the table's frame / time columns when not given)."""
    if match.video.is_file():
        from ..data.video import frame_times

        return frame_times(match.video)
    frames, times = _tracking_frames(match.tracking)
    if fps is None:
        ok = times > 0
        if not ok.any():
            raise AdapterError(f"{match.tracking}: cannot infer the frame rate (no video, no times > 0)")
        fps = float(np.median(frames[ok] / times[ok]))
    return np.arange(int(frames.max()) + 1, dtype=np.float64) / fps


def _tracking_frames(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as fh:
        r = csv.DictReader(fh)
        if not {"frame", "time"} <= set(r.fieldnames or []):
            raise AdapterError(f"{path}: needs columns frame and time to infer the video frames (no video.mp4)")
        rows = [(row["frame"], row["time"]) for row in r]
    if not rows:
        raise AdapterError(f"{path}: no rows")
    a = np.array(rows, dtype=np.float64)
    return a[:, 0], a[:, 1]


def frame_labels(n_frames: int, event_frames: np.ndarray, tolerance: int) -> np.ndarray:
    """int8 labels: 1 within +-``tolerance`` frames of an event, else 0 (events outside the video are ignored)."""
    y = np.zeros(n_frames, dtype=np.int8)
    for f in np.asarray(event_frames, dtype=np.int64).tolist():
        lo, hi = max(f - tolerance, 0), min(f + tolerance + 1, n_frames)
        if lo < hi:
            y[lo:hi] = 1
    return y
