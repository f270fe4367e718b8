"""DVC stage `evaluate@<task>`: score the trained model's predictions against the ground truth; metrics and plots."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P
from replaylab.io import write_json  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402
from replaylab.tasks import task_from_argv  # noqa: E402
from replaylab.tasks.evaluating import evaluate_task  # noqa: E402


def main(task: str) -> None:
    write_json(f"metrics/eval_{task}.json", evaluate_task(task, P.load()))


if __name__ == "__main__":
    run_stage(main, task_from_argv(sys.argv, "evaluate", need="evaluate"))
