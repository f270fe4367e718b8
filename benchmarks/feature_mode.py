"""Epoch time of the same header head in video mode (frozen backbone forward every step) and in features mode
(the head on the feature store's pooled vectors), side by side in one run, through the real training loop
(:func:`replaylab.training.fit`, the header adapter, its loss and evaluation). Target: features mode at least
10x faster per epoch.

A subset of the header cache's train / val samples is copied into a temporary cache; the store is built from
it by the featurize code (its one-off cost is reported too, with the epochs after which it has paid off).
Video mode reads the clips through ``ClipDataset`` with the ``train.header.augment`` settings of params.yaml,
as ``train@header`` would.

Usage: python benchmarks/feature_mode.py [--backbone compact3d] [--pretrained FILE] [--size H W] [--frames T]
       [--options JSON] [--samples 96] [--epochs 2] [--batch 16] [--cache data/cache/header.h5]
       [--splits data/splits/header] [--out benchmarks/results]
       e.g. the I3D: --backbone i3d --pretrained models/pretrained/i3d_k400.pt --size 112 112
Needs the header cache and splits (`dvc repro split@header`). Writes feature_mode.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from replaylab import params as P  # noqa: E402
from replaylab.data.augment import AugmentConfig  # noqa: E402
from replaylab.data.cache import read_cache_meta  # noqa: E402
from replaylab.data.dataset import ClipDataset  # noqa: E402
from replaylab.data.samples import read_csv  # noqa: E402
from replaylab.features.dataset import FeatureDataset  # noqa: E402
from replaylab.features.featurize import featurize_cache  # noqa: E402
from replaylab.features.heads import InputResample, PooledClassifier  # noqa: E402
from replaylab.features.store import ModelStore  # noqa: E402
from replaylab.models import build_classifier, param_groups, set_finetune_mode  # noqa: E402
from replaylab.params.featurize import FeatureModelParams  # noqa: E402
from replaylab.tasks.header.adapter import HeaderTask  # noqa: E402
from replaylab.training import TrainConfig, fit  # noqa: E402


def subset_cache(cache: Path, ids: list[str], out: Path) -> None:
    """A copy of ``cache`` holding only the samples ``ids`` (same layout and attributes)."""
    with h5py.File(cache, "r") as src:
        all_ids = [s.decode() if isinstance(s, bytes) else s for s in src["sample_id"][:]]
        row = {s: i for i, s in enumerate(all_ids)}
        rows = sorted(row[s] for s in ids)
        with h5py.File(out, "w") as dst:
            shape = src["clips"].shape[1:]
            dst.create_dataset("clips", data=np.stack([src["clips"][r] for r in rows]), chunks=(1, *shape))
            dst.create_dataset("sample_id", data=np.array([all_ids[r] for r in rows], dtype=h5py.string_dtype()))
            for name in ("label", "n_views"):
                dst.create_dataset(name, data=src[name][:][rows])
            for k, v in src.attrs.items():
                dst.attrs[k] = v


def _fit(model, train_set, val_set, cfg: TrainConfig, work: Path, name: str, *, parts=None) -> dict:
    """One run of the real loop; ``parts``: the module with ``backbone`` / ``head`` that the groups come from."""
    groups = param_groups(parts or model, lr_backbone=cfg.lr_backbone, lr_head=cfg.lr_head, weight_decay=cfg.weight_decay)
    task = HeaderTask(torch.nn.CrossEntropyLoss())
    res = fit(model=model, task=task, train_set=train_set, val_set=val_set, cfg=cfg, out_dir=work / name,
              live_dir=work / f"live_{name}", param_groups=groups, resume=False)  # fmt: skip
    epochs = res.timing
    best = min(epochs, key=lambda r: r["seconds"])  # the warm epoch (the first one also allocates)
    return {"epoch_s": round(best["seconds"], 3), "train_clips_per_s": best["clips_per_s"],
            "epochs": [{"seconds": r["seconds"], "clips_per_s": r["clips_per_s"]} for r in epochs],
            "val_auroc": round(float(res.best_metrics.get("val_auroc", float("nan"))), 4)}  # fmt: skip


def run(args) -> dict:
    params = P.load()
    cache = Path(args.cache or Path(params.cache_clips.out_dir) / "header.h5")
    splits = Path(args.splits or Path(params.split.out_dir) / "header")
    meta = read_cache_meta(cache)
    spec, classes = meta["spec"], meta["classes"]
    train_ix = read_csv(splits / "train.csv", classes=classes)
    val_ix = read_csv(splits / "val.csv", classes=classes)
    train_ix = train_ix.subset([s.sample_id for s in train_ix.samples[: args.samples]])
    val_ix = val_ix.subset([s.sample_id for s in val_ix.samples[: max(args.samples // 4, 8)]])
    model_cfg = FeatureModelParams(key="bench", backbone=args.backbone, pretrained=args.pretrained,
                                   backbone_options=json.loads(args.options), frames=args.frames,
                                   size=list(args.size) if args.size else None)  # fmt: skip
    hcfg = params.train.header
    cfg = TrainConfig.from_dict({"epochs": args.epochs, "batch_size": args.batch, "num_workers": 0, "lr_head": hcfg.lr,
                                 "lr_backbone": hcfg.lr, "schedule": "none", "warmup_epochs": 0.0, "monitor": "val_auroc",
                                 "early_stop_patience": 0, "device": args.device}, seed=params.seed)  # fmt: skip
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="feature-mode-") as tmp:
        work = Path(tmp)
        subset_cache(cache, [s.sample_id for s in (*train_ix.samples, *val_ix.samples)], work / "header.h5")
        t = time.perf_counter()
        fz = featurize_cache(work / "header.h5", work / "store", [model_cfg], shard_size=256, dtype="float16",
                             batch_size=8, device=args.device, seed=params.seed, progress=False)  # fmt: skip
        featurize_s = time.perf_counter() - t
        store = ModelStore.read(work / "store", "bench")
        info = store.info
        frames, size = info["frames"], tuple(info["size"])

        # video mode: frozen backbone + head, clips from the cache (resampled to the backbone's input)
        torch.manual_seed(params.seed)
        full = build_classifier(backbone=args.backbone, num_classes=2, frames=frames, size=size, dropout=hcfg.dropout,
                                backbone_options=info["backbone_options"], pretrained=args.pretrained)  # fmt: skip
        set_finetune_mode(full, mode="frozen")
        video_model = (
            full if (frames, size) == (spec["frames"], tuple(spec["size"])) else InputResample(full, frames=frames, size=size)
        )
        aug = AugmentConfig(**hcfg.augment.model_dump())
        v_train = ClipDataset(work / "header.h5", train_ix, train=True, norm=info["norm"], augment_cfg=aug, seed=params.seed)
        v_val = ClipDataset(work / "header.h5", val_ix, train=False, norm=info["norm"])
        video = _fit(video_model, v_train, v_val, cfg, work, "video", parts=full)

        # features mode: the same head on the stored pooled vectors
        torch.manual_seed(params.seed)
        head = build_classifier(backbone=args.backbone, num_classes=2, frames=frames, size=size, dropout=hcfg.dropout,
                                backbone_options=info["backbone_options"]).head  # fmt: skip
        f_train = FeatureDataset(store, train_ix, classes=classes, train=True, seed=params.seed)
        f_val = FeatureDataset(store, val_ix, classes=classes)
        feats = _fit(PooledClassifier(head), f_train, f_val, cfg, work, "features")
    saved = video["epoch_s"] - feats["epoch_s"]
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "backbone": args.backbone, "pretrained": args.pretrained, "input": [frames, *size],
        "cache_input": [spec["frames"], *spec["size"]], "feature_dim": info["feature_dim"],
        "train_samples": len(train_ix), "val_samples": len(val_ix), "batch": args.batch, "epochs": args.epochs,
        "featurize_s": round(featurize_s, 3), "featurize_clips_per_s": fz["clips_per_s"],
        "video": video, "features": feats,
        "speedup_epoch": round(video["epoch_s"] / feats["epoch_s"], 1),
        "speedup_train": round(feats["train_clips_per_s"] / video["train_clips_per_s"], 1),
        "featurize_paid_off_after_epochs": round(featurize_s / saved, 2) if saved > 0 else None,
    }  # fmt: skip


def markdown(r: dict) -> str:
    lines = [
        "| mode | epoch (train + val) s | training clips/s | val AUROC after the epochs |",
        "|---|---|---|---|",
        f"| video (frozen `{r['backbone']}` forward every step) | {r['video']['epoch_s']} | {r['video']['train_clips_per_s']} "
        f"| {r['video']['val_auroc']} |",
        f"| features (head on stored pooled vectors) | {r['features']['epoch_s']} | {r['features']['train_clips_per_s']} "
        f"| {r['features']['val_auroc']} |",
    ]  # fmt: skip
    lines += [
        "",
        f"Speed-up per epoch {r['speedup_epoch']}x (training pass {r['speedup_train']}x); featurizing the "
        f"{r['train_samples'] + r['val_samples']} clips once took {r['featurize_s']} s, paid off after "
        f"{r['featurize_paid_off_after_epochs']} epochs.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backbone", default="compact3d")
    ap.add_argument("--pretrained", default=None)
    ap.add_argument("--options", default="{}", help='backbone builder options as JSON, e.g. \'{"endpoint": "Mixed_4f"}\'')
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--size", type=int, nargs=2, default=None)
    ap.add_argument("--samples", type=int, default=96, help="training clips (val: a quarter of that, at least 8)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--splits", default=None)
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args(argv)
    r = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "feature_mode.json").write_text(json.dumps(r, indent=2) + "\n")
    (out / "feature_mode.md").write_text(markdown(r))
    print(markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
