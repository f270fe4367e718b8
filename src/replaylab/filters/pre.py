"""The header pre-filter: XGBoost on the 36 tracking features of every video frame
(:mod:`replaylab.features.tracking`), so the 3D-CNN only runs where a header is plausible.

Training (:func:`fit_pre_filter`): frames within +-``label_tolerance`` frames of a header are positives.
The train + val matches are cross-validated with folds grouped by match and stratified by header frames
(scikit-learn's ``StratifiedGroupKFold``; ``n_folds``, at most one fold per match); each fold's model trains on every positive of the other folds' matches plus ``neg_ratio``
sampled negatives per positive (a ``hard_negative_share`` of them from frames near other events: kicks,
bounces, chest / thigh control, balls flying past a head, ...) and scores every frame of its own matches:
the out-of-fold probabilities. The threshold is chosen on those for ``target_recall`` of the headers (a
header is recalled when a frame within +-``label_tolerance`` of it scores at least the threshold).
The final model trains the same way on all train + val matches and scores the test matches, which
never influence the model or the threshold.

Candidates: frames at or above the threshold, dilated by ``pad_frames``; proposals: the runs of candidate
frames (start, end, peak). Used alone as a detector, the pre-filter's events are the peaks of its
probabilities (non-maximum suppression over ``nms_frames``), thresholded for the best F1 at
``tolerance_s`` on the out-of-fold probabilities.

Inference (:class:`PreFilter`): ``PreFilter.load("models/pre_xgb").run(tracking, frame_times=...)``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.rowchecks import BadRows, OnBadRows
from ..evaluation.classification import auroc, average_precision
from ..evaluation.spotting import average_precision as spotting_ap
from ..evaluation.spotting import best_f1_threshold, spotting_prf
from ..features.tracking import FEATURE_NAMES, FeatureConfig, TrackingTable, compute_features
from .matches import Match, frame_labels, match_events, match_frame_times
from .peaks import dilate, pick_peaks, runs
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

MODEL_FILE = "model.ubj"
META_FILE = "meta.json"
OTHER_EVENT_TYPES = ("kick", "chest", "thigh", "fly_past", "jump_miss", "bounce", "throw_in", "foul")
CV_SPLITS = ("train", "val")

__all__ = [
    "MatchFeatures", "PreFilter", "PreFilterConfig", "PreFilterFit", "PreFilterOutput", "event_recall", "event_scores",
    "featurize_match", "fit_pre_filter", "proposals", "threshold_for_recall",
]  # fmt: skip


@dataclass(frozen=True)
class PreFilterConfig:
    label_tolerance: int = 2
    neg_ratio: float = 20.0
    hard_negative_share: float = 0.5
    n_folds: int = 5
    target_recall: float = 0.98
    pad_frames: int = 2
    nms_frames: int = 12
    peak_floor: float = 0.01
    tolerance_s: float = 0.5
    seed: int = 0
    features: FeatureConfig = field(default_factory=FeatureConfig)
    xgb: XgbConfig = field(default_factory=XgbConfig)


@dataclass
class MatchFeatures:
    """One match's features, frame times, labels and events."""

    match: Match
    frame_times: np.ndarray
    X: np.ndarray
    labels: np.ndarray
    headers: np.ndarray
    hard: np.ndarray  # frames near a non-header event (hard-negative pool)

    @property
    def n_frames(self) -> int:
        return int(self.X.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / float(np.median(np.diff(self.frame_times))) if self.n_frames > 1 else 25.0


def featurize_match(
    match: Match, *, features: FeatureConfig, label_tolerance: int, on_bad_rows: OnBadRows = "fail", tally: BadRows | None = None
) -> MatchFeatures:
    """Features, labels and events of one match. Bad tracking rows and events outside the video or the ball
    tracking are an error naming the file and row, or with ``on_bad_rows="drop"`` left out and counted in
    ``tally`` (:mod:`replaylab.data.rowchecks`)."""
    ft = match_frame_times(match)
    fps = 1.0 / float(np.median(np.diff(ft))) if ft.shape[0] > 1 else None
    table = TrackingTable.read(match.tracking, fps=fps, on_bad_rows=on_bad_rows, tally=tally)
    X = compute_features(table, frame_times=ft, config=features)
    ball = table.team == 0
    tracked = None
    if ball.any() and fps:
        bf = table.frame[ball] if table.frame is not None else np.floor(table.time[ball] * fps + 0.5)
        tracked = (int(bf.min()), int(bf.max()))
    kw = {"n_frames": X.shape[0], "tracked": tracked, "on_bad_rows": on_bad_rows, "tally": tally}
    headers = match_events(match, ("header",), **kw)
    others = match_events(match, OTHER_EVENT_TYPES, **kw)
    labels = frame_labels(X.shape[0], headers, label_tolerance)
    hard = frame_labels(X.shape[0], others, label_tolerance).astype(bool) & (labels == 0)
    return MatchFeatures(match, ft, X, labels, headers, hard)


# ------------------------------------------------------------------------------------------ thresholds, candidates
def event_scores(probs: np.ndarray, headers: np.ndarray, tolerance: int) -> np.ndarray:
    """For each header, the highest probability within +-``tolerance`` frames of it."""
    n = probs.shape[0]
    out = []
    for f in np.asarray(headers, dtype=np.int64).tolist():
        lo, hi = max(f - tolerance, 0), min(f + tolerance + 1, n)
        out.append(float(np.max(probs[lo:hi])) if lo < hi else -math.inf)
    return np.array(out, dtype=np.float64)


def threshold_for_recall(scores: np.ndarray, target_recall: float) -> float:
    """The highest threshold at which at least ``target_recall`` of the event scores are >= it."""
    s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    if s.size == 0:
        raise ValueError("no events to choose a threshold on")
    if not 0 < target_recall <= 1:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
    need = math.ceil(target_recall * s.size - 1e-9)
    return float(s[max(need, 1) - 1])


def event_recall(mask: np.ndarray, headers: np.ndarray, tolerance: int) -> tuple[int, int]:
    """(headers with a kept frame within +-``tolerance``, headers)."""
    kept = event_scores(np.asarray(mask, dtype=np.float64), headers, tolerance)
    return int((kept >= 1).sum()), int(kept.shape[0])


def proposals(mask: np.ndarray, probs: np.ndarray) -> list[tuple[int, int, int, float]]:
    """(start, end, peak frame, peak probability) of every run of candidate frames."""
    out = []
    for a, b in runs(mask):
        k = a + int(np.argmax(probs[a : b + 1]))
        out.append((a, b, k, float(probs[k])))
    return out


# ------------------------------------------------------------------------------------------ inference
@dataclass
class PreFilterOutput:
    probs: np.ndarray
    candidates: np.ndarray  # frames kept
    proposals: list[tuple[int, int, int, float]]


class PreFilter:
    """A trained pre-filter: score a match's tracking table, keep the candidate frames."""

    def __init__(self, booster, *, threshold: float, pad_frames: int, features: FeatureConfig, meta: dict | None = None):
        self.booster = booster
        self.threshold = float(threshold)
        self.pad_frames = int(pad_frames)
        self.features = features
        self.meta = dict(meta or {})

    @classmethod
    def load(cls, model_dir: str | os.PathLike) -> PreFilter:
        d = Path(model_dir)
        meta_path = d / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path}: pre-filter metadata not found (run the pre_xgb stage)")
        meta = json.loads(meta_path.read_text())
        names = meta.get("feature_names")
        if names != list(FEATURE_NAMES):
            raise ValueError(f"{meta_path}: the model's features {names} are not this version's {list(FEATURE_NAMES)}")
        feats = meta["feature_config"]
        feats["trend_s"] = tuple(feats["trend_s"])
        return cls(load_booster(d / meta.get("model_file", MODEL_FILE)), threshold=meta["threshold"], pad_frames=meta["pad_frames"],
                   features=FeatureConfig(**feats), meta=meta)  # fmt: skip

    def save(self, model_dir: str | os.PathLike) -> None:
        d = Path(model_dir)
        d.mkdir(parents=True, exist_ok=True)
        save_booster(self.booster, d / MODEL_FILE)
        meta = dict(self.meta)
        meta.update(model_file=MODEL_FILE, feature_names=list(FEATURE_NAMES), threshold=self.threshold, pad_frames=self.pad_frames,
                    feature_config=asdict(self.features))  # fmt: skip
        (d / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")

    def predict_features(self, X: np.ndarray) -> np.ndarray:
        if X.ndim != 2 or X.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"features must be (n_frames, {len(FEATURE_NAMES)}), got {X.shape}")
        return predict(self.booster, X, feature_names=FEATURE_NAMES)

    def score(
        self, tracking, *, frame_times: np.ndarray | None = None, fps: float | None = None, n_frames: int | None = None
    ) -> np.ndarray:
        """Per-frame probabilities for a tracking table (path, :class:`TrackingTable`)."""
        return self.predict_features(
            compute_features(tracking, frame_times=frame_times, fps=fps, n_frames=n_frames, config=self.features)
        )

    def candidate_mask(self, probs: np.ndarray) -> np.ndarray:
        return dilate(np.asarray(probs) >= self.threshold, self.pad_frames)

    def run(
        self, tracking, *, frame_times: np.ndarray | None = None, fps: float | None = None, n_frames: int | None = None
    ) -> PreFilterOutput:
        probs = self.score(tracking, frame_times=frame_times, fps=fps, n_frames=n_frames)
        mask = self.candidate_mask(probs)
        return PreFilterOutput(probs, np.flatnonzero(mask), proposals(mask, probs))


