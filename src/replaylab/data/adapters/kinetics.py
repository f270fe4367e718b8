"""Kinetics-400 (and -600 / -700, same files): the annotation CSVs and the downloaded clips.

Annotation CSVs (DeepMind's ``kinetics_400_{train,validate,test}.csv``, the CVDF mirror's
``annotations/{train,val,test}.csv``), one row per clip, with a header::

    label,youtube_id,time_start,time_end,split[,is_cc]
    abseiling,-3B32lodo2M,59,69,val,0
    "air drumming",_dbcJuKJQNs,40,50,val,0

``label`` is absent from the original unlabelled test CSV; labels with spaces (or commas) are quoted.
``time_start`` / ``time_end`` are whole seconds into the YouTube video (10 s windows).

Clip files, found under ``<root>/<clips_dir>`` (``{split}`` in ``clips_dir`` is replaced by the row's
``split`` value), tried in this order for each extension in ``extensions``:

1. ``<label>/<youtube_id>_<time_start:06d>_<time_end:06d>.<ext>``: the ActivityNet / mmaction2 downloader
   (``Crawler/Kinetics/download.py``: one folder per label, trim format ``%06d``); also with the
   label's spaces as underscores (mmaction2's ``rename_classnames.sh``; its folders are
   ``videos_train`` / ``videos_val``: ``clips_dir="videos_{split}"``);
2. ``<youtube_id>_<time_start:06d>_<time_end:06d>.<ext>``: flat, as the CVDF mirror's tarballs extract;
3. ``<youtube_id>.<ext>``: the untrimmed YouTube video; the sample is then centred on the window
   (``center_s`` = its midpoint), so the cache reads its ``frames`` x ``stride`` around that point
   rather than spreading them over the whole file.

One :class:`Sample` per labelled row whose clip exists: ``sample_id`` ``<youtube_id>_<start:06d>_<end:06d>``,
``label`` its position in the sorted class names of all labelled rows read (clips missing or not, so the
class list does not depend on what was downloaded), ``group`` the YouTube id (clips cut
from one video share scene and people), ``meta["official_split"]`` the row's ``split`` through
``split_map``. Missing clips are normal for Kinetics (videos taken down): ``missing="skip"`` leaves them
out and counts them in ``SampleIndex.dropped`` (``"clip file missing"``); ``missing="fail"`` stops with the
CSV, row and the paths tried. Rows without a label are counted as ``"no label"``.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..paths import inside_root
from ..samples import AdapterError, Sample, SampleIndex

REQUIRED = ("youtube_id", "time_start", "time_end", "split")
SPLIT_MAP = {"train": "train", "val": "val", "validate": "val", "test": "test"}
_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]+")
MISSING_CLIP = "clip file missing"
NO_LABEL = "no label"


def clip_name(youtube_id: str, time_start: int, time_end: int) -> str:
    """``<youtube_id>_<time_start:06d>_<time_end:06d>``: the downloaders' trimmed-clip stem."""
    return f"{youtube_id}_{time_start:06d}_{time_end:06d}"


