"""Small clip caches in the cache's HDF5 layout (random uint8 clips) for the feature store tests."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from replaylab.params.featurize import FeatureModelParams


def write_cache(path: Path, *, n: int, frames: int = 4, size=(16, 16), views: int = 1, seed: int = 0,
                n_views: list[int] | None = None) -> list[str]:  # fmt: skip
    """A clip cache ``path`` of ``n`` random clips (``views`` > 1: a views axis, ``n_views`` readable each);
    returns the sample ids."""
    rng = np.random.default_rng(seed)
    shape = (frames, *size, 3) if views == 1 else (views, frames, *size, 3)
    clips = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    counts = np.array(n_views if n_views is not None else [views] * n, np.int16)
    if views > 1:
        for i, c in enumerate(counts):
            clips[i, c:] = 0
    ids = [f"s{i:03d}" for i in range(n)]
    spec = {"frames": frames, "size": list(size), "stride": 1, "fps": None, "crop_px": None, "views": views,
            "outside": "skip", "min_views": 1}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("clips", data=clips, chunks=(1, *shape))
        f.create_dataset("sample_id", data=np.array(ids, dtype=h5py.string_dtype()))
        f.create_dataset("label", data=(np.arange(n) % 2).astype(np.int64))
        f.create_dataset("n_views", data=counts)
        f.attrs["spec"] = json.dumps(spec, sort_keys=True)
        f.attrs["classes"] = json.dumps(["no", "yes"])
        f.attrs["format_version"] = 1
    return ids


def write_splits(split_dir: Path, ids: list[str]) -> None:
    split_dir.mkdir(parents=True, exist_ok=True)
    parts = {"train": ids[: len(ids) // 2], "val": ids[len(ids) // 2 : -2], "test": ids[-2:]}
    for name, rows in parts.items():
        (split_dir / f"{name}.csv").write_text("sample_id,label\n" + "".join(f"{s},0\n" for s in rows))


def small_model(key: str = "c3d", **kw) -> FeatureModelParams:
    return FeatureModelParams(key=key, backbone="compact3d", backbone_options={"width": 0.25}, **kw)
