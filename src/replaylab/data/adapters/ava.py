"""AVA v2.x spatio-temporal person actions::

    <root>/<video_dir>/<video_id>.{mp4,mkv,webm,avi}
    <root>/<annotations_dir>/ava_<split>_v2.2.csv                     video_id,timestamp,x1,y1,x2,y2,action_id,person_id
    <root>/<annotations_dir>/ava_action_list_v2.2.pbtxt               label { name: "..." label_id: N label_type: ... }
    <root>/<annotations_dir>/ava_<split>_excluded_timestamps_v2.2.csv video_id,timestamp
    <root>/<annotations_dir>/ava_dense_proposals_<split>.FAIR.recall_93.9.pkl
                                                                      {"<video_id>,<timestamp:04d>": (n, 5) x1,y1,x2,y2,score}

The CSV has no header; boxes are normalised to [0, 1] by the frame size; a person with several actions
at a keyframe has one row per action. One :class:`Sample` per (video, keyframe) with at least one box:
label -1 (multi-label), ``meta["boxes"]`` / ``meta["labels"]`` (raw AVA action ids per box) /
``meta["person_ids"]``, plus the detector proposals of that keyframe. Rows of one person (same
person id and box) at one keyframe merge into one box with several labels.

Timestamps: AVA's are whole seconds in the original movie (keyframes 902..1798 of the 15-minute
segment starting at 900 s). The trimmed clips usually distributed start at 900 s, so index them with
``timestamp_offset=900``; the offset is subtracted to give ``center_s`` in seconds from the file start.
"""

from __future__ import annotations

import csv
import math
import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..paths import inside_root
from ..samples import AdapterError, Sample, SampleIndex

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi")
LABEL_MAP_NAMES = ("ava_action_list_v2.2.pbtxt", "ava_action_list_v2.2_for_activitynet_2019.pbtxt", "ava_action_list_v2.1.pbtxt",
                   "ava_action_list_v2.1_for_activitynet_2018.pbtxt", "ava_action_list_v2.0.pbtxt")  # fmt: skip

