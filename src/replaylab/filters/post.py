"""The header post-filter: XGBoost over a window of +-``half_window`` frames (31 by default) of per-frame
probabilities (:mod:`replaylab.features.windows`), then peak picking with non-maximum suppression.

Input: ``data/probs/header.csv`` with ``video_id, frame`` and the probability ``columns`` (``cnn_prob``,
``pre_xgb_prob``, ``ensemble_prob``), one row per video frame of every match, empty where a model was not
run (the CNN only runs on the pre-filter's candidates). A frame is *active* when the ``active_column`` was
evaluated within its window; only active frames are trained on and scored (the others get probability 0:
neither stage saw anything there). ``active_column: null`` makes every frame active.

Training (:func:`fit_post_filter`): frames within +-``label_tolerance`` of a header are positives. The
matches of ``train_splits`` are cross-validated with folds grouped by match and stratified by header frames
(scikit-learn's ``StratifiedGroupKFold``); their out-of-fold
probabilities choose the event score threshold with the best F1 at +-``tolerance_s``. The final model
trains on all of them and scores every other match (test).

Events: peaks of the post probability (greedy NMS over ``nms_frames``) with score >= ``min_score`` (a
low floor, so AP and mAP see the whole ranking); ``detected`` marks the final detections (score >= the
chosen threshold, also in ``models/post_xgb/meta.json``).

Inference: ``PostFilter.load("models/post_xgb").detect(probs)`` on a video's ``(n_frames, columns)`` array.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.samples import AdapterError
from ..evaluation.classification import auroc, average_precision
from ..evaluation.spotting import best_f1_threshold, spotting_report
from ..features.windows import active_frames, window_feature_names, window_features
from .matches import frame_labels
from .peaks import pick_peaks
from .xgb import (
    XgbConfig,
    cross_validate,
    gain_importance,
    grouped_folds,
    load_booster,
    predict,
    sample_rows,
    save_booster,
    stack_rows,
    train_booster,
)

PROB_COLUMNS = ("cnn_prob", "pre_xgb_prob", "ensemble_prob")
MODEL_FILE = "model.ubj"
META_FILE = "meta.json"

__all__ = ["PROB_COLUMNS", "PostFilter", "PostFilterConfig", "PostFilterFit", "VideoProbs", "fit_post_filter", "read_probs"]


@dataclass(frozen=True)
class PostFilterConfig:
    columns: tuple[str, ...] = PROB_COLUMNS
    active_column: str | None = "cnn_prob"
    half_window: int = 15
    label_tolerance: int = 2
    neg_ratio: float = 0.0
    n_folds: int = 5
    train_splits: tuple[str, ...] = ("train", "val")
    nms_frames: int = 12
    min_score: float = 0.01
    tolerance_s: float = 0.5
    seed: int = 0
    xgb: XgbConfig = field(default_factory=XgbConfig)


@dataclass
class VideoProbs:
    """One video's probability columns (NaN = not evaluated), split, header frames and frame times."""

    video_id: str
    probs: np.ndarray
    split: str
    headers: np.ndarray
    frame_times: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.probs.shape[0])


