"""Clip pipeline benchmark, measured side by side in one run on the default data (run `dvc repro` first).

(a) cache build throughput vs. raw PyAV decode of the same frames (target >= 0.7x);
(b) random clip reads per second from the HDF5 cache vs. decoding each clip on the fly: for `foul` the
    way the VARS baseline does (decode the whole clip file, keep the frame window, resize; target >= 20x),
    for long match videos (`header`) with a seek to the window, the best case for on-the-fly reading;
(c) the data-loading share of a training step (DataLoader over the cache with augmentation, feeding the
    default `compact3d` classifier; views max-pooled for `foul`).

Usage: python benchmarks/clip_pipeline.py [--tasks header foul] [--reads 200] [--out benchmarks/results]
Writes clip_pipeline.json and clip_pipeline.md (the README table) under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

import av  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from replaylab import params as P  # noqa: E402
from replaylab.data.cache import build_cache, spec_from_params  # noqa: E402
from replaylab.data.sources import task_index  # noqa: E402
from replaylab.data.video import probe, read_frames  # noqa: E402
from replaylab.models import build_classifier  # noqa: E402


def raw_decode(index, spec) -> int:
    """Plain PyAV: open each source, seek to the keyframe before the window, decode to RGB until the
    window's last frame. No crop, resize or storage. Returns frames kept."""
    kept = 0
    infos = {}
    for s in index.samples:
        for src in s.sources[: spec.views]:
            path = index.resolve(src)
            if path not in infos:
                infos[path] = probe(path)
            info = infos[path]
            times = spec.times(s, info.duration_s, info.fps)
            with av.open(str(path)) as c:
                st = c.streams.video[0]
                st.thread_type = "AUTO"
                tb = float(st.time_base)
                start = float(st.start_time or 0) * tb
                c.seek(int((start + times.min()) / tb), stream=st, backward=True, any_frame=False)
                want = sorted(times)
                j = 0
                for fr in c.decode(st):
                    t = fr.pts * tb - start
                    while j < len(want) and want[j] < t - 1e-6:
                        j += 1
                    if j < len(want) and abs(want[j] - t) < 0.5 / info.fps:
                        fr.to_ndarray(format="rgb24")
                        kept += int(np.sum(np.abs(np.asarray(want) - t) < 0.5 / info.fps))
                    if t > want[-1] + 1e-6:
                        break
    return kept


def vars_style_clip(path: Path, first: int, last: int, size: tuple[int, int]) -> torch.Tensor:
    """What the VARS baseline does per access: decode the whole clip file, keep frames first..last, resize."""
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(st)])
    v = torch.from_numpy(frames[first : last + 1]).permute(0, 3, 1, 2).float()
    return F.interpolate(v, size=size, mode="bilinear", align_corners=False).to(torch.uint8)


