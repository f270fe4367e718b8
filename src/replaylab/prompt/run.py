"""One prompt-tuning run, end to end: sample the shots, build the method, train, select, score.

:func:`run_settings` resolves a run from the ``prompt`` params, an optional row of the few-shot table
(:class:`~replaylab.params.prompt.PromptRunOverrides`), ``k`` and a seed. :func:`run_once` then draws ``k_train``
training clips and ``k_val`` validation clips per class with the seed (:func:`.fewshot.sample_per_class`), builds
the method over the frozen CLIP, optionally restores learned parameters (``continue_from``), trains
(:func:`.loop.train_prompt`; ``zero_shot`` has nothing to train), keeps the best validation epoch and scores the
full validation and test splits (:func:`.scoring.score`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from .bank import ClipSplit, TokenBank
from .checkpoint import load_into
from .fewshot import sample_per_class
from .loop import LoopConfig, LoopResult, predict, train_prompt
from .methods import MethodConfig, PromptModel, build_method
from .scoring import score
from .visual import SplitImageEncoder, resolve_split

__all__ = ["PromptData", "RunResult", "RunSettings", "encoder_split", "run_once", "run_settings"]


@dataclass(frozen=True)
class RunSettings:
    method: MethodConfig
    k_train: int | None
    k_val: int | None
    frames: int
    views: int
    visual_prompt_layer: int
    loop: LoopConfig
    continue_from: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PromptData:
    train: ClipSplit
    val: ClipSplit
    test: ClipSplit
    unseen: list[str]

    @property
    def classes(self) -> list[str]:
        return self.train.classes


@dataclass
class RunResult:
    settings: RunSettings
    model: PromptModel
    loop: LoopResult | None  # None: zero_shot
    train_ids: list[str]
    val_ids: list[str]
    short: dict[str, dict[str, int]]  # split -> {class: clips it had} for classes short of k
    val: dict
    test: dict
    test_logits: np.ndarray


def run_settings(p: Any, overrides: Any = None, *, k: int | None = ..., seed: int) -> RunSettings:
    """The run ``p`` (the ``prompt`` params) describes, with ``overrides``' non-null keys, ``k`` shots per class
    (default: ``p.k_train``) and ``seed``."""
    o = {k_: v for k_, v in (overrides.model_dump() if overrides is not None else {}).items() if v is not None}
    method = MethodConfig(method=o.get("method", p.method), pooling=o.get("pooling", p.pooling),
                          ctx_len=o.get("ctx_len", p.ctx_len), class_specific=o.get("class_specific", p.class_specific),
                          ctx_init=p.ctx_init if o.get("ctx_len", p.ctx_len) == p.ctx_len else None,
                          visual_prompts=o.get("visual_prompts", p.visual_prompts), template=p.template,
                          stt_layers=p.stt.layers, stt_heads=p.stt.heads, stt_grid=p.stt.grid)  # fmt: skip
    loop = LoopConfig(epochs=p.epochs, batch_size=p.batch_size, batches_per_backprop=p.batches_per_backprop, lr=p.lr,
                      weight_decay=p.weight_decay, frames=p.frames, views=p.num_temporal_views,
                      videomix=o.get("videomix", p.videomix), videomix_prob=p.videomix_prob, seed=int(seed))  # fmt: skip
    return RunSettings(method=method, k_train=p.k_train if k is ... else k, k_val=p.k_val, frames=p.frames,
                       views=p.num_temporal_views, visual_prompt_layer=p.visual_prompt_layer, loop=loop,
                       continue_from=p.continue_from)  # fmt: skip


def encoder_split(s: RunSettings, layers: int) -> int:
    """Where the frozen image tower is split for this run: at the visual prompts (dual_coop), at the input for
    spatial VideoMix (so mixing patches is mixing pixels), else after the last block (the whole tower cached)."""
    if s.method.method == "dual_coop":
        return resolve_split(s.visual_prompt_layer, layers)
    return 0 if s.loop.videomix == "spatial" else layers


def _precompute(model: PromptModel, tokens: torch.Tensor, batch: int = 32) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model.precompute(tokens[i : i + batch]) for i in range(0, len(tokens), batch)])


def run_once(s: RunSettings, *, clip: torch.nn.Module, tokenize: Callable, data: PromptData,
             banks: dict[int, TokenBank], progress: bool = True, on_epoch: Callable[[dict], None] | None = None
             ) -> RunResult:  # fmt: skip
    """Train and score one run; ``banks`` maps an encoder split to its token bank (made here when missing)."""
    layers = len(clip.visual.transformer.resblocks)
    split = encoder_split(s, layers)
    if split not in banks:
        banks[split] = TokenBank(SplitImageEncoder(clip.visual, split=split), progress=progress)
    bank = banks[split]
    classes = data.classes
    total = data.train.clips.shape[1]
    if s.frames > total:
        raise ValueError(f"prompt.frames {s.frames} is more than the {total} frames the clip cache holds")
    model = build_method(cfg=s.method, clip=clip, tokenize=tokenize, classes=classes, encoder=bank.encoder,
                         frames=s.frames, seed=s.loop.seed)  # fmt: skip
    tr_idx, tr_short = sample_per_class(data.train.labels, k=s.k_train, seed=s.loop.seed, n_classes=len(classes))
    va_idx, va_short = sample_per_class(data.val.labels, k=s.k_val, seed=s.loop.seed + 1, n_classes=len(classes))
    val_x = _precompute(model, bank.tokens(data.val, va_idx))
    val_y = torch.as_tensor(data.val.labels[va_idx])
    loop = None
    if s.method.method != "zero_shot":
        if s.continue_from:
            load_into(model, s.continue_from, method=s.method.method)
        raw = s.loop.videomix == "spatial"
        tr_tokens = bank.tokens(data.train, tr_idx)
        train_x = tr_tokens if raw else _precompute(model, tr_tokens)
        loop = train_prompt(model, train_x=train_x, train_y=torch.as_tensor(data.train.labels[tr_idx]), val_x=val_x,
                            val_y=val_y, cfg=s.loop, raw_tokens=raw, progress=progress, on_epoch=on_epoch)  # fmt: skip
        model.load_state_dict(loop.best_state)
    full_val = _precompute(model, bank.tokens(data.val, np.arange(len(data.val.ids))))
    test_x = _precompute(model, bank.tokens(data.test, np.arange(len(data.test.ids))))
    val_logits = predict(model, full_val, frames=s.frames, views=s.views).numpy()
    test_logits = predict(model, test_x, frames=s.frames, views=s.views).numpy()
    names = {"train": tr_short, "val": va_short}
    return RunResult(
        settings=s,
        model=model,
        loop=loop,
        train_ids=[data.train.ids[i] for i in tr_idx],
        val_ids=[data.val.ids[i] for i in va_idx],
        short={k: {classes[c]: n for c, n in v.items()} for k, v in names.items() if v},
        val=score(data.val.labels, val_logits, classes=classes, unseen=data.unseen),
        test=score(data.test.labels, test_logits, classes=classes, unseen=data.unseen),
        test_logits=test_logits,
    )


def with_seed(s: RunSettings, seed: int) -> RunSettings:
    return replace(s, loop=replace(s.loop, seed=int(seed)))
