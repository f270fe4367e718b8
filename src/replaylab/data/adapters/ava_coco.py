"""AVA-style person actions in the COCO-style layout of AlphAction and its custom-data guide::

    <root>/<annotations_dir>/<split>.json                 {"images": [...], "annotations": [...], "categories": [...]}
    <root>/<boxes_dir>/<split>_person_bbox.json           [{"image_id", "bbox": [x, y, w, h], "score"}, ...]
    <root>/<clips_dir>/<video_id>/<timestamp>.mp4         one clip per keyframe
    <root>/keyframes/<video_id>/<timestamp>.jpg           (not read: only the detector uses the keyframe images)

``images``: ``id``, ``width``, ``height`` (pixels) and where the keyframe is: ``file_name`` (or AlphAction's
``img_path``) ``"<video_id>/<timestamp>.jpg"``, or AlphAction's explicit ``movie`` / ``timestamp`` keys (and its
``video_path``, the clip relative to ``clips_dir``). ``annotations``: ``image_id``, ``bbox`` ``[x, y, w, h]`` in
pixels and the person's actions: ``category_id`` (one action per annotation, the guide's form; a person with
several actions has several annotations) or AlphAction's ``action_ids`` list (its converter writes
``category_id`` 1 = person and a ``person_id``). ``categories`` ``[{"id", "name"}]`` name the actions; a
file whose categories are only "person" (AlphAction's) takes the names from an AVA label map pbtxt
(``label_map``). The person-box file is in the COCO detection-result form (pixels, ``xywh``).

The result is the same kind of index as :func:`replaylab.data.adapters.ava.load_ava`: one :class:`Sample` per
keyframe with at least one person, ``sample_id`` ``"<video_id>,<timestamp:04d>"``, ``group`` the video id,
label -1, ``sources`` the keyframe's clip, and ``meta`` with ``timestamp``, ``boxes`` (normalised
``[x1, y1, x2, y2]``), ``labels`` (raw action ids per box, sorted), ``label_index`` (positions in
``classes``), ``person_ids`` and ``proposals`` (normalised ``[x1, y1, x2, y2, score]``).

Where the keyframe sits in its clip (``center_s``): AlphAction's own clips (``tools/ava/process_ava_videos.py``)
are one second long, start at the keyframe, and its loader joins neighbouring seconds' clips around the
keyframe; index those with ``keyframe_s=0``. By default (``keyframe_s=None``) a clip is taken to be centred
on its keyframe, and ``center_s`` is the time of its middle frame (frame ``n // 2`` of ``n``), read from the
container's packet timestamps with PyAV (no decoding).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path, PurePosixPath
from typing import Any

from ..paths import inside_root
from ..samples import AdapterError, Sample, SampleIndex
from .ava import VIDEO_EXTENSIONS, _read_excluded, read_label_map

#: pixel boxes may reach this far past the image edge (AlphAction's converter rounds x, y, w, h to 0.01 px each)
#: and are clipped to it; a box reaching further is an error
EDGE_TOLERANCE_PX = 1.0


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise AdapterError(f"{path}: {what} not found")
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return json.load(fh)
    except json.JSONDecodeError as e:
        raise AdapterError(f"{path}: not valid JSON: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise AdapterError(f"{path}: cannot read the {what}: {e}") from None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> int | None:
    """An integer from an int, an integral float or a digit string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _id_key(value: Any) -> Any:
    """An image id as a dict key: integers (and digit strings) as int, other strings as they are; None if neither."""
    n = _whole(value)
    return n if n is not None else value if isinstance(value, str) else None


def _box(raw: Any, width: float, height: float, where: str) -> tuple[float, float, float, float]:
    """Normalised ``(x1, y1, x2, y2)`` from a pixel ``[x, y, w, h]`` (clipped within :data:`EDGE_TOLERANCE_PX`)."""
    if not isinstance(raw, (list, tuple)) or len(raw) != 4 or not all(_number(v) for v in raw):
        raise AdapterError(f"{where}: bbox {raw!r} is not [x, y, w, h] (4 finite numbers, pixels)")
    x, y, w, h = (float(v) for v in raw)
    if w <= 0 or h <= 0:
        raise AdapterError(f"{where}: bbox {list(raw)} has width or height <= 0")
    tol = EDGE_TOLERANCE_PX
    if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
        raise AdapterError(f"{where}: bbox {list(raw)} (x, y, w, h) reaches outside the {width:g}x{height:g} image")
    x1, y1 = max(x, 0.0) / width, max(y, 0.0) / height
    x2, y2 = min(x + w, width) / width, min(y + h, height) / height
    return round(x1, 6), round(y1, 6), round(x2, 6), round(y2, 6)


