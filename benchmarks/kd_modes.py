"""``train@kd``'s fusion training in both modes side by side in one run, and what the student costs per clip
against each teacher. Target (issue 14): features mode at least 10x the iterations/s of video mode on 2 cores.

1. **Fusion training throughput.** The kd model is built by the trainer itself (:class:`KdTrainer.build`: phase 1
   fits the converters, here for ``--converter-epochs`` epochs only, since their weights do not change the cost;
   then KdNet with the frozen converters and the fusion head), once per mode, with the datasets ``train@kd``
   uses: ``input: video`` reads the cached uint8 clips through :class:`~replaylab.data.dataset.ClipDataset`
   (normalised as the student's features were made) and runs the frozen student, the converters and the head
   every step; ``input: features`` reads the student's stored features through
   :class:`~replaylab.features.dataset.FeatureDataset`. Each optimisation step is the loop's: the next batch from
   a ``DataLoader`` made as :func:`replaylab.training.fit` makes it (batch size, ``num_workers``, shuffling,
   drop-last rule), the task's training loss (forward), backward, the optimiser step of the head. Warm-up steps
   are not timed. Reported: iterations/s, clips/s and the ratio features / video.
2. **Cost per clip.** Every model of ``featurize.recognition.models`` (the student and the teachers) is built as
   ``featurize`` builds it (:class:`~replaylab.features.featurize.FeatureExtractor`: its checkpoint, input frames
   and size) and timed on the same cached clips in batches of ``featurize.batch_size`` (normalise + resample +
   backbone + global pool, from uint8 clips in memory): ms per clip, and each teacher's ratio to the student;
   with parameter counts and input sizes. Also the whole test-time path of the kd model (student + converters +
   fusion head, what ``predict-clips`` runs).

Inputs: the pipeline's outputs under ``--root`` (params.yaml there, or ``--params``; its relative paths are
resolved from ``--root``): the recognition clip cache and splits, the ``featurize@recognition`` store with the
student's and every teacher's features, and their checkpoints. ``--synthetic`` builds a tiny world instead
(a few rendered UCF101-layout clips, their cache, splits and a store of small random-weight backbones) in a
temporary directory, so the script runs anywhere.

Usage: python benchmarks/kd_modes.py [--root .] [--params FILE] [--synthetic] [--steps 10] [--features-steps 100]
       [--warmup 3] [--batch N] [--workers N] [--threads N] [--cost-batches 2] [--converter-epochs 1]
       [--device cpu] [--out benchmarks/results]
Writes kd_modes.{json,md} under --out.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from replaylab import params as P  # noqa: E402
from replaylab.data.cache import read_cache_meta  # noqa: E402
from replaylab.data.samples import AdapterError  # noqa: E402
from replaylab.features.featurize import FeatureExtractor, model_identity, preprocess  # noqa: E402
from replaylab.features.store import FeatureStoreError  # noqa: E402
from replaylab.tasks.registry import get_task  # noqa: E402
from replaylab.tasks.training import TrainContext, clip_data, feature_data, train_config, train_seed  # noqa: E402
from replaylab.training import seeding  # noqa: E402
from replaylab.training.schedule import build_optimizer, resolve_param_groups  # noqa: E402

MODES = ("video", "features")
TARGET_RATIO = 10.0  # issue 14: features mode at least 10x video mode


# ------------------------------------------------------------------ the tiny world (--synthetic)
SYNTHETIC_CLASSES = ["Header", "Kick", "Tackle"]


def synthetic_world(root: Path, *, seed: int = 5) -> dict[str, Any]:
    """A tiny recognition world under ``root``: rendered UCF101-layout clips (3 classes x 4 groups x 2 clips,
    group 1 is the test list), their clip cache, official splits and a feature store of a small random-weight
    student and teacher. Returns the params dict (absolute paths)."""
    from replaylab.data.cache import build_cache, spec_from_params
    from replaylab.data.samples import read_csv
    from replaylab.data.sources import task_index
    from replaylab.data.task_splits import make_splits, write_splits
    from replaylab.features.featurize import featurize_cache
    from replaylab.world.physics import BallParams
    from replaylab.world.video import VideoSettings
    from replaylab.world.writers.ucf101 import RecognitionRenderConfig, group_setting, render_clip, split_lists

    groups, per_group = 4, 2
    ucf = root / "ucf101"
    cfg = RecognitionRenderConfig(frames=12, width=64, height=48, video=VideoSettings(fps=25.0), look=(0.6, 3.0, 0.06),
                                  extras=1, ball=BallParams())  # fmt: skip
    for ci, cls in enumerate(SYNTHETIC_CLASSES):
        for g in range(1, groups + 1):
            setting = group_setting(np.random.default_rng([seed, ci, g]), cfg)
            for c in range(1, per_group + 1):
                render_clip(cls, g, c, setting, ucf, cfg, np.random.default_rng([seed, ci, g, c]))
    ind, train, test = split_lists(SYNTHETIC_CLASSES, groups, per_group, 1)
    lists = ucf / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    for name, lines in (("classInd", ind), ("trainlist01", train), ("testlist01", test)):
        (lists / f"{name}.txt").write_text("\n".join(lines) + "\n")
    models = [{"key": "student", "backbone": "compact3d", "backbone_options": {"width": 0.25}, "pretrained": None,
               "frames": 4, "size": [32, 32]},
              {"key": "teacher", "backbone": "compact3d", "backbone_options": {"width": 0.5}, "pretrained": None,
               "frames": 8, "size": [48, 48]}]  # fmt: skip
    data = {
        "seed": seed,
        "cache_clips": {"out_dir": str(root / "cache"),
                        "recognition": {"source": {"format": "ucf101", "root": str(ucf)}, "frames": 8, "size": [40, 40],
                                        "crop_px": 40}},
        "split": {"out_dir": str(root / "splits"),
                  "recognition": {"strategy": "official", "fractions": {"train": 0.75, "val": 0.25, "test": 0.0}}},
        "featurize": {"out_dir": str(root / "features"), "batch_size": 4, "threads": 1,
                      "recognition": {"models": models, "dtype": "float32"}},
        "train": {"out_dir": str(root / "models"), "live_dir": str(root / "live"),
                  "kd": {"batch_size": 4, "num_workers": 0, "threads": 1, "teachers": ["teacher"], "references": False,
                         "converter": {"epochs": 2, "patience": 1, "batch_size": 4}}},
    }  # fmt: skip
    params = P.validate(data)
    ccfg = params.cache_clips.recognition
    spec = spec_from_params(ccfg)
    cache = root / "cache" / "recognition.h5"
    build_cache(task_index("recognition", ccfg, seed=seed, margin_s=spec.half_window_s()), spec, out_h5=cache,
                out_index=root / "cache/recognition_index.csv", work_dir=root / "work", progress=False,
                task="recognition")  # fmt: skip
    by = make_splits(read_csv(root / "cache/recognition_index.csv"), strategy="official",
                     fractions={"train": 0.75, "val": 0.25, "test": 0.0}, seed=seed, task="recognition")  # fmt: skip
    write_splits(by, root / "splits/recognition", task="recognition")
    featurize_cache(cache, root / "features/recognition", params.featurize.recognition.models,
                    split_dir=root / "splits/recognition", progress=False, task="recognition", seed=seed,
                    dtype="float32", batch_size=4)  # fmt: skip
    return data


# ------------------------------------------------------------------ fusion training throughput
def mode_params(data: dict[str, Any], mode: str, *, converter_epochs: int, work: Path, source: Path | str):
    """The validated params of one run: ``train.kd.input = mode``, a short phase 1, outputs under ``work``."""
    d = copy.deepcopy(data)
    train = d.setdefault("train", {})
    train["out_dir"], train["live_dir"] = str(work / f"models_{mode}"), str(work / f"live_{mode}")
    kd = train.setdefault("kd", {})
    kd["input"] = mode
    kd.setdefault("converter", {})["epochs"] = int(converter_epochs)
    return P.validate(d, source)


def build_mode(params, *, device: torch.device):
    """(trainable, datasets, loop config, input normalisation) as ``train_task('kd', ...)`` builds them."""
    spec = get_task("kd")
    cfg = params.train.kd
    seed = train_seed(params, cfg)
    torch.manual_seed(seed)
    features = None
    if cfg.input == "features":
        data, features = feature_data(spec, params, cfg)
        norm = features["norm"]
    else:
        norm = spec.trainer.input_norm(params, cfg)
        data = clip_data(spec, params, cfg, norm)
    tcfg = train_config(cfg, seed=seed)
    out = spec.outputs(params)
    ctx = TrainContext(spec=spec, params=params, cfg=cfg, data=data, tcfg=tcfg, norm=norm, out_dir=out.model, live_dir=out.live,
                       features=features)  # fmt: skip
    trainable = spec.trainer.build(ctx)
    trainable.model.to(device)
    return trainable, data, tcfg, norm


def train_loader(dataset, tcfg, *, epoch: int, collate_fn=None) -> DataLoader:
    """The training DataLoader as :func:`replaylab.training.fit` makes it (one process)."""
    n = len(dataset)
    drop_last = n > tcfg.batch_size and n % tcfg.batch_size == 1
    return DataLoader(dataset, batch_size=tcfg.batch_size, shuffle=True, num_workers=tcfg.num_workers, collate_fn=collate_fn,
                      drop_last=drop_last, worker_init_fn=seeding.seed_worker,
                      generator=seeding.loader_generator(tcfg.seed, epoch, 0, seeding.LOADER_STREAM))  # fmt: skip


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(trainable, dataset, tcfg, *, steps: int, warmup: int, device: torch.device) -> dict[str, Any]:
    """``warmup`` untimed then ``steps`` timed optimisation steps: next batch, loss, backward, optimiser step.
    Throughput is over the whole timed run; the median step time is also given (robust on a shared machine), and
    the share of the time spent waiting for the next batch (the DataLoader: reading and normalising clips)."""
    model, task = trainable.model, trainable.adapter
    optimizer = build_optimizer(tcfg, resolve_param_groups(model, trainable.param_groups, tcfg))
    model.train()
    epoch, clips, times, loading, shape, loss = 0, 0, [], [], None, None

    def batches():
        nonlocal epoch
        while True:
            yield from train_loader(dataset, tcfg, epoch=epoch, collate_fn=trainable.collate_fn)
            epoch += 1

    it = batches()
    for step in range(warmup + steps):
        t = time.perf_counter()
        batch = next(it)
        loaded = time.perf_counter() - t
        loss = task.training_loss(model, batch, device)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - t)
            loading.append(loaded)
            clips += int(task.batch_size_of(batch))
        shape = shape or list((batch["video"] if "video" in batch else batch["features"]).shape[1:])
    seconds = float(sum(times))
    return {"steps": steps, "warmup_steps": warmup, "seconds": round(seconds, 4),
            "iterations_per_s": round(steps / seconds, 3), "clips_per_s": round(clips / seconds, 2),
            "ms_per_step": round(1000 * seconds / steps, 3), "median_ms_per_step": round(1000 * float(np.median(times)), 3),
            "loading_share": round(float(sum(loading)) / seconds, 3),
            "input_per_clip": shape, "train_clips": len(dataset),
            "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "frozen_parameters": sum(p.numel() for p in model.parameters() if not p.requires_grad),
            "last_loss": round(loss.item(), 4)}  # fmt: skip


# ------------------------------------------------------------------ cost per clip
def cached_clips(cache: Path, n: int) -> np.ndarray:
    """The first ``n`` uint8 clips (or all there are) of the recognition cache, (n, T, H, W, 3)."""
    with h5py.File(cache, "r") as f:
        return f["clips"][: min(n, len(f["clips"]))]


def time_forward(fn, clips: np.ndarray, *, batch_size: int, device: torch.device) -> dict[str, Any]:
    """ms per clip of ``fn`` over ``clips`` in full batches of ``batch_size``, after one untimed warm-up batch:
    the median batch (robust on a shared machine) and the mean."""
    if len(clips) < 2 * batch_size:
        raise ValueError(f"cost per clip: {len(clips)} cached clips, at least {2 * batch_size} needed (two batches)")
    fn(clips[:batch_size])
    times = []
    for s in range(batch_size, len(clips) - batch_size + 1, batch_size):
        t = time.perf_counter()
        fn(clips[s : s + batch_size])
        synchronize(device)
        times.append(time.perf_counter() - t)
    return {"batch": batch_size, "clips_timed": len(times) * batch_size,
            "ms_per_clip": round(1000 * float(np.median(times)) / batch_size, 3),
            "ms_per_clip_mean": round(1000 * float(np.mean(times)) / batch_size, 3)}  # fmt: skip


def gflops_per_clip(fn, clip: np.ndarray) -> float:
    """Forward GFLOPs of ``fn`` on one uint8 clip (1, T, H, W, 3), counted by torch's FlopCounterMode (convolutions
    and matrix products: a load-independent measure of the cost)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn(clip)
    return round(counter.get_total_flops() / 1e9, 3)


