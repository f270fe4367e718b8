"""DVC stage `prompt_tune`: the prompt-tuning run `prompt` describes -> models/prompt/<method>/, dvclive/prompt."""

from __future__ import annotations

import os

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P  # noqa: E402
from replaylab.io import write_json  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402


def main() -> None:
    from replaylab.prompt.tune import tune

    write_json("metrics/train_prompt.json", tune(P.load()))


if __name__ == "__main__":
    run_stage(main)
