"""The action ids of the task's classes (the label map's ``label_id`` / the COCO categories' ``id``).

The adapters order ``classes`` by id; the official AVA files (predictions, ground truth) name classes by id,
and ids need not be contiguous, so the ids are read back from the same label map the adapter read.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...data.adapters.ava import LABEL_MAP_NAMES, read_label_map
from ...data.samples import AdapterError

__all__ = ["label_ids", "label_map_of"]


def label_map_of(source) -> dict[int, str]:
    """``{id: name}`` of the dataset ``source`` (a ``cache_clips.actions.source`` section) names its classes with."""
    root = Path(source.root)
    if source.format == "ava":
        ann = root / "annotations"
        found = [ann / n for n in LABEL_MAP_NAMES if (ann / n).is_file()]
        if not found:
            raise AdapterError(f"{ann}: no label map ({', '.join(LABEL_MAP_NAMES)})")
        return read_label_map(found[0])
    ann = root / source.annotations_dir
    if source.label_map:
        p = Path(source.label_map)
        return read_label_map(p if p.is_absolute() else ann / p)
    path = ann / f"{source.splits[0]}.json"
    try:
        cats = json.loads(path.read_text(encoding="utf-8"))["categories"]
        return dict(sorted((int(c["id"]), str(c["name"])) for c in cats))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AdapterError(f"{path}: cannot read the categories: {e}") from e


def label_ids(source, classes: list[str]) -> list[int]:
    """The id of every class of the cache, in ``classes`` order (checked against the label map's names)."""
    names = label_map_of(source)
    if list(names.values()) != list(classes):
        raise AdapterError(f"the label map of {source.root} ({', '.join(names.values())}) does not match the cached "
                           f"classes ({', '.join(classes)}); run cache_clips@actions again")  # fmt: skip
    return list(names)
