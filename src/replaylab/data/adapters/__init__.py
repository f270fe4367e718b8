"""Dataset adapters: each reads one on-disk dataset format and returns a :class:`SampleIndex`.

Adapters only index (paths, times, labels, groups); they never decode video. Each format has its own
module; :data:`ADAPTERS` maps a format name to its loader and :func:`load_index` dispatches by name::

    index = load_index("mvfoul", "data/raw/SoccerNet/mvfoul/train", center_frame=75)

Tracking data from commercial providers is not a sample index; it is converted to the canonical
tracking table by :mod:`.kloppy_tracking` (optional dependency ``kloppy``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..samples import AdapterError, SampleIndex
from .ava import load_ava
from .ava_coco import load_ava_coco
from .header_csv import load_header_csv
from .kinetics import load_kinetics
from .matches import load_matches
from .mvfoul import load_mvfoul
from .ucf101 import load_hmdb51, load_ucf101

ADAPTERS: dict[str, Callable[..., SampleIndex]] = {
    "mvfoul": load_mvfoul,
    "ava": load_ava,
    "ava_coco": load_ava_coco,  # AlphAction / custom-data COCO-style json + person-box json + per-keyframe clips
    "ucf101": load_ucf101,
    "hmdb51": load_hmdb51,
    "kinetics": load_kinetics,  # Kinetics-400/600/700 annotation CSVs + downloaded clips
    "header_csv": load_header_csv,
    "matches": load_matches,  # the synthetic world's / users' match layout -> header samples
}


def load_index(format: str, root: str | os.PathLike, **options) -> SampleIndex:
    """Index the dataset at ``root`` (a directory, or the CSV for ``header_csv``) with the adapter of ``format``."""
    try:
        loader = ADAPTERS[format]
    except KeyError:
        raise AdapterError(f"unknown dataset format {format!r}; known formats: {', '.join(sorted(ADAPTERS))}") from None
    return loader(root, **options)


__all__ = ["ADAPTERS", "AdapterError", "load_index"]
