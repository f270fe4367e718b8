"""Predict fouls on a SoccerNet-MVFoul split directory outside the pipeline (``replaylab predict-fouls``).

The model file is a ``train@foul`` checkpoint (``models/foul/best.pt``): its weights and, in its resume key,
the network's architecture and the input it was trained on (frames, fps, size, crop, normalisation, clip
centre). Every ``action_<n>`` folder is decoded with that input through the clip-cache code (into a
temporary directory), all its views are scored (``view_chunk`` clips through the backbone at a time) and
the predictions are written in the official format ``{"Actions": {"<n>": {...}}}``.

``on_bad_video="skip"`` predicts every action with a readable view (unreadable views are dropped) and lists the
skipped ones (file and reason) in the summary; ``"fail"`` raises :class:`~replaylab.data.cache.BadVideosError`.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ...data.adapters.mvfoul import load_mvfoul_actions
from ...data.cache import ClipSpec, build_cache
from ...data.dataset import ClipDataset
from ...data.samples import AdapterError
from ...evaluation.mvfoul import predictions_document
from ...io import write_json


class ModelFileError(ValueError):
    """The model file is missing or is not a train@foul checkpoint."""


def read_foul_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
    """(architecture, inputs, state dict) of a ``train@foul`` checkpoint."""
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"{p}: model file not found (train one with `dvc repro train@foul`)")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
        key = ckpt["resume_key"]
        key = json.loads(key) if isinstance(key, str) else key
        model = key["model"]
        if "architecture" in model:
            arch, inputs = model["architecture"], model["inputs"]
        else:  # written before the training identity covered data and code
            arch, inputs = model, key["inputs"]
        state = ckpt["model"]
    except Exception as e:  # noqa: BLE001 - any unreadable or foreign file gets the same clear message
        raise ModelFileError(f"{p}: not a train@foul checkpoint ({type(e).__name__}: {e})") from None
    return arch, inputs, state


def predict_fouls(data_dir: str | os.PathLike, model_path: str | os.PathLike, out: str | os.PathLike, *,
                  batch_size: int = 4, view_chunk: int = 8, workers: int = 1, threads: int = 0,
                  center_frame: int | None = None, source_fps: float | None = None, max_views: int | None = None,
                  progress: bool = True, on_bad_video: str = "fail") -> dict[str, Any]:  # fmt: skip
    """Write the official predictions file ``out`` for every action of ``data_dir``; returns a summary.
    ``center_frame`` / ``source_fps`` (where the foul is in the clips) default to the training data's,
    ``max_views`` to the views the training cache held."""
    from ...models.multiview import build_multiview

    if threads:
        torch.set_num_threads(threads)
    if not Path(data_dir).is_dir():  # before the model loads
        raise AdapterError(f"{data_dir}: not a directory")
    arch, inputs, state = read_foul_checkpoint(model_path)
    cache = inputs["cache"]
    views = int(max_views or cache["views"])
    spec = ClipSpec(frames=int(cache["frames"]), size=tuple(cache["size"]), stride=int(cache["stride"]), fps=cache["fps"],
                    crop_px=cache["crop_px"], views=max(views, 2), outside=cache.get("outside", "skip"))  # fmt: skip
    index = load_mvfoul_actions(data_dir, center_frame=center_frame if center_frame is not None else int(inputs["center_frame"]),
                                fps=source_fps or float(inputs["source_fps"]), max_views=views)  # fmt: skip
    if "features" in inputs:  # heads trained on stored features: back onto the frozen backbone they were made with
        from ...features.heads import frozen_multiview, load_head

        try:
            model = frozen_multiview(inputs["features"], arch, view_chunk=view_chunk, where=str(model_path))
            load_head(model.model, state, str(model_path))
        except (ValueError, OSError) as e:
            raise ModelFileError(str(e)) from None
    else:
        model = build_multiview(**arch, view_chunk=view_chunk)
        model.load_state_dict(state)
    model.eval()
    predicted: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="predict-fouls-") as tmp:
        h5, index_csv = Path(tmp) / "clips.h5", Path(tmp) / "clips_index.csv"
        skipped_csv = Path(tmp) / "skipped.csv"
        cached = build_cache(index, spec, out_h5=h5, out_index=index_csv, work_dir=Path(tmp) / "work", workers=workers,
                             progress=progress, task="predict-fouls", on_bad_video=on_bad_video,
                             skipped_csv=skipped_csv)  # fmt: skip
        with open(skipped_csv, newline="") as fh:
            skipped = [{"source": r["source"], "reason": r["reason"]} for r in csv.DictReader(fh)]
        ds = ClipDataset(h5, index_csv, train=False, norm=inputs["norm"])
        samples = ds.index.samples
        with torch.no_grad():
            for batch in DataLoader(ds, batch_size=batch_size, num_workers=0):
                action, offence = model(batch["video"], batch["view_mask"])
                for i, a, o in zip(batch["index"].tolist(), action.argmax(1).tolist(), offence.argmax(1).tolist()):
                    predicted[str(samples[i].meta["action_id"])] = (a, o)
    write_json(out, predictions_document(dict(sorted(predicted.items(), key=lambda kv: int(kv[0])))))
    return {"actions": len(predicted), "out": str(out), "views": views, "model": str(model_path),
            "skipped_actions": len(index) - len(predicted), "dropped_views": cached["dropped_views"],
            "skipped": skipped}  # fmt: skip