def read_probs(path: str | os.PathLike, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """video id -> ``(n_frames, len(columns))`` float array (NaN where empty), checking one row per frame
    ``0..n-1`` per video; a missing column, a bad value, a repeated or missing frame names the file and row."""
    p = Path(path)
    if not p.is_file():
        raise AdapterError(f"{p}: probabilities not found (the export_probs stage writes them)")
    with open(p, newline="") as fh:
        r = csv.DictReader(fh)
        missing = [c for c in ("video_id", "frame", *columns) if c not in (r.fieldnames or [])]
        if missing:
            raise AdapterError(f"{p}: missing columns {missing}")
        frames: dict[str, list[int]] = {}
        values: dict[str, list[list[float]]] = {}
        rows_of: dict[str, list[int]] = {}
        for n, row in enumerate(r, start=2):
            vid = row["video_id"].strip()
            if not vid:
                raise AdapterError(f"{p}, row {n}: empty video_id")
            try:
                f = int(row["frame"])
            except ValueError:
                raise AdapterError(f"{p}, row {n}: frame {row['frame']!r} is not an integer") from None
            vals = []
            for c in columns:
                cell = row[c].strip()
                if cell == "" or cell.lower() == "nan":
                    vals.append(math.nan)
                    continue
                try:
                    v = float(cell)
                except ValueError:
                    raise AdapterError(f"{p}, row {n}: {c} {cell!r} is not a number") from None
                if not 0.0 <= v <= 1.0:
                    raise AdapterError(f"{p}, row {n}: {c} {v} is not a probability in [0, 1]")
                vals.append(v)
            frames.setdefault(vid, []).append(f)
            values.setdefault(vid, []).append(vals)
            rows_of.setdefault(vid, []).append(n)
    if not frames:
        raise AdapterError(f"{p}: no rows")
    out = {}
    for vid, fs in frames.items():
        f = np.asarray(fs, dtype=np.int64)
        order = np.argsort(f, kind="stable")
        fs_sorted = f[order]
        expect = np.arange(fs_sorted.shape[0])
        if not np.array_equal(fs_sorted, expect):
            bad = int(np.flatnonzero(fs_sorted != expect)[0])
            if bad > 0 and fs_sorted[bad] == fs_sorted[bad - 1]:
                raise AdapterError(f"{p}, row {rows_of[vid][order[bad]]}: video {vid!r} frame {fs_sorted[bad]} appears twice")
            raise AdapterError(
                f"{p}: video {vid!r} has no row for frame {expect[bad]} (one row per video frame, from 0, is expected)"
            )
        out[vid] = np.asarray(values[vid], dtype=np.float64)[order]
    return out


# ------------------------------------------------------------------------------------------ inference
class PostFilter:
    """A trained post-filter: window features -> probability per frame -> events."""

    def __init__(self, booster, *, columns: Sequence[str], half_window: int, active_column: str | None, threshold: float,
                 nms_frames: int, min_score: float, meta: dict | None = None):  # fmt: skip
        self.booster = booster
        self.columns = tuple(columns)
        self.half_window = int(half_window)
        self.active_column = active_column
        self.threshold = float(threshold)
        self.nms_frames = int(nms_frames)
        self.min_score = float(min_score)
        self.meta = dict(meta or {})

    @property
    def feature_names(self) -> list[str]:
        return window_feature_names(self.columns, self.half_window)

    @classmethod
    def load(cls, model_dir: str | os.PathLike) -> PostFilter:
        d = Path(model_dir)
        meta_path = d / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path}: post-filter metadata not found (run the post_xgb stage)")
        meta = json.loads(meta_path.read_text())
        model = cls(load_booster(d / meta.get("model_file", MODEL_FILE)), columns=meta["columns"], half_window=meta["half_window"],
                    active_column=meta["active_column"], threshold=meta["threshold"], nms_frames=meta["nms_frames"],
                    min_score=meta["min_score"], meta=meta)  # fmt: skip
        if meta.get("feature_names") != model.feature_names:
            raise ValueError(f"{meta_path}: the saved feature names do not match this version's window features")
        return model

    def save(self, model_dir: str | os.PathLike) -> None:
        d = Path(model_dir)
        d.mkdir(parents=True, exist_ok=True)
        save_booster(self.booster, d / MODEL_FILE)
        meta = dict(self.meta)
        meta.update(model_file=MODEL_FILE, columns=list(self.columns), half_window=self.half_window, active_column=self.active_column,
                    threshold=self.threshold, nms_frames=self.nms_frames, min_score=self.min_score, feature_names=self.feature_names)  # fmt: skip
        (d / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")

    def _check(self, probs: np.ndarray) -> np.ndarray:
        p = np.asarray(probs, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != len(self.columns):
            raise ValueError(
                f"probabilities must be (n_frames, {len(self.columns)}) for columns {list(self.columns)}, got {p.shape}"
            )
        return p

    def active(self, probs: np.ndarray) -> np.ndarray:
        p = self._check(probs)
        if self.active_column is None:
            return np.ones(p.shape[0], bool)
        return active_frames(p[:, self.columns.index(self.active_column)], half_window=self.half_window)

    def features(self, probs: np.ndarray) -> np.ndarray:
        return window_features(self._check(probs), half_window=self.half_window, columns=self.columns)

    def score(self, probs: np.ndarray) -> np.ndarray:
        """Post-filter probability of every frame (0 where inactive)."""
        p = self._check(probs)
        act = self.active(p)
        out = np.zeros(p.shape[0], dtype=np.float64)
        if act.any():
            out[act] = predict(self.booster, self.features(p)[act], feature_names=self.feature_names)
        return out

    def events(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return pick_peaks(scores, nms_frames=self.nms_frames, min_score=self.min_score)

    def detect(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(frames, scores, detected) of the events of one video: every peak above ``min_score``; ``detected``
        is score >= the chosen threshold."""
        frames, scores = self.events(self.score(probs))
        return frames, scores, scores >= self.threshold


# ------------------------------------------------------------------------------------------ training
@dataclass
class PostFilterFit:
    model: PostFilter
    frame_probs: dict[str, np.ndarray]
    events: dict[str, tuple[np.ndarray, np.ndarray]]
    folds: dict[str, int]
    importance: list[tuple[str, float]]
    metrics: dict


def fit_post_filter(
    videos: Sequence[VideoProbs], cfg: PostFilterConfig, *, log: Callable[[str], None] | None = None
) -> PostFilterFit:
    by_id = {v.video_id: v for v in videos}
    train_ids = sorted(v.video_id for v in videos if v.split in cfg.train_splits)
    other_ids = sorted(v.video_id for v in videos if v.split not in cfg.train_splits)
    if not any(by_id[v].headers.size for v in train_ids):
        raise ValueError(f"no headers in the {list(cfg.train_splits)} matches {train_ids}: nothing to train the post-filter on")
    proto = PostFilter(None, columns=cfg.columns, half_window=cfg.half_window, active_column=cfg.active_column, threshold=math.inf,
                       nms_frames=cfg.nms_frames, min_score=cfg.min_score)  # fmt: skip
    names = proto.feature_names
    act = {vid: proto.active(v.probs) for vid, v in by_id.items()}
    rows = {}
    for vid, v in by_id.items():
        X = proto.features(v.probs)[act[vid]]
        y = frame_labels(v.n_frames, v.headers, cfg.label_tolerance)[act[vid]]
        rows[vid] = (X, y)
    active_train = [vid for vid in train_ids if rows[vid][0].shape[0]]
    labels = [rows[vid][1] for vid in active_train]  # folds stratified by the header frames of each match
    folds = grouped_folds(np.repeat(active_train, [len(y) for y in labels]), cfg.n_folds, seed=cfg.seed,
                          labels=np.concatenate(labels))  # fmt: skip

    def select(_vid: str, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return sample_rows(y, cfg.neg_ratio, rng)

    oof = cross_validate(rows, folds, cfg=cfg.xgb, feature_names=names, select=select, seed=cfg.seed, progress=log)
    X, y = stack_rows(rows, active_train, select, np.random.default_rng([cfg.seed, 10**6]))
    booster = train_booster(X, y, cfg.xgb, names)
    model = PostFilter(booster, columns=cfg.columns, half_window=cfg.half_window, active_column=cfg.active_column, threshold=math.inf,
                       nms_frames=cfg.nms_frames, min_score=cfg.min_score)  # fmt: skip
    frame_probs = {}
    for vid, v in by_id.items():
        p = np.zeros(v.n_frames)
        if rows[vid][0].shape[0]:
            p[act[vid]] = oof[vid] if vid in oof else predict(booster, rows[vid][0], feature_names=names)
        frame_probs[vid] = p
    events = {vid: model.events(p) for vid, p in frame_probs.items()}
    fps = _fps(videos)
    tol = cfg.tolerance_s * fps
    threshold, _ = best_f1_threshold({v: by_id[v].headers for v in train_ids}, {v: events[v] for v in train_ids}, tolerance=tol)
    model.threshold = threshold
    if log:
        log(
            f"final model: {len(active_train)} matches ({X.shape[0]} rows); event threshold {threshold:.4g} (best F1 on out-of-fold)"
        )
    metrics = _metrics(by_id, frame_probs, events, threshold, cfg, fps)
    metrics["baselines"] = _baselines(by_id, cfg, fps)
    model.meta.update(label_tolerance=cfg.label_tolerance, tolerance_s=cfg.tolerance_s, folds=folds, n_folds=len(set(folds.values())),
                      train_matches=train_ids, scored_matches=other_ids, params=asdict(cfg))  # fmt: skip
    return PostFilterFit(model, frame_probs, events, folds, gain_importance(booster, names), metrics)


def _fps(videos: Sequence[VideoProbs]) -> float:
    rates = [1.0 / float(np.median(np.diff(v.frame_times))) for v in videos if v.frame_times.shape[0] > 1]
    return float(np.median(rates)) if rates else 25.0


def _split_report(ids, by_id, frame_probs, events, threshold, cfg, fps) -> dict:
    if not ids:
        return {"n_matches": 0}
    y = np.concatenate([frame_labels(by_id[v].n_frames, by_id[v].headers, cfg.label_tolerance) for v in ids])
    p = np.concatenate([frame_probs[v] for v in ids])
    gt = {v: by_id[v].headers for v in ids}
    rep = spotting_report(
        gt, {v: events[v] for v in ids}, fps=fps, tolerance_s=cfg.tolerance_s, threshold=threshold, map_framerate=None
    )
    return {"n_matches": len(ids), "n_frames": int(p.shape[0]), "frame_auroc": _finite(auroc(y, p)),
            "frame_ap": _finite(average_precision(y, p)), **{k: _finite(v) if isinstance(v, float) else v for k, v in rep.items()}}  # fmt: skip


def _finite(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def _metrics(by_id, frame_probs, events, threshold, cfg, fps) -> dict:
    out = {"threshold": _finite(threshold), "tolerance_s": cfg.tolerance_s, "train_splits": list(cfg.train_splits),
           "half_window": cfg.half_window, "nms_frames": cfg.nms_frames}  # fmt: skip
    for split in ("train", "val", "test"):
        ids = sorted(v for v, x in by_id.items() if x.split == split)
        out[split] = _split_report(ids, by_id, frame_probs, events, threshold, cfg, fps)
    return out


def _baselines(by_id, cfg, fps) -> dict:
    """Each input column used directly as the detector (NaN as 0; same peak picking, threshold chosen on
    ``train_splits``): what the post-filter has to beat."""
    out = {}
    tol = cfg.tolerance_s * fps
    for ci, col in enumerate(cfg.columns):
        scores = {v: np.nan_to_num(x.probs[:, ci], nan=0.0) for v, x in by_id.items()}
        events = {v: pick_peaks(s, nms_frames=cfg.nms_frames, min_score=cfg.min_score) for v, s in scores.items()}
        train_ids = sorted(v for v, x in by_id.items() if x.split in cfg.train_splits)
        thr, _ = best_f1_threshold({v: by_id[v].headers for v in train_ids}, {v: events[v] for v in train_ids}, tolerance=tol)
        res = {"threshold": _finite(thr)}
        for split in ("train", "val", "test"):
            ids = sorted(v for v, x in by_id.items() if x.split == split)
            if ids:
                rep = spotting_report({v: by_id[v].headers for v in ids}, {v: events[v] for v in ids}, fps=fps,
                                      tolerance_s=cfg.tolerance_s, threshold=thr, map_framerate=None)  # fmt: skip
                res[split] = {k: _finite(rep[k]) for k in ("precision", "recall", "f1", "ap", "soccernet_a_mAP")}
        out[col] = res
    return out


# ------------------------------------------------------------------------------------------ stage outputs
EVENT_COLUMNS = ("video_id", "frame", "time", "score", "detected", "split")
FRAME_COLUMNS = ("video_id", "frame", "time", "split", "label", "post_prob")


def write_post_outputs(fit: PostFilterFit, videos: Sequence[VideoProbs], *, model_dir: str | os.PathLike,
                       events_csv: str | os.PathLike, frames_csv: str | os.PathLike) -> None:  # fmt: skip
    """``model_dir`` (model.ubj, meta.json, plots/feature_importance.{csv,png}), swapped in whole; the
    events and per-frame probabilities as CSV files, each written atomically."""
    import shutil

    from ..io import replace_dir, write_csv
    from ..viz.bars import save_bar_chart

    model_dir = Path(model_dir)
    tmp = model_dir.with_name(f".{model_dir.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    fit.model.save(tmp)
    write_csv(tmp / "plots" / "feature_importance.csv", ("feature", "gain"), ((n, f"{g:.6g}") for n, g in fit.importance))
    top = fit.importance[:40]
    save_bar_chart(tmp / "plots" / "feature_importance.png", [n for n, _ in top], [g for _, g in top],
                   title="post-filter feature importance (total gain, top 40)", xlabel="total gain")  # fmt: skip
    replace_dir(tmp, model_dir)

    def event_rows():
        for v in videos:
            frames, scores = fit.events[v.video_id]
            for f, s in zip(frames.tolist(), scores.tolist()):
                yield v.video_id, f, f"{v.frame_times[f]:.6f}", f"{s:.6f}", int(s >= fit.model.threshold), v.split

    def frame_rows():
        for v in videos:
            p = fit.frame_probs[v.video_id]
            y = frame_labels(v.n_frames, v.headers, fit.model.meta.get("label_tolerance", 0))
            for f in range(v.n_frames):
                yield v.video_id, f, f"{v.frame_times[f]:.6f}", v.split, int(y[f]), f"{p[f]:.6f}"

    write_csv(events_csv, EVENT_COLUMNS, event_rows())
    write_csv(frames_csv, FRAME_COLUMNS, frame_rows())


def load_videos(probs_csv: str | os.PathLike, *, root: str | os.PathLike, splits_dir: str | os.PathLike,
                columns: Sequence[str], on_bad_rows: str = "fail", tally=None) -> list[VideoProbs]:  # fmt: skip
    """The probabilities of every match of the splits with its split, headers (``events.csv``) and video
    frame times. A video without a split, a split match without probabilities, or a frame count that is
    not the video's is an error. A header outside the video is an error naming its row, or with
    ``on_bad_rows="drop"`` left out (counted in ``tally``): never a missed detection."""
    from .matches import match_events, match_frame_times, split_matches

    probs = read_probs(probs_csv, columns)
    matches = {m.match_id: m for m in split_matches(root, splits_dir)}
    unknown = sorted(set(probs) - set(matches))
    if unknown:
        raise AdapterError(f"{probs_csv}: videos {unknown} are in no split of {splits_dir}")
    absent = sorted(set(matches) - set(probs))
    if absent:
        raise AdapterError(f"{probs_csv}: no probabilities for the split matches {absent}")
    out = []
    for mid, m in matches.items():
        ft = match_frame_times(m)
        if ft.shape[0] != probs[mid].shape[0]:
            raise AdapterError(f"{probs_csv}: video {mid!r} has {probs[mid].shape[0]} frames, its video {ft.shape[0]}")
        headers = match_events(m, ("header",), n_frames=ft.shape[0], on_bad_rows=on_bad_rows, tally=tally)
        out.append(VideoProbs(mid, probs[mid], m.split, headers, ft))
    return out
