"""DVC stage `synthesize`: render the synthetic football world into data/raw/synthetic/ in real formats."""

from __future__ import annotations

import os

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P
from replaylab.io import write_json  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402
from replaylab.world.synthesize import generate  # noqa: E402


def main() -> None:
    params = P.load()
    summary = generate(params)
    summary.pop("seconds", None)  # wall time varies run to run; metrics stay comparable
    write_json("metrics/synthesize.json", summary)


if __name__ == "__main__":
    run_stage(main)
