"""The earlier header tool's dataset: a CSV of pre-cut ``.npy`` clips (T, H, W, C uint8) with 0/1 labels::

    path,label,video_id,frame,event,track_id
    clips/match_000_000311.npy,0,match_000,311,throw_in,9

``path`` and ``label`` are required; every other column goes to ``meta`` (``frame`` as an int).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..paths import inside_root
from ..samples import AdapterError, Sample, SampleIndex

HEADER_CLASSES = ["no_header", "header"]


def read_npy_clip(path: str | os.PathLike) -> np.ndarray:
    """A ``.npy`` clip, memory-mapped; shape (T, H, W, C) with C 1 or 3 and dtype uint8, else AdapterError."""
    path = Path(path)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise AdapterError(f"{path}: clip not found") from None
    except (ValueError, OSError, EOFError) as e:
        raise AdapterError(f"{path}: not a readable .npy array: {e}") from e
    if not isinstance(arr, np.ndarray):
        raise AdapterError(f"{path}: expected a single array, got {type(arr).__name__}")
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3) or min(arr.shape) < 1:
        raise AdapterError(f"{path}: expected a clip of shape (T, H, W, C) with C in (1, 3), got {arr.shape}")
    if arr.dtype != np.uint8:
        raise AdapterError(f"{path}: expected dtype uint8, got {arr.dtype}")
    return arr


def _label(value: str, where: str) -> int:
    try:
        f = float(value)
    except ValueError:
        f = float("nan")
    if f not in (0.0, 1.0):
        raise AdapterError(f"{where}: label must be 0 or 1, got {value!r}")
    return int(f)


def load_header_csv(
    csv_path: str | os.PathLike, *, root_dir: str | os.PathLike | None = None, check_clips: bool = False
) -> SampleIndex:
    """Index the header tool's CSV. Paths are relative to ``root_dir`` (default: the CSV's folder) and must
    stay inside it (no absolute paths, no ``..`` or symlinks leading out; see :func:`~replaylab.data.paths.inside_root`).

    - ``label``: 0 / 1 into ``["no_header", "header"]``; anything else is an error naming the row
    - ``group``: the ``video_id`` column when present and non-empty; otherwise the clip's parent folder
      name (or its file stem when it has none). Without ``video_id`` that fallback may put clips of
      one video on both sides of a split (leakage) or lump every clip into one group.
    - ``center_s``: None (the whole clip); ``meta``: the other columns, ``frame`` as an int
    - ``check_clips``: also open every clip with :func:`read_npy_clip` (checks shape and dtype)
    """
    csv_path = Path(csv_path)
    root = Path(root_dir) if root_dir is not None else csv_path.parent
    if not csv_path.is_file():
        raise AdapterError(f"{csv_path}: header dataset CSV not found")
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        missing = [c for c in ("path", "label") if c not in fields]
        if missing:
            raise AdapterError(f"{csv_path}: missing columns {missing} (has {fields})")
        reader.fieldnames = fields
        for n, row in enumerate(reader, start=2):
            where = f"{csv_path}, row {n}"
            if None in row:
                raise AdapterError(f"{where}: more values than columns")
            rel = (row["path"] or "").strip()
            if not rel:
                raise AdapterError(f"{where}: empty path")
            label = _label((row["label"] or "").strip(), where)
            clip = inside_root(root, rel, where=where, what="clip")
            if not clip.is_file():
                raise AdapterError(f"{where}: clip {clip} does not exist")
            if check_clips:
                read_npy_clip(clip)
            if rel in seen:
                raise AdapterError(f"{where}: clip {rel} is already listed in row {seen[rel]}")
            seen[rel] = n
            meta: dict = {k: (v or "").strip() for k, v in row.items() if k not in ("path", "label")}
            if meta.get("frame", "") != "":
                try:
                    meta["frame"] = int(float(meta["frame"]))
                except ValueError:
                    raise AdapterError(f"{where}: frame {meta['frame']!r} is not a number") from None
            elif "frame" in meta:
                del meta["frame"]
            vid = meta.get("video_id", "")
            group = vid or Path(rel).parent.name or Path(rel).stem
            samples.append(Sample(rel, (rel,), group, label, None, None, meta))
    if not samples:
        raise AdapterError(f"{csv_path}: no clips listed")
    return SampleIndex(samples, list(HEADER_CLASSES), root, f"header_csv:{csv_path.name}")


__all__ = ["HEADER_CLASSES", "load_header_csv", "read_npy_clip"]
