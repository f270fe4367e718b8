"""``evaluate@header``: event spotting of every stage of the header detector against the matches' events.csv.

The ablation compares five detectors on the same matches, each turned into events the same way (peaks of a
per-frame score, non-maximum suppression over ``nms_frames``) and each with its detection threshold chosen
on matches it was not trained on, never on test:

| variant | score | threshold chosen on |
|---|---|---|
| ``pre_filter`` | the pre-filter's probability (tracking only) | out-of-fold train + val |
| ``cnn`` | the CNN scanning every frame (``cnn_dense_prob``; no pre-filter) | val |
| ``pre_filter+cnn`` | the ensemble of CNN (at the pre-filter's candidates) and pre-filter probability | val |
| ``cnn+post_filter`` | the post-filter over the CNN's probabilities alone (``post_xgb.ablation_columns``) | out-of-fold train + val |
| ``full`` | pre-filter -> CNN -> post-filter: ``data/predictions/header_events.csv`` | out-of-fold train + val |

For every variant and split: precision, recall and F1 at +-``tolerance_s`` and the chosen threshold, AP at
that tolerance, and the SoccerNet average-mAP over ``map_deltas_s`` (:mod:`replaylab.evaluation.spotting`).
Plots (``reports/header/``): the test PR curve of every variant, and a timeline of the probabilities
against the true headers for one test match (CSV for ``dvc plots``, PNG).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ...data.samples import AdapterError
from ...evaluation.spotting import best_f1_threshold, pr_curve, spotting_report
from ...filters.peaks import pick_peaks
from ...filters.post import load_videos
from ...io import write_csv

COLUMNS = ("pre_xgb_prob", "cnn_prob", "ensemble_prob", "cnn_dense_prob")
#: variant -> (probability column, splits its threshold is chosen on) for the variants scored from the probabilities
PROB_VARIANTS = {"pre_filter": ("pre_xgb_prob", ("train", "val")), "cnn": ("cnn_dense_prob", ("val",)),
                 "pre_filter+cnn": ("ensemble_prob", ("val",))}  # fmt: skip
#: variant -> (events CSV, model dir holding the threshold) for the post-filter variants
EVENT_VARIANTS = {"cnn+post_filter": ("data/predictions/ablation/header_events.csv", "models/post_xgb_ablation"),
                  "full": ("data/predictions/header_events.csv", "models/post_xgb")}  # fmt: skip
VARIANTS = ("pre_filter", "cnn", "pre_filter+cnn", "cnn+post_filter", "full")


def read_events(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``video_id, frame, ..., score`` rows -> per video (frames, scores)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (run the post_xgb stage)")
    per: dict[str, tuple[list, list]] = {}
    with open(path, newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                f, s = int(row["frame"]), float(row["score"])
            except (KeyError, ValueError):
                raise AdapterError(f"{path}, row {n}: needs an integer frame and a numeric score") from None
            per.setdefault(row["video_id"], ([], []))[0].append(f)
            per[row["video_id"]][1].append(s)
    return {v: (np.asarray(f, np.int64), np.asarray(s, float)) for v, (f, s) in per.items()}


def _threshold(model_dir: str | Path) -> float:
    meta = Path(model_dir) / "meta.json"
    if not meta.is_file():
        raise FileNotFoundError(f"{meta}: not found (run the post_xgb stage)")
    return float(json.loads(meta.read_text())["threshold"])


def _clean(v):
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


def detections(videos, cfg) -> dict[str, dict]:
    """variant -> {"events": per video (frames, scores), "threshold": float, "chosen_on": [...]} for the variants
    that can be scored (``cnn`` needs the dense CNN pass, the ablation post-filter its events file)."""
    tol = cfg.tolerance_s * _fps(videos)
    out: dict[str, dict] = {}
    for name, (col, splits) in PROB_VARIANTS.items():
        ci = COLUMNS.index(col)
        scored = [v for v in videos if np.isfinite(v.probs[:, ci]).any()]
        chosen = [v for v in scored if v.split in splits]
        if not chosen:
            continue
        events = {v.video_id: pick_peaks(np.nan_to_num(v.probs[:, ci], nan=0.0), nms_frames=cfg.nms_frames, min_score=cfg.min_score)
                  for v in scored}  # fmt: skip
        thr, _ = best_f1_threshold(
            {v.video_id: v.headers for v in chosen}, {v.video_id: events[v.video_id] for v in chosen}, tolerance=tol
        )
        out[name] = {"events": events, "threshold": thr, "chosen_on": list(splits)}
    for name, (events_csv, model_dir) in EVENT_VARIANTS.items():
        if not Path(events_csv).is_file() and name != "full":
            continue
        events = read_events(events_csv)
        out[name] = {"events": {v.video_id: events.get(v.video_id, (np.zeros(0, np.int64), np.zeros(0))) for v in videos},
                     "threshold": _threshold(model_dir), "chosen_on": ["train", "val"]}  # fmt: skip
    return {k: out[k] for k in VARIANTS if k in out}


def _fps(videos) -> float:
    return float(np.median([1.0 / np.median(np.diff(v.frame_times)) for v in videos if len(v.frame_times) > 1]))


def evaluate_header_detection(videos, cfg, *, out_dir: str | Path) -> dict:
    """The ablation's metrics (returned) and plots (written to ``out_dir``)."""
    fps = _fps(videos)
    dets = detections(videos, cfg)
    summary: dict = {"tolerance_s": cfg.tolerance_s, "map_deltas_s": list(cfg.map_deltas_s), "fps": fps, "variants": list(dets)}
    for split in ("val", "test"):
        ids = [v for v in videos if v.split == split]
        if not ids:
            continue
        gt = {v.video_id: v.headers for v in ids}
        res = {"matches": len(ids), "headers": int(sum(len(v.headers) for v in ids))}
        for name, d in dets.items():
            preds = {v.video_id: d["events"][v.video_id] for v in ids if v.video_id in d["events"]}
            if len(preds) < len(ids):
                continue  # e.g. no dense CNN pass on this split
            rep = spotting_report(gt, preds, fps=fps, tolerance_s=cfg.tolerance_s, threshold=d["threshold"],
                                  map_deltas_s=list(cfg.map_deltas_s), map_framerate=cfg.map_framerate)  # fmt: skip
            res[name] = _clean({"threshold": d["threshold"], "threshold_chosen_on": d["chosen_on"], **rep})
        summary[split] = res
    test = summary.get("test", {})
    summary["test_f1"] = {k: test[k]["f1"] for k in VARIANTS if k in test}
    _write_plots(videos, dets, cfg, Path(out_dir), fps)
    return summary


