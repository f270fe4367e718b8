"""DVC stage `split@<task>`: train / val / test CSVs grouped by match / video from the cache index."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P
from replaylab.data.cache import read_cache_meta  # noqa: E402
from replaylab.data.samples import read_csv  # noqa: E402
from replaylab.data.task_splits import make_splits, write_splits  # noqa: E402
from replaylab.io import write_json  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402
from replaylab.tasks import task_from_argv  # noqa: E402


def main(task: str) -> None:
    params = P.load()
    cfg = getattr(params.split, task)
    cache = params.cache_clips.out_dir
    classes = read_cache_meta(f"{cache}/{task}.h5")["classes"]  # multi-label indexes carry no names in the CSV
    index = read_csv(f"{cache}/{task}_index.csv", classes=classes)
    seed = params.seed if cfg.seed is None else cfg.seed
    by_split = make_splits(index, strategy=cfg.strategy, fractions=cfg.fractions.model_dump(), seed=seed, task=task)
    write_json(f"metrics/split_{task}.json", write_splits(by_split, f"{params.split.out_dir}/{task}", task=task))


if __name__ == "__main__":
    run_stage(main, task_from_argv(sys.argv, "split", need="data"))
