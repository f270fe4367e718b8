"""DVC stage `pretrain@clip`: the tiny CLIP, pretrained contrastively on captioned clips -> models/clip/."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P  # noqa: E402
from replaylab.io import write_json  # noqa: E402
from replaylab.params import ParamsError  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402

MODELS = ("clip",)


def main(what: str) -> None:
    from replaylab.prompt.pretraining import pretrain_clip

    if what not in MODELS:
        raise ParamsError(f"pretrain: unknown model {what!r}; expected one of {', '.join(MODELS)}")
    write_json("metrics/pretrain_clip.json", pretrain_clip(P.load()))


if __name__ == "__main__":
    run_stage(main, sys.argv[1] if len(sys.argv) > 1 else "")
