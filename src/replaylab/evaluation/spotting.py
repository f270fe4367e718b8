"""Event spotting metrics: precision / recall / F1 at a frame tolerance, average precision, and the
SoccerNet action-spotting average-mAP with the official evaluator's rules.

Events are given per video: ground truth as ``{video_id: frames}``, predictions as
``{video_id: (frames, scores)}`` (arrays or sequences), with frames as integer indices at the video's frame
rate. :func:`group_events` builds both from flat ``(video_id, frame_or_time[, score])`` rows, converting
times in seconds with ``fps``. A video that is only in the ground truth has all its events missed; a
video only in the predictions contributes false positives.

**Our spotting metrics** (:func:`spotting_prf`, :func:`pr_curve`, :func:`average_precision`) match
predictions to events one to one, greedily, highest score first: each prediction takes the nearest
still-unmatched event of its video within ``tolerance`` frames (``|frame - event| <= tolerance``; ties
go to the earlier event), else it is a false positive. Because the matching is greedy in score order, the
matching of the predictions above any threshold is a prefix of the full one, so one pass gives the
whole precision-recall curve. AP is ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds,
without interpolation (the same definition as :func:`replaylab.evaluation.classification.average_precision`).

**SoccerNet average-mAP** (:func:`soccernet_average_map`), number for number as
``SoccerNet.Evaluation.ActionSpotting`` (SoccerNet 0.2.0):

- events and predictions live on a frame grid at ``framerate`` (the official default is 2 fps):
  a time ``t`` seconds falls on frame ``int(framerate * t)``; several events of a class on one frame
  count once, and a prediction needs a score >= 0;
- for one tolerance ``delta`` seconds (``delta * framerate`` frames) the ground-truth events are taken in
  time order and each takes the highest-scoring (earliest on a tie) not yet taken prediction within
  ``delta / 2``; taken predictions are true positives;
- precision and recall at 200 thresholds ``numpy.linspace(0, 1, 200)`` (scores >= threshold; 0 when
  undefined), and AP by 11-point interpolation: the mean over recall levels 0, 0.1, ..., 1 of the best
  precision at recall >= that level;
- mAP at a tolerance is the mean of the classes' APs (a class without events scores 0, as in the
  official code); average-mAP is the trapezoid rule over the tolerances, divided by their count minus
  one (with one tolerance, that tolerance's mAP). ``loose`` tolerances are 5, 10, ..., 60 s, ``tight``
  1, ..., 5 s, or any sequence.

The one deliberate difference: where several predictions of a class fall on one frame, the official code
keeps whichever comes last in its JSON file; here the highest score is kept (file order carries no meaning).
The official clamp of frames beyond 120 minutes per half to the last frame is not applied.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

LOOSE_DELTAS_S: tuple[float, ...] = tuple(float(d) for d in range(5, 65, 5))
TIGHT_DELTAS_S: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0)
SOCCERNET_THRESHOLDS = np.linspace(0, 1, 200)

GroundTruth = Mapping[str, Sequence[int] | np.ndarray]
Predictions = Mapping[str, tuple[Sequence[int] | np.ndarray, Sequence[float] | np.ndarray]]

__all__ = [
    "LOOSE_DELTAS_S", "TIGHT_DELTAS_S", "average_precision", "best_f1_threshold", "group_events", "match_greedy", "pr_curve",
    "soccernet_average_map", "soccernet_map_classes", "spotting_prf", "spotting_report",
]  # fmt: skip


# ------------------------------------------------------------------------------------------ inputs
def group_events(rows: Iterable[Sequence[Any]], *, fps: float | None = None, unit: str = "frame",
                 scored: bool | None = None) -> dict:  # fmt: skip
    """Flat rows ``(video_id, frame_or_time)`` (ground truth) or ``(video_id, frame_or_time, score)``
    (predictions) grouped per video. ``unit="time"`` converts seconds to the nearest frame at ``fps``.
    Returns ``{video: frames}`` or ``{video: (frames, scores)}``."""
    if unit not in ("frame", "time"):
        raise ValueError(f"unit must be 'frame' or 'time', got {unit!r}")
    if unit == "time" and not fps:
        raise ValueError("unit='time' needs the fps")
    frames: dict[str, list[int]] = {}
    scores: dict[str, list[float]] = {}
    seen_scored = None
    for i, row in enumerate(rows):
        if len(row) not in (2, 3):
            raise ValueError(f"row {i}: expected (video_id, frame_or_time[, score]), got {row!r}")
        has_score = len(row) == 3
        if seen_scored is None:
            seen_scored = has_score
        elif seen_scored != has_score:
            raise ValueError(f"row {i}: some rows have a score and some do not")
        v = str(row[0])
        pos = float(row[1])
        if not math.isfinite(pos):
            raise ValueError(f"row {i}: position {row[1]!r} is not finite")
        f = round(pos * fps) if unit == "time" else round(pos)
        frames.setdefault(v, []).append(f)
        if has_score:
            s = float(row[2])
            if not math.isfinite(s):
                raise ValueError(f"row {i}: score {row[2]!r} is not finite")
            scores.setdefault(v, []).append(s)
    want_scores = seen_scored if scored is None else scored
    if want_scores:
        if seen_scored is False:
            raise ValueError("predictions need a score in every row")
        return {v: (np.asarray(frames[v], np.int64), np.asarray(scores[v], np.float64)) for v in frames}
    return {v: np.asarray(f, np.int64) for v, f in frames.items()}


def _gt(gt: GroundTruth) -> dict[str, np.ndarray]:
    out = {}
    for v, f in gt.items():
        a = np.asarray(f, dtype=np.float64).reshape(-1)
        if not np.isfinite(a).all():
            raise ValueError(f"ground truth of {v!r}: frames must be finite")
        out[str(v)] = np.sort(a.astype(np.int64))
    return out


def _preds(preds: Predictions) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for v, item in preds.items():
        if isinstance(item, np.ndarray) and item.ndim == 2 and item.shape[1] == 2:
            frames, scores = item[:, 0], item[:, 1]
        else:
            frames, scores = item
        f = np.asarray(frames, dtype=np.float64).reshape(-1)
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if f.shape != s.shape:
            raise ValueError(f"predictions of {v!r}: {f.shape[0]} frames but {s.shape[0]} scores")
        if not (np.isfinite(f).all() and np.isfinite(s).all()):
            raise ValueError(f"predictions of {v!r}: frames and scores must be finite")
        out[str(v)] = (f.astype(np.int64), s)
    return out


# ------------------------------------------------------------------------------------------ greedy matching
def match_greedy(gt_frames, pred_frames, pred_scores, *, tolerance: float) -> np.ndarray:
    """For each prediction (in input order) the index of the event it matches, or -1.

    Predictions are processed highest score first (earlier frame first on a tie); each takes the nearest
    unmatched event within ``tolerance`` frames (the earlier one on a tie)."""
    g = np.asarray(gt_frames, dtype=np.int64).reshape(-1)
    f = np.asarray(pred_frames, dtype=np.int64).reshape(-1)
    s = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    out = np.full(f.shape[0], -1, dtype=np.int64)
    if g.size == 0 or f.size == 0:
        return out
    gorder = np.argsort(g, kind="stable")
    gs = g[gorder]
    taken = np.zeros(gs.shape[0], bool)
    for i in np.lexsort((f, -s)):
        lo = np.searchsorted(gs, f[i] - tolerance, side="left")
        hi = np.searchsorted(gs, f[i] + tolerance, side="right")
        if lo >= hi:
            continue
        free = np.flatnonzero(~taken[lo:hi])
        if free.size == 0:
            continue
        cand = lo + free
        j = cand[np.argmin(np.abs(gs[cand] - f[i]))]  # first minimum = earlier event on a tie
        taken[j] = True
        out[i] = gorder[j]
    return out


def _scored_matches(gt: GroundTruth, preds: Predictions, tolerance: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores and true-positive flags of every prediction (all videos), and the number of events."""
    g, p = _gt(gt), _preds(preds)
    scores, tps = [], []
    for v, (f, s) in p.items():
        m = match_greedy(g.get(v, np.zeros(0, np.int64)), f, s, tolerance=tolerance)
        scores.append(s)
        tps.append(m >= 0)
    n_gt = int(sum(a.shape[0] for a in g.values()))
    if not scores:
        return np.zeros(0), np.zeros(0, bool), n_gt
    return np.concatenate(scores), np.concatenate(tps), n_gt