def _entries(doc: dict, key: str, path: Path, *, required: bool = True) -> list:
    value = doc.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise AdapterError(f"{path}: {key!r} must be a list, got {type(value).__name__}")
    return value


def _read_categories(doc: dict, path: Path) -> dict[int, str]:
    out: dict[int, str] = {}
    for i, c in enumerate(_entries(doc, "categories", path)):
        cid = _whole(c.get("id")) if isinstance(c, dict) else None
        if cid is None or not isinstance(c.get("name"), str):
            raise AdapterError(f"{path}, categories[{i}]: needs an integer 'id' and a 'name', got {c!r}")
        if cid in out:
            raise AdapterError(f"{path}, categories[{i}]: duplicate category id {cid}")
        out[cid] = c["name"]
    if not out:
        raise AdapterError(f"{path}: no categories")
    return dict(sorted(out.items()))


class _Image:
    __slots__ = ("id", "video", "ts", "stem", "width", "height", "clip", "where")

    def __init__(self, img: Any, i: int, path: Path):
        if not isinstance(img, dict):
            raise AdapterError(f"{path}, images[{i}]: expected an object, got {type(img).__name__}")
        self.id = img.get("id")
        self.where = f"{path}, images[{i}] (id {self.id!r})"
        if _id_key(self.id) is None:
            raise AdapterError(f"{self.where}: 'id' must be an integer or a string")
        self.width, self.height = img.get("width"), img.get("height")
        if not (_number(self.width) and _number(self.height) and self.width > 0 and self.height > 0):
            raise AdapterError(f"{self.where}: width / height must be positive numbers, got {self.width!r}, {self.height!r}")
        name = img.get("file_name", img.get("img_path"))
        video, ts, stem = img.get("movie"), img.get("timestamp"), None
        if name is not None:
            if not isinstance(name, str):
                raise AdapterError(f"{self.where}: file_name {name!r} is not a string")
            p = PurePosixPath(name.replace("\\", "/"))
            stem = p.stem
            if video is None:
                video = p.parent.as_posix()
            if ts is None:
                ts = stem
        if not isinstance(video, str) or video in ("", "."):
            raise AdapterError(f"{self.where}: no video id (needs file_name '<video_id>/<timestamp>.jpg' or 'movie')")
        self.video = video
        self.ts = _whole(ts)
        if self.ts is None or self.ts < 0:
            raise AdapterError(f"{self.where}: timestamp {ts!r} is not a whole number of seconds")
        self.stem = stem if stem is not None else str(self.ts)
        clip = img.get("video_path")
        if clip is not None and not isinstance(clip, str):
            raise AdapterError(f"{self.where}: video_path {clip!r} is not a string")
        self.clip = clip


def _find_clip(clips: Path, img: _Image) -> Path:
    if img.clip is not None:
        candidates = [img.clip]
    else:
        candidates = [f"{img.video}/{img.stem}{ext}" for ext in VIDEO_EXTENSIONS]
    for rel in candidates:
        p = inside_root(clips, rel, where=img.where, what="clip")
        if p.is_file():
            return p
    shown = img.clip or f"{img.video}/{img.stem}.mp4"
    raise AdapterError(f"{img.where}: clip {shown!r} not found in {clips}")


