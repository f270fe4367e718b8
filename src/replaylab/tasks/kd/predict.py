"""Classify new clips with a trained ``train@kd`` model, outside the pipeline (``replaylab predict-clips``).

Only what runs at test time is built: the frozen student backbone (remade from the feature-store identity that
``config.yaml`` records, its checkpoint's md5 checked against the recorded one), the frozen converters
(``converters.pt``) and the fusion head (``best.pt``). The teachers are named in ``config.yaml`` but never built,
and their checkpoints are never opened. Each clip is decoded by the clip-cache code with the recognition cache's
spec (``cache_spec``: frames sampled uniformly over the whole clip, centre crop ``crop_px``, resize to ``size``),
normalised as the training dataset did (``normalisation``), and scored; the CSV lists per clip its top-1 class
and probability and the top-k classes and probabilities, best first.

An unreadable video (or one too short for the cache's ``outside`` rule) stops the run with an error naming it,
or with ``skip_bad`` is left out and listed in ``<out stem>_skipped.csv`` (``path, reason``) and the summary.
Every file read from the model directory is loaded with ``weights_only``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data.samples import AdapterError

__all__ = ["PREDICT_COLUMNS", "VIDEO_EXTENSIONS", "ClipReadError", "KdModelError", "find_clips", "load_kd_model",
           "predict_clips"]  # fmt: skip

PREDICT_COLUMNS = ["path", "top1_class", "top1_prob", "topk", "topk_probs"]
SKIPPED_COLUMNS = ["path", "reason"]
# extensions picked up when a directory is given (files named on the command line are used whatever their name)
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg")
PROB_DECIMALS = 6


class KdModelError(ValueError):
    """The model directory is incomplete, not a ``train@kd`` output, or its student checkpoint changed."""


class ClipReadError(ValueError):
    """A clip could not be decoded (the message names it)."""


def _read_config(model_dir: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML

    path = model_dir / "config.yaml"
    if not path.is_file():
        raise KdModelError(f"{path}: not found; is {model_dir} a train@kd output (dvc repro train@kd)?")
    cfg = YAML(typ="safe", pure=True).load(path.read_text())
    need = ("classes", "student", "teachers", "converter_tokens", "features_source", "fusion", "cache_spec", "normalisation")
    missing = [k for k in need if not isinstance(cfg, dict) or k not in cfg]
    if missing or cfg.get("task") != "kd":
        raise KdModelError(f"{path}: not a train@kd config (task {cfg.get('task') if isinstance(cfg, dict) else None!r}; "
                           f"missing: {', '.join(missing) or 'none'})")  # fmt: skip
    return cfg


def check_student_weights(student: dict[str, Any], where: Path) -> None:
    """The student's checkpoint file still has the md5 its features (and so the converters and head) were made with."""
    from ...models import find_checkpoint_file
    from ...training.fingerprint import file_digest

    path = student.get("pretrained")
    if not path:
        return
    try:
        md5 = file_digest(find_checkpoint_file(path))
    except (OSError, ValueError) as e:
        raise KdModelError(f"{where}: the student's checkpoint {path} cannot be read: {e}") from None
    if md5 != student.get("pretrained_md5"):
        raise KdModelError(f"{where}: the model was trained on the student checkpoint {path} with md5 "
                           f"{student.get('pretrained_md5')}, but that file now has md5 {md5}; restore the file, or "
                           "featurize and train again")  # fmt: skip