def _write_plots(videos, dets, cfg, out: Path, fps: float) -> None:
    test = [v for v in videos if v.split == "test"] or list(videos)
    gt = {v.video_id: v.headers for v in test}
    for name, d in dets.items():
        preds = {v.video_id: d["events"][v.video_id] for v in test if v.video_id in d["events"]}
        precision, recall, thr = pr_curve(gt, preds, tolerance=cfg.tolerance_s * fps)
        write_csv(out / "pr" / f"{plot_name(name)}.csv", ["recall", "precision", "threshold"],
                  [[round(r, 6), round(p, 6), round(t, 6)] for r, p, t in zip(recall, precision, thr)])  # fmt: skip
    match = next((v for v in videos if v.video_id == cfg.timeline_match), None) if cfg.timeline_match else test[0]
    if match is None:
        raise AdapterError(f"evaluate.header.timeline_match: no match {cfg.timeline_match!r} in the splits")
    post = _post_probs(match.video_id)
    heads = np.zeros(match.n_frames, int)
    heads[match.headers[match.headers < match.n_frames]] = 1
    cols = {c: match.probs[:, COLUMNS.index(c)] for c in ("pre_xgb_prob", "cnn_prob", "cnn_dense_prob")}
    rows = []
    for f in range(match.n_frames):
        rows.append([f, round(float(match.frame_times[f]), 3), *("" if np.isnan(cols[c][f]) else round(float(cols[c][f]), 4) for c in cols),
                     "" if post is None else round(float(post[f]), 4), heads[f]])  # fmt: skip
    write_csv(out / "timeline.csv", ["frame", "time", *cols, "post_prob", "header"], rows)
    from ...viz.png import save_png

    save_png(out / "timeline.png", timeline_image(match.frame_times, {**cols, "post_prob": post}, match.headers,
                                                  title=f"{match.video_id}: probabilities and true headers (red)"))  # fmt: skip


