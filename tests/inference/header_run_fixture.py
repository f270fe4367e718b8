"""Builds a tiny header run (cache, splits, optional 1-epoch model); shared by the inference tests."""

from __future__ import annotations

from replaylab import params as P
from replaylab.data.cache import build_cache, spec_from_params
from replaylab.data.samples import read_csv
from replaylab.data.sources import task_index
from replaylab.data.task_splits import make_splits, write_splits


def build_header_run(root, matches, *, crop_on: str, train: bool = True) -> tuple:
    """Cache + splits (+ a 1-epoch model) in ``root``; returns (params data, cache index path)."""
    data = {
        "seed": 5,
        "cache_clips": {"out_dir": str(root / "cache"), "header": {"source": {"format": "matches", "root": str(matches), "crop_on": crop_on,
                                                                              "track_smooth_s": 0.08},
                                                                   "frames": 6, "stride": 2, "size": [24, 24], "crop_px": 48}},
        "split": {"out_dir": str(root / "splits"), "header": {"fractions": {"train": 0.34, "val": 0.33, "test": 0.33}}},
        "train": {"out_dir": str(root / "models"), "live_dir": str(root / "live"),
                  "header": {"epochs": 1, "batch_size": 4, "num_workers": 0, "threads": 1, "early_stop_patience": 0}},
    }  # fmt: skip
    params = P.validate(data)
    cfg = params.cache_clips.header
    spec = spec_from_params(cfg)
    build_cache(task_index("header", cfg, seed=5, margin_s=spec.half_window_s()), spec, out_h5=root / "cache/header.h5",
                out_index=root / "cache/header_index.csv", work_dir=root / "w", progress=False)  # fmt: skip
    by = make_splits(
        read_csv(root / "cache/header_index.csv"),
        strategy="grouped",
        fractions={"train": 0.34, "val": 0.33, "test": 0.33},
        seed=5,
    )
    write_splits(by, root / "splits/header")
    if train:
        from replaylab.tasks.training import train_task

        train_task("header", params)
    return data, root / "cache/header_index.csv"
