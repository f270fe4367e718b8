"""Which person boxes a keyframe trains and is scored on, and their multi-label targets.

Training (AlphAction / mmaction2 practice): the ground-truth boxes plus the detector proposals that overlap a
ground-truth box by at least ``iou`` (a proposal takes the labels of the box it overlaps most; proposals
overlapping none are left out, so every training box is an annotated person), at most ``per_clip`` of them
drawn at random, each side moved by ``N(0, jitter)`` times the box's width / height. Evaluation: the
proposals alone (what a deployed detector would give), never the ground truth.

Boxes are normalised ``[x1, y1, x2, y2]`` in [0, 1]; :func:`to_rois` turns them into ``roi_align`` rows in
the input's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchvision.ops import box_iou

__all__ = ["multi_hot", "to_rois", "training_boxes", "jitter_boxes"]


def multi_hot(label_index: Sequence[Sequence[int]], num_classes: int) -> np.ndarray:
    """(K, num_classes) float32 targets from the class positions of each box."""
    out = np.zeros((len(label_index), num_classes), np.float32)
    for i, labels in enumerate(label_index):
        out[i, list(labels)] = 1.0
    return out


def jitter_boxes(boxes: np.ndarray, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Each side moved by N(0, jitter) x the box's size, clipped to [0, 1]; a box never collapses."""
    if jitter <= 0 or not len(boxes):
        return boxes
    wh = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1)
    out = np.clip(boxes + rng.normal(0.0, jitter, boxes.shape) * wh, 0.0, 1.0)
    bad = (out[:, 2] - out[:, 0] < 1e-3) | (out[:, 3] - out[:, 1] < 1e-3)
    out[bad] = boxes[bad]
    return out


def training_boxes(gt_boxes: Sequence[Sequence[float]], label_index: Sequence[Sequence[int]],
                   proposals: Sequence[Sequence[float]], *, num_classes: int, iou: float, per_clip: int, jitter: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(M, 4) boxes and (M, num_classes) targets of one training keyframe (see the module doc)."""
    gt = np.asarray(gt_boxes, np.float32).reshape(-1, 4)
    targets = multi_hot(label_index, num_classes)
    boxes, tgts = [gt], [targets]
    props = np.asarray(proposals, np.float32).reshape(-1, 5)[:, :4] if len(proposals) else np.zeros((0, 4), np.float32)
    if len(gt) and len(props):
        overlap = box_iou(torch.from_numpy(props), torch.from_numpy(gt)).numpy()
        best, which = overlap.max(axis=1), overlap.argmax(axis=1)
        keep = best >= iou
        boxes.append(props[keep])
        tgts.append(targets[which[keep]])
    boxes_a, tgts_a = np.concatenate(boxes), np.concatenate(tgts)
    if len(boxes_a) > per_clip:
        pick = np.sort(rng.choice(len(boxes_a), per_clip, replace=False))
        boxes_a, tgts_a = boxes_a[pick], tgts_a[pick]
    return jitter_boxes(boxes_a, jitter, rng).astype(np.float32), tgts_a


def to_rois(boxes_per_clip: Sequence[np.ndarray], size: Sequence[int]) -> torch.Tensor:
    """``roi_align`` rows (N, 5) ``[clip, x1, y1, x2, y2]`` in pixels of an input of ``size`` (H, W)."""
    h, w = float(size[0]), float(size[1])
    rows = [np.concatenate([np.full((len(b), 1), i, np.float32), np.asarray(b, np.float32).reshape(-1, 4) * [w, h, w, h]], 1)
            for i, b in enumerate(boxes_per_clip)]  # fmt: skip
    return torch.from_numpy((np.concatenate(rows) if rows else np.zeros((0, 5))).astype(np.float32))
