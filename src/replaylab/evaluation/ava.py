"""AVA frame-mAP, number for number as the official ActivityNet script ``Evaluation/get_ava_performance.py``
(AVA v2.1 / v2.2) with its Pascal evaluator (the TensorFlow object-detection copies in ``Evaluation/ava/``).

**Files.** One row per (box, action), no header, boxes normalised to [0, 1]::

    detections:   video_id,timestamp,x1,y1,x2,y2,action_id,score
    ground truth: video_id,timestamp,x1,y1,x2,y2,action_id[,person_id]
    excluded:     video_id,timestamp

A keyframe is ``(video_id, timestamp)`` (the official image key ``"%s,%04d" % (video_id, int(timestamp))``);
timestamps are whole seconds. :func:`read_ava_csv` / :func:`read_excluded_timestamps` return pandas tables
in file order (row order matters exactly where it does for the official script, see below);
:func:`write_ava_csv` writes the same format: timestamps ``%04d``, boxes with 3 decimals as PySlowFast's
``write_results`` (``%.03f``; mmaction2 writes ``%.4f``), scores with 6 decimals by default (PySlowFast
writes ``%.04f``: coarser scores make ties, and tied scores are where the official AP depends on numpy,
see below). A malformed row raises :class:`~replaylab.data.samples.AdapterError` naming file and row.

**Rules** (:func:`frame_map`; each checked against the official code, see the parity test):

1. Class whitelist = the ids of the label map (which must be >= 1, as the Pascal evaluator requires); rows of
   other classes are dropped from both sides before anything else.
2. Ground truth: every row counts (no cap). Detections: at most ``max_detections`` = 50 per keyframe over
   all classes together, the highest-scoring, chosen as the official ``read_csv`` does: rows are pushed in
   file order onto a min-heap of ``(score, action_id, y1, x1, y2, x2)`` tuples; once it holds 50, a row
   replaces the heap minimum only if its score is strictly greater. So on a tie at the cap the rows seen
   first stay, and the row evicted among equal minimum scores is the smallest ``(action_id, y1, x1, y2, x2)``.
   Each keyframe's rows are then ordered by descending score, ties in heap-array order (Python's stable
   sort); ground truth goes through the same heap with the person id as its "score" (1.0 without one),
   which fixes the order of its boxes.
3. Keyframes listed as excluded are removed from both sides.
4. Detections on a keyframe without (whitelisted, non-excluded) ground truth are **false positives** in
   the official v2.1+ script: it adds every non-excluded detection keyframe, and the Pascal evaluator gives
   a keyframe it has no ground truth for an empty ground-truth set. ``keys_without_gt="ignore"`` drops
   them instead (the AVA v2.0 script dropped keyframes absent from the ground-truth file; mmaction2's
   ``ignore_empty_frames=True`` drops them too).
5. Detection boxes with ``x2 <= x1`` or ``y2 <= y1`` are removed (after the cap, so they used a slot);
   ground-truth boxes must have ``x1 <= x2`` and ``y1 <= y2`` (the official ``BoxList`` raises otherwise,
   when a detection of the class is on that keyframe; here always).
6. Per keyframe and class, detections in the order of rule 2 are matched greedily: each takes the
   ground-truth box of its class with the largest IoU (the first one on a tie); if that IoU is >= 0.5 and
   the box is not taken yet it is a true positive, else a false positive - a detection whose best box is
   already taken does *not* fall back to the next-best box. IoU on normalised coordinates without the
   ``+1`` pixel convention: ``inter / (area_d + area_g - inter)``. The "difficult" and "group-of" flags of
   the Pascal evaluator are all false for AVA (the script passes zeros; AVA has no group boxes), so no
   detection is ignored.
7. Per class, the keyframes' arrays are concatenated in the order the keyframes first appear in the
   detections file (their first row of a label-map class); ``order = numpy.argsort(scores)[::-1]`` (numpy's default, *unstable* sort, reversed);
   precision and recall along that order (recall over all ground-truth boxes of the class); AP is the VOC
   area under the monotone precision envelope (precision made non-increasing from the right, recall padded
   with 0 and 1, summed over the recall steps).
8. A class with ground truth and no detections scores AP 0 and counts; a class without ground truth has AP
   NaN and is left out: mAP is the mean over the classes with ground truth (``numpy.nanmean``).

**Ties.** Where scores of one class tie and their detections mix true and false positives, the AP depends
on the order inside the tie, which the official code leaves to numpy's unstable default ``argsort``, and
that order differs between numpy builds: on the parity fixture's score-grid sets the official evaluator
gave per-class APs up to 0.076 apart (mAP up to 0.033) under numpy 1.23.5 and 2.4.6 on one machine.
:func:`frame_map` builds the same array in the same order and makes the same call, so it equals the
official script run with the same numpy. Write scores with enough decimals to keep ties rare.

**mmaction2 differs.** ``mmaction/evaluation/functional/ava_utils.py`` (mmaction2 1.x, ``ava_eval``) has
no 50-per-keyframe cap, ignores detections on keyframes without ground truth, keeps zero-area detections
(and raises on one with ``x2 < x1``), casts boxes and scores to float32, and averages only over the classes
that have at least one detection: a class with ground truth and no detections is left out of its mean
instead of scoring 0. mmaction2 0.x
(``mmaction/core/evaluation/ava_utils.py``) runs the Pascal evaluator but without the cap, and applies the
excluded timestamps only when ``verbose=True``.
"""

