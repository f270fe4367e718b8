"""DVC stage `prompt_fewshot`: every method x K x seed of prompt.sweep -> metrics/eval_prompt.json, reports/prompt/."""

from __future__ import annotations

import os

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P  # noqa: E402
from replaylab.io import write_json  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402


def main() -> None:
    from replaylab.prompt.sweep import fewshot

    write_json("metrics/eval_prompt.json", fewshot(P.load()))


if __name__ == "__main__":
    run_stage(main)
