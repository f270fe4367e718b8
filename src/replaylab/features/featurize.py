"""``featurize@<task>``: run frozen backbones over a task's clip cache and write the feature store (:mod:`.store`).

Each configured model (``featurize.<task>.models``: registry name, optional checkpoint, builder options, input
frames and size) is built once, in eval mode. Cached uint8 clips are normalised with the model's
normalisation (``auto``: the backbone spec's), resampled to the model's input (``trilinear``, e.g. 64x64 crops
up to 112x112, or ``nearest``) and run through the backbone; the map goes through the backbone's declared
global pooling (:func:`replaylab.models.global_pool_of`), which gives the pooled vector a
:class:`~replaylab.models.PoolingHead` would see. Multi-view caches (foul): every readable view is featurized
and stored on its own (the head pools the views, as :class:`~replaylab.models.multiview.MultiViewNet` does);
missing views stay zero.

Resumable per shard: a shard whose stored key equals the wanted one (cache content, model identity, its
bounds, the code) is reused, any other is rebuilt and the log says why. Under ``torchrun`` shard ``n`` is
computed by rank ``n % world_size``; rank 0 merges the index once every rank is done.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..training import distributed
from ..training.fingerprint import code_digest, describe_changes, file_digest
from . import store as S

__all__ = [
    "CODE",
    "check_store_current",
    "FeatureExtractor",
    "featurize_cache",
    "featurize_task",
    "model_identity",
    "preprocess",
    "resolve_input",
]

log = logging.getLogger("replaylab.features")

#: The code that defines a shard's contents (part of its key).
CODE = ("replaylab.features.featurize", "replaylab.features.store", "replaylab.models", "replaylab.data.augment")


def _ensure_console_logging() -> None:
    """Show why shards are rebuilt or reused on stderr when the application configured no logging."""
    if not logging.getLogger().handlers and not log.handlers:
        import sys

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[featurize] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def resolve_input(model_cfg, cache_spec: dict[str, Any]) -> tuple[int, tuple[int, int]]:
    """(frames, (H, W)) the backbone sees: the model's own, or the cache's where unset."""
    frames = int(model_cfg.frames or cache_spec["frames"])
    size = tuple(int(s) for s in (model_cfg.size or cache_spec["size"]))
    return frames, size  # type: ignore[return-value]


def model_identity(model_cfg, cache_spec: dict[str, Any], *, dtype: str, seed: int) -> dict[str, Any]:
    """Everything that defines a model's features (the ``model`` part of every shard key, and ``model.json``)."""
    from ..models import normalisation_of

    frames, size = resolve_input(model_cfg, cache_spec)
    pretrained = model_cfg.pretrained
    if pretrained:
        from ..models import find_checkpoint_file

        ckpt = find_checkpoint_file(pretrained)
        weights = {"pretrained": str(pretrained), "pretrained_md5": file_digest(ckpt)}
    else:  # random weights (tests, baselines): made from the seed
        weights = {"pretrained": None, "pretrained_md5": None, "init_seed": int(seed)}
    norm = normalisation_of(model_cfg.backbone) if model_cfg.norm == "auto" else model_cfg.norm
    return {"key": model_cfg.key, "backbone": model_cfg.backbone, **weights,
            "backbone_options": dict(model_cfg.backbone_options), "frames": frames, "size": list(size),
            "resize": model_cfg.resize, "norm": norm, "store_maps": bool(model_cfg.store_maps), "dtype": dtype}  # fmt: skip


def preprocess(
    clips: np.ndarray | torch.Tensor, *, norm: str, frames: int, size: Sequence[int], resize: str = "trilinear"
) -> torch.Tensor:
    """uint8 clips (B, T, H, W, 3) -> normalised float (B, 3, frames, H', W') at the model's input."""
    from ..data.augment import normalisation

    x = torch.as_tensor(clips).float().permute(0, 4, 1, 2, 3).div(255.0)
    mean, std = normalisation(norm)
    x = (x - torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1, 1)) / torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1, 1)
    return resample(x, frames=frames, size=size, mode=resize)