_BLOCK = re.compile(r"\b(label|item)\s*\{([^{}]*)\}", re.DOTALL)
_NAME = re.compile(r"""(?<!\w)name\s*:\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")  # not display_name
_ID = re.compile(r"\b(label_id|id)\s*:\s*(-?\d+)")


def read_label_map(path: str | os.PathLike) -> dict[int, str]:
    """``{action id: name}`` from a label map pbtxt, in the AVA form (``label { name: "..." label_id: N
    label_type: ... }``) or the older object-detection form (``item { name: "..." id: N }``)."""
    path = Path(path)
    if not path.is_file():
        raise AdapterError(f"{path}: label map not found")
    text = re.sub(r"#[^\n]*", "", path.read_text(encoding="utf-8"))
    out: dict[int, str] = {}
    for block in _BLOCK.finditer(text):
        line = text.count("\n", 0, block.start()) + 1
        body = block.group(2)
        name = _NAME.search(body)
        ident = _ID.search(body)
        if not name or not ident:
            raise AdapterError(f"{path}, line {line}: {block.group(1)} block without {'a name' if not name else 'an id'}")
        value = int(ident.group(2))
        if value in out:
            raise AdapterError(f"{path}, line {line}: duplicate id {value}")
        raw = name.group(1) if name.group(1) is not None else name.group(2)
        out[value] = re.sub(r"\\(.)", r"\1", raw)
    if not out:
        raise AdapterError(f"{path}: no label {{ ... }} or item {{ ... }} entries")
    return dict(sorted(out.items()))


def _key(video_id: str, ts: int) -> str:
    return f"{video_id},{ts:04d}"


def _read_excluded(path: Path) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < 2:
                raise AdapterError(f"{path}, row {n}: expected video_id,timestamp, got {row}")
            out.add((row[0].strip(), _timestamp(row[1], path, n)))
    return out


def _timestamp(value: str, path: Path, n: int) -> int:
    try:
        f = float(value)
    except ValueError:
        raise AdapterError(f"{path}, row {n}: timestamp {value!r} is not a number") from None
    if not math.isfinite(f) or f != int(f):
        raise AdapterError(f"{path}, row {n}: timestamp {value!r} is not a whole second")
    return int(f)


# What a proposals pickle may reference: plain containers and scalars, and numpy's array / dtype / scalar
# reconstruction (numpy 1 and 2 module names, pickle protocols 0-5; ``_codecs.encode`` rebuilds bytes in protocol-2 pickles).
# Nothing else is ever imported or called while reading, so a crafted file cannot run code.
SAFE_PICKLE_GLOBALS = frozenset(
    {
        ("builtins", n)
        for n in ("dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int", "float", "complex", "bool")
    }  # fmt: skip
    | {
        ("__builtin__", n)
        for n in ("dict", "list", "tuple", "set", "frozenset", "str", "unicode", "bytes", "int", "long", "float", "bool")
    }  # fmt: skip
    | {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")}
    | {(m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")}
    | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in SAFE_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refused to load {module}.{name} (only plain containers and numpy arrays are allowed)")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(f"refused persistent id {pid!r}")


def read_proposals(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The person-box proposals pickle: ``{"video_id,%04d": float array (n, 5) x1,y1,x2,y2,score}`` (a 4-column
    array means no scores; they read as 1.0). Read with a restricted unpickler (:data:`SAFE_PICKLE_GLOBALS`):
    a file referencing any other class or function is refused, naming it, before anything is called."""
    path = Path(path)
    if not path.is_file():
        raise AdapterError(f"{path}: proposals file not found")
    try:
        with open(path, "rb") as fh:
            raw = _RestrictedUnpickler(fh, encoding="latin1").load()
    except Exception as e:
        raise AdapterError(f"{path}: cannot read the proposals pickle: {e}") from e
    if not isinstance(raw, dict):
        raise AdapterError(f"{path}: expected a dict of 'video_id,timestamp' -> array, got {type(raw).__name__}")
    out = {}
    for key, value in raw.items():
        parts = str(key).rsplit(",", 1)
        if len(parts) != 2 or not parts[1].strip().isdigit():
            raise AdapterError(f"{path}: key {key!r} is not 'video_id,timestamp'")
        arr = np.asarray(value, dtype=np.float64)
        if arr.size == 0:
            arr = arr.reshape(0, 5)
        if arr.ndim != 2 or arr.shape[1] not in (4, 5):
            raise AdapterError(f"{path}: key {key!r}: expected an (n, 5) array, got shape {arr.shape}")
        if arr.shape[1] == 4:
            arr = np.concatenate([arr, np.ones((len(arr), 1))], axis=1)
        out[_key(parts[0], int(parts[1]))] = arr
    return out


def _find_video(video_dir: Path, video_id: str, where: str) -> Path:
    for ext in VIDEO_EXTENSIONS:
        p = inside_root(video_dir, f"{video_id}{ext}", where=f"{where}: video_id {video_id!r}", what="video")
        if p.is_file():
            return p
    raise AdapterError(f"AVA video {video_id!r}: no {video_id}{{{','.join(VIDEO_EXTENSIONS)}}} in {video_dir}")


def _resolve(base: Path, name: str | os.PathLike) -> Path:
    p = Path(name)
    return p if p.is_absolute() else base / p


def load_ava(
    root: str | os.PathLike,
    *,
    split: str = "train",
    video_dir: str | os.PathLike = "videos",
    annotations_dir: str | os.PathLike = "annotations",
    csv_name: str | os.PathLike | None = None,
    label_map: str | os.PathLike | None = None,
    excluded: str | os.PathLike | bool | None = None,
    proposals: str | os.PathLike | bool | None = None,
    min_proposal_score: float = 0.0,
    include_unannotated: bool = False,
    timestamp_offset: float = 0.0,
    fps: float | None = None,
) -> SampleIndex:
    """Index the AVA keyframes of ``split``.

    File names default to the v2.2 release's, inside ``root/annotations_dir`` (relative names resolve
    there): ``csv_name`` = ``ava_<split>_v2.2.csv``; ``label_map`` = the first of :data:`LABEL_MAP_NAMES`
    present; ``excluded`` = ``ava_<split>_excluded_timestamps_v2.2.csv`` if present (False: none);
    ``proposals`` = ``ava_dense_proposals_<split>.FAIR.recall_93.9.pkl`` if present (False: none).

    - one sample per (video, keyframe) with at least one box, minus excluded keyframes; with
      ``include_unannotated`` also the keyframes that only the proposals list (empty boxes / labels)
    - ``sample_id`` ``"<video_id>,<timestamp:04d>"``; ``group`` the video id; ``label`` -1; ``sources`` the
      video file (relative to ``root``)
    - ``center_s`` = timestamp - ``timestamp_offset`` (900 for the trimmed AVA clips, see the module doc)
    - ``meta``: ``timestamp`` (as in the CSV), ``boxes`` ``[[x1, y1, x2, y2], ...]`` (normalised),
      ``labels`` (raw AVA action ids per box, sorted), ``person_ids``, ``proposals``
      ``[[x1, y1, x2, y2, score], ...]`` with score >= ``min_proposal_score``, and ``frame``
      (round(center_s * fps)) when ``fps`` is given
    - ``classes``: the label map's names ordered by id (ids need not be contiguous; :func:`read_label_map`
      gives the id -> name map)
    """
    root = Path(root)
    ann = _resolve(root, annotations_dir)
    vdir = _resolve(root, video_dir)
    csv_path = _resolve(ann, csv_name or f"ava_{split}_v2.2.csv")
    if not csv_path.is_file():
        raise AdapterError(f"{csv_path}: AVA annotation CSV not found")
    if label_map is None:
        found = [ann / n for n in LABEL_MAP_NAMES if (ann / n).is_file()]
        if not found:
            raise AdapterError(f"{ann}: no label map ({', '.join(LABEL_MAP_NAMES)}); pass label_map=")
        label_path = found[0]
    else:
        label_path = _resolve(ann, label_map)
    names = read_label_map(label_path)

    excluded_keys: set[tuple[str, int]] = set()
    if excluded is not False:
        ex_path = _resolve(ann, f"ava_{split}_excluded_timestamps_v2.2.csv" if excluded in (None, True) else excluded)
        if ex_path.is_file():
            excluded_keys = _read_excluded(ex_path)
        elif excluded not in (None, True):
            raise AdapterError(f"{ex_path}: excluded timestamps file not found")

    props: dict[str, np.ndarray] = {}
    if proposals is not False:
        default = ann / f"ava_dense_proposals_{split}.FAIR.recall_93.9.pkl"
        p_path = default if proposals in (None, True) else _resolve(ann, proposals)
        if p_path.is_file() or proposals not in (None, True):
            props = read_proposals(p_path)
        elif proposals is True:
            raise AdapterError(f"{p_path}: proposals file not found")

    # keyframe -> {(person_id, box): sorted action ids}
    frames: dict[tuple[str, int], dict[tuple[int, tuple[float, ...]], set[int]]] = {}
    first_row: dict[str, str] = {}  # video id -> where it is first named
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 8:
                raise AdapterError(
                    f"{csv_path}, row {n}: expected 8 columns video_id,timestamp,x1,y1,x2,y2,action_id,person_id, got {len(row)}"
                )
            vid = row[0].strip()
            ts = _timestamp(row[1], csv_path, n)
            try:
                box = tuple(float(v) for v in row[2:6])
                action, person = int(row[6]), int(row[7])
            except ValueError:
                raise AdapterError(f"{csv_path}, row {n}: box / action_id / person_id not numeric: {row[2:]}") from None
            x1, y1, x2, y2 = box
            if not all(0.0 <= v <= 1.0 for v in box):
                raise AdapterError(f"{csv_path}, row {n}: box {list(box)} is outside [0, 1] (boxes must be normalised)")
            if not (x1 < x2 and y1 < y2):
                raise AdapterError(f"{csv_path}, row {n}: box {list(box)} is empty (needs x1 < x2 and y1 < y2)")
            if action not in names:
                raise AdapterError(f"{csv_path}, row {n}: action id {action} is not in the label map {label_path}")
            if (vid, ts) in excluded_keys:
                continue
            frames.setdefault((vid, ts), {}).setdefault((person, box), set()).add(action)
            first_row.setdefault(vid, f"{csv_path}, row {n}")

    keys = set(frames)
    if include_unannotated:
        for k in props:
            vid, ts = k.rsplit(",", 1)
            if (vid, int(ts)) not in excluded_keys:
                keys.add((vid, int(ts)))
    if not keys:
        raise AdapterError(f"{csv_path}: no annotated keyframes")

    position = {i: k for k, i in enumerate(names)}  # AVA id -> index into classes (ids need not be contiguous)
    videos: dict[str, str] = {}
    samples = []
    for vid, ts in sorted(keys):
        if vid not in videos:
            found = _find_video(vdir, vid, first_row.get(vid) or f"{p_path}, key {_key(vid, ts)!r}")
            videos[vid] = found.relative_to(root).as_posix() if found.is_relative_to(root) else str(found)
        center = ts - timestamp_offset
        if center < 0:
            raise AdapterError(f"{csv_path}: keyframe {_key(vid, ts)} is {-center:g} s before the video start "
                               f"(timestamp_offset={timestamp_offset:g}; the trimmed AVA clips use 900)")  # fmt: skip
        people = sorted(frames.get((vid, ts), {}).items(), key=lambda kv: (kv[0][0], kv[0][1]))
        arr = props.get(_key(vid, ts))
        prop_list = [] if arr is None else [[round(float(v), 6) for v in r] for r in arr if r[4] >= min_proposal_score]
        meta: dict[str, Any] = {
            "timestamp": ts,
            "boxes": [list(box) for (_, box), _ in people],
            "labels": [sorted(acts) for _, acts in people],
            "label_index": [sorted(position[a] for a in acts) for _, acts in people],  # positions in `classes`
            "person_ids": [pid for (pid, _), _ in people],
            "proposals": prop_list,
        }
        if fps is not None:
            meta["frame"] = math.floor(center * fps + 0.5 + 1e-6)
        samples.append(Sample(_key(vid, ts), (videos[vid],), vid, -1, float(center), None, meta))
    return SampleIndex(samples, list(names.values()), root, f"ava:{split}")


__all__ = ["LABEL_MAP_NAMES", "VIDEO_EXTENSIONS", "load_ava", "read_label_map", "read_proposals"]