from __future__ import annotations

import csv
import heapq
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..data.adapters.ava import read_label_map
from ..data.samples import AdapterError
from ..io import atomic_path

DETECTION_COLUMNS: tuple[str, ...] = ("video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id", "score")
GROUNDTRUTH_COLUMNS: tuple[str, ...] = ("video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id", "person_id")
EXCLUDED_COLUMNS: tuple[str, ...] = ("video_id", "timestamp")
MAX_DETECTIONS_PER_KEYFRAME = 50
IOU_THRESHOLD = 0.5
BOX_DECIMALS = 3
SCORE_DECIMALS = 6

Kind = Literal["detections", "groundtruth"]
KeysWithoutGt = Literal["false_positive", "ignore"]

__all__ = [
    "BOX_DECIMALS", "DETECTION_COLUMNS", "EXCLUDED_COLUMNS", "GROUNDTRUTH_COLUMNS", "IOU_THRESHOLD",
    "MAX_DETECTIONS_PER_KEYFRAME", "SCORE_DECIMALS", "average_precision_voc", "evaluate_files", "frame_map",
    "read_ava_csv", "read_excluded_timestamps", "write_ava_csv",
]  # fmt: skip


# ----------------------------------------------------------------------------------------------------- files
def _whole(value: str, what: str, where: str) -> int:
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        f = float(text)
    except ValueError:
        raise AdapterError(f"{where}: {what} {value!r} is not a number") from None
    if not math.isfinite(f) or f != int(f):
        raise AdapterError(f"{where}: {what} {value!r} is not a whole number")
    return int(f)


def _finite(value: str, what: str, where: str) -> float:
    try:
        f = float(value)
    except ValueError:
        raise AdapterError(f"{where}: {what} {value!r} is not a number") from None
    if not math.isfinite(f):
        raise AdapterError(f"{where}: {what} {value!r} is not finite")
    return f


def _rows(path: Path) -> Iterable[tuple[int, list[str]]]:
    if not path.is_file():
        raise AdapterError(f"{path}: file not found")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            if row and any(c.strip() for c in row):
                yield n, row


def read_ava_csv(path: str | os.PathLike, *, kind: Kind) -> pd.DataFrame:
    """The rows of an AVA CSV in file order, as a table with :data:`DETECTION_COLUMNS` (``kind="detections"``;
    a row without the score column scores 1.0, as in the official reader) or :data:`GROUNDTRUTH_COLUMNS`
    (``kind="groundtruth"``; ``person_id`` is a nullable integer, missing in 7-column rows). Blank lines are
    skipped; a row with another column count, a non-numeric or non-finite coordinate or score, a timestamp
    or action id that is not a whole number (a header line, say) raises :class:`AdapterError` naming the
    file and row."""
    if kind not in ("detections", "groundtruth"):
        raise ValueError(f"kind must be 'detections' or 'groundtruth', got {kind!r}")
    path = Path(path)
    vids: list[str] = []
    ints: list[tuple[int, int]] = []
    boxes: list[tuple[float, float, float, float]] = []
    last: list[float | int | None] = []
    for n, row in _rows(path):
        where = f"{path}, row {n}"
        if len(row) not in (7, 8):
            raise AdapterError(f"{where}: expected 7 or 8 columns ({','.join(GROUNDTRUTH_COLUMNS if kind == 'groundtruth' else DETECTION_COLUMNS)}), got {len(row)}")  # fmt: skip
        vid = row[0]  # not stripped: the official key keeps the field as it is
        if not vid.strip():
            raise AdapterError(f"{where}: empty video_id")
        ts = _whole(row[1], "timestamp", where)
        box = tuple(_finite(v, c, where) for v, c in zip(row[2:6], ("x1", "y1", "x2", "y2"), strict=True))
        action = _whole(row[6], "action_id", where)
        if kind == "detections":
            extra: float | int | None = _finite(row[7], "score", where) if len(row) == 8 else 1.0
        else:
            extra = _whole(row[7], "person_id", where) if len(row) == 8 and row[7].strip() else None
        vids.append(vid)
        ints.append((ts, action))
        boxes.append(box)  # type: ignore[arg-type]
        last.append(extra)
    t = np.array(ints, dtype=np.int64).reshape(-1, 2)
    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    df = pd.DataFrame({"video_id": pd.Series(vids, dtype=object), "timestamp": t[:, 0],
                       "x1": b[:, 0], "y1": b[:, 1], "x2": b[:, 2], "y2": b[:, 3], "action_id": t[:, 1]})  # fmt: skip
    if kind == "detections":
        df["score"] = np.array(last, dtype=np.float64)
    else:
        df["person_id"] = pd.array(last, dtype="Int64")
    return df


