"""Header detection with and without the pre-filter on the same match, side by side in one run.

* **with the pre-filter**: ``replaylab detect`` as shipped (pre-filter on the tracking -> CNN at the candidate
  frames -> post-filter);
* **without**: the same CNN scanning every frame of the match, events by peak picking on its probability with
  the threshold evaluate@header chose on the val matches (``metrics/eval_header.json``, variant ``cnn``).

For each: CNN windows evaluated, wall time and x real time, the share of true headers that had a CNN window
within the tolerance (what the pre-filter may lose), and the detections' precision / recall / F1 at +-0.5 s.
Targets: the pre-filter cuts CNN windows >= 10x while losing <= 2% of recall; the full pipeline runs >= 10x
faster than real time on 2 cores.

Usage: python benchmarks/detect_throughput.py [--match match_005] [--threads 0] [--out benchmarks/results]
Needs a default `dvc repro` first (models/, data/splits/header/, metrics/eval_header.json).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from replaylab import params as P  # noqa: E402
from replaylab.evaluation.spotting import spotting_prf  # noqa: E402
from replaylab.filters.matches import read_event_frames  # noqa: E402
from replaylab.filters.peaks import pick_peaks  # noqa: E402
from replaylab.inference.detect import detect_headers  # noqa: E402
from replaylab.inference.header_model import load_header_model  # noqa: E402
from replaylab.inference.probs import cnn_probabilities, match_clips  # noqa: E402


def covered(headers: np.ndarray, windows: np.ndarray, tol: int) -> float:
    """Share of ``headers`` with a CNN window centred within ``tol`` frames."""
    h = np.asarray(headers, int)
    w = np.sort(np.asarray(windows, int))
    if not len(h):
        return float("nan")
    if not len(w):
        return 0.0
    i = np.searchsorted(w, h)
    nearest = np.minimum(np.abs(w[np.clip(i - 1, 0, len(w) - 1)] - h), np.abs(w[np.clip(i, 0, len(w) - 1)] - h))
    return float(np.mean(nearest <= tol))


def first_test_match(splits: Path) -> str:
    with open(splits / "test.csv", newline="") as fh:
        return sorted({r["group"] for r in csv.DictReader(fh)})[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--match", default=None, help="match folder name (default: the first test match)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    params = P.load()
    root = Path(params.cache_clips.header.source.root)
    match = args.match or first_test_match(Path(params.split.out_dir) / "header")
    folder = root / match
    headers = read_event_frames(folder / "events.csv", ("header",))
    tol_s = params.evaluate.header.tolerance_s

    t0 = time.perf_counter()
    res = detect_headers(
        folder / "video.mp4", folder / "tracking.csv", models=params.train.out_dir, batch_size=args.batch, progress=False
    )
    with_s = time.perf_counter() - t0
    tol = int(round(tol_s * res.fps))
    det = spotting_prf({match: headers}, {match: (res.frames[res.detected], res.scores[res.detected])}, tolerance=tol)
    rows = [{"variant": "with pre-filter (replaylab detect)", "cnn_windows": res.cnn_windows, "seconds": with_s,
             "x_real_time": res.duration_s / with_s, "windows_cover_headers": covered(headers, res.candidates, tol), **det}]  # fmt: skip

    model = load_header_model(Path(params.train.out_dir) / "header")
    clips = match_clips(model, folder)
    t0 = time.perf_counter()
    frames = np.arange(res.n_frames)
    cnn = cnn_probabilities(model, clips, frames, batch_size=args.batch, progress=True)
    pk_f, pk_s = pick_peaks(cnn, nms_frames=params.evaluate.header.nms_frames, min_score=params.evaluate.header.min_score)
    without_s = time.perf_counter() - t0
    thr = json.loads(Path("metrics/eval_header.json").read_text())["test"]["cnn"]["threshold"]
    det = spotting_prf({match: headers}, {match: (pk_f, pk_s)}, tolerance=tol, threshold=thr)
    rows.append({"variant": "without (CNN on every frame)", "cnn_windows": len(frames), "seconds": without_s,
                 "x_real_time": res.duration_s / without_s, "windows_cover_headers": covered(headers, frames, tol), **det})  # fmt: skip

    summary = {"match": match, "duration_s": res.duration_s, "frames": res.n_frames, "headers": int(len(headers)), "tolerance_s": tol_s,
               "window_reduction": len(frames) / max(res.cnn_windows, 1), "stage_seconds": res.seconds,
               "machine": {"cpus": os.cpu_count(), "threads": torch.get_num_threads(), "platform": platform.platform(),
                           "load_average": os.getloadavg()}, "rows": rows}  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "detect_throughput.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [f"Match `{match}` ({res.duration_s:.0f} s, {res.n_frames} frames, {len(headers)} headers), tolerance +-{tol_s} s, "
             f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f} at the end.", "",
             "| | CNN windows | seconds | x real time | headers with a CNN window | precision | recall | F1 |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['variant']} | {r['cnn_windows']} | {r['seconds']:.1f} | {r['x_real_time']:.1f} | {r['windows_cover_headers']:.1%} | "
                     f"{r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} |")  # fmt: skip
    lines.append("")
    lines.append(f"The pre-filter cuts the CNN windows {summary['window_reduction']:.1f}x. Stage times with the pre-filter: "
                 + ", ".join(f"{k} {v:.2f} s" for k, v in res.seconds.items()) + ".")  # fmt: skip
    (out / "detect_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
