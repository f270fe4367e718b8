"""DVC stage `train@<task>`: train the task's model on the clip cache and splits; select on val, test once."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P
from replaylab.io import write_json  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402
from replaylab.tasks import task_from_argv  # noqa: E402
from replaylab.tasks.training import train_task  # noqa: E402


def main(task: str) -> None:
    summary = train_task(task, P.load())
    if summary is not None:  # rank 0 only
        write_json(f"metrics/train_{task}.json", summary)


if __name__ == "__main__":
    run_stage(main, task_from_argv(sys.argv, "train", need="trainer"))
