"""ClipDataset over a real cache: normalisation, seeded augmentation, view sampling, split alignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from video_fixtures import make_video

from replaylab.data.augment import NORMALISATION, AugmentConfig
from replaylab.data.cache import ClipSpec, build_cache
from replaylab.data.dataset import ClipDataset
from replaylab.data.samples import AdapterError, Sample, SampleIndex


@pytest.fixture(scope="module")
def caches(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    for name in ("a", "b", "c"):
        make_video(root / f"{name}.mp4", fps=25, n_frames=40, size=(64, 48))
    single = SampleIndex([Sample(f"{v}{k}", (f"{v}.mp4",), v, k % 2, center_s=0.5 + 0.3 * k, meta={"extra": k})
                          for v in "abc" for k in range(2)], ["neg", "pos"], root)  # fmt: skip
    build_cache(
        single,
        ClipSpec(frames=4, size=(16, 16)),
        out_h5=root / "s.h5",
        out_index=root / "s.csv",
        work_dir=root / "w1",
        progress=False,
    )
    multi = SampleIndex([Sample("m0", ("a.mp4", "b.mp4", "c.mp4"), "g0", 1, center_s=0.8, meta={"extra": 3}),
                         Sample("m1", ("b.mp4",), "g1", 0, center_s=0.8, meta={"extra": 1})], ["x", "y"], root)  # fmt: skip
    build_cache(
        multi,
        ClipSpec(frames=4, size=(16, 16), views=3),
        out_h5=root / "m.h5",
        out_index=root / "m.csv",
        work_dir=root / "w2",
        progress=False,
    )
    return root


def test_eval_items_are_normalised_stored_pixels(caches):
    ds = ClipDataset(caches / "s.h5", caches / "s.csv", norm="imagenet", target_keys=("extra",))
    assert len(ds) == 6 and ds.classes == ["neg", "pos"]
    item = ds[3]
    raw, _ = ds.read_raw(3)
    mean, std = NORMALISATION["imagenet"]
    expect = (torch.from_numpy(raw).float().permute(3, 0, 1, 2) / 255 - torch.tensor(mean).view(3, 1, 1, 1)) / torch.tensor(
        std
    ).view(3, 1, 1, 1)
    assert item["video"].shape == (3, 4, 16, 16)
    assert torch.allclose(item["video"], expect, atol=1e-5)
    assert item["label"].item() == 1 and item["extra"].item() == 1


def test_training_augmentation_is_seeded_by_epoch(caches):
    cfg = AugmentConfig(flip=0.5, rotate_deg=5, brightness=0.2, contrast=0.2, temporal_jitter=1)
    a = ClipDataset(caches / "s.h5", caches / "s.csv", train=True, augment_cfg=cfg, seed=1)
    b = ClipDataset(caches / "s.h5", caches / "s.csv", train=True, augment_cfg=cfg, seed=1)
    assert torch.equal(a[2]["video"], b[2]["video"])
    a.set_epoch(1)
    assert not torch.equal(a[2]["video"], b[2]["video"])


def test_multi_view_sampling_train_vs_eval(caches):
    ev = ClipDataset(caches / "m.h5", caches / "m.csv", norm="videomae")
    item = ev[1]
    assert item["video"].shape == (3, 3, 4, 16, 16)
    assert item["view_mask"].tolist() == [True, False, False]
    tr = ClipDataset(caches / "m.h5", caches / "m.csv", train=True, views=2, augment_cfg=AugmentConfig(flip=0.0))
    for epoch in range(5):
        tr.set_epoch(epoch)
        it = tr[0]
        assert it["video"].shape == (2, 3, 4, 16, 16) and it["view_mask"].all()
        assert all(v.max() > 0 for v in it["video"])  # sampled views are real ones, never zero padding
    assert tr[1]["video"].shape == (2, 3, 4, 16, 16)  # one view available: repeated


def test_dataloader_with_workers(caches):
    ds = ClipDataset(caches / "s.h5", caches / "s.csv", train=True, augment_cfg=AugmentConfig(), seed=0)
    batches = list(DataLoader(ds, batch_size=3, num_workers=2))
    assert [b["video"].shape for b in batches] == [torch.Size([3, 3, 4, 16, 16])] * 2
    assert sorted(torch.cat([b["row"] for b in batches]).tolist()) == list(range(6))


def test_split_subset_and_errors(caches, tmp_path):
    from replaylab.data.samples import read_csv

    full = read_csv(caches / "s.csv")
    sub = full.subset(["c1", "a0"])
    ds = ClipDataset(caches / "s.h5", sub)
    assert ds.rows.tolist() == [5, 0]
    stray = SampleIndex([Sample("zz", ("a.mp4",), "a", 0)], ["neg", "pos"], caches)
    with pytest.raises(AdapterError, match="zz"):
        ClipDataset(caches / "s.h5", stray)
    with pytest.raises(AdapterError, match="empty split"):
        ClipDataset(caches / "s.h5", full.subset([]))
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        ClipDataset(tmp_path / "nope.h5", full)
    with pytest.raises(AdapterError, match="missing"):
        ClipDataset(caches / "s.h5", full, target_keys=("missing",))
    assert np.array_equal(ClipDataset(caches / "s.h5", full).labels, [0, 1, 0, 1, 0, 1])