def _middle_frame_s(clip: Path, where: str) -> float:
    from ..video import VideoReadError, frame_times  # PyAV only when clips are probed

    try:
        times = frame_times(clip)
    except (VideoReadError, OSError, ValueError) as e:
        raise AdapterError(f"{where}: cannot read the clip's frame times ({e}); set keyframe_s to index without "
                           f"opening clips") from None  # fmt: skip
    return float(times[len(times) // 2])


def _resolve(base: Path, name: str | os.PathLike) -> Path:
    p = Path(name)
    return p if p.is_absolute() else base / p


def load_ava_coco(
    root: str | os.PathLike,
    *,
    split: str = "train",
    annotations_dir: str | os.PathLike = "annotations",
    boxes_dir: str | os.PathLike = "boxes",
    clips_dir: str | os.PathLike = "clips",
    ann_file: str | os.PathLike | None = None,
    proposals: str | os.PathLike | bool | None = None,
    label_map: str | os.PathLike | None = None,
    excluded: str | os.PathLike | None = None,
    min_proposal_score: float = 0.0,
    include_unannotated: bool = False,
    keyframe_s: float | None = None,
) -> SampleIndex:
    """Index the keyframes of ``split`` in the COCO-style layout (see the module doc).

    - ``ann_file``: default ``<split>.json`` in ``root/annotations_dir`` (relative names resolve there)
    - ``proposals``: the person-box file, default ``<split>_person_bbox.json`` in ``root/boxes_dir`` if present
      (False: none; a name: must exist); entries with ``score`` >= ``min_proposal_score`` (no score reads as 1.0)
    - ``label_map``: an AVA label map pbtxt (in ``annotations_dir``) naming the action ids, for files whose
      ``categories`` are not the actions (AlphAction's); default: ``categories`` ordered by id
    - ``excluded``: an AVA excluded-timestamps CSV (``video_id,timestamp``) whose keyframes are left out
    - ``clips_dir``: relative to ``root``; ``{split}`` in it is replaced by the split name (``clips/{split}``)
    - ``include_unannotated``: also the keyframes with proposals but no annotated person (empty boxes)
    - ``keyframe_s``: seconds from a clip's first frame to its keyframe (0 for AlphAction's one-second clips);
      None: the clip's middle frame (probed with PyAV)

    Annotations of one person at one keyframe merge into one box with several labels: same ``person_id`` and
    box where the file has person ids (as :func:`~replaylab.data.adapters.ava.load_ava` merges CSV rows),
    else the same pixel ``bbox``. Without person ids, ``person_ids`` number the boxes 0.. in box order.
    """
    if keyframe_s is not None and not (math.isfinite(keyframe_s) and keyframe_s >= 0):
        raise AdapterError(f"keyframe_s must be a finite number of seconds >= 0, got {keyframe_s!r}")
    root = Path(root)
    ann = _resolve(root, annotations_dir)
    ann_path = _resolve(ann, ann_file or f"{split}.json")
    clips = _resolve(root, str(clips_dir).replace("{split}", split))
    doc = _read_json(ann_path, "annotation file")
    if not isinstance(doc, dict):
        raise AdapterError(f"{ann_path}: expected a COCO-style object with 'images', 'annotations', 'categories'")

    if label_map is not None:
        label_path = _resolve(ann, label_map)
        names, named_by = read_label_map(label_path), f"the label map {label_path}"
    else:
        names, named_by = _read_categories(doc, ann_path), f"the categories of {ann_path}"

    images: dict[Any, _Image] = {}
    keyframes: set[tuple[str, int]] = set()
    for i, raw in enumerate(_entries(doc, "images", ann_path)):
        img = _Image(raw, i, ann_path)
        key = _id_key(img.id)
        if key in images:
            raise AdapterError(f"{img.where}: duplicate image id")
        if (img.video, img.ts) in keyframes:
            raise AdapterError(f"{img.where}: a second image for keyframe {img.video},{img.ts:04d}")
        images[key] = img
        keyframes.add((img.video, img.ts))

    def image_of(entry: dict, where: str) -> _Image:
        iid = entry.get("image_id")
        img = images.get(_id_key(iid))
        if img is None:
            raise AdapterError(f"{where}: image_id {iid!r} is not an image of {ann_path}")
        return img

    # id(image) -> {(person_id or None, pixel bbox): (normalised box, action ids)}
    people: dict[int, dict[tuple[Any, tuple], tuple[tuple[float, ...], set[int]]]] = {}
    with_pid = None
    for j, a in enumerate(_entries(doc, "annotations", ann_path, required=False)):
        where = f"{ann_path}, annotations[{j}]" + (f" (id {a.get('id')!r})" if isinstance(a, dict) and "id" in a else "")
        if not isinstance(a, dict):
            raise AdapterError(f"{where}: expected an object, got {type(a).__name__}")
        img = image_of(a, where)
        box = _box(a.get("bbox"), img.width, img.height, where)
        if "action_ids" in a:
            acts = a["action_ids"]
            if not isinstance(acts, list) or not acts or any(_whole(v) is None for v in acts):
                raise AdapterError(f"{where}: action_ids {acts!r} must be a non-empty list of integers")
            actions = [_whole(v) for v in acts]
        else:
            cid = _whole(a.get("category_id"))
            if cid is None:
                raise AdapterError(f"{where}: no integer category_id (or action_ids)")
            actions = [cid]
        for act in actions:
            if act not in names:
                hint = (" (AlphAction-style files list the actions in action_ids and need label_map=, an AVA pbtxt)"
                        if label_map is None and "action_ids" in a else "")  # fmt: skip
                raise AdapterError(f"{where}: action id {act} is not in {named_by}{hint}")
        has_pid = "person_id" in a
        if with_pid is None:
            with_pid = has_pid
        elif has_pid != with_pid:
            raise AdapterError(f"{where}: person_id is on some annotations of the file but not on others")
        pid = None
        if has_pid:
            pid = _whole(a["person_id"])
            if pid is None:
                raise AdapterError(f"{where}: person_id {a['person_id']!r} is not an integer")
        pkey = (pid, tuple(float(v) for v in a["bbox"]))
        people.setdefault(id(img), {}).setdefault(pkey, (box, set()))[1].update(actions)

    excluded_keys: set[tuple[str, int]] = set()
    if excluded is not None:
        ex_path = _resolve(ann, excluded)
        if not ex_path.is_file():
            raise AdapterError(f"{ex_path}: excluded timestamps file not found")
        excluded_keys = _read_excluded(ex_path)

    props: dict[int, list[list[float]]] = {}
    p_path = None
    if proposals is not False:
        bdir = _resolve(root, boxes_dir)
        p_path = bdir / f"{split}_person_bbox.json" if proposals in (None, True) else _resolve(bdir, proposals)
        if p_path.is_file() or proposals not in (None, True):
            entries = _read_json(p_path, "person-box file")
            if not isinstance(entries, list):
                raise AdapterError(f"{p_path}: expected a list of {{image_id, bbox, score}}, got {type(entries).__name__}")
            for k, e in enumerate(entries):
                where = f"{p_path}, entry {k}"
                if not isinstance(e, dict):
                    raise AdapterError(f"{where}: expected an object, got {type(e).__name__}")
                img = image_of(e, where)
                score = e.get("score", 1.0)
                if not _number(score):
                    raise AdapterError(f"{where}: score {score!r} is not a number")
                box = _box(e.get("bbox"), img.width, img.height, where)  # checked whatever the score
                if score >= min_proposal_score:
                    props.setdefault(id(img), []).append([*box, round(float(score), 6)])
        elif proposals is True:
            raise AdapterError(f"{p_path}: person-box file not found")

    chosen = [img for img in images.values() if id(img) in people or (include_unannotated and id(img) in props)]
    chosen = [img for img in chosen if (img.video, img.ts) not in excluded_keys]
    if not chosen:
        raise AdapterError(f"{ann_path}: no annotated keyframes")

    position = {i: k for k, i in enumerate(names)}
    samples = []
    for img in sorted(chosen, key=lambda m: (m.video, m.ts)):
        clip = _find_clip(clips, img)
        source = clip.relative_to(root).as_posix() if clip.is_relative_to(root) else str(clip)
        center = float(keyframe_s) if keyframe_s is not None else _middle_frame_s(clip, img.where)
        found = people.get(id(img), {})
        if with_pid:
            order = sorted(found, key=lambda k: (k[0], found[k][0]))
            pids = [k[0] for k in order]
        else:
            order = sorted(found, key=lambda k: found[k][0])
            pids = list(range(len(order)))
        meta: dict[str, Any] = {
            "timestamp": img.ts,
            "boxes": [list(found[k][0]) for k in order],
            "labels": [sorted(found[k][1]) for k in order],
            "label_index": [sorted(position[a] for a in found[k][1]) for k in order],  # positions in `classes`
            "person_ids": pids,
            "proposals": props.get(id(img), []),
        }
        samples.append(Sample(f"{img.video},{img.ts:04d}", (source,), img.video, -1, center, None, meta))
    return SampleIndex(samples, list(names.values()), root, f"ava_coco:{split}")


__all__ = ["EDGE_TOLERANCE_PX", "load_ava_coco"]
