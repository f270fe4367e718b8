"""DVC stage `post_xgb`: the header post-filter (XGBoost on a window of probabilities) and the final events.

Reads the probabilities (params post_xgb.probs, written by export_probs); writes models/post_xgb/,
data/predictions/header_events.csv, data/predictions/header_frames.csv and metrics/post_xgb.json. With
``ablation_columns`` set it also trains the same post-filter on those columns alone (the CNN + post-filter
row of evaluate@header's ablation): models/post_xgb_ablation/ and data/predictions/ablation/."""

from __future__ import annotations

import os
from dataclasses import replace

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from tqdm import tqdm

from replaylab import params as P
from replaylab.filters.config import post_config
from replaylab.filters.post import fit_post_filter, load_videos, write_post_outputs
from replaylab.io import write_json
from replaylab.stage import run_stage


def main() -> None:
    params = P.load()
    source = params.cache_clips.header.source
    if source.format != "matches":
        raise P.ParamsError(f"post_xgb needs match folders: cache_clips.header.source.format is {source.format!r}, not 'matches'")
    cfg = post_config(params.post_xgb, seed=params.seed)
    videos = load_videos(
        params.post_xgb.probs,
        root=source.root,
        splits_dir=f"{params.split.out_dir}/header",
        columns=cfg.columns,
        on_bad_rows=params.pre_xgb.on_bad_rows,
    )
    fit = fit_post_filter(videos, cfg, log=tqdm.write)
    fit.model.meta["ensemble"] = params.export_probs.ensemble.model_dump()  # how ensemble_prob was made (replaylab detect)
    write_post_outputs(fit, videos, model_dir="models/post_xgb", events_csv="data/predictions/header_events.csv",
                       frames_csv="data/predictions/header_frames.csv")  # fmt: skip
    metrics = dict(fit.metrics)
    ablation = tuple(params.post_xgb.ablation_columns)
    if ablation:
        active = cfg.active_column if cfg.active_column in ablation else None
        ab_cfg = replace(cfg, columns=ablation, active_column=active)
        ab_videos = load_videos(
            params.post_xgb.probs,
            root=source.root,
            splits_dir=f"{params.split.out_dir}/header",
            columns=ablation,
            on_bad_rows=params.pre_xgb.on_bad_rows,
        )
        ab = fit_post_filter(ab_videos, ab_cfg, log=tqdm.write)
        write_post_outputs(ab, ab_videos, model_dir="models/post_xgb_ablation", events_csv="data/predictions/ablation/header_events.csv",
                           frames_csv="data/predictions/ablation/header_frames.csv")  # fmt: skip
        metrics["ablation"] = {"columns": list(ablation), **{k: v for k, v in ab.metrics.items() if k != "baselines"}}
    write_json("metrics/post_xgb.json", metrics)


if __name__ == "__main__":
    run_stage(main)
