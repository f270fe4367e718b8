"""What the prompt stages share: the frozen CLIP from params, the recognition splits, CPU threads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..clip.checkpoint import load_clip
from ..clip.model import TinyClipConfig, tokenizer
from ..data.samples import AdapterError
from .bank import load_split
from .run import PromptData

DATA_TASK = "recognition"  # the task whose clip cache, splits and captions prompt tuning reads

__all__ = ["DATA_TASK", "frozen_clip", "prompt_data", "set_threads", "tiny_config"]


def set_threads(n: int) -> None:
    torch.set_num_threads(n or os.cpu_count() or 1)


def tiny_config(p: Any) -> TinyClipConfig:
    """The tiny CLIP architecture of ``prompt.pretrain.tiny``."""
    return TinyClipConfig(**p.pretrain.tiny.model_dump())


def frozen_clip(p: Any, *, seed: int) -> tuple[torch.nn.Module, dict | None, Any]:
    """(CLIP with every weight frozen, in eval mode; its load report as a dict or None; the tokenizer)."""
    clip, report = load_clip(checkpoint=p.clip.checkpoint, model=p.clip.model, tiny=tiny_config(p), layout=p.clip.layout,
                             seed=seed)  # fmt: skip
    clip.eval().requires_grad_(False)
    tok = tokenizer(context_length=int(clip.positional_embedding.shape[0]))
    return clip, (report.as_dict() if report is not None else None), tok


def prompt_data(params: Any, *, splits: tuple[str, ...] = ("train", "val", "test")) -> PromptData | dict:
    """The splits of the recognition clip cache (a :class:`PromptData` when all three are asked for)."""
    p = params.prompt
    task = DATA_TASK
    cache = Path(params.cache_clips.out_dir) / f"{task}.h5"
    out = {s: load_split(cache, Path(params.split.out_dir) / task / f"{s}.csv", name=s) for s in splits}
    classes = next(iter(out.values())).classes
    unknown = [c for c in p.unseen_classes if c not in classes]
    if unknown:
        raise AdapterError(f"prompt.unseen_classes: {unknown} are not classes of {cache} ({', '.join(classes)})")
    if set(splits) == {"train", "val", "test"}:
        return PromptData(out["train"], out["val"], out["test"], list(p.unseen_classes))
    return out
