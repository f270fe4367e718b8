"""The clips prompt tuning reads, and their frozen CLIP tokens computed once per clip.

:func:`load_split` reads one split of a task's clip cache (uint8 frames, labels, clip ids, class names).
:class:`TokenBank` runs the frozen :meth:`~.visual.SplitImageEncoder.prefix` over every frame of the clips it is
asked for, once, and keeps the result in memory (float32, (T, 1 + grid², width) per clip), so the runs of a
few-shot sweep share it. Nothing is written to disk: the bank lives as long as the stage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..clip.frames import frames_to_input
from ..data.cache import read_cache_meta
from ..data.samples import AdapterError, read_csv
from .visual import SplitImageEncoder

__all__ = ["ClipSplit", "TokenBank", "load_split"]


@dataclass
class ClipSplit:
    name: str
    ids: list[str]
    labels: np.ndarray  # (N,) class indices into ``classes``
    clips: np.ndarray  # (N, T, H, W, C) uint8
    classes: list[str]


def load_split(cache_h5: str | os.PathLike, split_csv: str | os.PathLike, *, name: str) -> ClipSplit:
    """The clips of ``split_csv`` (ids, labels) read from the cache ``cache_h5``; errors name the files."""
    import h5py

    meta = read_cache_meta(cache_h5)
    index = read_csv(split_csv, classes=meta["classes"])
    if not index.samples:
        raise AdapterError(f"{split_csv}: empty split")
    row_of = {sid: i for i, sid in enumerate(meta["sample_ids"])}
    missing = [s.sample_id for s in index.samples if s.sample_id not in row_of]
    if missing:
        raise AdapterError(f"{split_csv}: {len(missing)} clips are not in {cache_h5} (first: {missing[0]}); rebuild the cache")
    rows = np.array([row_of[s.sample_id] for s in index.samples], np.int64)
    order = np.argsort(rows)
    with h5py.File(cache_h5, "r") as f:
        data = f["clips"][rows[order]]  # h5py reads increasing indices
    clips = np.empty_like(data)
    clips[order] = data
    if clips.ndim == 6:  # (N, views, T, H, W, C): the first view
        clips = clips[:, 0]
    if clips.ndim != 5:
        raise AdapterError(f"{cache_h5}: clips of shape {clips.shape[1:]}, expected (T, H, W, C)")
    return ClipSplit(name, [s.sample_id for s in index.samples], np.array([s.label for s in index.samples], np.int64),
                     clips, list(meta["classes"]))  # fmt: skip


class TokenBank:
    """Frozen prefix tokens of clips, computed on first use and kept (keyed by split name and clip position)."""

    def __init__(self, encoder: SplitImageEncoder, *, batch_frames: int = 256, progress: bool = True):
        self.encoder = encoder
        self.batch_frames = batch_frames
        self.progress = progress
        self._memo: dict[tuple[str, int], torch.Tensor] = {}

    def tokens(self, split: ClipSplit, idx: np.ndarray) -> torch.Tensor:
        """(len(idx), T, 1 + grid², width) float32 tokens of the clips ``idx`` of ``split``."""
        todo = [int(i) for i in idx if (split.name, int(i)) not in self._memo]
        if todo:
            self._encode(split, todo)
        return torch.stack([self._memo[(split.name, int(i))] for i in idx])

    @torch.no_grad()
    def _encode(self, split: ClipSplit, todo: list[int]) -> None:
        t = split.clips.shape[1]
        per = max(1, self.batch_frames // t)
        bar = tqdm(total=len(todo), desc=f"CLIP tokens ({split.name})", unit="clip", disable=not self.progress)
        for s in range(0, len(todo), per):
            chunk = todo[s : s + per]
            x = frames_to_input(clips=split.clips[chunk], image_size=self.encoder.image_size)  # (n, T, 3, S, S)
            out = self.encoder.prefix(x.flatten(0, 1)).view(len(chunk), t, -1, self.encoder.width)
            for i, tok in zip(chunk, out):
                self._memo[(split.name, i)] = tok.float().clone()
            bar.update(len(chunk))
        bar.close()


def split_csvs(splits_dir: str | os.PathLike) -> dict[str, Path]:
    """``{train, val, test}`` -> ``<splits_dir>/<split>.csv``."""
    return {s: Path(splits_dir) / f"{s}.csv" for s in ("train", "val", "test")}
