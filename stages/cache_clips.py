"""DVC stage `cache_clips@<task>`: decode the task's clips once into data/cache/<task>.h5 + <task>_index.csv."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P
from replaylab.data.cache import build_cache, spec_from_params  # noqa: E402
from replaylab.data.rowchecks import BadRows  # noqa: E402
from replaylab.data.sources import task_index  # noqa: E402
from replaylab.io import write_json  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402
from replaylab.tasks import task_from_argv  # noqa: E402


def main(task: str) -> None:
    params = P.load()
    cc = params.cache_clips
    cfg = getattr(cc, task)
    spec = spec_from_params(cfg)
    bad_rows = BadRows()
    index = task_index(task, cfg, seed=params.seed, margin_s=spec.half_window_s(), tally=bad_rows)
    out = cc.out_dir
    summary = build_cache(
        index, spec, out_h5=f"{out}/{task}.h5", out_index=f"{out}/{task}_index.csv", work_dir=f"{out}/.work/{task}",
        workers=cc.workers, on_bad_video=cc.on_bad_video, skipped_csv=f"{out}/{task}_skipped.csv",
        compression=cc.compression, task=task,
    )  # fmt: skip
    summary.pop("resumed_units", None)  # depends on how the run went, not on the data
    if cfg.source.format == "matches":
        summary.update(bad_rows.as_metrics())
    write_json(f"metrics/cache_{task}.json", summary)


if __name__ == "__main__":
    run_stage(main, task_from_argv(sys.argv, "cache_clips", need="data"))
