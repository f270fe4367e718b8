"""The feature store: what frozen backbones made of a task's clip cache, in fp16 (or fp32) shards plus an index.

Layout of ``<out_dir>/<task>/`` (written by :func:`replaylab.features.featurize.featurize_task`):

* ``index.csv``: one row per (model, cached sample): ``sample_id, split, label, model, shard, row, n_views,
  pooled_shape, map_shape`` (``split`` from the task's split CSVs, empty for a sample in none of them;
  shapes per sample, ``x``-joined; ``map_shape`` empty when the maps are not stored);
* ``<model key>/model.json``: the model's identity (:func:`model_identity`: backbone, checkpoint and its md5,
  options, input frames and size, resize, normalisation, dtype, maps or not), the pooled width and the
  shard list;
* ``<model key>/shard_<n>.h5``: samples ``n * shard_size`` .. of the cache, in cache order: ``pooled``
  (n, [V,] D), optional ``map`` (n, [V,] C, T', H', W'), ``sample_id``, ``cache_row``, ``n_views`` (views
  featurized; missing views are zero), and the attributes ``key`` (hex) and ``key_parts`` (JSON).

No pickle anywhere: HDF5 arrays, CSV and JSON. A shard is reused only when its ``key_parts`` equal the wanted
ones (cache content, model identity, shard bounds, code); :func:`shard_mismatch` says why one is not.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.samples import AdapterError
from ..io import atomic_path, write_json
from ..training.fingerprint import describe_changes

__all__ = [
    "FORMAT_VERSION",
    "INDEX_COLUMNS",
    "FeatureStoreError",
    "ModelStore",
    "index_path",
    "model_dir",
    "read_index",
    "read_model",
    "read_shard_key",
    "shard_key",
    "shard_mismatch",
    "shard_name",
    "store_digest",
    "write_index",
    "write_shard",
]

FORMAT_VERSION = 1
INDEX_COLUMNS = ("sample_id", "split", "label", "model", "shard", "row", "n_views", "pooled_shape", "map_shape")
MODEL_JSON = "model.json"
INDEX_CSV = "index.csv"


class FeatureStoreError(AdapterError):
    """A feature store that is missing, incomplete or does not fit what reads it (the message names the file)."""


def model_dir(store: str | os.PathLike, key: str) -> Path:
    return Path(store) / key


def index_path(store: str | os.PathLike) -> Path:
    return Path(store) / INDEX_CSV


def shard_name(n: int) -> str:
    return f"shard_{n:05d}.h5"


def shard_key(parts: dict[str, Any]) -> str:
    """Hex digest of a shard's key parts (JSON with sorted keys)."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def read_shard_key(path: str | os.PathLike) -> dict[str, Any] | None:
    """The key parts a shard was written with, or None when the file is absent or unreadable."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return json.loads(f.attrs["key_parts"])
    except (OSError, KeyError, ValueError):
        return None


def shard_mismatch(path: str | os.PathLike, parts: dict[str, Any]) -> str | None:
    """None when the shard at ``path`` was made from ``parts``; otherwise why it must be rebuilt."""
    if not Path(path).is_file():
        return "not built yet"
    old = read_shard_key(path)
    if old is None:
        return "unreadable (an interrupted write or another format)"
    if old == parts:
        return None
    return "changed: " + "; ".join(describe_changes(old, parts))


def write_shard(path: str | os.PathLike, *, parts: dict[str, Any], sample_ids: list[str], cache_rows: np.ndarray,
                n_views: np.ndarray, pooled: np.ndarray, maps: np.ndarray | None, dtype: str) -> int:  # fmt: skip
    """Write one shard atomically; returns its size in bytes."""
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("pooled", data=pooled.astype(dtype))
            if maps is not None:
                f.create_dataset("map", data=maps.astype(dtype), chunks=(1, *maps.shape[1:]))
            f.create_dataset("sample_id", data=np.array(sample_ids, dtype=h5py.string_dtype()))
            f.create_dataset("cache_row", data=np.asarray(cache_rows, np.int64))
            f.create_dataset("n_views", data=np.asarray(n_views, np.int16))
            f.attrs["key_parts"] = json.dumps(parts, sort_keys=True)
            f.attrs["key"] = shard_key(parts)
            f.attrs["format_version"] = FORMAT_VERSION
    return int(path.stat().st_size)


def shard_rows(path: str | os.PathLike) -> pd.DataFrame:
    """``sample_id, row, n_views, pooled_shape, map_shape`` of every sample of one shard."""
    import h5py

    with h5py.File(path, "r") as f:
        ids = [s.decode() if isinstance(s, bytes) else s for s in f["sample_id"][:]]
        pooled = "x".join(str(d) for d in f["pooled"].shape[1:])
        maps = "x".join(str(d) for d in f["map"].shape[1:]) if "map" in f else ""
        return pd.DataFrame({"sample_id": ids, "row": np.arange(len(ids)), "n_views": f["n_views"][:].astype(int),
                             "pooled_shape": pooled, "map_shape": maps})  # fmt: skip


def write_index(store: str | os.PathLike, frame: pd.DataFrame) -> None:
    with atomic_path(index_path(store)) as tmp:
        frame.loc[:, list(INDEX_COLUMNS)].to_csv(tmp, index=False)


def read_index(store: str | os.PathLike) -> pd.DataFrame:
    path = index_path(store)
    if not path.is_file():
        raise FeatureStoreError(f"{path}: feature index not found (run the featurize stage)")
    frame = pd.read_csv(path, dtype={"sample_id": str, "split": str, "model": str, "pooled_shape": str, "map_shape": str},
                        keep_default_na=False)  # fmt: skip
    missing = [c for c in INDEX_COLUMNS if c not in frame.columns]
    if missing:
        raise FeatureStoreError(f"{path}: not a feature index (columns {', '.join(missing)} missing)")
    return frame


def write_model(store: str | os.PathLike, key: str, info: dict[str, Any]) -> None:
    write_json(model_dir(store, key) / MODEL_JSON, info)


def read_model(store: str | os.PathLike, key: str) -> dict[str, Any]:
    path = model_dir(store, key) / MODEL_JSON
    if not path.is_file():
        have = sorted(p.parent.name for p in Path(store).glob(f"*/{MODEL_JSON}")) if Path(store).is_dir() else []
        raise FeatureStoreError(f"{path}: no features of model {key!r} in {store} (models there: {', '.join(have) or 'none'}; "
                                "run the featurize stage)")  # fmt: skip
    return json.loads(path.read_text())


def store_digest(store: str | os.PathLike, key: str) -> str:
    """md5 over the index and one model's ``model.json`` and shards (what a model trained from them depends on)."""
    from ..training.fingerprint import file_digest

    info = read_model(store, key)
    md5 = hashlib.md5()
    files = [index_path(store), model_dir(store, key) / MODEL_JSON] + [model_dir(store, key) / s for s in info["shards"]]
    for f in files:
        if not f.is_file():
            raise FeatureStoreError(f"{f}: missing from the feature store (run the featurize stage)")
        md5.update(f"{f.name} {file_digest(f)}\n".encode())
    return md5.hexdigest()


