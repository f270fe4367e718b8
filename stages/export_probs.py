"""DVC stage `export_probs`: the header CNN at the pre-filter's candidate frames of every match (and at every
frame of the `dense_splits` matches, for the CNN-only ablation) -> data/probs/header.csv."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from replaylab import params as P
from replaylab.io import write_json  # noqa: E402
from replaylab.stage import run_stage  # noqa: E402


def main() -> None:
    import torch

    from replaylab.inference.header_model import load_header_model
    from replaylab.inference.probs import export_header_probs, read_candidates, read_prefilter_frames

    params = P.load()
    ep = params.export_probs
    torch.set_num_threads(ep.threads or os.cpu_count() or 1)
    model = load_header_model(Path(params.train.out_dir) / "header", device=ep.device)
    pre_dir = Path("data/pre_xgb")  # the pre_xgb stage's outputs
    summary = export_header_probs(
        model, root=params.cache_clips.header.source.root, prefilter=read_prefilter_frames(pre_dir / "frames.csv"),
        candidates=read_candidates(pre_dir / "candidates.csv"), out_csv=ep.out, rule=ep.ensemble.rule,
        weight=ep.ensemble.weight, batch_size=ep.batch_size, dense_splits=tuple(ep.dense_splits), dense_stride=ep.dense_stride,
    )  # fmt: skip
    write_json("metrics/export_probs.json", summary)


if __name__ == "__main__":
    run_stage(main)
