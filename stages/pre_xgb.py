"""DVC stage `pre_xgb`: the header pre-filter (XGBoost on tracking features), cross-validated by match.

Writes models/pre_xgb/ (model.ubj, meta.json, plots/), data/pre_xgb/ (frames.csv, candidates.csv,
proposals.csv) and metrics/pre_xgb.json."""

from __future__ import annotations

import os

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from tqdm import tqdm

from replaylab import params as P
from replaylab.data.rowchecks import BadRows
from replaylab.filters.config import pre_config
from replaylab.filters.matches import split_matches
from replaylab.filters.pre import featurize_match, fit_pre_filter, write_pre_outputs
from replaylab.io import write_json
from replaylab.stage import run_stage


def main() -> None:
    params = P.load()
    source = params.cache_clips.header.source
    if source.format != "matches":
        raise P.ParamsError(
            f"pre_xgb needs match folders with tracking: cache_clips.header.source.format is {source.format!r}, not 'matches'"
        )
    cfg = pre_config(params.pre_xgb, seed=params.seed)
    matches = split_matches(source.root, f"{params.split.out_dir}/header")
    bad_rows = BadRows()
    data = [featurize_match(m, features=cfg.features, label_tolerance=cfg.label_tolerance,
                            on_bad_rows=params.pre_xgb.on_bad_rows, tally=bad_rows)
            for m in tqdm(matches, desc="pre_xgb features", unit="match")]  # fmt: skip
    fit = fit_pre_filter(data, cfg, log=tqdm.write)
    write_pre_outputs(fit, data, model_dir="models/pre_xgb", out_dir="data/pre_xgb")
    write_json("metrics/pre_xgb.json", {**fit.metrics, **bad_rows.as_metrics()})


if __name__ == "__main__":
    run_stage(main)
