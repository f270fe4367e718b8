"""Training throughput per backbone at the default header input, measured side by side in one run:
clips/s through the real data loader (ClipDataset over the HDF5 cache, augmentation on) vs. the same
model fed tensors already in memory. Target: the loader costs at most 10% of step time.

Usage: python benchmarks/train_throughput.py [--backbones compact3d r3d_18 ...] [--steps 8] [--batch 8]
       [--workers 1] [--out benchmarks/results]
Needs `dvc repro` (the header cache and splits) first. Writes train_throughput_workers<N>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from replaylab import params as P  # noqa: E402
from replaylab.data.augment import AugmentConfig  # noqa: E402
from replaylab.data.cache import read_cache_meta  # noqa: E402
from replaylab.data.dataset import ClipDataset  # noqa: E402
from replaylab.models import BACKBONES, build_classifier, normalisation_of  # noqa: E402

DEFAULT = ["compact3d", "r3d_18", "mc3_18", "r2plus1d_18", "s3d", "mvit_v2_s", "csn26", "videomae_tiny"]


def _step(model, opt, x, y) -> None:
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def measure(
    name: str, *, cache: Path, split: Path, frames: int, size: tuple[int, int], steps: int, batch: int, workers: int
) -> dict:
    torch.manual_seed(0)
    model = build_classifier(backbone=name, num_classes=2, frames=frames, size=size)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    ds = ClipDataset(cache, split, train=True, norm=normalisation_of(name),
                     augment_cfg=AugmentConfig(flip=0.5, rotate_deg=5, brightness=0.2, contrast=0.2, temporal_jitter=2), seed=0)  # fmt: skip
    loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True, persistent_workers=workers > 0,
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    # in-memory side: the same batches, prepared before the clock starts
    it = iter(loader)
    first = next(it)
    x, y = first["video"], first["label"]
    t = time.perf_counter()
    _step(model, opt, x, y)  # warm-up (allocations, kernels)
    if time.perf_counter() - t < 0.5:  # fast models: more steps, so the timing noise stays small
        steps *= 4
    t = time.perf_counter()
    for _ in range(steps):
        _step(model, opt, x, y)
    mem_s = (time.perf_counter() - t) / steps
    # loader side: batches come from the DataLoader during the measured steps
    t = time.perf_counter()
    wait = 0.0
    done = 0
    while done < steps:
        a = time.perf_counter()
        try:
            b = next(it)
        except StopIteration:
            it = iter(loader)
            b = next(it)
        wait += time.perf_counter() - a
        _step(model, opt, b["video"], b["label"])
        done += 1
    loader_s = (time.perf_counter() - t) / steps
    return {
        "backbone": name,
        "steps": steps,
        "parameters": sum(p.numel() for p in model.parameters()),
        "in_memory_clips_per_s": round(batch / mem_s, 2),
        "loader_clips_per_s": round(batch / loader_s, 2),
        "loader_share": round(max(loader_s - mem_s, 0.0) / loader_s, 4),
        "data_wait_share": round(wait / steps / loader_s, 4),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backbones", nargs="+", default=DEFAULT)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args(argv)
    params = P.load()
    cache = Path(params.cache_clips.out_dir) / "header.h5"
    split = Path(params.split.out_dir) / "header" / "train.csv"
    spec = read_cache_meta(cache)["spec"]
    frames, size = spec["frames"], tuple(spec["size"])
    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    for name in args.backbones:
        if name not in BACKBONES:
            raise SystemExit(f"unknown backbone {name!r}; registered: {', '.join(sorted(BACKBONES))}")
        try:
            r = measure(
                name, cache=cache, split=split, frames=frames, size=size, steps=args.steps, batch=args.batch, workers=args.workers
            )
        except ValueError as e:  # an input this backbone cannot take: say so in the table
            r = {"backbone": name, "error": str(e)}
        rows.append(r)
        print(json.dumps(r), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}", "input": [frames, *size],
            "batch": args.batch, "steps": args.steps, "loader_workers": args.workers}  # fmt: skip
    (out / f"train_throughput_workers{args.workers}.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    lines = [
        "| backbone | params | in-memory clips/s | through the loader clips/s | loader share of step (target ≤ 10%) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['backbone']} | | | | cannot take {frames}x{size[0]}x{size[1]}: {r['error']} |")
        else:
            lines.append(f"| {r['backbone']} | {r['parameters'] / 1e6:.2f} M | {r['in_memory_clips_per_s']} | {r['loader_clips_per_s']} "
                         f"| {r['loader_share']:.1%} |")  # fmt: skip
    (out / f"train_throughput_workers{args.workers}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
