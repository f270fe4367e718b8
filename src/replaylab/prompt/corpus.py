"""The video-text corpus ``pretrain@clip`` trains on: captioned clips, none of whose captions names a held-out class.

Captions come from a CSV with ``path`` and ``caption`` columns (one row per caption, several rows per clip
allowed; ``path`` is the clip's id in the clip cache, e.g. UCF101's ``<Class>/<file>``) and optionally ``mentions``
(what the caption names besides the action, e.g. ``action+kit``) to select rows by. The corpus is the
training split's clips minus every clip of an unseen class, each with its captions; a caption that still names
an unseen class (:func:`.names.names_class`) is dropped and counted, and a clip left without a caption is left out and
counted. So no unseen class is ever the target of a pretraining caption.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.samples import AdapterError
from ..tables import read_table
from .bank import ClipSplit
from .names import names_class

__all__ = ["Corpus", "build_corpus", "read_captions"]


def read_captions(path: str | os.PathLike, *, mentions: list[str] | None = None) -> dict[str, list[str]]:
    """``{path: [captions]}`` from a ``path,caption`` CSV; errors name the file and row. With ``mentions``, only the
    rows whose ``mentions`` column (what the caption names besides the action; the synthetic world writes it) is
    one of those values."""
    path = Path(path)
    try:
        table = read_table(path, what="captions file")
    except ValueError as e:
        raise AdapterError(f"{e} (the synthetic world writes it with synthesize.recognition.captions_per_clip > 0)") from None
    missing = [c for c in ("path", "caption") if c not in table.columns]
    if missing:
        raise AdapterError(f"{path}: missing columns {missing} (expected path,caption)")
    if mentions is not None:
        if "mentions" not in table.columns:
            raise AdapterError(f"{path}: no mentions column to select prompt.pretrain.mentions {list(mentions)} by; "
                               "set prompt.pretrain.mentions: null to read every caption")  # fmt: skip
        values = table["mentions"].astype(str).str.strip()
        absent = sorted(set(mentions) - set(values))
        if absent:
            raise AdapterError(f"{path}: no caption has mentions {absent} (the file has {sorted(set(values))})")
        table = table[values.isin(list(mentions))]
    out: dict[str, list[str]] = {}
    for n, p, c in zip(table.index, table["path"], table["caption"]):
        if not str(p).strip() or not str(c).strip():
            raise AdapterError(f"{path}, row {n + 2}: empty path or caption")
        out.setdefault(str(p).strip(), []).append(str(c).strip())
    return out


@dataclass
class Corpus:
    clips: np.ndarray  # (N, T, H, W, C) uint8
    captions: list[list[str]]
    ids: list[str]
    report: dict = field(default_factory=dict)


def build_corpus(split: ClipSplit, captions: dict[str, list[str]], *, unseen: list[str]) -> Corpus:
    """The captioned clips of ``split`` whose class is not in ``unseen``, captions naming an unseen class dropped."""
    unknown = [c for c in unseen if c not in split.classes]
    if unknown:
        raise AdapterError(f"prompt.unseen_classes: {unknown} are not classes of the data ({', '.join(split.classes)})")
    keep, caps, ids = [], [], []
    dropped_captions, no_caption, unseen_clips = 0, 0, 0
    for i, (cid, label) in enumerate(zip(split.ids, split.labels)):
        if split.classes[int(label)] in unseen:
            unseen_clips += 1
            continue
        good = [c for c in captions.get(cid, []) if not any(names_class(c, u) for u in unseen)]
        dropped_captions += len(captions.get(cid, [])) - len(good)
        if not good:
            no_caption += 1
            continue
        keep.append(i)
        caps.append(good)
        ids.append(cid)
    if len(keep) < 2:
        raise AdapterError(f"only {len(keep)} captioned clips of seen classes in the {split.name} split: nothing to pretrain on")
    report = {
        "clips": len(keep),
        "captions": sum(len(c) for c in caps),
        "left_out_unseen_class_clips": unseen_clips,
        "left_out_clips_without_caption": no_caption,
        "dropped_captions_naming_unseen": dropped_captions,
        "seen_classes": [c for c in split.classes if c not in unseen],
        "unseen_classes": list(unseen),
    }
    return Corpus(split.clips[keep], caps, ids, report)
