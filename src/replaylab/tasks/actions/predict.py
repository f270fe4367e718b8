"""Detect person actions on an AVA-layout dataset outside the pipeline (``replaylab predict-actions``).

The model file is a ``train@actions`` checkpoint (``models/actions/best.pt``): its head weights and, in its
resume key, the architecture, the classes with their label-map ids and the input it was trained on (clip
frames / stride / size, normalisation; the feature-store model for a head trained on stored maps; the memory
model for IA block M). The keyframes of ``--data`` (format ``ava`` or ``ava_coco``, the person proposals of
the dataset as the boxes) are decoded through the clip-cache code into a temporary directory, every keyframe's
map is computed once (the frozen feature-store backbone, or the trained backbone), the IA memory is built from
the same keyframes' proposals, and every proposal x class is written as the official detections CSV
``video_id,timestamp,x1,y1,x2,y2,action_id,score`` (the input of the official ``get_ava_performance.py``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from ...data.adapters import load_index
from ...data.cache import ClipSpec, build_cache
from ...data.dataset import ClipDataset
from ...data.samples import AdapterError
from ...evaluation.ava import write_ava_csv
from .adapter import DECIMALS, DET_COLUMNS, ActionsTask, BoxSettings, detection_rows, key_of
from .boxes import to_rois

__all__ = ["ModelFileError", "predict_actions", "read_actions_checkpoint"]


class ModelFileError(ValueError):
    """The model file is missing or is not a train@actions checkpoint."""


def read_actions_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(model identity: architecture, classes, class_ids, pose, inputs; state dict) of a ``train@actions`` checkpoint."""
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"{p}: model file not found (train one with `dvc repro train@actions`)")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
        key = ckpt["resume_key"]
        key = json.loads(key) if isinstance(key, str) else key
        ident = key["model"]
        _ = ident["architecture"], ident["class_ids"], ident["inputs"]["cache"]
        state = ckpt["model"]
    except Exception as e:  # noqa: BLE001 - any unreadable or foreign file gets the same clear message
        raise ModelFileError(f"{p}: not a train@actions checkpoint ({type(e).__name__}: {e})") from None
    return ident, state


def _extractor(identity: dict[str, Any]):
    from ...features.featurize import FeatureExtractor

    return FeatureExtractor(identity, device=torch.device("cpu"))


@torch.no_grad()
def _maps(ds: ClipDataset, model, features: dict | None, batch_size: int) -> np.ndarray:
    """The map of every keyframe: the frozen store backbone on the raw clips, or the trained backbone."""
    out = []
    if features is not None:
        ext = _extractor(features)
        for start in range(0, len(ds), batch_size):
            clips = np.stack([ds.read_raw(i)[0] for i in range(start, min(start + batch_size, len(ds)))])
            out.append(ext(clips)[1].astype(np.float32))
    else:
        for batch in DataLoader(ds, batch_size=batch_size, num_workers=0):
            out.append(model.backbone(batch["video"]).float().numpy())
    return np.concatenate(out)


def predict_actions(data_dir: str | os.PathLike, model_path: str | os.PathLike, out: str | os.PathLike, *,
                    format: str = "ava", split: str = "val", timestamp_offset: float = 0.0, min_proposal_score: float = 0.0,
                    batch_size: int = 8, workers: int = 1, threads: int = 0, progress: bool = True,
                    on_bad_video: str = "fail") -> dict[str, Any]:  # fmt: skip
    """Write the official detections CSV ``out`` for every keyframe of ``data_dir``'s ``split``; returns a summary."""
    from .model import build_detector
    from .trainer import memory_banks

    if threads:
        torch.set_num_threads(threads)
    if not Path(data_dir).is_dir():  # before the model loads
        raise AdapterError(f"{data_dir}: not a directory")
    ident, state = read_actions_checkpoint(model_path)
    arch, inputs = ident["architecture"], ident["inputs"]
    options: dict[str, Any] = {"split": split, "min_proposal_score": min_proposal_score}
    if format == "ava":
        options["timestamp_offset"] = timestamp_offset
    index = load_index(format, data_dir, **options)
    if list(index.classes) != list(ident["classes"]):
        raise AdapterError(f"{data_dir}: classes {index.classes} differ from the model's {ident['classes']}")
    cache = inputs["cache"]
    spec = ClipSpec(frames=int(cache["frames"]), size=tuple(cache["size"]), stride=int(cache["stride"]), fps=cache["fps"],
                    crop_px=cache["crop_px"], outside=cache.get("outside", "skip"))  # fmt: skip
    features = inputs.get("features")
    model = build_detector(arch, features=features is not None)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ModelFileError(f"{model_path}: the weights do not fit the recorded architecture: {e}") from None
    model.eval()
    with tempfile.TemporaryDirectory(prefix="predict-actions-") as tmp:
        h5, index_csv = Path(tmp) / "clips.h5", Path(tmp) / "clips_index.csv"
        build_cache(index, spec, out_h5=h5, out_index=index_csv, work_dir=Path(tmp) / "work", workers=workers,
                    progress=progress, task="predict-actions", on_bad_video=on_bad_video,
                    skipped_csv=Path(tmp) / "skipped.csv")  # fmt: skip
        ds = ClipDataset(h5, index_csv, train=False, norm=inputs["norm"])
        samples = ds.index.samples
        maps = _maps(ds, model, features, batch_size)
        banks = None
        if "memory" in inputs:
            mem = inputs["memory"]
            same = features is not None and {k: v for k, v in features.items() if k != "store"} == mem["identity"]
            mem_maps = maps if same else _maps(ds, None, mem["identity"], batch_size)
            banks = memory_banks(mem_maps, {s.sample_id: i for i, s in enumerate(samples)}, {"test": samples},
                                 size=mem["identity"]["size"], stride=int(mem["stride"]), roi=arch["roi"],
                                 span_s=int(mem["span_s"]), per_sec=int(mem["per_sec"]))  # fmt: skip
    scorer = ActionsTask(num_classes=int(arch["num_classes"]), class_ids=ident["class_ids"], size=arch["size"],
                         boxes=BoxSettings(iou=0.5, per_clip=1, jitter=0.0), pose=ident.get("pose", []), memory=banks,
                         split="test")  # fmt: skip
    keys, boxes, scores = [], [], []
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            part = samples[start : start + batch_size]
            props = [np.asarray(s.meta.get("proposals", []), np.float32).reshape(-1, 5)[:, :4] for s in part]
            rois = to_rois(props, arch["size"])
            if not len(rois):
                continue
            k = [key_of(s) for s in part]
            memory = scorer._memory("test", k, torch.device("cpu"))
            logits = model.head(torch.from_numpy(maps[start : start + len(part)]), rois, memory=memory)
            sc = scorer.scores(logits).numpy()
            scores += np.split(sc, np.cumsum([len(b) for b in props])[:-1])
            boxes += props
            keys += k
    table = detection_rows(keys, boxes, scores, ident["class_ids"])
    write_ava_csv(out, table if len(table) else pd.DataFrame(columns=DET_COLUMNS), box_decimals=DECIMALS, score_decimals=DECIMALS)
    return {"keyframes": len(samples), "boxes": int(sum(len(b) for b in boxes)), "rows": len(table), "out": str(out),
            "model": str(model_path), "skipped_keyframes": len(index) - len(samples)}  # fmt: skip
