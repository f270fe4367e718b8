"""The typed sample index every dataset adapter produces and the clip cache consumes.

One :class:`Sample` is one training example: which video(s) to read (one per camera view), where in
time (the clip centre), where in the image (an optional crop centre), its label and its group (the
match / video it comes from, so splits never put one group on both sides).

A :class:`SampleIndex` holds the samples of one dataset with its class names. It round-trips through
CSV (``write_csv`` / ``read_csv``, through pandas: :mod:`replaylab.tables`) with these columns:

``sample_id, group, label, label_name, sources, center_s, point_x, point_y, meta``

- ``sources``: source paths joined by ``|`` (views in order); relative paths are relative to ``root``.
- ``center_s``: clip centre in seconds from the start of the video; empty = the whole video
  (the cache samples its frames uniformly over the duration, TSN style).
- ``point_x``, ``point_y``: crop centre in source pixels; empty = no tracked point.
- ``meta``: JSON object with task-specific fields (official label strings, boxes, event type, ...).
- ``track`` (optional column): JSON list of ``[time_s, x, y]`` crop centres that move over time (e.g. the ball's
  image position in every frame); the cache interpolates the centre at each frame it reads. Empty = the fixed
  ``point``. Index files written before the column existed still read.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..tables import read_table, write_table

INDEX_COLUMNS = ("sample_id", "group", "label", "label_name", "sources", "center_s", "point_x", "point_y", "meta", "track")
OPTIONAL_COLUMNS = ("track",)  # older index files lack them


class AdapterError(ValueError):
    """A dataset on disk does not match its format; the message names the file and the row / key."""


@dataclass(frozen=True)
class Sample:
    sample_id: str  # unique within the index
    sources: tuple[str, ...]  # video files (one per view) or .npy clips; relative to the index root
    group: str  # match / video the sample comes from (split unit)
    label: int  # class index into SampleIndex.classes; -1 = no single label (multi-label tasks use meta)
    center_s: float | None = None  # clip centre, seconds; None = whole video
    point: tuple[float, float] | None = None  # crop centre (x, y) in source pixels
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # moving crop centre: (time_s, x, y) rows in time order; overrides ``point`` where the cache reads frames
    track: tuple[tuple[float, float, float], ...] | None = None

    def __post_init__(self):
        if not self.sample_id:
            raise AdapterError("sample with an empty sample_id")
        if not self.sources:
            raise AdapterError(f"sample {self.sample_id}: no source video")
        if self.center_s is not None and not math.isfinite(self.center_s):
            raise AdapterError(f"sample {self.sample_id}: centre time {self.center_s} is not finite")
        if self.track is not None:
            if not self.track or any(len(r) != 3 or not all(math.isfinite(v) for v in r) for r in self.track):
                raise AdapterError(f"sample {self.sample_id}: the crop track needs finite (time_s, x, y) rows")
            if any(b[0] <= a[0] for a, b in zip(self.track, self.track[1:])):
                raise AdapterError(f"sample {self.sample_id}: the crop track's times must increase")

    def crop_centers(self, times) -> list[tuple[float, float]] | None:
        """Crop centre at each of ``times`` (s): the track interpolated (held at its ends), or None without a track."""
        if self.track is None:
            return None
        import numpy as np

        tr = np.asarray(self.track, float)
        ts = np.asarray(times, float)
        return list(zip(np.interp(ts, tr[:, 0], tr[:, 1]).tolist(), np.interp(ts, tr[:, 0], tr[:, 2]).tolist()))


@dataclass
class SampleIndex:
    samples: list[Sample]
    classes: list[str]  # label names; Sample.label indexes this list
    root: Path = Path(".")  # relative sources resolve against this directory
    name: str = ""  # dataset / task name for messages
    dropped: dict[str, int] = field(default_factory=dict)  # samples the adapter's rules left out, by reason

    def __post_init__(self):
        self.root = Path(self.root)
        seen: set[str] = set()
        for s in self.samples:
            if s.sample_id in seen:
                raise AdapterError(f"{self.name or 'index'}: duplicate sample_id {s.sample_id!r}")
            seen.add(s.sample_id)
            if s.label >= len(self.classes) or s.label < -1:
                raise AdapterError(
                    f"{self.name or 'index'}: sample {s.sample_id} has label {s.label} outside 0..{len(self.classes) - 1}"
                )

    def __len__(self) -> int:
        return len(self.samples)

    def resolve(self, source: str) -> Path:
        p = Path(source)
        return p if p.is_absolute() else self.root / p

    def groups(self) -> list[str]:
        return sorted({s.group for s in self.samples})

    def label_name(self, s: Sample) -> str:
        return self.classes[s.label] if s.label >= 0 else ""

    def rows(self) -> Iterable[list]:
        for s in self.samples:
            yield [
                s.sample_id,
                s.group,
                s.label,
                self.label_name(s),
                "|".join(s.sources),
                "" if s.center_s is None else f"{s.center_s:.6f}",
                "" if s.point is None else f"{s.point[0]:.2f}",
                "" if s.point is None else f"{s.point[1]:.2f}",
                json.dumps(s.meta, sort_keys=True, separators=(",", ":")),
                "" if s.track is None else json.dumps([[round(v, 3) for v in r] for r in s.track], separators=(",", ":")),
            ]

    def write_csv(self, path: str | os.PathLike) -> None:
        write_table(path, INDEX_COLUMNS, self.rows())

    def subset(self, sample_ids: Sequence[str]) -> SampleIndex:
        by_id = {s.sample_id: s for s in self.samples}
        return SampleIndex([by_id[i] for i in sample_ids], list(self.classes), self.root, self.name, dict(self.dropped))


def read_csv(
    path: str | os.PathLike, *, classes: Sequence[str] | None = None, root: str | os.PathLike | None = None
) -> SampleIndex:
    """Read an index CSV (pandas, every cell a string). Class names come from ``classes`` or, if omitted, from
    the label / label_name columns."""
    path = Path(path)
    try:
        table = read_table(path, what="sample index")
    except ValueError as e:
        raise AdapterError(str(e)) from None
    missing = [c for c in INDEX_COLUMNS if c not in table.columns and c not in OPTIONAL_COLUMNS]
    if missing:
        raise AdapterError(f"{path}: missing columns {missing}")
    samples: list[Sample] = []
    names: dict[int, str] = {}
    for n, row in enumerate(table.to_dict("records"), start=2):  # row numbers as in the file (header = row 1)
        try:
            label = int(row["label"])
            point = None if row["point_x"] == "" else (float(row["point_x"]), float(row["point_y"]))
            samples.append(
                Sample(
                    sample_id=row["sample_id"],
                    sources=tuple(row["sources"].split("|")) if row["sources"] else (),
                    group=row["group"],
                    label=label,
                    center_s=None if row["center_s"] == "" else float(row["center_s"]),
                    point=point,
                    meta=json.loads(row["meta"]) if row["meta"] else {},
                    track=tuple(tuple(float(v) for v in r) for r in json.loads(row["track"])) if row.get("track") else None,
                )
            )
        except (ValueError, TypeError, json.JSONDecodeError) as e:
            raise AdapterError(f"{path}, row {n}: {e}") from e
        if label >= 0:
            names.setdefault(label, row["label_name"])
    if classes is None:
        classes = [names.get(i, str(i)) for i in range(max(names) + 1)] if names else []
    return SampleIndex(samples, list(classes), Path(root) if root is not None else Path("."), path.stem)