# ------------------------------------------------------------------------------------------ training
@dataclass
class PreFilterFit:
    model: PreFilter
    probs: dict[str, np.ndarray]  # match id -> out-of-fold (train / val) or final-model (test) probabilities
    folds: dict[str, int]
    importance: list[tuple[str, float]]
    detector_threshold: float
    metrics: dict


def _select(data: dict[str, MatchFeatures], cfg: PreFilterConfig) -> Callable:
    def select(match_id: str, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return sample_rows(y, cfg.neg_ratio, rng, priority=data[match_id].hard, priority_share=cfg.hard_negative_share)

    return select


def fit_pre_filter(
    matches: Sequence[MatchFeatures], cfg: PreFilterConfig, *, log: Callable[[str], None] | None = None
) -> PreFilterFit:
    data = {m.match.match_id: m for m in matches}
    cv_ids = [mid for mid, m in data.items() if m.match.split in CV_SPLITS]
    test_ids = [mid for mid, m in data.items() if m.match.split not in CV_SPLITS]
    if not any(data[m].headers.size for m in cv_ids):
        raise ValueError(f"no headers in the train / val matches {cv_ids}: nothing to train the pre-filter on")
    frames = [data[m].labels for m in cv_ids]  # folds stratified by the header frames of each match
    folds = grouped_folds(np.repeat(cv_ids, [len(f) for f in frames]), cfg.n_folds, seed=cfg.seed, labels=np.concatenate(frames))
    xy = {mid: (m.X, m.labels) for mid, m in data.items()}
    select = _select(data, cfg)
    probs = cross_validate(xy, folds, cfg=cfg.xgb, feature_names=FEATURE_NAMES, select=select, seed=cfg.seed, progress=log)
    scores = np.concatenate([event_scores(probs[m], data[m].headers, cfg.label_tolerance) for m in cv_ids])
    threshold = threshold_for_recall(scores, cfg.target_recall)
    X, y = stack_rows(xy, sorted(cv_ids), select, np.random.default_rng([cfg.seed, 10**6]))
    booster = train_booster(X, y, cfg.xgb, FEATURE_NAMES)
    if log:
        log(f"final model: trained on {len(cv_ids)} matches ({X.shape[0]} rows); threshold {threshold:.4g}")
    model = PreFilter(booster, threshold=threshold, pad_frames=cfg.pad_frames, features=cfg.features)
    for mid in test_ids:
        probs[mid] = model.predict_features(data[mid].X)
    detector_threshold, metrics = _metrics(data, probs, model, cfg)
    model.meta.update(
        label_tolerance=cfg.label_tolerance, target_recall=cfg.target_recall, folds=folds, n_folds=len(set(folds.values())),
        cv_matches=sorted(cv_ids), test_matches=sorted(test_ids), detector={"threshold": detector_threshold, "nms_frames": cfg.nms_frames,
        "tolerance_s": cfg.tolerance_s}, params={k: v for k, v in asdict(cfg).items() if k not in ("features",)},
    )  # fmt: skip
    return PreFilterFit(model, probs, folds, gain_importance(booster, FEATURE_NAMES), detector_threshold, metrics)


def _split_metrics(ms: list[MatchFeatures], probs: dict[str, np.ndarray], model: PreFilter, tol: int) -> dict:
    if not ms:
        return {"n_matches": 0}
    p = np.concatenate([probs[m.match.match_id] for m in ms])
    y = np.concatenate([m.labels for m in ms])
    masks = [model.candidate_mask(probs[m.match.match_id]) for m in ms]
    hit = [event_recall(mask, m.headers, tol) for mask, m in zip(masks, ms)]
    n_hit, n_hdr = sum(h[0] for h in hit), sum(h[1] for h in hit)
    kept = float(np.concatenate(masks).mean())
    return {
        "n_matches": len(ms), "n_frames": int(p.shape[0]), "n_headers": n_hdr,
        "auroc": _finite(auroc(y, p)), "ap": _finite(average_precision(y, p)),
        "event_recall": n_hit / n_hdr if n_hdr else None, "headers_missed": n_hdr - n_hit,
        "frames_kept": kept, "window_reduction": (1.0 / kept) if kept > 0 else None,
        "n_candidates": int(sum(int(m.sum()) for m in masks)), "n_proposals": int(sum(len(runs(m)) for m in masks)),
    }  # fmt: skip


def _finite(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def detector_events(probs: np.ndarray, cfg: PreFilterConfig) -> tuple[np.ndarray, np.ndarray]:
    return pick_peaks(probs, nms_frames=cfg.nms_frames, min_score=cfg.peak_floor)


def _metrics(
    data: dict[str, MatchFeatures], probs: dict[str, np.ndarray], model: PreFilter, cfg: PreFilterConfig
) -> tuple[float, dict]:
    by_split = {s: [m for m in data.values() if m.match.split == s] for s in ("train", "val", "test")}
    cv = by_split["train"] + by_split["val"]
    out = {s: _split_metrics(ms, probs, model, cfg.label_tolerance) for s, ms in by_split.items()}
    out["cv"] = _split_metrics(cv, probs, model, cfg.label_tolerance)
    fps = float(np.median([m.fps for m in data.values()]))
    tol = cfg.tolerance_s * fps
    peaks = {mid: detector_events(p, cfg) for mid, p in probs.items()}
    gt = {mid: m.headers for mid, m in data.items()}

    def subset(ms):
        ids = [m.match.match_id for m in ms]
        return {i: gt[i] for i in ids}, {i: peaks[i] for i in ids}

    thr, _ = best_f1_threshold(*subset(cv), tolerance=tol)
    detector = {
        "threshold": thr,
        "nms_frames": cfg.nms_frames,
        "tolerance_s": cfg.tolerance_s,
        "chosen_on": "cv (out-of-fold train + val)",
    }
    for name, ms in (("cv", cv), *by_split.items()):
        if ms:
            g, p = subset(ms)
            detector[name] = {**spotting_prf(g, p, tolerance=tol, threshold=thr), "ap": _finite(spotting_ap(g, p, tolerance=tol))}
    out["detector"] = detector
    out.update(
        threshold=model.threshold, target_recall=cfg.target_recall, label_tolerance=cfg.label_tolerance, pad_frames=cfg.pad_frames
    )
    return thr, out


# ------------------------------------------------------------------------------------------ stage outputs
def write_pre_outputs(fit: PreFilterFit, matches: Sequence[MatchFeatures], *, model_dir: str | os.PathLike,
                      out_dir: str | os.PathLike) -> None:  # fmt: skip
    """``model_dir``: model.ubj, meta.json, plots/feature_importance.{csv,png}; ``out_dir``: frames.csv,
    candidates.csv, proposals.csv. Each directory is built aside and swapped in whole."""
    from ..io import replace_dir
    from ..viz.bars import save_bar_chart

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    tmp = model_dir.with_name(f".{model_dir.name}.partial")
    _fresh(tmp)
    fit.model.save(tmp)
    _write_rows(tmp / "plots" / "feature_importance.csv", ("feature", "gain"), ((n, f"{g:.6g}") for n, g in fit.importance))
    top = fit.importance[:36]
    save_bar_chart(tmp / "plots" / "feature_importance.png", [n for n, _ in top], [g for _, g in top],
                   title="pre-filter feature importance (total gain, final model)", xlabel="total gain")  # fmt: skip
    replace_dir(tmp, model_dir)

    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    _fresh(tmp)

    def frame_rows():
        for m in matches:
            p = fit.probs[m.match.match_id]
            mid, split = m.match.match_id, m.match.split
            for f in range(m.n_frames):
                yield mid, f, f"{m.frame_times[f]:.6f}", split, int(m.labels[f]), f"{p[f]:.6f}"

    def candidate_rows():
        for m in matches:
            p = fit.probs[m.match.match_id]
            for f in np.flatnonzero(fit.model.candidate_mask(p)).tolist():
                yield m.match.match_id, f, f"{p[f]:.6f}"

    def proposal_rows():
        for m in matches:
            p = fit.probs[m.match.match_id]
            for a, b, k, v in proposals(fit.model.candidate_mask(p), p):
                yield m.match.match_id, a, b, k, f"{v:.6f}"

    _write_rows(tmp / "frames.csv", ("video_id", "frame", "time", "split", "label", "pre_xgb_prob"), frame_rows())
    _write_rows(tmp / "candidates.csv", ("video_id", "frame", "pre_xgb_prob"), candidate_rows())
    _write_rows(tmp / "proposals.csv", ("video_id", "start_frame", "end_frame", "peak_frame", "peak_prob"), proposal_rows())
    replace_dir(tmp, out_dir)


def _fresh(d: Path) -> None:
    import shutil

    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)


def _write_rows(path: Path, header, rows) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
