"""``pretrain@clip``: the offline default CLIP, a tiny open_clip ViT + text transformer trained contrastively on
the captioned clips of the data's training split, with every clip of ``prompt.unseen_classes`` left out
(:mod:`.corpus`), saved in the OpenAI state-dict layout so it loads exactly as a real OpenAI file does.

Writes ``<train.out_dir>/clip/clip.pt`` (the weights), ``pretrain.json`` beside it (architecture, settings, the corpus
report, per-epoch history, the file's md5) and the dvclive history; returns the metrics summary.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..clip.checkpoint import save_openai_state_dict
from ..clip.model import build_tiny_clip, tokenizer
from ..clip.pretrain import pretrain_contrastive
from ..io import write_json
from ..training.records import write_live
from .corpus import build_corpus, read_captions
from .setup import DATA_TASK, prompt_data, set_threads, tiny_config

__all__ = ["pretrain_clip"]


def pretrain_clip(params: Any, *, progress: bool = True) -> dict:
    p = params.prompt
    pp = p.pretrain
    seed = params.seed if pp.seed is None else pp.seed
    set_threads(p.threads)
    train = prompt_data(params, splits=("train",))["train"]
    root = Path(getattr(params.cache_clips, DATA_TASK).source.root)
    corpus = build_corpus(train, read_captions(root / pp.captions, mentions=pp.mentions), unseen=list(p.unseen_classes))
    cfg = tiny_config(p)
    model = build_tiny_clip(cfg=cfg, seed=seed)
    tok = tokenizer(context_length=cfg.context_length)
    history = pretrain_contrastive(model=model, clips=corpus.clips, captions=corpus.captions, tokenize=tok,
                                   frames=min(pp.frames, corpus.clips.shape[1]), epochs=pp.epochs,
                                   batch_size=pp.batch_size, lr=pp.lr, weight_decay=pp.weight_decay,
                                   warmup_epochs=pp.warmup_epochs, seed=seed, flip=pp.flip,
                                   progress=progress)  # fmt: skip
    out = Path(params.train.out_dir) / "clip"
    weights = out / "clip.pt"
    save_openai_state_dict(model=model, path=weights)
    md5 = hashlib.md5(weights.read_bytes()).hexdigest()
    rows = [{"epoch": i + 1, **{k: v for k, v in r.items() if k != "epoch"}} for i, r in enumerate(history)]
    record = {"architecture": asdict(cfg), "settings": pp.model_dump(),
              "seed": seed, "corpus": corpus.report, "history": rows, "weights": str(weights), "md5": md5}  # fmt: skip
    write_json(out / "pretrain.json", record)
    write_live(Path(params.train.live_dir) / "clip", rows)
    last = rows[-1]
    return {"clips": corpus.report["clips"], "captions": corpus.report["captions"], "epochs": len(rows),
            "final_loss": last["loss"], "final_retrieval_top1": last["top1"],
            "seen_classes": corpus.report["seen_classes"], "unseen_classes": corpus.report["unseen_classes"],
            "left_out_unseen_class_clips": corpus.report["left_out_unseen_class_clips"],
            "dropped_captions_naming_unseen": corpus.report["dropped_captions_naming_unseen"]}  # fmt: skip