def pr_curve(gt: GroundTruth, preds: Predictions, *, tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and the score threshold (descending) at every distinct prediction score."""
    scores, tp, n_gt = _scored_matches(gt, preds, tolerance)
    if scores.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], tp[order].astype(np.float64)
    ctp = np.cumsum(t)
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last index of each distinct score
    n_pred = last + 1.0
    precision = ctp[last] / n_pred
    recall = ctp[last] / n_gt if n_gt else np.zeros(last.shape[0])
    return precision, recall, s[last]


def average_precision(gt: GroundTruth, preds: Predictions, *, tolerance: float) -> float:
    """``sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds; NaN without ground-truth events."""
    precision, recall, _ = pr_curve(gt, preds, tolerance=tolerance)
    n_gt = sum(len(v) for v in _gt(gt).values())
    if n_gt == 0:
        return math.nan
    if precision.size == 0:
        return 0.0
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def spotting_prf(gt: GroundTruth, preds: Predictions, *, tolerance: float, threshold: float | None = None) -> dict[str, float]:
    """Precision, recall, F1 and counts of the predictions with score >= ``threshold`` (all when None)."""
    p = _preds(preds)
    if threshold is not None:
        p = {v: (f[s >= threshold], s[s >= threshold]) for v, (f, s) in p.items()}
    scores, tp, n_gt = _scored_matches(gt, p, tolerance)
    n_tp, n_pred = int(tp.sum()), int(scores.size)
    precision = n_tp / n_pred if n_pred else 0.0
    recall = n_tp / n_gt if n_gt else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": n_tp, "fp": n_pred - n_tp, "fn": n_gt - n_tp,
            "n_events": n_gt, "n_predictions": n_pred}  # fmt: skip


def best_f1_threshold(gt: GroundTruth, preds: Predictions, *, tolerance: float) -> tuple[float, dict[str, float]]:
    """The score threshold with the highest F1 (the highest such threshold on a tie) and the metrics there.
    Without predictions: threshold ``inf`` (nothing detected)."""
    precision, recall, thresholds = pr_curve(gt, preds, tolerance=tolerance)
    if thresholds.size == 0:
        return math.inf, spotting_prf(gt, {}, tolerance=tolerance)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    best = int(np.argmax(f1))  # thresholds descend, so the first maximum is the highest threshold
    thr = float(thresholds[best])
    return thr, spotting_prf(gt, preds, tolerance=tolerance, threshold=thr)


# ------------------------------------------------------------------------------------------ SoccerNet
def _on_grid(frames: np.ndarray, fps: float, framerate: float | None) -> np.ndarray:
    if framerate is None:
        return frames
    return np.array([int(framerate * (f / fps)) for f in frames.tolist()], dtype=np.int64)


def _soccernet_video(g: np.ndarray, f: np.ndarray, s: np.ndarray, delta: float) -> np.ndarray:
    """True-positive flags of one video's predictions (unique frames, sorted) under the official rule."""
    tp = np.zeros(f.shape[0], dtype=np.float64)
    if f.size == 0:
        return tp
    used = np.zeros(f.shape[0], bool)
    half = delta / 2
    for gi in g.tolist():
        lo = np.searchsorted(f, gi - half, side="left")
        hi = np.searchsorted(f, gi + half, side="right")
        if lo >= hi:
            continue
        cand = np.arange(lo, hi)[~used[lo:hi]]
        if cand.size == 0:
            continue
        j = cand[np.argmax(s[cand])]  # first maximum in time order
        tp[j] = 1.0
        used[j] = True
    return tp


def _soccernet_ap(videos: list[tuple[np.ndarray, np.ndarray, np.ndarray]], delta: float) -> float:
    scores, tps, n_gt = [], [], 0
    for g, f, s in videos:
        scores.append(s)
        tps.append(_soccernet_video(g, f, s, delta))
        n_gt += int(g.shape[0])
    score = np.concatenate(scores) if scores else np.zeros(0)
    tp = np.concatenate(tps) if tps else np.zeros(0)
    precision, recall = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for thr in SOCCERNET_THRESHOLDS:
            sel = score >= thr
            n_tp = np.sum(tp[sel])
            precision.append(np.nan_to_num(n_tp / int(sel.sum())))
            recall.append(np.nan_to_num(n_tp / n_gt))
    precision_a, recall_a = np.array(precision), np.array(recall)
    ap = 0.0
    for level in np.arange(11) / 10:
        at = precision_a[recall_a >= level]
        ap += float(np.max(at)) if at.size else 0.0
    return ap / 11


def _prepare_soccernet(gt: GroundTruth, preds: Predictions, fps: float, framerate: float | None):
    g, p = _gt(gt), _preds(preds)
    videos = []
    for v in sorted(set(g) | set(p)):
        gf = np.unique(_on_grid(g.get(v, np.zeros(0, np.int64)), fps, framerate))
        f, s = p.get(v, (np.zeros(0, np.int64), np.zeros(0)))
        f = _on_grid(f, fps, framerate)
        keep = s >= 0
        f, s = f[keep], s[keep]
        order = np.lexsort((-s, f))  # by frame, highest score first within a frame
        f, s = f[order], s[order]
        first = np.r_[True, f[1:] != f[:-1]] if f.size else np.zeros(0, bool)
        videos.append((gf, f[first], s[first]))
    return videos


def _average(curve: list[float]) -> float:
    if len(curve) == 1:
        return curve[0]
    integral = 0.0
    for i in range(len(curve) - 1):
        integral += (curve[i] + curve[i + 1]) / 2
    return integral / (len(curve) - 1)


def _deltas(deltas_s: str | Sequence[float]) -> tuple[float, ...]:
    if isinstance(deltas_s, str):
        if deltas_s not in ("loose", "tight"):
            raise ValueError(f"deltas_s: 'loose', 'tight' or a sequence of seconds, got {deltas_s!r}")
        return LOOSE_DELTAS_S if deltas_s == "loose" else TIGHT_DELTAS_S
    out = tuple(float(d) for d in deltas_s)
    if not out or any(d <= 0 for d in out):
        raise ValueError(f"deltas_s must be positive seconds, got {deltas_s!r}")
    return out


def soccernet_map_classes(by_class: Mapping[str, tuple[GroundTruth, Predictions]], *, fps: float,
                          deltas_s: str | Sequence[float] = "tight", framerate: float | None = 2.0) -> dict[str, Any]:  # fmt: skip
    """SoccerNet average-mAP over classes: ``by_class[label] = (ground truth, predictions)``.

    ``fps``: the frame rate of the given frames; ``framerate``: the evaluation grid (official: 2;
    None = evaluate on the given frames as they are, i.e. at ``fps``). Returns ``a_mAP``, ``mAP`` per
    tolerance, ``a_mAP_per_class`` and ``AP_per_class`` per tolerance."""
    deltas = _deltas(deltas_s)
    rate = fps if framerate is None else framerate
    prepared = {c: _prepare_soccernet(g, p, fps, framerate) for c, (g, p) in by_class.items()}
    classes = list(prepared)
    if not classes:
        raise ValueError("soccernet_map_classes: no classes")
    per_delta = []
    per_class_delta = {c: [] for c in classes}
    for d in deltas:
        aps = np.array([_soccernet_ap(prepared[c], d * rate) for c in classes])
        for c, ap in zip(classes, aps):
            per_class_delta[c].append(float(ap))
        per_delta.append(float(np.mean(aps)))
    return {
        "a_mAP": float(_average(per_delta)),
        "mAP": dict(zip([f"{d:g}" for d in deltas], per_delta)),
        "a_mAP_per_class": {c: float(_average(v)) for c, v in per_class_delta.items()},
        "AP_per_class": {c: dict(zip([f"{d:g}" for d in deltas], v)) for c, v in per_class_delta.items()},
        "deltas_s": list(deltas),
        "framerate": rate,
    }


def soccernet_average_map(gt: GroundTruth, preds: Predictions, *, fps: float, deltas_s: str | Sequence[float] = "tight",
                          framerate: float | None = 2.0) -> dict[str, Any]:  # fmt: skip
    """SoccerNet average-mAP of one class (see :func:`soccernet_map_classes`): ``a_mAP`` and ``mAP`` per tolerance."""
    out = soccernet_map_classes({"event": (gt, preds)}, fps=fps, deltas_s=deltas_s, framerate=framerate)
    return {"a_mAP": out["a_mAP"], "mAP": out["mAP"], "deltas_s": out["deltas_s"], "framerate": out["framerate"]}


# ------------------------------------------------------------------------------------------ report
def spotting_report(gt: GroundTruth, preds: Predictions, *, fps: float, tolerance_s: float, threshold: float | None,
                    map_deltas_s: Sequence[float] | str = "tight", map_framerate: float | None = None) -> dict[str, Any]:  # fmt: skip
    """The numbers a spotting stage reports: P / R / F1 at ``tolerance_s`` and ``threshold``, AP at that
    tolerance, and SoccerNet average-mAP over ``map_deltas_s`` (evaluated at ``map_framerate``; None = fps)."""
    tol = tolerance_s * fps
    out = {"tolerance_s": tolerance_s, "threshold": threshold}
    out.update(spotting_prf(gt, preds, tolerance=tol, threshold=threshold))
    out["ap"] = average_precision(gt, preds, tolerance=tol)
    sn = soccernet_average_map(gt, preds, fps=fps, deltas_s=map_deltas_s, framerate=map_framerate)
    out["soccernet_a_mAP"] = sn["a_mAP"]
    out["soccernet_mAP"] = sn["mAP"]
    return out