def plot_name(variant: str) -> str:
    return variant.replace("+", "_")


def _post_probs(video_id: str) -> np.ndarray | None:
    path = Path("data/predictions/header_frames.csv")
    if not path.is_file():
        return None
    vals = [(int(r["frame"]), float(r["post_prob"])) for r in csv.DictReader(open(path, newline="")) if r["video_id"] == video_id]
    if not vals:
        return None
    out = np.zeros(max(f for f, _ in vals) + 1)
    for f, p in vals:
        out[f] = p
    return out


TRACE_COLOURS = {
    "pre_xgb_prob": (40, 110, 200),
    "cnn_prob": (230, 140, 20),
    "cnn_dense_prob": (170, 170, 170),
    "post_prob": (30, 150, 60),
}


def timeline_image(times: np.ndarray, traces: dict[str, np.ndarray | None], events: np.ndarray, *, title: str,
                   width: int = 1400, height: int = 300) -> np.ndarray:  # fmt: skip
    """RGB image: each probability trace (NaN gaps left open) over time, true events as red ticks, a legend."""
    import cv2

    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 50, 10, 40, 40
    w, h = width - left - right, height - top - bottom
    t0, t1 = float(times[0]), float(times[-1]) if len(times) > 1 else float(times[0]) + 1.0

    def x(t):
        return left + int(round((t - t0) / max(t1 - t0, 1e-9) * w))

    def y(p):
        return top + int(round((1.0 - p) * h))

    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, title, (left, 24), font, 0.55, (20, 20, 20), 1, cv2.LINE_AA)
    for p in (0.0, 0.5, 1.0):
        cv2.line(img, (left, y(p)), (left + w, y(p)), (225, 225, 225), 1)
        cv2.putText(img, f"{p:.1f}", (8, y(p) + 4), font, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    for f in np.asarray(events, int):
        if 0 <= f < len(times):
            cv2.line(img, (x(times[f]), top), (x(times[f]), top + h), (220, 30, 30), 1)
    lx = left
    for name, vals in traces.items():
        if vals is None:
            continue
        colour = TRACE_COLOURS.get(name, (0, 0, 0))
        v = np.asarray(vals, float)[: len(times)]
        ok = np.isfinite(v)
        for i in range(1, len(v)):
            if ok[i] and ok[i - 1]:
                cv2.line(img, (x(times[i - 1]), y(v[i - 1])), (x(times[i]), y(v[i])), colour, 1, cv2.LINE_AA)
            elif ok[i] and not ok[i - 1]:
                cv2.circle(img, (x(times[i]), y(v[i])), 1, colour, -1)
        cv2.line(img, (lx, height - 14), (lx + 20, height - 14), colour, 2)
        cv2.putText(img, name, (lx + 25, height - 10), font, 0.42, (30, 30, 30), 1, cv2.LINE_AA)
        lx += 40 + 9 * len(name)
    cv2.putText(img, f"time (s) {t0:.0f} .. {t1:.0f}", (width - 170, height - 10), font, 0.42, (30, 30, 30), 1, cv2.LINE_AA)
    return img


def evaluate_header(task: str, params) -> dict:
    """The evaluate@header stage: reads the stage outputs of export_probs and post_xgb from the working directory."""
    source = params.cache_clips.header.source
    if source.format != "matches":
        raise AdapterError(
            f"evaluate@header needs match folders with events.csv: cache_clips.header.source.format is {source.format!r}"
        )
    videos = load_videos(params.export_probs.out, root=source.root, splits_dir=f"{params.split.out_dir}/header", columns=COLUMNS,
                         on_bad_rows=params.pre_xgb.on_bad_rows)  # fmt: skip
    return evaluate_header_detection(videos, params.evaluate.header, out_dir=Path(params.evaluate.out_dir) / task)