def backbone_costs(params, clips: np.ndarray, spec: dict[str, Any], *, device: torch.device) -> dict[str, Any]:
    """ms per clip of every ``featurize.recognition.models`` backbone (FeatureExtractor: as featurize runs it)."""
    fz = params.featurize.recognition
    kd = params.train.kd
    out = {}
    for m in fz.models:
        ident = model_identity(m, spec, dtype=fz.dtype, seed=params.seed)
        ext = FeatureExtractor(ident, device=device, seed=params.seed)
        cost = time_forward(ext, clips, batch_size=params.featurize.batch_size, device=device)
        cost["gflops_per_clip"] = gflops_per_clip(ext, clips[:1])
        role = "student" if m.key == kd.features_model else "teacher" if m.key in kd.teachers else "unused"
        out[m.key] = {"role": role, "backbone": m.backbone, "pretrained": m.pretrained,
                      "options": dict(m.backbone_options), "input": [ident["frames"], *ident["size"]],
                      "parameters": sum(p.numel() for p in ext.backbone.parameters()), "feature_dim": ext.feature_dim,
                      **cost}  # fmt: skip
        del ext
    return out


def kd_inference_cost(model, clips: np.ndarray, *, norm: str, spec: dict[str, Any], batch_size: int,
                      device: torch.device) -> dict[str, Any]:  # fmt: skip
    """ms per clip of the kd model at test time (student + converters + fusion head) from uint8 clips."""
    model.eval()

    @torch.no_grad()
    def run(batch: np.ndarray) -> None:
        x = preprocess(batch, norm=norm, frames=spec["frames"], size=spec["size"])
        model(x.to(device))

    return {**time_forward(run, clips, batch_size=batch_size, device=device), "gflops_per_clip": gflops_per_clip(run, clips[:1]),
            "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip


# ------------------------------------------------------------------ driver
def resolve_device(name: str) -> torch.device:
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def run(args) -> dict[str, Any]:
    started = time.perf_counter()
    load_start = os.getloadavg()
    device = resolve_device(args.device)
    with contextlib.ExitStack() as stack:
        if args.synthetic:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kd-modes-world-")))
            data, source = synthetic_world(root), root / "params.yaml"
        else:
            root = Path(args.root).resolve()
            source = Path(args.params).resolve() if args.params else root / "params.yaml"
            data = P.read_yaml(source)
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kd-modes-")))
        stack.enter_context(contextlib.chdir(root))  # params' relative paths (cache, store, checkpoints) are from root
        kd = data.setdefault("train", {}).setdefault("kd", {})
        if args.batch:
            kd["batch_size"] = args.batch
        if args.workers is not None:
            kd["num_workers"] = args.workers
        modes: dict[str, Any] = {}
        for mode in MODES:
            params = mode_params(data, mode, converter_epochs=args.converter_epochs, work=work, source=source)
            threads = args.threads or params.train.kd.threads or os.cpu_count() or 1
            torch.set_num_threads(threads)
            train_threads = torch.get_num_threads()
            t = time.perf_counter()
            trainable, cdata, tcfg, norm = build_mode(params, device=device)
            build_s = time.perf_counter() - t
            steps = args.steps if mode == "video" else args.features_steps or 10 * args.steps
            modes[mode] = time_steps(trainable, cdata.train, tcfg, steps=steps, warmup=args.warmup, device=device)
            modes[mode]["build_s"] = round(build_s, 2)
            if mode == "video":
                video_model, video_norm, spec = trainable.model, norm, cdata.spec
        # cost per clip: the student and every teacher (featurize's extractor), and the kd model at test time
        fz_batch = params.featurize.batch_size
        cache = Path(params.cache_clips.out_dir) / "recognition.h5"
        clips, n_cached = cached_clips(cache, fz_batch * (1 + args.cost_batches)), len(read_cache_meta(cache)["sample_ids"])
        torch.set_num_threads(args.threads or params.featurize.threads or os.cpu_count() or 1)
        costs = backbone_costs(params, clips, spec, device=device)
        student_key = params.train.kd.features_model
        infer = kd_inference_cost(video_model, clips, norm=video_norm, spec=spec, batch_size=fz_batch, device=device)
    student_ms = costs[student_key]["ms_per_clip"]
    kdp = params.train.kd
    ratio = modes["features"]["iterations_per_s"] / modes["video"]["iterations_per_s"]
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {device.type}",
        "load_average_start": [round(v, 2) for v in load_start],
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
        "threads": train_threads, "cost_threads": torch.get_num_threads(),
        "data": "synthetic" if args.synthetic else str(root),
        "cache_input": [spec["frames"], *spec["size"]], "cache_clips": n_cached,
        "student": student_key, "teachers": list(kdp.teachers),
        "converter": {"kind": kdp.converter.kind, "tokens": kdp.converter.tokens, "epochs_fitted": args.converter_epochs},
        "fusion": kdp.fusion.kind, "batch": kdp.batch_size, "num_workers": kdp.num_workers,
        "modes": modes,
        "ratio_features_over_video": round(ratio, 1),
        "ratio_median_step": round(modes["video"]["median_ms_per_step"] / modes["features"]["median_ms_per_step"], 1),
        "target_ratio": TARGET_RATIO, "meets_target": bool(ratio >= TARGET_RATIO),
        "cost_per_clip": costs,
        "teacher_over_student": {k: round(v["ms_per_clip"] / student_ms, 2) for k, v in costs.items() if v["role"] == "teacher"},
        "teacher_over_student_gflops": {k: round(v["gflops_per_clip"] / costs[student_key]["gflops_per_clip"], 2)
                                        for k, v in costs.items() if v["role"] == "teacher"},
        "kd_inference": infer,
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip


def markdown(r: dict[str, Any]) -> str:
    v, f = r["modes"]["video"], r["modes"]["features"]
    lines = [
        "| fusion training mode | iterations/s | clips/s | ms per step (median) | waiting for data | input per clip |",
        "|---|---|---|---|---|---|",
        *(f"| {label} | {m['iterations_per_s']} | {m['clips_per_s']} | {m['ms_per_step']} ({m['median_ms_per_step']}) | "
          f"{m['loading_share']:.0%} | {' x '.join(map(str, m['input_per_clip']))} |"
          for label, m in ((f"video (cached clips -> frozen `{r['student']}` -> converters -> fusion)", v),
                           (f"features (stored `{r['student']}` features -> converters -> fusion)", f))),
        "",
        f"Features mode is {r['ratio_features_over_video']}x video mode in iterations/s (target {r['target_ratio']:g}x: "
        f"{'met' if r['meets_target'] else 'not met'}; {r['ratio_median_step']}x in median step time); batch {r['batch']}, {r['num_workers']} loader workers, "
        f"{v['steps']} / {f['steps']} timed steps after {v['warmup_steps']} warm-up steps, torch threads {r['threads']}, "
        f"load average {r['load_average_start'][0]} at the start.",
        "",
        "| model | role | backbone | input (frames x H x W) | parameters | GFLOPs per clip | ms per clip (median batch) "
        "| x student (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    s_ms = r["cost_per_clip"][r["student"]]["ms_per_clip"]
    for key, c in r["cost_per_clip"].items():
        lines.append(f"| `{key}` | {c['role']} | `{c['backbone']}` | {' x '.join(map(str, c['input']))} | "
                     f"{c['parameters'] / 1e6:.2f} M | {c['gflops_per_clip']} | {c['ms_per_clip']} | {c['ms_per_clip'] / s_ms:.2f} |")  # fmt: skip
    k = r["kd_inference"]
    lines.append(f"| kd model at test time (student + converters + fusion) | — | — | "
                 f"{' x '.join(map(str, r['cache_input']))} (cache) | {k['parameters'] / 1e6:.2f} M | {k['gflops_per_clip']} | {k['ms_per_clip']} | "
                 f"{k['ms_per_clip'] / s_ms:.2f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=".", help="directory the params' relative paths resolve from (the pipeline's outputs)")
    ap.add_argument("--params", default=None, help="params file (default: <root>/params.yaml)")
    ap.add_argument("--synthetic", action="store_true", help="build a tiny world in a temporary directory instead")
    ap.add_argument("--steps", type=int, default=10, help="timed optimisation steps in video mode")
    ap.add_argument("--features-steps", type=int, default=0, help="timed steps in features mode (0 = 10 x --steps)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before timing, per mode")
    ap.add_argument("--batch", type=int, default=0, help="batch size (0 = train.kd.batch_size)")
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: train.kd.num_workers)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = train.kd.threads / featurize.threads, else all)")
    ap.add_argument("--cost-batches", type=int, default=2, help="timed batches (featurize.batch_size clips) per backbone")
    ap.add_argument(
        "--converter-epochs", type=int, default=1, help="phase-1 epochs (the converters' weights do not change the cost)"
    )
    ap.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.cost_batches < 1 or args.converter_epochs < 1:
        ap.error("--steps, --cost-batches and --converter-epochs must be at least 1, --warmup at least 0")
    out = Path(args.out).resolve()
    try:
        r = run(args)
    except (FeatureStoreError, AdapterError, P.ParamsError, FileNotFoundError) as e:
        print(f"kd_modes: {e}\n(run from --root {args.root}; it needs the recognition cache, splits and the featurize@recognition "
              "store of the student and every teacher; or use --synthetic)", file=sys.stderr)  # fmt: skip
        return 2
    out.mkdir(parents=True, exist_ok=True)
    (out / "kd_modes.json").write_text(json.dumps(r, indent=2) + "\n")
    (out / "kd_modes.md").write_text(markdown(r))
    print(markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