def read_excluded_timestamps(path: str | os.PathLike) -> pd.DataFrame:
    """The keyframes of an excluded-timestamps CSV (``video_id,timestamp`` per row, exactly two columns as
    the official reader asserts) as a table with :data:`EXCLUDED_COLUMNS`."""
    path = Path(path)
    vids: list[str] = []
    stamps: list[int] = []
    for n, row in _rows(path):
        where = f"{path}, row {n}"
        if len(row) != 2:
            raise AdapterError(f"{where}: expected 2 columns (video_id,timestamp), got {len(row)}")
        vids.append(row[0])
        stamps.append(_whole(row[1], "timestamp", where))
    return pd.DataFrame({"video_id": pd.Series(vids, dtype=object), "timestamp": np.array(stamps, dtype=np.int64)})


def write_ava_csv(
    path: str | os.PathLike,
    table: pd.DataFrame,
    *,
    box_decimals: int = BOX_DECIMALS,
    score_decimals: int = SCORE_DECIMALS,
) -> None:
    """Write ``table`` as an official AVA CSV (no header), atomically: ``video_id,%04d timestamp,x1,y1,x2,y2,
    action_id`` and then the ``score`` column (``score_decimals``) if the table has one, else ``person_id``
    where it is not missing. Boxes get ``box_decimals`` (at least 3) decimals."""
    if box_decimals < 3 or score_decimals < 3:
        raise ValueError("box_decimals and score_decimals must be at least 3")
    _check_columns(table, DETECTION_COLUMNS[:7], "table")
    has_score = "score" in table.columns
    last = table["score"] if has_score else table["person_id"] if "person_id" in table.columns else None
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        cols = [table[c].to_numpy() for c in DETECTION_COLUMNS[:7]]
        extra = last.to_numpy(dtype=object) if last is not None else None
        for i in range(len(table)):
            row = [str(cols[0][i]), f"{int(cols[1][i]):04d}"]
            row += [f"{float(cols[k][i]):.{box_decimals}f}" for k in range(2, 6)]
            row.append(str(int(cols[6][i])))
            if extra is not None and not pd.isna(extra[i]):
                row.append(f"{float(extra[i]):.{score_decimals}f}" if has_score else str(int(extra[i])))
            w.writerow(row)


# ------------------------------------------------------------------------------------------------ evaluation
def _check_columns(table: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing}")


Key = tuple[str, int]
Entry = tuple[float, int, float, float, float, float]  # (sort score, action id, y1, x1, y2, x2), as the official


def _per_keyframe(table: pd.DataFrame, sort_scores: np.ndarray, whitelist: set[int], capacity: int, name: str) -> dict[Key, list[Entry]]:  # fmt: skip
    """Rows grouped by keyframe in first-appearance order, each keyframe's entries capped and ordered as the
    official ``read_csv`` does (rule 2 of the module doc)."""
    vids = table["video_id"].to_numpy(dtype=object)
    ts = table["timestamp"].to_numpy()
    actions = table["action_id"].to_numpy()
    coords = table[["y1", "x1", "y2", "x2"]].to_numpy(dtype=np.float64)
    if not np.isfinite(coords).all() or not np.isfinite(sort_scores).all():
        raise ValueError(f"{name}: boxes and scores must be finite")
    heaps: dict[Key, list[Entry]] = {}
    for i in range(len(table)):
        action = int(actions[i])
        if action not in whitelist:
            continue
        key = (str(vids[i]), int(ts[i]))
        entry = (float(sort_scores[i]), action, *map(float, coords[i]))
        heap = heaps.setdefault(key, [])
        if capacity < 1 or len(heap) < capacity:
            heapq.heappush(heap, entry)  # type: ignore[arg-type]
        elif entry[0] > heap[0][0]:
            heapq.heapreplace(heap, entry)  # type: ignore[arg-type]
    return {key: sorted(heap, key=lambda e: -e[0]) for key, heap in heaps.items()}


