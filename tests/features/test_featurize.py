"""featurize_cache: pooled vectors equal the backbone's global pooling, shards resume by key, views, maps, ranks."""

from __future__ import annotations

import logging
import os
import socket

import h5py
import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from replaylab.features import store as S
from replaylab.features.featurize import FeatureExtractor, featurize_cache, model_identity, preprocess
from replaylab.models import build_backbone, global_pool_of

from .store_fixtures import small_model, write_cache, write_splits


def _ckpt(path, seed: int) -> str:
    torch.manual_seed(seed)
    net = build_backbone("compact3d", frames=4, size=(16, 16), width=0.25)
    torch.save(net.state_dict(), path)
    return str(path)


def test_pooled_vectors_are_the_backbones_global_pooling(tmp_path):
    ids = write_cache(tmp_path / "c.h5", n=10)
    write_splits(tmp_path / "splits", ids)
    ckpt = _ckpt(tmp_path / "w.pt", 1)
    model = small_model(pretrained=ckpt)
    summary = featurize_cache(tmp_path / "c.h5", tmp_path / "store", [model], split_dir=tmp_path / "splits", shard_size=4,
                              dtype="float32", progress=False)  # fmt: skip
    assert summary["samples"] == 10 and summary["models"]["c3d"] == {"shards": 3, "computed_shards": 3, "reused_shards": 0}
    assert summary["splits"] == {"test": 2, "train": 5, "val": 3} and summary["bytes"] > 0
    index = S.read_index(tmp_path / "store")
    assert (
        list(index["sample_id"]) == ids
        and list(index["shard"]) == ["shard_00000.h5"] * 4 + ["shard_00001.h5"] * 4 + ["shard_00002.h5"] * 2
    )
    assert list(index["row"]) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1] and set(index["pooled_shape"]) == {"64"}
    assert list(index["label"]) == [i % 2 for i in range(10)] and index["split"].iloc[0] == "train"
    # the stored vector is GlobalPool(backbone(clip)) of the checkpoint's backbone
    net = build_backbone("compact3d", frames=4, size=(16, 16), width=0.25)
    net.load_state_dict(torch.load(ckpt, weights_only=True))
    net.eval()
    with h5py.File(tmp_path / "c.h5") as f:
        clips = f["clips"][:]
    with torch.no_grad():
        want = global_pool_of(net)(net(preprocess(clips, norm="imagenet", frames=4, size=(16, 16))))
    got = S.ModelStore.read(tmp_path / "store", "c3d")
    np.testing.assert_allclose(got.pooled, want.numpy(), rtol=1e-5, atol=1e-5)
    info = S.read_model(tmp_path / "store", "c3d")
    assert info["pretrained"] == ckpt and info["feature_dim"] == 64 and info["shards"] == [S.shard_name(k) for k in range(3)]


def test_shards_resume_by_key_and_rebuild_naming_why(tmp_path, caplog):
    write_cache(tmp_path / "c.h5", n=6)
    ckpt = tmp_path / "w.pt"
    _ckpt(ckpt, 1)
    run = lambda **kw: featurize_cache(tmp_path / "c.h5", tmp_path / "store", [small_model(pretrained=str(ckpt))],  # noqa: E731
                                       progress=False, **{"shard_size": 4, **kw})  # fmt: skip
    run()
    first = S.ModelStore.read(tmp_path / "store", "c3d").pooled
    assert run()["models"]["c3d"]["computed_shards"] == 0  # same inputs: every shard reused
    _ckpt(ckpt, 2)  # other weights under the same path
    with caplog.at_level(logging.INFO, logger="replaylab.features"):
        again = run()
    assert again["models"]["c3d"]["computed_shards"] == 2
    assert "model.pretrained_md5" in caplog.text and "rebuilding shard_00000.h5" in caplog.text
    assert not np.allclose(S.ModelStore.read(tmp_path / "store", "c3d").pooled, first)
    assert run(shard_size=3)["models"]["c3d"]["computed_shards"] == 2  # new bounds: rebuilt
    assert sorted(p.name for p in (tmp_path / "store/c3d").glob("shard_*")) == ["shard_00000.h5", "shard_00001.h5"]
    (tmp_path / "store/c3d/shard_00001.h5").write_bytes(b"half a file")
    assert run(shard_size=3)["models"]["c3d"] == {"shards": 2, "computed_shards": 1, "reused_shards": 1}


