"""DVC stage `featurize@<task>`: frozen backbones over the task's clip cache -> data/features/<task>/ (shards + index)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P
from replaylab.features.featurize import featurize_task  # noqa: E402
from replaylab.io import write_json  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402
from replaylab.tasks import task_from_argv  # noqa: E402
from replaylab.training.distributed import detect  # noqa: E402


def main(task: str) -> None:
    summary = featurize_task(task, P.load())
    if detect().is_main:  # torchrun: rank 0 writes the metrics (the process group is gone by now)
        # wall-clock figures stay out of the DVC-tracked metrics (same params -> same bytes): logs/ is untracked
        # and so do the counts of what this run computed vs. reused (they depend on what was there before)
        timing = {k: summary.pop(k) for k in ("seconds", "clips_per_s", "computed_clips") if k in summary}
        timing["models"] = {key: {k: m.pop(k) for k in ("computed_shards", "reused_shards") if k in m}
                            for key, m in summary.get("models", {}).items()}  # fmt: skip
        write_json(f"logs/featurize_{task}_timing.json", timing)
        write_json(f"metrics/featurize_{task}.json", summary)


if __name__ == "__main__":
    run_stage(main, task_from_argv(sys.argv, "featurize", need="data"))