def load_kd_model(model_dir: str | os.PathLike) -> tuple[torch.nn.Module, dict[str, Any]]:
    """(KdNet in video mode, config.yaml) from a ``train@kd`` output directory: the student from its identity, the
    converters and the fusion head's checkpoint; no teacher is built or read."""
    from ...kd.fusion import build_fusion
    from ...training.checkpoint import BEST
    from ...training.checkpoint import load as load_checkpoint
    from .model import KdNet, Standardise, build_student
    from .trainer import CONVERTERS_FILE, load_converters

    model_dir = Path(model_dir)
    cfg = _read_config(model_dir)
    where = model_dir / "config.yaml"
    student_id = cfg["student"]
    check_student_weights(student_id, where)
    for name in (CONVERTERS_FILE, Path(CONVERTERS_FILE).with_suffix(".json").name, BEST):
        if not (model_dir / name).is_file():
            raise KdModelError(f"{model_dir / name}: not found; is {model_dir} a finished train@kd output?")
    try:
        bank, info = load_converters(model_dir / CONVERTERS_FILE)
    except Exception as e:  # noqa: BLE001 - any unreadable or foreign file gets the same clear message
        raise KdModelError(f"{model_dir / CONVERTERS_FILE}: not a train@kd converter bank ({type(e).__name__}: {e})") from None
    teachers = list(cfg["teachers"])
    if list(bank.teachers) != teachers:
        raise KdModelError(f"{model_dir / CONVERTERS_FILE}: converters for {list(bank.teachers)}, config.yaml names {teachers}")
    fz = cfg["fusion"]
    classes = list(cfg["classes"])
    fusion = build_fusion(fz["kind"], student_dim=int(fz["student_dim"]), teacher_dims=[int(fz["teacher_dims"][t]) for t in teachers],
                          num_classes=len(classes), **fz["options"])  # fmt: skip
    in_dim, sdim = int(info["in_dim"]), int(fz["student_dim"])
    model = KdNet(student=build_student(student_id), converters=bank, fusion=fusion, teachers=teachers,
                  tokens=cfg["converter_tokens"], scale_in=Standardise(torch.zeros(in_dim), torch.ones(in_dim)),
                  scale_pooled=Standardise(torch.zeros(sdim), torch.ones(sdim)), source=cfg["features_source"])  # fmt: skip
    try:
        state = load_checkpoint(model_dir / BEST)["model"]
    except Exception as e:  # noqa: BLE001
        raise KdModelError(f"{model_dir / BEST}: not a training checkpoint ({type(e).__name__}: {e})") from None
    # the student is the rebuilt one (a video-mode checkpoint holds the same frozen weights); a features-mode
    # checkpoint on stored maps holds the student's global pool, which the rebuilt student carries itself
    state = {k: v for k, v in state.items() if not k.startswith(("student.", "pool."))}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise KdModelError(f"{model_dir / BEST}: the weights do not fit config.yaml's model: {e}") from None
    missing = [k for k in missing if not k.startswith("student.")]
    if missing or unexpected:
        raise KdModelError(f"{model_dir / BEST}: the weights do not fit config.yaml's model (missing {missing[:3]}, "
                           f"unexpected {list(unexpected)[:3]})")  # fmt: skip
    return model.eval(), cfg