class ViewMax(torch.nn.Module):
    """A registry classifier applied to every view, logits max-pooled over views (multi-view caches)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        b, v = x.shape[:2]
        return self.model(x.flatten(0, 1)).view(b, v, -1).max(1).values


def loader_share(task: str, cache: Path, index_csv: Path, classes: int, batch: int, workers: int, steps: int) -> dict:
    from torch.utils.data import DataLoader

    from replaylab.data.augment import AugmentConfig
    from replaylab.data.dataset import ClipDataset

    ds = ClipDataset(cache, index_csv, train=True, augment_cfg=AugmentConfig(flip=0.5, rotate_deg=5, brightness=0.2, contrast=0.2, temporal_jitter=2),
                     views=2 if task == "foul" else None, seed=0)  # fmt: skip
    dl = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True, persistent_workers=False)
    torch.manual_seed(0)
    spec = ds.spec
    net = build_classifier(backbone="compact3d", num_classes=classes, frames=spec["frames"], size=tuple(spec["size"]))
    net = ViewMax(net) if ds.multi_view else net
    opt = torch.optim.AdamW(net.parameters(), 1e-3)
    wait = compute = 0.0
    n = 0
    t0 = time.perf_counter()
    while n < steps:
        it = iter(dl)
        while n < steps:
            a = time.perf_counter()
            try:
                b = next(it)
            except StopIteration:
                break
            c = time.perf_counter()
            loss = F.cross_entropy(net(b["video"]), b["label"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            d = time.perf_counter()
            if n > 0:  # the first step includes worker start-up
                wait += c - a
                compute += d - c
            n += 1
    total = time.perf_counter() - t0
    return {"steps": steps, "batch": batch, "loader_workers": workers, "data_wait_s": round(wait, 3), "compute_s": round(compute, 3),
            "loading_share": round(wait / (wait + compute), 4), "clips_per_s": round((steps - 1) * batch / (wait + compute), 1),
            "wall_s": round(total, 2)}  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", nargs="+", default=["header", "foul"])
    ap.add_argument("--reads", type=int, default=200, help="random clip reads per side in (b)")
    ap.add_argument("--steps", type=int, default=30, help="training steps in (c)")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    params = P.load()
    cc = params.cache_clips
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, PyAV {av.__version__}",
        "tasks": {},
    }
    for task in args.tasks:
        cfg = getattr(cc, task)
        spec = spec_from_params(cfg)
        index = task_index(task, cfg, seed=params.seed, margin_s=spec.half_window_s())
        n_frames = sum(min(len(s.sources), spec.views) for s in index.samples) * spec.frames
        r: dict = {"samples": len(index), "frames": n_frames, "clip_shape": list(spec.clip_shape())}
        # (a) raw decode vs cache build, one process each, same frames
        t = time.perf_counter()
        raw_decode(index, spec)
        raw_s = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            build_cache(
                index,
                spec,
                out_h5=f"{tmp}/c.h5",
                out_index=f"{tmp}/i.csv",
                work_dir=f"{tmp}/w",
                workers=1,
                progress=False,
                task=task,
            )
            build_s = time.perf_counter() - t
            t = time.perf_counter()
            build_cache(
                index,
                spec,
                out_h5=f"{tmp}/c2.h5",
                out_index=f"{tmp}/i2.csv",
                work_dir=f"{tmp}/w2",
                workers=cc.workers,
                progress=False,
                task=task,
            )
            build_par_s = time.perf_counter() - t
        r["a"] = {"raw_decode_fps": round(n_frames / raw_s, 1), "cache_build_fps": round(n_frames / build_s, 1),
                  "ratio": round(raw_s / build_s, 3), f"cache_build_fps_{cc.workers}_workers": round(n_frames / build_par_s, 1)}  # fmt: skip
        # (b) random reads: HDF5 cache vs. on-the-fly decoding (VARS style)
        cache = Path(cc.out_dir) / f"{task}.h5"
        rng = random.Random(0)
        with h5py.File(cache, "r") as f:
            ds = f["clips"]
            rows = [rng.randrange(ds.shape[0]) for _ in range(args.reads)]
            t = time.perf_counter()
            for i in rows:
                ds[i]
            cache_rps = args.reads / (time.perf_counter() - t)
        n_fly = max(10, args.reads // 10)
        samples = [index.samples[rng.randrange(len(index))] for _ in range(n_fly)]
        t = time.perf_counter()
        for s in samples:
            for src in s.sources[: spec.views] if task == "foul" else s.sources[:1]:
                path = index.resolve(src)
                if task == "foul":  # whole clip file, as the baseline
                    c = round(s.center_s * 25)
                    vars_style_clip(path, c - spec.frames // 2, c + spec.frames // 2 - 1, tuple(spec.size))
                else:  # long match video: seek + decode only the window (the best case for on-the-fly reading)
                    info = probe(path)
                    read_frames(
                        path,
                        spec.times(s, info.duration_s, info.fps),
                        crop_center=s.point,
                        crop_px=spec.crop_px,
                        size=tuple(spec.size),
                    )
        fly_rps = n_fly / (time.perf_counter() - t)
        r["b"] = {
            "cache_reads_per_s": round(cache_rps, 1),
            "on_the_fly_reads_per_s": round(fly_rps, 2),
            "ratio": round(cache_rps / fly_rps, 1),
        }
        # (c) loading share of a training step
        meta_classes = len(json.loads(h5py.File(cache, "r").attrs["classes"]))
        r["c"] = loader_share(
            task, cache, Path(cc.out_dir) / f"{task}_index.csv", meta_classes, batch=8, workers=1, steps=args.steps
        )
        results["tasks"][task] = r
        print(json.dumps({task: r}, indent=1), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "clip_pipeline.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| task | (a) raw decode fps | (a) cache build fps | (a) ratio (target ≥ 0.7) | (b) cache reads/s | (b) on-the-fly reads/s | (b) ratio (target ≥ 20) | (c) loading share of step |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for task, r in results["tasks"].items():
        lines.append(f"| {task} | {r['a']['raw_decode_fps']} | {r['a']['cache_build_fps']} | {r['a']['ratio']} | {r['b']['cache_reads_per_s']} "
                     f"| {r['b']['on_the_fly_reads_per_s']} | {r['b']['ratio']} | {r['c']['loading_share']:.1%} |")  # fmt: skip
    (out / "clip_pipeline.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
