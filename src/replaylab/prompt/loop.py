"""The one training loop every prompt-tuning method shares.

Inputs are each method's precomputed clip inputs (:meth:`~.methods.PromptModel.precompute`) over all cached
frames, (N, T, ...). Every step takes ``frames`` of them, one of ``views`` temporal views drawn per clip
(:func:`replaylab.clip.frames.pick_frames`); evaluation averages the logits of all views. Optional VideoMix
(:mod:`.videomix`) on a share of the batches (``spatial`` needs the raw tokens, then the frozen precompute runs per
batch). The loss is cross-entropy on (mixed) soft targets; gradients accumulate over ``batches_per_backprop``
batches before each AdamW step (cosine learning-rate decay over the optimizer steps). After each epoch the
selection split is scored; the kept parameters are the epoch with the best validation top-1 (ties: the lower
validation loss, then the earlier epoch).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..clip.frames import pick_frames
from .methods import PromptModel
from .videomix import videomix

__all__ = ["LoopConfig", "LoopResult", "predict", "train_prompt", "view_indices"]


@dataclass(frozen=True)
class LoopConfig:
    epochs: int
    batch_size: int
    batches_per_backprop: int
    lr: float
    weight_decay: float
    frames: int
    views: int
    videomix: str = "none"
    videomix_prob: float = 0.5
    seed: int = 0


@dataclass
class LoopResult:
    history: list[dict]
    best_epoch: int
    best_state: dict[str, torch.Tensor]
    last_state: dict[str, torch.Tensor]


def view_indices(total: int, frames: int, views: int) -> torch.Tensor:
    """(views, frames) frame indices of each temporal view of a ``total``-frame clip."""
    return torch.tensor([pick_frames(total=total, frames=frames, view=v, views=views) for v in range(views)])


def _soft_ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


@torch.no_grad()
def predict(model: PromptModel, x: torch.Tensor, *, frames: int, views: int, batch_size: int = 64) -> torch.Tensor:
    """Logits (N, C) averaged over the temporal views of precomputed inputs ``x`` (N, T, ...)."""
    model.eval()
    vi = view_indices(x.shape[1], frames, views)
    out = []
    for s in range(0, len(x), batch_size):
        xb = x[s : s + batch_size]
        out.append(torch.stack([model(xb[:, v]) for v in vi]).mean(dim=0))
    return torch.cat(out)


def train_prompt(model: PromptModel, *, train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor,
                 val_y: torch.Tensor, cfg: LoopConfig, raw_tokens: bool = False, progress: bool = True,
                 on_epoch: Callable[[dict], None] | None = None) -> LoopResult:  # fmt: skip
    """Train ``model``'s learned parameters. ``train_x`` holds precomputed inputs, or the raw prefix tokens when
    ``raw_tokens`` (spatial VideoMix: mixed, then precomputed per batch); ``val_x`` is always precomputed."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the method has no learned parameters to train")
    n, n_classes = len(train_x), len(model.text_features())
    gen = torch.Generator().manual_seed(int(cfg.seed))  # clip order and views: the same whatever the batch size
    mix_gen = torch.Generator().manual_seed(int(cfg.seed) + 1)  # VideoMix draws
    torch.manual_seed(int(cfg.seed))
    vi = view_indices(train_x.shape[1], cfg.frames, cfg.views)
    batches = math.ceil(n / cfg.batch_size)
    steps = cfg.epochs * math.ceil(batches / cfg.batches_per_backprop)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    grid = model.encoder.grid
    history, best, best_key = [], None, None
    last_state = None
    bar = tqdm(range(1, cfg.epochs + 1), desc=f"prompt tuning ({n} clips)", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        order = torch.randperm(n, generator=gen)
        view_of = torch.randint(0, len(vi), (n,), generator=gen)  # one view per clip
        total, correct, seen = 0.0, 0, 0
        opt.zero_grad(set_to_none=True)
        for b in range(batches):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            pick = vi[view_of[idx]]
            xb = train_x[idx.unsqueeze(1), pick]
            yb = train_y[idx]
            targets = F.one_hot(yb, n_classes).float()
            if cfg.videomix != "none" and len(idx) > 1 and float(torch.rand((), generator=mix_gen)) < cfg.videomix_prob:
                xb, targets = videomix(xb, targets, kind=cfg.videomix, grid=grid, generator=mix_gen)
            if raw_tokens:
                with torch.no_grad():
                    xb = model.precompute(xb)
            logits = model(xb)
            loss = _soft_ce(logits, targets)
            group = cfg.batch_size * cfg.batches_per_backprop  # clips per optimizer step (the last one may be short)
            start = (b // cfg.batches_per_backprop) * group
            (loss * len(idx) / (min(n, start + group) - start)).backward()
            if (b + 1) % cfg.batches_per_backprop == 0 or b == batches - 1:
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
            total += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
        val_logits = predict(model, val_x, frames=cfg.frames, views=cfg.views)
        row = {
            "epoch": epoch,
            "train_loss": total / seen,
            "train_top1": correct / seen,
            "val_loss": float(F.cross_entropy(val_logits, val_y)),
            "val_top1": float((val_logits.argmax(1) == val_y).float().mean()),
            "lr": float(opt.param_groups[0]["lr"]),
        }
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        key = (row["val_top1"], -row["val_loss"])
        if best_key is None or key > best_key:
            best_key, best = key, (epoch, copy.deepcopy(model.state_dict()))
        bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_top1=f"{row['val_top1']:.3f}")
    last_state = copy.deepcopy(model.state_dict())
    return LoopResult(history, best[0], best[1], last_state)


def as_tensor_labels(y: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(y), dtype=torch.long)