@dataclass
class ModelStore:
    """One model's features of every cached sample, read into memory (float32), by sample id."""

    info: dict[str, Any]
    row_of: dict[str, int]
    pooled: np.ndarray  # (N, [V,] D)
    n_views: np.ndarray  # (N,)
    maps: np.ndarray | None  # (N, [V,] C, T', H', W') when read with maps=True

    @classmethod
    def read(cls, store: str | os.PathLike, key: str, *, maps: bool = False) -> ModelStore:
        import h5py

        info = read_model(store, key)
        if maps and not info["store_maps"]:
            raise FeatureStoreError(f"{model_dir(store, key) / MODEL_JSON}: model {key!r} was featurized without maps "
                                    "(set store_maps: true in featurize.<task>.models, or read the pooled vectors)")  # fmt: skip
        ids: list[str] = []
        pooled, views, mapped = [], [], []
        for name in info["shards"]:
            path = model_dir(store, key) / name
            if not path.is_file():
                raise FeatureStoreError(f"{path}: shard missing (run the featurize stage)")
            with h5py.File(path, "r") as f:
                ids += [s.decode() if isinstance(s, bytes) else s for s in f["sample_id"][:]]
                pooled.append(f["pooled"][:].astype(np.float32))
                views.append(f["n_views"][:].astype(np.int64))
                if maps:
                    mapped.append(f["map"][:].astype(np.float32))
        return cls(info=info, row_of={s: i for i, s in enumerate(ids)}, pooled=np.concatenate(pooled),
                   n_views=np.concatenate(views), maps=np.concatenate(mapped) if maps else None)  # fmt: skip
