"""DVC stage `validate_params`: check the whole params.yaml against the schema before any other stage runs.

Every stage depends on its output, data/params_valid.json, whose content never changes: a valid edit of
params.yaml re-runs this stage and nothing else on its account, while an invalid one (an unknown key at any
level, a wrong type, a value out of range) fails here, naming the key path, before DVC deletes any other
stage's outputs."""

from __future__ import annotations

import os

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P  # noqa: E402
from replaylab.io import write_json  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402

OUT = "data/params_valid.json"


def main() -> None:
    P.load()
    write_json(OUT, {"params": "valid"})


if __name__ == "__main__":
    run_stage(main)
