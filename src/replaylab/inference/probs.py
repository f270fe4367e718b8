"""Per-frame header probabilities of a match: the CNN at the pre-filter's candidate frames, merged with the
pre-filter's probability by an ensemble rule.

Every frame of the match gets a row (the post-filter reads complete windows); ``cnn_prob`` is NaN where the
CNN was not run (the pre-filter rejected the frame). For the ensemble such a frame counts as CNN
probability 0: the pre-filter's verdict stands.

Ensemble rules (``export_probs.ensemble.rule``):

* ``mean``: (cnn + pre) / 2;
* ``weighted``: w * cnn + (1 - w) * pre, with w = ``ensemble.weight``;
* ``geometric``: sqrt(cnn * pre) (both must agree);
* ``max``: max(cnn, pre);
* ``cnn`` / ``pre_xgb``: one of them alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .header_model import HeaderModel
from .windows import MatchClips

ENSEMBLE_RULES: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    "mean": lambda c, p, w: (c + p) / 2.0,
    "weighted": lambda c, p, w: w * c + (1.0 - w) * p,
    "geometric": lambda c, p, w: np.sqrt(c * p),
    "max": lambda c, p, w: np.maximum(c, p),
    "cnn": lambda c, p, w: c,
    "pre_xgb": lambda c, p, w: p,
}


def ensemble(cnn: np.ndarray, pre: np.ndarray, *, rule: str = "mean", weight: float = 0.5) -> np.ndarray:
    """Ensemble probability per frame; NaN CNN values (frames not evaluated) count as 0."""
    if rule not in ENSEMBLE_RULES:
        raise ValueError(f"ensemble rule {rule!r}: expected one of {', '.join(ENSEMBLE_RULES)}")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"ensemble weight must be in [0, 1], got {weight}")
    c = np.nan_to_num(np.asarray(cnn, float), nan=0.0)
    return np.clip(ENSEMBLE_RULES[rule](c, np.asarray(pre, float), weight), 0.0, 1.0)


@dataclass
class MatchProbs:
    video_id: str
    frames: np.ndarray  # every frame, 0..n-1
    cnn: np.ndarray  # NaN where not evaluated
    pre: np.ndarray
    ens: np.ndarray
    windows: int  # CNN clips evaluated
    seconds: float  # wall time of the CNN pass (decoding + model)

    def rows(self) -> list[list]:
        return [[self.video_id, int(f), "" if np.isnan(c) else round(float(c), 6), round(float(p), 6), round(float(e), 6)]
                for f, c, p, e in zip(self.frames, self.cnn, self.pre, self.ens)]  # fmt: skip


COLUMNS = ["video_id", "frame", "cnn_prob", "pre_xgb_prob", "ensemble_prob"]


def cnn_probabilities(model: HeaderModel, clips: MatchClips, candidates: np.ndarray, *, batch_size: int = 32,
                      progress: bool = True, desc: str = "") -> np.ndarray:  # fmt: skip
    """CNN header probability at each of ``candidates`` (in the order given)."""
    cands = np.asarray(candidates, int)
    out = np.full(len(cands), np.nan)
    where = {int(f): i for i, f in enumerate(cands)}
    bar = tqdm(total=len(where), unit="clip", desc=desc or f"cnn {clips.video.parent.name}", disable=not progress, leave=False)
    for frames, batch in clips.batches(cands, batch_size=batch_size):
        probs = model.score(batch)
        for f, p in zip(frames.tolist(), probs.tolist()):
            out[where[f]] = p
        bar.update(len(frames))
    bar.close()
    return out


def match_probs(model: HeaderModel, clips: MatchClips, *, video_id: str, pre_prob: np.ndarray, candidates: np.ndarray,
                rule: str = "mean", weight: float = 0.5, batch_size: int = 32, progress: bool = True) -> MatchProbs:  # fmt: skip
    """All per-frame probabilities of one match. ``pre_prob`` has one value per frame (index = frame)."""
    pre = np.asarray(pre_prob, float)
    n = len(pre)
    cands = np.unique(np.asarray(candidates, int))
    if cands.size and (cands[0] < 0 or cands[-1] >= n):
        raise ValueError(f"{video_id}: candidate frames must lie in 0..{n - 1}, got {cands[0]}..{cands[-1]}")
    t0 = time.perf_counter()
    cnn = np.full(n, np.nan)
    if cands.size:
        cnn[cands] = cnn_probabilities(model, clips, cands, batch_size=batch_size, progress=progress, desc=f"cnn {video_id}")
    seconds = time.perf_counter() - t0
    return MatchProbs(video_id, np.arange(n), cnn, pre, ensemble(cnn, pre, rule=rule, weight=weight), int(cands.size), seconds)


# ---------------------------------------------------------------- the export_probs stage
def read_prefilter_frames(path) -> dict[str, dict[str, np.ndarray | str]]:
    """``data/pre_xgb/frames.csv`` -> per match: ``frame``, ``pre_xgb_prob`` (arrays, by frame) and ``split``."""
    import csv
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (run the pre_xgb stage)")
    per: dict[str, dict[str, list]] = {}
    with open(path, newline="") as fh:
        r = csv.DictReader(fh)
        missing = [c for c in ("video_id", "frame", "split", "pre_xgb_prob") if c not in (r.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}")
        for n, row in enumerate(r, start=2):
            d = per.setdefault(row["video_id"], {"frame": [], "prob": [], "split": row["split"]})
            try:
                d["frame"].append(int(row["frame"]))
                d["prob"].append(float(row["pre_xgb_prob"]))
            except ValueError:
                raise ValueError(f"{path}, row {n}: frame / pre_xgb_prob are not numbers") from None
    out = {}
    for vid, d in per.items():
        frames = np.asarray(d["frame"])
        if not np.array_equal(np.sort(frames), np.arange(len(frames))):
            raise ValueError(f"{path}: match {vid} must have one row per frame 0..N-1")
        prob = np.empty(len(frames))
        prob[frames] = d["prob"]
        out[vid] = {"pre_xgb_prob": prob, "split": d["split"]}
    return out


def read_candidates(path) -> dict[str, np.ndarray]:
    """``data/pre_xgb/candidates.csv`` -> per match the candidate frames (sorted)."""
    import csv
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (run the pre_xgb stage)")
    per: dict[str, list[int]] = {}
    with open(path, newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                per.setdefault(row["video_id"], []).append(int(row["frame"]))
            except (KeyError, ValueError):
                raise ValueError(f"{path}, row {n}: needs integer 'frame' and 'video_id'") from None
    return {k: np.unique(v) for k, v in per.items()}


def match_clips(model: HeaderModel, folder) -> MatchClips:
    """Clips of the match in ``folder`` (match layout: video.mp4, tracking.csv, camera.csv) cut as ``model`` needs."""
    from pathlib import Path

    folder = Path(folder)
    return MatchClips(folder / "video.mp4", spec=model.spec, crop_on=model.crop_on, track_smooth_s=model.track_smooth_s,
                      tracking=folder / "tracking.csv", camera=folder / "camera.csv")  # fmt: skip


def export_header_probs(model: HeaderModel, *, root, prefilter: dict, candidates: dict[str, np.ndarray], out_csv,
                        rule: str = "mean", weight: float = 0.5, batch_size: int = 32, dense_splits=("val", "test"),
                        dense_stride: int = 1, progress: bool = True) -> dict:  # fmt: skip
    """Write ``out_csv`` (one row per frame of every match in ``prefilter``: :data:`COLUMNS` + ``cnn_dense_prob``).

    ``cnn_dense_prob`` is the CNN at every ``dense_stride``-th frame of the matches in ``dense_splits`` (the
    CNN-only detector of the ablation; empty elsewhere); on those matches the candidate frames reuse it."""
    from pathlib import Path

    from ..io import write_csv

    root = Path(root)
    all_rows: list[list] = []
    summary: dict = {"matches": {}, "frames": 0, "cnn_windows": 0, "dense_windows": 0}
    for vid in tqdm(sorted(prefilter), unit="match", desc="export_probs", disable=not progress):
        pre = prefilter[vid]["pre_xgb_prob"]
        n = len(pre)
        cands = candidates.get(vid, np.zeros(0, int))
        clips = match_clips(model, root / vid)
        dense = np.full(n, np.nan)
        if prefilter[vid]["split"] in dense_splits:
            frames = np.unique(np.concatenate([np.arange(0, n, dense_stride), cands])).astype(int)
            dense[frames] = cnn_probabilities(model, clips, frames, batch_size=batch_size, progress=progress, desc=f"dense {vid}")
            summary["dense_windows"] += int(frames.size)
            cnn = np.full(n, np.nan)
            cnn[cands] = dense[cands]
            mp = MatchProbs(vid, np.arange(n), cnn, pre, ensemble(cnn, pre, rule=rule, weight=weight), int(cands.size), 0.0)
        else:
            mp = match_probs(model, clips, video_id=vid, pre_prob=pre, candidates=cands, rule=rule, weight=weight,
                             batch_size=batch_size, progress=progress)  # fmt: skip
        all_rows.extend(r + ["" if np.isnan(d) else round(float(d), 6)] for r, d in zip(mp.rows(), dense))
        summary["matches"][vid] = {"split": prefilter[vid]["split"], "frames": n, "cnn_windows": mp.windows,
                                   "kept_fraction": round(mp.windows / max(n, 1), 4)}  # fmt: skip
        summary["frames"] += n
        summary["cnn_windows"] += mp.windows
    summary["kept_fraction"] = round(summary["cnn_windows"] / max(summary["frames"], 1), 4)
    write_csv(out_csv, [*COLUMNS, "cnn_dense_prob"], all_rows)
    return summary