def _seconds(text: str, where: str, column: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise AdapterError(f"{where}: {column} {text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise AdapterError(f"{where}: {column} {text!r} is not a whole, non-negative number of seconds")
    return int(value)


def read_kinetics_csv(path: str | os.PathLike) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of a Kinetics annotation CSV; checks the header has the needed columns."""
    path = Path(path)
    if not path.is_file():
        raise AdapterError(f"{path}: Kinetics annotation CSV not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise AdapterError(f"{path}: not UTF-8 text: {e}") from e
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = [c.strip() for c in reader.fieldnames or []]
    lacking = [c for c in REQUIRED if c not in header]
    if lacking:
        raise AdapterError(f"{path}, line 1: header {header} lacks {', '.join(lacking)}")
    reader.fieldnames = header
    rows = []
    for row in reader:
        if None in row:
            raise AdapterError(f"{path}, line {reader.line_num}: more fields than the header's {len(header)}")
        if not any((v or "").strip() for v in row.values()):
            continue
        rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    return rows


class _Folders:
    """The file names in each clip folder, listed once (a Kinetics split holds some 250,000 clips: one
    listing per folder instead of a stat per candidate); a folder is checked to stay inside ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.names: dict[str, dict[str, bool]] = {}  # folder -> {file name: is a symlink}

    def files(self, rel: str, where: str) -> dict[str, bool]:
        if rel not in self.names:
            folder = inside_root(self.root, rel, where=where, what="clip folder") if rel else self.root
            try:
                with os.scandir(folder) as entries:
                    self.names[rel] = {e.name: e.is_symlink() for e in entries if e.is_file()}
            except (FileNotFoundError, NotADirectoryError):
                self.names[rel] = {}
        return self.names[rel]

    def find(self, base: str, label: str, stem: str, trimmed: str, exts: Sequence[str], where: str):
        """(relative path, trimmed?) of the first existing candidate, else (None, candidates tried)."""
        folders = [f"{base}/{label}".lstrip("/")] if label else []
        if " " in label:
            folders.append(f"{base}/{label.replace(' ', '_')}".lstrip("/"))
        tried = []
        for ext in exts:
            for folder, name, is_trimmed in [*((d, f"{trimmed}.{ext}", True) for d in folders), (base, f"{trimmed}.{ext}", True),
                                             (base, f"{stem}.{ext}", False)]:  # fmt: skip
                rel = f"{folder}/{name}" if folder else name
                listing = self.files(folder, where)
                if name in listing:
                    if listing[name]:  # a symlink: it must not lead out of the root
                        inside_root(self.root, rel, where=where, what="clip")
                    return rel, is_trimmed
                tried.append(rel)
        return None, tried


def load_kinetics(
    root: str | os.PathLike,
    *,
    split_csvs: Sequence[str | os.PathLike] = ("annotations/train.csv", "annotations/val.csv"),
    clips_dir: str = "{split}",
    extensions: Sequence[str] = ("mp4", "mkv", "webm"),
    split_map: Mapping[str, str] = SPLIT_MAP,
    missing: str = "skip",
) -> SampleIndex:
    """Index the Kinetics clips listed in ``split_csvs`` (relative to ``root``) found under ``clips_dir``.

    See the module doc for the layouts. A row's ``split`` must be a key of ``split_map`` (values
    ``train`` / ``val`` / ``test``); bad times (not whole seconds, end not after start), a malformed
    YouTube id, an unknown split and a clip listed twice are errors naming the CSV and line.
    """
    if missing not in ("skip", "fail"):
        raise AdapterError(f"kinetics: missing must be 'skip' or 'fail', got {missing!r}")
    bad = {k: v for k, v in split_map.items() if v not in ("train", "val", "test")}
    if bad:
        raise AdapterError(f"kinetics: split_map values must be train, val or test, got {bad}")
    if not split_csvs:
        raise AdapterError("kinetics: no annotation CSVs given (split_csvs)")
    root = Path(root)
    exts = [e.lstrip(".") for e in extensions]
    rows = []
    for name in split_csvs:
        path = Path(name) if Path(name).is_absolute() else root / name
        rows += [(path, n, row) for n, row in read_kinetics_csv(path)]
    classes = sorted({row["label"] for _, _, row in rows if row.get("label")})
    index_of = {c: i for i, c in enumerate(classes)}
    samples: list[Sample] = []
    dropped: dict[str, int] = {}
    seen: dict[str, str] = {}
    folders = _Folders(root)
    for path, n, row in rows:
        where = f"{path}, line {n}"
        yid = row["youtube_id"]
        if not _YOUTUBE_ID.fullmatch(yid):
            raise AdapterError(f"{where}: youtube_id {yid!r} is not a YouTube id (letters, digits, - and _)")
        start, end = _seconds(row["time_start"], where, "time_start"), _seconds(row["time_end"], where, "time_end")
        if end <= start:
            raise AdapterError(f"{where}: time_end {end} is not after time_start {start}")
        split = row["split"]
        if split not in split_map:
            raise AdapterError(f"{where}: split {split!r} is not one of {', '.join(sorted(split_map))} (split_map)")
        sid = clip_name(yid, start, end)
        if sid in seen:
            raise AdapterError(f"{where}: clip {sid} is already listed at {seen[sid]}")
        seen[sid] = where
        label = row.get("label", "")
        if not label:
            dropped[NO_LABEL] = dropped.get(NO_LABEL, 0) + 1
            continue
        base = clips_dir.replace("{split}", split).strip("/")
        rel, found = folders.find(base, label, yid, sid, exts, where)
        if rel is None:
            if missing == "fail":
                raise AdapterError(f"{where}: no clip file for {sid} under {root} (tried {', '.join(found)})")
            dropped[MISSING_CLIP] = dropped.get(MISSING_CLIP, 0) + 1
            continue
        center = None if found else (start + end) / 2.0
        meta = {"official_split": split_map[split], "time_start": start, "time_end": end}
        samples.append(Sample(sid, (rel,), yid, index_of[label], center, None, meta))
    return SampleIndex(samples, classes, root, f"kinetics:{root}", dropped)


__all__ = ["SPLIT_MAP", "clip_name", "load_kinetics", "read_kinetics_csv"]