def _iou(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Pairwise IoU of [y1, x1, y2, x2] boxes, with the official operation order (no +1)."""
    ymin1, xmin1, ymax1, xmax1 = np.split(det, 4, axis=1)
    ymin2, xmin2, ymax2, xmax2 = np.split(gt, 4, axis=1)
    h = np.maximum(0.0, np.minimum(ymax1, ymax2.T) - np.maximum(ymin1, ymin2.T))
    w = np.maximum(0.0, np.minimum(xmax1, xmax2.T) - np.maximum(xmin1, xmin2.T))
    inter = h * w
    area1 = (det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1])
    area2 = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    return inter / (area1[:, None] + area2[None, :] - inter)


def _true_positives(det: np.ndarray, gt: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy matching of one keyframe and class (rule 6): detections in the given order."""
    tp = np.zeros(len(det), dtype=bool)
    if not len(gt) or not len(det):
        return tp
    iou = _iou(det, gt)
    best = np.argmax(iou, axis=1)
    taken = np.zeros(len(gt), dtype=bool)
    for i, g in enumerate(best):
        if iou[i, g] >= iou_threshold and not taken[g]:
            tp[i] = taken[g] = True
    return tp


def average_precision_voc(scores: np.ndarray, tp: np.ndarray, num_gt: int) -> float:
    """VOC AP as the official ``metrics.compute_precision_recall`` + ``compute_average_precision``: the
    detections in ``numpy.argsort(scores)[::-1]`` order, precision = TP / (TP + FP) and recall = TP / num_gt
    along it, the area under the monotone (max-to-the-right) precision envelope. NaN if ``num_gt`` is 0;
    0 if there are no detections."""
    scores = np.asarray(scores, dtype=np.float64)
    tp = np.asarray(tp, dtype=bool)
    if scores.ndim != 1 or scores.shape != tp.shape:
        raise ValueError(f"scores and tp must be 1-D of one length, got {scores.shape} and {tp.shape}")
    if num_gt < int(tp.sum()):
        raise ValueError(f"{int(tp.sum())} true positives but only {num_gt} ground-truth boxes")
    if num_gt == 0:
        return math.nan
    if not len(scores):
        return 0.0
    hits = tp.astype(int)[np.argsort(scores)[::-1]]
    ctp = np.cumsum(hits)
    cfp = np.cumsum(1 - hits)
    precision = np.concatenate([[0.0], ctp.astype(float) / (ctp + cfp), [0.0]])
    recall = np.concatenate([[0.0], ctp.astype(float) / num_gt, [1.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def _class_ids(label_map: Mapping[int, str] | Iterable[int]) -> list[int]:
    ids = sorted({int(k) for k in (label_map.keys() if isinstance(label_map, Mapping) else label_map)})
    if not ids:
        raise ValueError("label_map: no classes")
    if ids[0] < 1:
        raise ValueError(f"label_map: class ids must be >= 1 (the Pascal evaluator is 1-indexed), got {ids[0]}")
    return ids


def _excluded_keys(excluded: pd.DataFrame | Iterable[tuple[str, int]] | None) -> set[Key]:
    if excluded is None:
        return set()
    if isinstance(excluded, pd.DataFrame):
        _check_columns(excluded, EXCLUDED_COLUMNS, "excluded")
        pairs = zip(excluded["video_id"], excluded["timestamp"], strict=True)
    else:
        pairs = excluded  # type: ignore[assignment]
    return {(str(v), int(t)) for v, t in pairs}


def frame_map(
    *,
    groundtruth: pd.DataFrame,
    detections: pd.DataFrame,
    label_map: Mapping[int, str] | Iterable[int],
    excluded: pd.DataFrame | Iterable[tuple[str, int]] | None = None,
    keys_without_gt: KeysWithoutGt = "false_positive",
    max_detections: int = MAX_DETECTIONS_PER_KEYFRAME,
    iou_threshold: float = IOU_THRESHOLD,
) -> dict:
    """The official AVA frame-mAP (module doc, rules 1-8).

    ``groundtruth``: :data:`GROUNDTRUTH_COLUMNS` (``person_id`` optional); ``detections``:
    :data:`DETECTION_COLUMNS`; both in file order, as :func:`read_ava_csv` returns them. ``label_map``: the
    class whitelist, ``{id: name}`` (:func:`~replaylab.data.adapters.ava.read_label_map`) or ids.
    ``excluded``: keyframes removed from both sides (a table with :data:`EXCLUDED_COLUMNS` or
    ``(video_id, timestamp)`` pairs). ``max_detections`` < 1 lifts the per-keyframe cap.

    Returns ``{"mAP": float, "per_class": {id: AP or NaN}, "num_gt": {id: int}, "num_det": {id: int}}`` over
    the label-map ids: ``num_gt`` counts the ground-truth boxes evaluated, ``num_det`` the detections that
    entered the AP (after the cap, exclusions, invalid-box removal and ``keys_without_gt``). mAP is NaN if
    no class has ground truth.
    """
    if keys_without_gt not in ("false_positive", "ignore"):
        raise ValueError(f"keys_without_gt must be 'false_positive' or 'ignore', got {keys_without_gt!r}")
    ids = _class_ids(label_map)
    whitelist = set(ids)
    _check_columns(groundtruth, GROUNDTRUTH_COLUMNS[:7], "groundtruth")
    _check_columns(detections, DETECTION_COLUMNS, "detections")
    skip = _excluded_keys(excluded)

    if "person_id" in groundtruth.columns:
        pid = pd.to_numeric(groundtruth["person_id"]).astype("Float64").fillna(1.0).to_numpy(dtype=np.float64)
    else:
        pid = np.ones(len(groundtruth))
    gt = {k: v for k, v in _per_keyframe(groundtruth, pid, whitelist, 0, "groundtruth").items() if k not in skip}
    scores = detections["score"].to_numpy(dtype=np.float64)
    det = _per_keyframe(detections, scores, whitelist, max_detections, "detections")

    num_gt = dict.fromkeys(ids, 0)
    gt_arrays: dict[Key, tuple[np.ndarray, np.ndarray]] = {}
    for key, entries in gt.items():
        arr = np.array([e[2:] for e in entries], dtype=np.float64)
        if ((arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])).any():
            raise ValueError(f"groundtruth, keyframe {key[0]},{key[1]:04d}: a box with x2 < x1 or y2 < y1")
        labels = np.array([e[1] for e in entries], dtype=np.int64)
        gt_arrays[key] = (arr, labels)
        for c in labels:
            num_gt[int(c)] += 1

    per_scores: dict[int, list[np.ndarray]] = {c: [] for c in ids}
    per_tp: dict[int, list[np.ndarray]] = {c: [] for c in ids}
    empty = (np.zeros((0, 4)), np.zeros(0, dtype=np.int64))
    for key, entries in det.items():
        if key in skip or (keys_without_gt == "ignore" and key not in gt_arrays):
            continue
        boxes = np.array([e[2:] for e in entries], dtype=np.float64)
        labels = np.array([e[1] for e in entries], dtype=np.int64)
        sc = np.array([e[0] for e in entries], dtype=np.float64)
        valid = (boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3])
        boxes, labels, sc = boxes[valid], labels[valid], sc[valid]
        g_boxes, g_labels = gt_arrays.get(key, empty)
        for c in dict.fromkeys(labels.tolist()):
            sel = labels == c
            per_scores[c].append(sc[sel])
            per_tp[c].append(_true_positives(boxes[sel], g_boxes[g_labels == c], iou_threshold))

    per_class: dict[int, float] = {}
    num_det: dict[int, int] = {}
    for c in ids:
        s = np.concatenate(per_scores[c]) if per_scores[c] else np.zeros(0)
        t = np.concatenate(per_tp[c]) if per_tp[c] else np.zeros(0, dtype=bool)
        num_det[c] = len(s)
        per_class[c] = average_precision_voc(s, t, num_gt[c])
    valid_ap = [ap for ap in per_class.values() if not math.isnan(ap)]
    mean = float(np.mean(valid_ap)) if valid_ap else math.nan
    return {"mAP": mean, "per_class": per_class, "num_gt": num_gt, "num_det": num_det}


def evaluate_files(
    *,
    groundtruth: str | os.PathLike,
    detections: str | os.PathLike,
    label_map: str | os.PathLike,
    excluded: str | os.PathLike | None = None,
    keys_without_gt: KeysWithoutGt = "false_positive",
) -> dict:
    """:func:`frame_map` on files: the ground-truth and detections CSVs, the label map pbtxt and, optionally,
    the excluded-timestamps CSV - the inputs of ``get_ava_performance.py -g -d -l -e``."""
    return frame_map(
        groundtruth=read_ava_csv(groundtruth, kind="groundtruth"),
        detections=read_ava_csv(detections, kind="detections"),
        label_map=read_label_map(label_map),
        excluded=read_excluded_timestamps(excluded) if excluded is not None else None,
        keys_without_gt=keys_without_gt,
    )
