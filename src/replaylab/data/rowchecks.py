"""Bad rows in a match's tracking table and events file: found, then refused or dropped and counted.

Checks (each names the file and its 1-based CSV row, header = row 1):

* tracking: ``frame`` / ``time`` / ``x`` / ``y`` not finite, ``z`` infinite (empty or NaN ``z`` is a
  missing height, which is allowed); the same ``(frame, track_id)`` twice; a track whose frames do not
  increase down the file; ``time`` more than half a frame away from ``frame / fps``;
* events: a frame outside the video (``0 .. n_frames - 1``) or outside the span of the ball's tracking.

``on_bad_rows``: ``"fail"`` raises :class:`~replaylab.data.samples.AdapterError` at the first bad row;
``"drop"`` leaves the bad rows out and adds them, by reason, to a :class:`BadRows` tally that the stage
writes into its metrics. A dropped event is neither a positive nor a miss.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .samples import AdapterError

OnBadRows = Literal["fail", "drop"]
ON_BAD_ROWS = ("fail", "drop")

__all__ = ["ON_BAD_ROWS", "BadRows", "OnBadRows", "check_events", "check_tracking"]


@dataclass
class BadRows:
    """Rows left out, by reason (``tracking_non_finite``, ``tracking_duplicate_frame``, ...), and a few examples."""

    counts: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, reason: str, message: str) -> None:
        self.counts[reason] += 1
        if len(self.examples) < 20:
            self.examples.append(message)

    def as_metrics(self) -> dict[str, int]:
        return {f"dropped_{k}": int(v) for k, v in sorted(self.counts.items())} | {"dropped_rows": int(sum(self.counts.values()))}


def _tid(v) -> object:
    return int(v) if np.isfinite(v) else v


def _flag(keep: np.ndarray, bad: np.ndarray, reason: str, why, path, on_bad_rows: str, tally: BadRows | None) -> None:
    """Mark rows ``bad`` (a boolean mask) as dropped, or raise at the first one."""
    idx = np.flatnonzero(bad & keep)
    if idx.size == 0:
        return
    if on_bad_rows not in ON_BAD_ROWS:
        raise ValueError(f"on_bad_rows must be one of {ON_BAD_ROWS}, got {on_bad_rows!r}")
    if on_bad_rows == "fail":
        i = int(idx[0])
        raise AdapterError(f"{path}, row {i + 2}: {why(i)}" + (f" ({idx.size} such rows)" if idx.size > 1 else "")
                           + "; fix the file or set on_bad_rows: drop")  # fmt: skip
    for i in idx.tolist():
        if tally is not None:
            tally.add(reason, f"{path}, row {i + 2}: {why(i)}")
    keep[idx] = False


def check_tracking(
    path, *, frame: np.ndarray | None, time: np.ndarray, track_id: np.ndarray, x: np.ndarray, y: np.ndarray,
    z: np.ndarray, fps: float | None = None, on_bad_rows: OnBadRows = "fail", tally: BadRows | None = None,
) -> np.ndarray:  # fmt: skip
    """Boolean mask of the rows to keep (rows in file order). ``fps``: the video's frame rate; without it the
    rate is the median ``frame / time`` of the finite rows (robust to a few bad ones)."""
    n = len(time)
    keep = np.ones(n, bool)
    track_id = np.asarray(track_id, np.float64)
    finite = np.isfinite(track_id) & np.isfinite(time) & np.isfinite(x) & np.isfinite(y) & ~np.isinf(z)
    if frame is not None:
        finite &= np.isfinite(frame)

    def non_finite(i: int) -> str:
        vals = {
            "track_id": track_id[i],
            "frame": None if frame is None else frame[i],
            "time": time[i],
            "x": x[i],
            "y": y[i],
            "z": z[i],
        }
        bad = [f"{k}={v}" for k, v in vals.items() if v is not None and not np.isfinite(v) and not (k == "z" and np.isnan(v))]
        return f"non-finite tracking value {', '.join(bad)} (track {_tid(track_id[i])})"

    _flag(keep, ~finite, "tracking_non_finite", non_finite, path, on_bad_rows, tally)
    if frame is None:
        return keep
    f = np.where(keep, frame, -1).astype(np.int64)
    if np.any(keep & (frame != np.round(frame))):
        _flag(keep, frame != np.round(frame), "tracking_non_integer_frame",
              lambda i: f"frame {frame[i]} is not a whole number", path, on_bad_rows, tally)  # fmt: skip
    # the same (frame, track) twice: every repeat after the first
    order = np.lexsort((np.arange(n), f, track_id))
    same = np.zeros(n, bool)
    same[order[1:]] = (track_id[order[1:]] == track_id[order[:-1]]) & (f[order[1:]] == f[order[:-1]])
    first_of = {}
    for i in order[keep[order]].tolist():
        first_of.setdefault((int(track_id[i]), int(f[i])), i)
    _flag(keep, same, "tracking_duplicate_frame",
          lambda i: f"track {_tid(track_id[i])} frame {f[i]} again (first in row {first_of[(int(track_id[i]), int(f[i]))] + 2})",
          path, on_bad_rows, tally)  # fmt: skip
    # frames of a track must increase down the file
    back = np.zeros(n, bool)
    before: dict[int, int] = {}
    last: dict[int, int] = {}
    for i in np.flatnonzero(keep).tolist():
        t = int(track_id[i])
        if t in last and f[i] <= last[t]:
            back[i], before[i] = True, last[t]
        else:
            last[t] = int(f[i])
    _flag(keep, back, "tracking_non_monotonic_frame",
          lambda i: f"track {_tid(track_id[i])} goes back to frame {f[i]} after frame {before[i]}", path, on_bad_rows, tally)  # fmt: skip
    # time must agree with frame / fps within half a frame
    if fps is None:
        ok = keep & (time > 0)
        if not ok.any():
            return keep
        fps = float(np.median(f[ok] / time[ok]))
    off = keep & (np.abs(time - f / fps) > 0.5 / fps + 1e-9)
    _flag(keep, off, "tracking_time_mismatch",
          lambda i: f"time {time[i]:g} s disagrees with frame {f[i]} / {fps:g} fps = {f[i] / fps:g} s",
          path, on_bad_rows, tally)  # fmt: skip
    return keep


def check_events(
    path, frames: np.ndarray, *, first: int, last: int, span: str, on_bad_rows: OnBadRows = "fail",
    tally: BadRows | None = None, rows: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Mask of the events (``frames``, CSV rows ``rows`` or their position + 2) inside ``first .. last``;
    ``span`` says what that range is (e.g. ``"the video (250 frames) and the ball tracking (frames 0-249)"``)."""
    frames = np.asarray(frames, np.int64)
    keep = np.ones(len(frames), bool)
    bad = (frames < first) | (frames > last)
    idx = np.flatnonzero(bad)
    if idx.size == 0:
        return keep
    if on_bad_rows not in ON_BAD_ROWS:
        raise ValueError(f"on_bad_rows must be one of {ON_BAD_ROWS}, got {on_bad_rows!r}")
    row = (lambda i: int(rows[i])) if rows is not None else (lambda i: i + 2)
    if on_bad_rows == "fail":
        i = int(idx[0])
        raise AdapterError(f"{path}, row {row(i)}: event at frame {frames[i]} is outside {span} (frames {first}-{last})"
                           + (f" ({idx.size} such events)" if idx.size > 1 else "") + "; fix the file or set on_bad_rows: drop")  # fmt: skip
    for i in idx.tolist():
        if tally is not None:
            tally.add("event_outside_span", f"{path}, row {row(i)}: event at frame {frames[i]} outside {span}")
    keep[idx] = False
    return keep
