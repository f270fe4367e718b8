"""AVA layout for the person-action task, over the match videos.

    ava/videos/<video_id>.mp4                                   (the match footage)
    ava/annotations/ava_{train,val}_v2.2.csv                    video_id,timestamp,x1,y1,x2,y2,action_id,person_id
    ava/annotations/ava_action_list_v2.2.pbtxt                  label { name: "..." label_id: N label_type: ... }
    ava/annotations/ava_dense_proposals_{train,val}.FAIR.recall_93.9.pkl
        {"<video_id>,<timestamp:04d>": float32 array (N, 5) of x1,y1,x2,y2,score}   (as mmaction2 reads them)
    ava/annotations/ava_{train,val}_excluded_timestamps_v2.2.csv   (empty: every keyframe is annotated)

Boxes are normalised to [0, 1] by the frame size; one CSV row per (person, action) at each 1 Hz keyframe.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np

from ...io import atomic_path, write_text
from ..actions import PERSON_ACTIONS


def label_map_text() -> str:
    parts = [
        f'label {{\n  name: "{name}"\n  label_id: {i + 1}\n  label_type: {kind}\n}}\n'
        for i, (name, kind) in enumerate(PERSON_ACTIONS)
    ]
    return "".join(parts)


def link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def proposals(boxes: list[tuple[float, float, float, float]], rng: np.random.Generator, jitter: float, miss: float,
              false_positives: float) -> np.ndarray:  # fmt: skip
    """Detector-like person proposals from true boxes: jittered, some missed, some spurious, with scores."""
    out = []
    for x1, y1, x2, y2 in boxes:
        if rng.random() < miss:
            continue
        w, h = x2 - x1, y2 - y1
        d = rng.normal(0.0, jitter, 4) * np.array([w, h, w, h])
        out.append([x1 + d[0], y1 + d[1], x2 + d[2], y2 + d[3], rng.uniform(0.75, 0.999)])
    for _ in range(rng.poisson(false_positives)):
        cx, cy, w = rng.uniform(0.05, 0.95), rng.uniform(0.2, 0.9), rng.uniform(0.02, 0.06)
        out.append([cx - w / 2, cy - w, cx + w / 2, cy + w, rng.uniform(0.3, 0.8)])
    arr = np.array(out, np.float32).reshape(-1, 5)
    arr[:, :4] = np.clip(arr[:, :4], 0.0, 1.0)
    return arr


def write_ava(root: Path, products: list, match_dirs: dict[str, Path], val_matches: set[str], rng: np.random.Generator,
              jitter: float, miss: float, false_positives: float) -> dict[str, int]:  # fmt: skip
    """Write the AVA layout from the keyframes collected while rendering the matches."""
    ann = root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    write_text(ann / "ava_action_list_v2.2.pbtxt", label_map_text())
    rows = {"train": [], "val": []}
    props = {"train": {}, "val": {}}
    for prod in sorted(products, key=lambda p: p.match_id):
        vid = prod.match_id
        split = "val" if vid in val_matches else "train"
        link_or_copy(match_dirs[vid] / "video.mp4", root / "videos" / f"{vid}.mp4")
        by_second: dict[int, list] = {}
        for sec, pid, box, labels in prod.keyframes:
            nb = (box[0] / prod.width, box[1] / prod.height, box[2] / prod.width, box[3] / prod.height)
            by_second.setdefault(sec, []).append(nb)
            for lab in labels:
                rows[split].append((vid, sec, *(f"{v:.3f}" for v in nb), lab, pid))
        for sec in sorted(by_second):
            props[split][f"{vid},{sec:04d}"] = proposals(by_second[sec], rng, jitter, miss, false_positives)
    counts = {}
    for split in ("train", "val"):
        with atomic_path(ann / f"ava_{split}_v2.2.csv") as tmp, open(tmp, "w") as fh:
            for r in rows[split]:
                fh.write(",".join(str(v) for v in r) + "\n")
        write_text(ann / f"ava_{split}_excluded_timestamps_v2.2.csv", "")
        with atomic_path(ann / f"ava_dense_proposals_{split}.FAIR.recall_93.9.pkl") as tmp, open(tmp, "wb") as fh:
            pickle.dump(props[split], fh, protocol=4)
        counts[f"ava_{split}_rows"] = len(rows[split])
        counts[f"ava_{split}_keyframes"] = len(props[split])
    return counts