def find_clips(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The clips to classify: each file as given, and every video file (:data:`VIDEO_EXTENSIONS`) under each
    directory, sorted. A path that does not exist, or a directory without videos, raises naming it."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                raise AdapterError(f"{p}: no video files ({', '.join(VIDEO_EXTENSIONS)}) in this directory")
            out += found
        elif p.exists():
            out.append(p)
        else:
            raise AdapterError(f"{p}: no such file or directory")
    if not out:
        raise AdapterError("predict-clips: no clips given")
    return list(dict.fromkeys(out))


def clip_spec(cache_spec: dict[str, Any]):
    """The recognition cache's decoding spec (config.yaml's ``cache_spec``)."""
    from ...data.cache import ClipSpec

    if int(cache_spec.get("views", 1)) != 1:
        raise KdModelError(f"cache_spec: {cache_spec.get('views')} views; predict-clips reads single-view clips")
    return ClipSpec(frames=int(cache_spec["frames"]), size=(int(cache_spec["size"][0]), int(cache_spec["size"][1])),
                    stride=int(cache_spec.get("stride", 1)), fps=cache_spec.get("fps"), crop_px=cache_spec.get("crop_px"),
                    outside=cache_spec.get("outside", "skip"))  # fmt: skip


def decode_clip(path: Path, spec) -> np.ndarray:
    """One clip (T, H, W, 3) uint8, decoded as the clip cache decodes a whole-video sample; raises
    :class:`ClipReadError` naming ``path``."""
    from ...data.cache import Unit, decode_unit_outcome
    from ...data.samples import Sample, SampleIndex
    from ...data.video import VideoReadError

    index = SampleIndex([Sample(str(path), (str(path.resolve()),), "clip", -1)], [], Path("."), "predict-clips")
    try:
        clips, outcome = decode_unit_outcome(index, Unit("clip", index.samples[0].sources, [0]), spec)
    except (VideoReadError, AdapterError, OSError, ValueError) as e:
        raise ClipReadError(f"{path}: cannot read this video ({type(e).__name__}: {e})") from None
    if outcome["skipped"]:
        raise ClipReadError(f"{path}: {outcome['skipped'][0]}")
    return clips[0]


def _rows(paths: list[str], probs: np.ndarray, classes: list[str], k: int) -> list[list[Any]]:
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    rows = []
    for p, pr, top in zip(paths, probs, order, strict=True):
        rows.append([p, classes[top[0]], f"{pr[top[0]]:.{PROB_DECIMALS}f}", "|".join(classes[i] for i in top),
                     " ".join(f"{pr[i]:.{PROB_DECIMALS}f}" for i in top)])  # fmt: skip
    return rows


def skipped_path(out: str | os.PathLike) -> Path:
    """Where the skipped clips of ``out`` are listed: ``<stem>_skipped.csv`` next to it."""
    out = Path(out)
    return out.with_name(f"{out.stem}_skipped.csv")


def predict_clips(clips: Sequence[str | os.PathLike], model_dir: str | os.PathLike, out: str | os.PathLike, *, top_k: int = 5,
                  batch_size: int = 8, skip_bad: bool = False, threads: int = 0, progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """Classify ``clips`` (files, or directories walked for videos) with the ``train@kd`` model in ``model_dir``;
    write the CSV ``out`` (:data:`PREDICT_COLUMNS`; ``topk`` class names joined by ``|``, ``topk_probs`` separated
    by spaces, best first) and, with ``skip_bad``, ``<stem>_skipped.csv``. Returns a summary."""
    from tqdm import tqdm

    from ...data.augment import normalisation, normalise
    from ...io import write_csv

    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if threads:
        torch.set_num_threads(threads)
    files = find_clips(clips)  # before the model loads
    model, cfg = load_kd_model(model_dir)
    classes = list(cfg["classes"])
    k = min(top_k, len(classes))
    spec = clip_spec(cfg["cache_spec"])
    mean, std = normalisation(cfg["normalisation"])
    done: list[str] = []
    probs: list[np.ndarray] = []
    skipped: list[list[str]] = []
    batch: list[torch.Tensor] = []

    def flush() -> None:
        if batch:
            with torch.no_grad():
                probs.append(torch.softmax(model(torch.stack(batch)).float(), 1).numpy())
            batch.clear()

    for path in tqdm(files, desc="predict-clips", unit="clip", disable=not progress):
        try:
            clip = decode_clip(path, spec)
        except ClipReadError as e:
            if not skip_bad:
                raise
            skipped.append([str(path), str(e).removeprefix(f"{path}: ")])
            continue
        batch.append(normalise(torch.from_numpy(clip).float(), mean, std))
        done.append(str(path))
        if len(batch) == batch_size:
            flush()
    flush()
    p = np.concatenate(probs) if probs else np.zeros((0, len(classes)), np.float32)
    write_csv(out, PREDICT_COLUMNS, _rows(done, p, classes, k))
    summary: dict[str, Any] = {"clips": len(files), "predicted": len(done), "skipped": len(skipped), "out": str(out),
                               "model_dir": str(model_dir), "top_k": k}  # fmt: skip
    if skip_bad:
        write_csv(skipped_path(out), SKIPPED_COLUMNS, skipped)
        summary["skipped_csv"] = str(skipped_path(out))
        summary["skipped_clips"] = [{"path": a, "reason": b} for a, b in skipped]
    return summary
