"""``prompt_tune``: the one run ``prompt`` describes (``prompt.method`` at ``prompt.k_train`` shots, ``prompt.seed``).

Writes ``<models>/<method>/``: ``best.pt`` and ``last.pt`` (the learned prompt parameters only, with the
config; :mod:`.checkpoint`), ``config.yaml`` (the resolved run, the CLIP's load report, classes, the drawn
training and validation clips), ``metrics_epoch.csv`` (per-epoch training / validation metrics),
``validation.json`` (the selected epoch and its scores on the selection clips and the full validation split) and
``predictions/test.csv``; the dvclive history; returns ``metrics/train_prompt.json``'s content.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
from ruamel.yaml import YAML

from ..io import replace_dir, write_csv, write_json
from ..training.records import write_live, write_rows
from .checkpoint import save_checkpoint
from .run import run_once, run_settings
from .setup import DATA_TASK, frozen_clip, prompt_data, set_threads

__all__ = ["tune"]


def _yaml(path: Path, obj: dict) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    with open(path, "w") as fh:
        yaml.dump(obj, fh)


def tune(params: Any, *, progress: bool = True) -> dict:
    p = params.prompt
    seed = params.seed if p.seed is None else p.seed
    set_threads(p.threads)
    clip, report, tok = frozen_clip(p, seed=seed)
    data = prompt_data(params)
    s = run_settings(p, k=p.k_train, seed=seed)
    res = run_once(s, clip=clip, tokenize=tok, data=data, banks={}, progress=progress)
    final = Path(params.train.out_dir) / "prompt" / s.method.method
    work = final.with_name(f".{final.name}.partial")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    config = {"run": s.as_dict(), "seed": seed, "clip": {"model": p.clip.model, "checkpoint": p.clip.checkpoint,
              "load_report": report}, "data": DATA_TASK, "classes": data.classes, "unseen_classes": data.unseen,
              "train_clips": res.train_ids, "val_clips": res.val_ids, "short_of_k": res.short}  # fmt: skip
    history = res.loop.history if res.loop else []
    best_epoch = res.loop.best_epoch if res.loop else 0
    for name, state in (
        ("best.pt", res.loop.best_state if res.loop else {}),
        ("last.pt", res.loop.last_state if res.loop else {}),
    ):
        save_checkpoint(work / name, method=s.method.method, state_dict=state, config={**config, "epoch": best_epoch})
    _yaml(work / "config.yaml", config)
    if history:
        write_rows(work / "metrics_epoch.csv", history)
    selected = next((r for r in history if r["epoch"] == best_epoch), {})
    write_json(work / "validation.json", {"selected_epoch": best_epoch, "selection_clips": len(res.val_ids),
                                           "selection": {k: selected.get(k) for k in ("val_top1", "val_loss")},
                                           "full_val": res.val})  # fmt: skip
    probs = np.exp(res.test_logits - res.test_logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    write_csv(work / "predictions" / "test.csv", ["sample_id", "label", "prediction", *[f"p_{c}" for c in data.classes]],
              [[cid, int(y), int(pr.argmax()), *[f"{v:.6f}" for v in pr]] for cid, y, pr in
               zip(data.test.ids, data.test.labels, probs)])  # fmt: skip
    replace_dir(work, final)
    write_live(Path(params.train.live_dir) / "prompt", history)
    return {"method": s.method.method, "pooling": s.method.pooling, "k_train": s.k_train, "seed": seed,
            "best_epoch": best_epoch, "epochs": len(history), "train_clips": len(res.train_ids),
            "val": res.val, "test": res.test, "clip_load": report}  # fmt: skip
