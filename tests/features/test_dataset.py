"""FeatureDataset: items by split, the same view draws as ClipDataset, masks of missing views, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from replaylab.data.dataset import ClipDataset
from replaylab.data.samples import Sample, SampleIndex
from replaylab.features.dataset import FeatureDataset
from replaylab.features.featurize import featurize_cache
from replaylab.features.store import FeatureStoreError, ModelStore

from .store_fixtures import small_model, write_cache


def _index(ids, *, meta=None) -> SampleIndex:
    return SampleIndex([Sample(sample_id=s, label=i % 2, group="g", sources=("x",), meta=dict(meta or {})) for i, s in enumerate(ids)],
                       ["no", "yes"])  # fmt: skip


@pytest.fixture(scope="module")
def views_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("fds")
    ids = write_cache(root / "c.h5", n=5, views=3, n_views=[3, 1, 2, 3, 2])
    featurize_cache(root / "c.h5", root / "store", [small_model(store_maps=True)], shard_size=2, dtype="float32", progress=False)
    return root, ids, ModelStore.read(root / "store", "c3d", maps=True)


def test_training_views_are_drawn_as_clip_dataset_draws_them(views_store):
    root, ids, store = views_store
    index = _index(ids[::-1], meta={"offence_severity": 2})
    feats = FeatureDataset(store, index, classes=["no", "yes"], train=True, views=2, seed=9, target_keys=("offence_severity",))
    clips = ClipDataset(root / "c.h5", index, train=True, views=2, seed=9, norm="imagenet")
    for epoch in (0, 1):
        feats.set_epoch(epoch)
        clips.set_epoch(epoch)
        for i in range(len(index)):
            f, c = feats[i], clips[i]
            row = int(f["row"])
            assert row == int(c["row"]) and int(f["label"]) == int(c["label"]) and int(f["offence_severity"]) == 2
            # which stored views were drawn: the clip dataset's views, found among the raw clip's views
            raw, _ = clips.read_raw(i)
            drawn = [next(v for v in range(raw.shape[0]) if torch.equal(c["video"][k], clips._prepare(raw[v], None)))
                     for k in range(2)]  # fmt: skip
            torch.testing.assert_close(f["features"], torch.from_numpy(store.pooled[row][drawn]))
            assert f["view_mask"].all()


def test_evaluation_sees_every_view_with_the_mask_and_maps(views_store):
    _, ids, store = views_store
    ds = FeatureDataset(store, _index(ids), classes=["no", "yes"])
    item = ds[1]
    assert item["features"].shape == (3, 64) and item["view_mask"].tolist() == [True, False, False]
    maps = FeatureDataset(store, _index(ids), classes=["no", "yes"], source="map")
    assert maps[0]["features"].shape == (3, 32, 1, 1, 1)
    np.testing.assert_array_equal(ds.labels, [0, 1, 0, 1, 0])


def test_samples_without_features_and_bad_sources_are_named(views_store):
    _, ids, store = views_store
    with pytest.raises(FeatureStoreError, match="1 samples have no features.*first: zzz"):
        FeatureDataset(store, _index([*ids, "zzz"]), classes=["no", "yes"], where="store/c3d")
    with pytest.raises(ValueError, match="source must be"):
        FeatureDataset(store, _index(ids), classes=["no", "yes"], source="raw")
    pooled_only = ModelStore(info=store.info, row_of=store.row_of, pooled=store.pooled, n_views=store.n_views, maps=None)
    with pytest.raises(FeatureStoreError, match="maps were not read"):
        FeatureDataset(pooled_only, _index(ids), classes=["no", "yes"], source="map")