def test_multi_view_maps_resize_and_two_models(tmp_path):
    write_cache(tmp_path / "c.h5", n=3, views=3, size=(16, 24), n_views=[3, 1, 2])
    models = [small_model("small", store_maps=True), small_model("big", frames=8, size=[32, 32])]
    featurize_cache(tmp_path / "c.h5", tmp_path / "store", models, shard_size=2, progress=False, dtype="float16")
    small = S.ModelStore.read(tmp_path / "store", "small", maps=True)
    assert small.pooled.shape == (3, 3, 64) and small.maps.shape == (3, 3, 32, 1, 1, 2)
    assert list(small.n_views) == [3, 1, 2]
    assert not small.pooled[1, 1:].any() and not small.pooled[2, 2].any() and small.pooled[1, 0].any()
    big = S.read_model(tmp_path / "store", "big")
    assert (big["frames"], big["size"], big["multi_view"], big["map_shape"]) == (8, [32, 32], True, None)
    with h5py.File(tmp_path / "store/small/shard_00000.h5") as f:
        assert f["pooled"].dtype == np.float16
    index = S.read_index(tmp_path / "store")
    assert sorted(set(index["model"])) == ["big", "small"] and len(index) == 6
    assert set(index[index["model"] == "small"]["map_shape"]) == {"3x32x1x1x2"}
    with pytest.raises(S.FeatureStoreError, match="without maps"):
        S.ModelStore.read(tmp_path / "store", "big", maps=True)
    featurize_cache(tmp_path / "c.h5", tmp_path / "store", models[:1], shard_size=2, progress=False)  # "big" dropped
    assert not (tmp_path / "store/big").exists() and set(S.read_index(tmp_path / "store")["model"]) == {"small"}


def test_resampling_matches_interpolate():
    clips = np.random.default_rng(0).integers(0, 256, (2, 4, 8, 8, 3), dtype=np.uint8)
    x = preprocess(clips, norm="none", frames=8, size=(16, 16))
    assert x.shape == (2, 3, 8, 16, 16)
    ref = torch.nn.functional.interpolate(torch.from_numpy(clips).float().permute(0, 4, 1, 2, 3) / 255, size=(8, 16, 16),
                                          mode="trilinear", align_corners=False)  # fmt: skip
    torch.testing.assert_close(x, ref)


def test_missing_store_names_the_file(tmp_path):
    with pytest.raises(S.FeatureStoreError, match="index.csv: feature index not found"):
        S.read_index(tmp_path)
    with pytest.raises(S.FeatureStoreError, match="no features of model 'x'"):
        S.read_model(tmp_path, "x")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, root: str) -> None:
    os.environ.update({"WORLD_SIZE": str(world), "RANK": str(rank), "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port)})  # fmt: skip
    torch.set_num_threads(1)
    write = S.write_shard

    def recording(path, **kw):  # which rank writes which shard
        with open(f"{root}/wrote{rank}.txt", "a") as fh:
            fh.write(os.path.basename(path) + "\n")
        return write(path, **kw)

    S.write_shard = recording
    summary = featurize_cache(f"{root}/c.h5", f"{root}/store", [small_model()], shard_size=2, progress=False, device="cpu")
    torch.save(torch.tensor([summary["computed_clips"], summary["models"]["c3d"]["computed_shards"]]), f"{root}/done{rank}.pt")


def test_ranks_split_the_shards_and_rank0_merges_the_index(tmp_path):
    ids = write_cache(tmp_path / "c.h5", n=5)
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    done = [torch.load(tmp_path / f"done{r}.pt").tolist() for r in (0, 1)]
    assert done == [[5, 3], [5, 3]]  # 3 shards of 2 samples over the ranks, counted over both
    wrote = [(tmp_path / f"wrote{r}.txt").read_text().split() for r in (0, 1)]
    assert wrote == [["shard_00000.h5", "shard_00002.h5"], ["shard_00001.h5"]]  # shard n on rank n % 2
    assert [p.name for p in sorted((tmp_path / "store/c3d").glob("shard_*"))] == [S.shard_name(k) for k in range(3)]
    assert list(S.read_index(tmp_path / "store")["sample_id"]) == ids
    single = featurize_cache(tmp_path / "c.h5", tmp_path / "store1", [small_model()], shard_size=2, progress=False)
    assert single["computed_clips"] == 5
    np.testing.assert_array_equal(S.ModelStore.read(tmp_path / "store", "c3d").pooled,
                                  S.ModelStore.read(tmp_path / "store1", "c3d").pooled)  # fmt: skip


def test_extractor_identity_names_the_weights(tmp_path):
    spec = {"frames": 4, "size": [16, 16]}
    ident = model_identity(small_model(), spec, dtype="float16", seed=7)
    assert (ident["pretrained"], ident["init_seed"], ident["norm"], ident["frames"]) == (None, 7, "imagenet", 4)
    a = FeatureExtractor(ident, device=torch.device("cpu"))
    b = FeatureExtractor(ident, device=torch.device("cpu"))
    clips = np.zeros((1, 4, 16, 16, 3), np.uint8)
    np.testing.assert_array_equal(a(clips)[0], b(clips)[0])  # random weights come from the seed
