"""A torch Dataset over the HDF5 clip cache and a split CSV.

Each item is a dict: ``video`` float32 (C, T, H, W) normalised, or (V, C, T, H, W) for multi-view caches;
``label`` int64; ``row`` (position in the cache); ``index`` (position in the split, so predictions can name
``self.index.samples[index].sample_id``); ``view_mask`` bool (V,) for multi-view; and any integer
``meta`` fields named in ``target_keys`` (e.g. ``offence_severity`` for the foul task).

Training (``train=True``) applies :func:`augment` with a per-item generator seeded from (seed, epoch,
item), so a run is repeatable, and samples ``views`` random views of the available ones. Evaluation
returns every view (missing ones zero and masked) and no augmentation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .augment import AugmentConfig, augment, normalisation, normalise
from .cache import read_cache_meta
from .samples import AdapterError, SampleIndex, read_csv


def check_target_keys(index: SampleIndex, keys: Sequence[str], where: str | os.PathLike) -> None:
    """Every sample of ``index`` has an integer meta field for each of ``keys`` (extra targets, e.g. foul's
    offence-severity); else an error naming the split file and the first sample without it."""
    for k in keys:
        bad = next((s.sample_id for s in index.samples if not isinstance(s.meta.get(k), int)), None)
        if bad is not None:
            raise AdapterError(f"{where}: sample {bad} has no integer meta field {k!r}")


class ClipDataset(Dataset):
    def __init__(
        self,
        cache_h5: str | os.PathLike,
        split_csv: str | os.PathLike | SampleIndex,
        *,
        train: bool = False,
        norm: str | tuple = "imagenet",
        augment_cfg: AugmentConfig | None = None,
        views: int | None = None,
        target_keys: Sequence[str] = (),
        seed: int = 0,
    ):
        self.cache_h5 = Path(cache_h5)
        meta = read_cache_meta(self.cache_h5)
        self.index = split_csv if isinstance(split_csv, SampleIndex) else read_csv(split_csv, classes=meta["classes"])
        if not self.index.samples:
            raise AdapterError(f"{split_csv}: empty split")
        row_of = {sid: i for i, sid in enumerate(meta["sample_ids"])}
        missing = [s.sample_id for s in self.index.samples if s.sample_id not in row_of]
        if missing:
            raise AdapterError(
                f"{split_csv}: {len(missing)} samples are not in {self.cache_h5} (first: {missing[0]}); rebuild the cache"
            )
        self.rows = np.array([row_of[s.sample_id] for s in self.index.samples], np.int64)
        self.labels = np.array([s.label for s in self.index.samples], np.int64)
        self.classes = meta["classes"]
        self.spec = meta["spec"]
        self.multi_view = self.spec["views"] > 1
        self.mean, self.std = normalisation(norm) if isinstance(norm, str) else norm
        self.train = train
        self.augment_cfg = augment_cfg if train else None
        self.views = views if (train and self.multi_view) else None
        self.target_keys = tuple(target_keys)
        check_target_keys(self.index, self.target_keys, split_csv)
        self.seed = seed
        self.epoch = 0
        self._h5 = None
        self._pid = None

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _clips(self):
        if self._h5 is None or self._pid != os.getpid():  # one handle per DataLoader worker process
            import h5py

            self._h5 = h5py.File(self.cache_h5, "r")
            self._pid = os.getpid()
        return self._h5

    def read_raw(self, i: int) -> tuple[np.ndarray, int]:
        """uint8 clip of item ``i`` as stored and its number of valid views."""
        f = self._clips()
        row = int(self.rows[i])
        return f["clips"][row], int(f["n_views"][row])

    def _prepare(self, clip: np.ndarray, gen: torch.Generator | None) -> torch.Tensor:
        x = (
            augment(clip, self.augment_cfg, gen)
            if (self.augment_cfg is not None and gen is not None)
            else torch.from_numpy(clip).float()
        )
        return normalise(x, self.mean, self.std)

    def __getitem__(self, i: int) -> dict:
        clip, n_views = self.read_raw(i)
        gen = None
        if self.train:
            gen = torch.Generator().manual_seed(int(np.random.SeedSequence([self.seed, self.epoch, i]).generate_state(1)[0]))
        item = {"label": torch.tensor(self.labels[i]), "row": torch.tensor(self.rows[i]), "index": torch.tensor(i)}
        if self.multi_view:
            if self.views is not None:
                n = max(n_views, 1)
                k = self.views
                pick = torch.randperm(n, generator=gen)[:k] if n >= k else torch.randint(0, n, (k,), generator=gen)
                chosen = [int(v) for v in pick]
                mask = torch.ones(k, dtype=torch.bool)
            else:
                chosen = list(range(clip.shape[0]))
                mask = torch.arange(clip.shape[0]) < n_views
            item["video"] = torch.stack([self._prepare(clip[v], gen) for v in chosen])
            item["view_mask"] = mask
        else:
            item["video"] = self._prepare(clip, gen)
        meta = self.index.samples[i].meta
        for k in self.target_keys:
            item[k] = torch.tensor(meta[k])
        return item

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_h5"] = None  # h5py handles do not cross process boundaries
        return state