def resample(x: torch.Tensor, *, frames: int, size: Sequence[int], mode: str = "trilinear") -> torch.Tensor:
    """Normalised clips (..., 3, T, H, W) resampled to (..., 3, frames, H', W') (unchanged when they already are)."""
    target = (int(frames), int(size[0]), int(size[1]))
    if tuple(x.shape[-3:]) == target:
        return x
    lead = x.shape[:-4]
    flat = x.reshape(-1, *x.shape[-4:])
    kw = {"align_corners": False} if mode == "trilinear" else {}
    out = F.interpolate(flat, size=target, mode=mode, **kw)
    return out.reshape(*lead, *out.shape[1:])


class FeatureExtractor:
    """A frozen backbone + its global pooling: uint8 clips -> (pooled, map)."""

    def __init__(self, identity: dict[str, Any], *, device: torch.device, seed: int = 0):
        from ..models import build_backbone, global_pool_of, load_pretrained

        self.identity = identity
        self.device = device
        torch.manual_seed(int(identity.get("init_seed", seed)))  # random-weight backbones: the same weights every run
        net = build_backbone(identity["backbone"], frames=identity["frames"], size=tuple(identity["size"]),
                             **identity["backbone_options"])  # fmt: skip
        if identity["pretrained"]:
            report = load_pretrained(net, identity["pretrained"])
            log.info("featurize %s: %s", identity["key"], report.summary())
        self.backbone = net.to(device).eval()
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.pool = global_pool_of(self.backbone)
        self.feature_dim = int(self.pool.out_dim)

    @torch.no_grad()
    def __call__(self, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (B, T, H, W, 3) -> pooled (B, D) and map (B, C, T', H', W'), float32."""
        ident = self.identity
        x = preprocess(clips, norm=ident["norm"], frames=ident["frames"], size=ident["size"], resize=ident["resize"])
        fmap = self.backbone(x.to(self.device))
        pooled = self.pool(fmap)
        return pooled.float().cpu().numpy(), fmap.float().cpu().numpy()


def _shard_features(extractor: FeatureExtractor, clips: np.ndarray, n_views: np.ndarray, *, batch_size: int,
                    store_maps: bool) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """Pooled (n, [V,] D) and maps of one shard's clips (n, [V,] T, H, W, 3); only readable views run."""
    multi = clips.ndim == 6
    if multi:
        jobs = [(i, v) for i in range(len(clips)) for v in range(max(int(n_views[i]), 0))]
        lead = clips.shape[:2]
    else:
        jobs = [(i, None) for i in range(len(clips))]
        lead = clips.shape[:1]
    pooled: np.ndarray | None = None
    maps: np.ndarray | None = None
    for start in range(0, len(jobs), batch_size):
        part = jobs[start : start + batch_size]
        batch = np.stack([clips[i] if v is None else clips[i, v] for i, v in part])
        p, m = extractor(batch)
        if pooled is None:
            pooled = np.zeros((*lead, p.shape[1]), np.float32)
            maps = np.zeros((*lead, *m.shape[1:]), np.float32) if store_maps else None
        for j, (i, v) in enumerate(part):
            at = (i,) if v is None else (i, v)
            pooled[at] = p[j]
            if maps is not None:
                maps[at] = m[j]
    if pooled is None:  # no readable clip at all (cannot happen with a valid cache)
        raise S.FeatureStoreError("a shard without any readable clip")
    return pooled, maps


def _split_of(split_dir: Path | None) -> dict[str, str]:
    """sample id -> split name, from ``<split_dir>/{train,val,test}.csv`` (absent files: no split)."""
    found: dict[str, str] = {}
    if split_dir is None:
        return found
    for name in ("train", "val", "test"):
        path = Path(split_dir) / f"{name}.csv"
        if path.is_file():
            for sid in pd.read_csv(path, usecols=["sample_id"], dtype={"sample_id": str})["sample_id"]:
                found[sid] = name
    return found


def featurize_cache(
    cache_h5: str | os.PathLike,
    out_dir: str | os.PathLike,
    models: Sequence[Any],
    *,
    split_dir: str | os.PathLike | None = None,
    shard_size: int = 256,
    dtype: str = "float16",
    batch_size: int = 8,
    device: str = "auto",
    seed: int = 0,
    progress: bool = True,
    task: str = "",
) -> dict[str, Any]:
    """Featurize every sample of ``cache_h5`` with every model of ``models`` (``featurize.<task>.models``
    entries) into the store ``out_dir``; returns the summary for ``metrics/featurize_<task>.json`` (on rank 0;
    other ranks return their own counts)."""
    import h5py

    from ..data.cache import read_cache_meta

    started = time.perf_counter()
    _ensure_console_logging()
    out_dir = Path(out_dir)
    cache_h5 = Path(cache_h5)
    meta = read_cache_meta(cache_h5)
    spec = meta["spec"]
    dev = torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")
    info, created = distributed.init(dev.type)
    if info.enabled and dev.type == "cuda":
        dev = torch.device("cuda", info.local_rank)
    name = task or cache_h5.stem
    cache_md5 = file_digest(cache_h5)
    code = code_digest(*CODE)
    n = meta["n"]
    bounds = [(s, min(s + shard_size, n)) for s in range(0, n, shard_size)]
    summary: dict[str, Any] = {"samples": n, "models": {}}
    computed_clips = 0
    try:
        with h5py.File(cache_h5, "r") as f:
            clips_ds, views_ds = f["clips"], f["n_views"]
            ids = [s.decode() if isinstance(s, bytes) else s for s in f["sample_id"][:]]
            meta["labels"] = f["label"][:].tolist()
            for model_cfg in models:
                ident = model_identity(model_cfg, spec, dtype=dtype, seed=seed)
                mdir = S.model_dir(out_dir, model_cfg.key)
                mdir.mkdir(parents=True, exist_ok=True)
                mine = [k for k in range(len(bounds)) if k % info.world_size == info.rank]
                todo: list[int] = []
                for k in mine:
                    parts = {
                        "format": S.FORMAT_VERSION,
                        "cache": cache_md5,
                        "model": ident,
                        "rows": list(bounds[k]),
                        "code": code,
                    }
                    why = S.shard_mismatch(mdir / S.shard_name(k), parts)
                    if why is None:
                        continue
                    if why != "not built yet":
                        log.info("featurize %s/%s: rebuilding %s: %s", name, model_cfg.key, S.shard_name(k), why)
                    todo.append(k)
                extractor = FeatureExtractor(ident, device=dev, seed=seed) if todo else None
                n_todo = sum(bounds[k][1] - bounds[k][0] for k in todo)
                bar = tqdm(total=n_todo, unit="clip", desc=f"featurize {name}/{model_cfg.key}",
                           disable=not (progress and info.is_main), dynamic_ncols=True, mininterval=1.0)  # fmt: skip
                written = 0
                for k in todo:
                    lo, hi = bounds[k]
                    clips, n_views = clips_ds[lo:hi], views_ds[lo:hi].astype(np.int64)
                    pooled, maps = _shard_features(extractor, clips, n_views, batch_size=batch_size,
                                                   store_maps=ident["store_maps"])  # fmt: skip
                    bar.update(hi - lo)
                    parts = {"format": S.FORMAT_VERSION, "cache": cache_md5, "model": ident, "rows": [lo, hi], "code": code}
                    written += S.write_shard(mdir / S.shard_name(k), parts=parts, sample_ids=ids[lo:hi],
                                             cache_rows=np.arange(lo, hi), n_views=n_views, pooled=pooled, maps=maps,
                                             dtype=dtype)  # fmt: skip
                    computed_clips += hi - lo
                bar.close()
                summary["models"][model_cfg.key] = {"shards": len(bounds), "computed_shards": len(todo),
                                                    "reused_shards": len(mine) - len(todo)}  # fmt: skip
                if len(mine) > len(todo):
                    log.info("featurize %s/%s: reused %d of %d shards", name, model_cfg.key, len(mine) - len(todo), len(mine))
        computed_clips = _sum_over_ranks(summary["models"], computed_clips, dev)
        if info.is_main:
            _finish_store(out_dir, models, meta, spec, bounds, dtype=dtype, seed=seed, split_dir=split_dir, summary=summary,
                          cache_md5=cache_md5)  # fmt: skip
        distributed.barrier()
    finally:
        if created:
            distributed.cleanup()
    seconds = time.perf_counter() - started
    summary.update({"seconds": round(seconds, 3), "computed_clips": computed_clips,
                    "clips_per_s": round(computed_clips / seconds, 2) if computed_clips else None})  # fmt: skip
    return summary


def _sum_over_ranks(models: dict[str, dict[str, int]], clips: int, device: torch.device) -> int:
    """Every rank's shard counts and computed clips, summed (in place in ``models``; a no-op in one process)."""
    if not distributed.active():
        return clips
    keys = sorted(models)
    values = [v for k in keys for v in (models[k]["computed_shards"], models[k]["reused_shards"])] + [clips]
    t = distributed.all_reduce_sum(torch.tensor(values, dtype=torch.float64, device=device))
    for i, k in enumerate(keys):
        models[k]["computed_shards"], models[k]["reused_shards"] = int(t[2 * i]), int(t[2 * i + 1])
    return int(t[-1])


def _finish_store(out_dir: Path, models, meta, spec, bounds, *, dtype, seed, split_dir, summary, cache_md5: str) -> None:
    """Rank 0: ``model.json`` per model, the merged index, stale shards and models removed, sizes counted."""
    import h5py

    keep = {m.key for m in models}
    for old in out_dir.glob(f"*/{S.MODEL_JSON}"):  # models no longer configured
        if old.parent.name not in keep:
            shutil.rmtree(old.parent)
    split_of = _split_of(Path(split_dir) if split_dir else None)
    label_of = dict(zip(meta["sample_ids"], _labels(meta)))
    frames = []
    total_bytes = 0
    for model_cfg in models:
        ident = model_identity(model_cfg, spec, dtype=dtype, seed=seed)
        mdir = S.model_dir(out_dir, model_cfg.key)
        names = [S.shard_name(k) for k in range(len(bounds))]
        for stale in mdir.glob("shard_*.h5"):
            if stale.name not in names:
                stale.unlink()
        for shard in names:
            rows = S.shard_rows(mdir / shard)
            rows.insert(0, "shard", shard)
            rows.insert(0, "model", model_cfg.key)
            frames.append(rows)
            total_bytes += (mdir / shard).stat().st_size
        with h5py.File(mdir / names[0], "r") as f:
            dim = int(f["pooled"].shape[-1])
            map_shape = list(f["map"].shape[1:]) if "map" in f else None
        S.write_model(out_dir, model_cfg.key, {**ident, "cache_md5": cache_md5, "feature_dim": dim, "map_shape": map_shape, "samples": meta["n"],
                                               "multi_view": spec.get("views", 1) > 1, "cache_spec": spec,
                                               "classes": meta["classes"], "shards": names})  # fmt: skip
    index = pd.concat(frames, ignore_index=True)
    index["split"] = [split_of.get(s, "") for s in index["sample_id"]]
    index["label"] = index["sample_id"].map(label_of)
    S.write_index(out_dir, index)
    summary["bytes"] = int(total_bytes)
    summary["splits"] = {
        k: int(v) for k, v in index[index["model"] == models[0].key]["split"].value_counts().sort_index().items()
    }


def _labels(meta: dict[str, Any]) -> list[int]:
    return list(meta.get("labels") or [])


def check_store_current(info: dict[str, Any], model_cfg, *, cache_h5: str | os.PathLike, cache_spec: dict[str, Any],
                        dtype: str, seed: int, where: str | os.PathLike) -> None:  # fmt: skip
    """Raise :class:`~.store.FeatureStoreError` when a store model (``model.json``) was not made from this cache and
    these ``featurize.<task>`` settings (e.g. params changed and the featurize stage has not run since)."""
    want = model_identity(model_cfg, cache_spec, dtype=dtype, seed=seed)
    have = {k: info.get(k) for k in want}
    changes = describe_changes(have, want)
    if info.get("cache_md5") != file_digest(cache_h5):
        changes.append(f"the clip cache {cache_h5} changed")
    if changes:
        raise S.FeatureStoreError(f"{where}: the stored features are out of date ({'; '.join(changes)}); "
                                  "run the featurize stage again")  # fmt: skip


def featurize_task(task: str, params, *, progress: bool = True) -> dict[str, Any]:
    """``featurize@<task>`` from validated params: the task's cache and splits -> ``<featurize.out_dir>/<task>/``."""
    from ..tasks.registry import get_task

    spec = get_task(task)
    fz = params.featurize
    cfg = getattr(fz, task)
    if fz.threads:
        torch.set_num_threads(fz.threads)
    out = spec.outputs(params)
    summary = featurize_cache(out.cache, Path(fz.out_dir) / task, cfg.models, split_dir=out.splits, shard_size=cfg.shard_size,
                              dtype=cfg.dtype, batch_size=fz.batch_size, device=fz.device, seed=params.seed,
                              progress=progress, task=task)  # fmt: skip
    return {"task": task, **summary, "dtype": cfg.dtype, "shard_size": cfg.shard_size}
