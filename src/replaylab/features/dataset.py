"""A torch Dataset over one model's features in the feature store and a split CSV (``train.<task>.input: features``).

Items mirror :class:`replaylab.data.dataset.ClipDataset`'s, with ``features`` in place of ``video``: the pooled
vector (D,) or the map (C, T', H', W') of a single-view sample; (V, ...) plus ``view_mask`` (V,) for a
multi-view store. Training with ``views`` draws the views exactly as ``ClipDataset`` does (same generator,
seeded from seed, epoch and item), so a head trained from features sees the views a frozen backbone in video
mode would. Features are fixed: there is no augmentation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..data.dataset import check_target_keys
from ..data.samples import AdapterError, SampleIndex, read_csv
from .store import FeatureStoreError, ModelStore, index_path

__all__ = ["FeatureDataset"]


class FeatureDataset(Dataset):
    def __init__(
        self,
        store: ModelStore,
        split_csv: str | os.PathLike | SampleIndex,
        *,
        classes: Sequence[str],
        train: bool = False,
        views: int | None = None,
        target_keys: Sequence[str] = (),
        seed: int = 0,
        source: str = "pooled",
        where: str | os.PathLike = "",
    ):
        if source not in ("pooled", "map"):
            raise ValueError(f"source must be 'pooled' or 'map', got {source!r}")
        self.cache_h5 = where or index_path("feature store")  # named in error messages, as ClipDataset's file
        self.index = split_csv if isinstance(split_csv, SampleIndex) else read_csv(split_csv, classes=list(classes))
        if not self.index.samples:
            raise AdapterError(f"{split_csv}: empty split")
        missing = [s.sample_id for s in self.index.samples if s.sample_id not in store.row_of]
        if missing:
            raise FeatureStoreError(f"{split_csv}: {len(missing)} samples have no features in {where or 'the store'} "
                                    f"(first: {missing[0]}); run the featurize stage again")  # fmt: skip
        if source == "map" and store.maps is None:
            raise FeatureStoreError(f"{where}: the maps were not read (ModelStore.read(..., maps=True))")
        self.rows = np.array([store.row_of[s.sample_id] for s in self.index.samples], np.int64)
        self.labels = np.array([s.label for s in self.index.samples], np.int64)
        self.classes = list(classes)
        self.data = store.maps if source == "map" else store.pooled
        self.n_views = store.n_views
        self.multi_view = bool(store.info.get("multi_view"))
        self.train = train
        self.views = views if (train and self.multi_view) else None
        self.target_keys = tuple(target_keys)
        check_target_keys(self.index, self.target_keys, split_csv)
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, i: int) -> dict:
        row = int(self.rows[i])
        x = torch.from_numpy(self.data[row])
        item = {"label": torch.tensor(self.labels[i]), "row": torch.tensor(row), "index": torch.tensor(i)}
        if self.multi_view:
            n_views = int(self.n_views[row])
            if self.views is not None:
                gen = torch.Generator().manual_seed(int(np.random.SeedSequence([self.seed, self.epoch, i]).generate_state(1)[0]))
                n, k = max(n_views, 1), self.views
                pick = torch.randperm(n, generator=gen)[:k] if n >= k else torch.randint(0, n, (k,), generator=gen)
                item["features"] = x[pick]
                item["view_mask"] = torch.ones(k, dtype=torch.bool)
            else:
                item["features"] = x
                item["view_mask"] = torch.arange(x.shape[0]) < n_views
        else:
            item["features"] = x
        meta = self.index.samples[i].meta
        for k in self.target_keys:
            item[k] = torch.tensor(meta[k])
        return item
