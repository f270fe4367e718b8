"""``prompt_fewshot``: the few-shot table. Every row of ``prompt.sweep.runs`` at every K of ``prompt.sweep.k`` with
every seed of ``prompt.sweep.seeds`` (the seed draws the shots and starts the learned parameters), scored on the
full test split; zero-shot has nothing to train or draw, so it runs once and fills its every cell.

Writes ``<reports>/fewshot_runs.csv`` (one line per run and seed), ``<reports>/fewshot_summary.csv`` (mean,
standard deviation (n - 1), min and max over the seeds per row and K) and ``<reports>/accuracy_vs_k.png`` (test
top-1 on all clips and on the clips of unseen classes against K, bars from min to max), and returns
``metrics/eval_prompt.json``: the same summary plus, per row and K, whether it beats zero-shot on the unseen
classes by more than its own seed spread (max - min).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..io import write_csv
from ..viz.lines import save_line_chart
from .run import run_once, run_settings
from .setup import frozen_clip, prompt_data, set_threads

__all__ = ["SCORES", "fewshot", "summarise"]

SCORES = ("top1", "top1_unseen", "top1_seen", "mean_class_accuracy")


def summarise(values: list[float]) -> dict[str, float | None]:
    v = np.array([x for x in values if x is not None], float)
    if not len(v):
        return {"mean": None, "std": None, "min": None, "max": None}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "min": float(v.min()),
            "max": float(v.max())}  # fmt: skip


def fewshot(params: Any, *, progress: bool = True) -> dict:
    p = params.prompt
    set_threads(p.threads)
    clip, report, tok = frozen_clip(p, seed=params.seed)
    data = prompt_data(params)
    sw = p.sweep
    banks: dict = {}
    rows, zero = [], {}
    jobs = [(name, ov, k, seed) for name, ov in sw.runs.items() for k in sw.k for seed in sw.seeds]
    bar = tqdm(jobs, desc="few-shot runs", unit="run", disable=not progress)
    for name, ov, k, seed in bar:
        s = replace(run_settings(p, ov, k=k, seed=seed), continue_from=None)  # every row starts from scratch
        bar.set_postfix(run=name, k=k, seed=seed)
        if s.method.method == "zero_shot":
            key = (name,)
            if key not in zero:
                zero[key] = run_once(s, clip=clip, tokenize=tok, data=data, banks=banks, progress=False)
            res = zero[key]
        else:
            res = run_once(s, clip=clip, tokenize=tok, data=data, banks=banks, progress=False)
        rows.append({"run": name, "method": s.method.method, "pooling": s.method.pooling, "k": k, "seed": seed,
                     "train_clips": len(res.train_ids), "best_epoch": res.loop.best_epoch if res.loop else 0,
                     **{f"test_{m}": res.test[m] for m in SCORES}, "val_top1": res.val["top1"]})  # fmt: skip
    summary: dict[str, dict] = {}
    for name in sw.runs:
        summary[name] = {}
        for k in sw.k:
            mine = [r for r in rows if r["run"] == name and r["k"] == k]
            summary[name][str(k)] = {m: summarise([r[f"test_{m}"] for r in mine]) for m in SCORES}
            summary[name][str(k)]["seeds"] = [r["seed"] for r in mine]
    zs = next((n for n, ov in sw.runs.items() if ov.method == "zero_shot"), None)
    verdict = {}
    if zs is not None:
        for name in sw.runs:
            if name == zs:
                continue
            verdict[name] = {}
            for k in sw.k:
                cell, base = summary[name][str(k)]["top1_unseen"], summary[zs][str(k)]["top1_unseen"]["mean"]
                if cell["mean"] is None or base is None:
                    continue
                gain, spread = cell["mean"] - base, cell["max"] - cell["min"]
                verdict[name][str(k)] = {"gain_unseen": gain, "spread_unseen": spread, "beats_zero_shot": gain > spread}
    out = Path(params.evaluate.out_dir) / "prompt"
    cols = list(rows[0])
    write_csv(out / "fewshot_runs.csv", cols, [[_fmt(r[c]) for c in cols] for r in rows])
    scols = ["run", "k"] + [f"{m}_{a}" for m in SCORES for a in ("mean", "std", "min", "max")]
    write_csv(out / "fewshot_summary.csv", scols, [[name, k] + [_fmt(summary[name][str(k)][m][a]) for m in SCORES
               for a in ("mean", "std", "min", "max")] for name in sw.runs for k in sw.k])  # fmt: skip
    _plot(out / "accuracy_vs_k.png", summary, sw, "top1", "test top-1, all classes")
    _plot(out / "accuracy_vs_k_unseen.png", summary, sw, "top1_unseen", "test top-1, clips of unseen classes")
    return {"classes": data.classes, "unseen_classes": data.unseen, "test_clips": len(data.test.ids),
            "test_clips_unseen": int(np.isin(data.test.labels, [data.classes.index(c) for c in data.unseen]).sum()),
            "k": list(sw.k), "seeds": list(sw.seeds), "runs": summary, "vs_zero_shot": verdict, "clip_load": report}  # fmt: skip


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6f}" if math.isfinite(v) else ""
    return v


def _plot(path: Path, summary: dict, sw: Any, metric: str, title: str) -> None:
    nan = float("nan")
    series = {}
    for name in sw.runs:
        cells = [summary[name][str(k)][metric] for k in sw.k]
        series[name] = tuple([nan if c[a] is None else c[a] for c in cells] for a in ("mean", "min", "max"))
    save_line_chart(path, [f"K={k}" for k in sw.k], series, title=title, ylabel="top-1")
