"""The actions task for the training loop: the multi-label box loss and frame-mAP evaluation.

A batch is a set of keyframes (their clips, or their stored maps); the boxes and labels of each keyframe come
from its sample's ``meta`` (``boxes``, ``label_index``, ``proposals``), looked up through ``batch["index"]``.
Training boxes: :func:`.boxes.training_boxes`. Evaluation scores the proposals of every keyframe and computes
the official AVA frame-mAP (:mod:`replaylab.evaluation.ava`) against the keyframe's ground truth; the
``<prefix>_loss`` is the training loss on the ground-truth boxes (no jitter).

Loss: binary cross-entropy per class (``pose_loss: sigmoid``), or, with ``pose_loss: softmax``, a softmax
cross-entropy over the mutually exclusive ``pose`` classes (for boxes that carry one of them) plus binary
cross-entropy for the other classes (the AVA convention); the pose scores are then the softmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ...data.samples import Sample
from .boxes import multi_hot, to_rois, training_boxes

__all__ = ["ActionsTask", "BoxSettings", "detection_rows", "ground_truth_rows", "inputs_of", "key_of"]

DET_COLUMNS = ["video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id", "score"]
GT_COLUMNS = [*DET_COLUMNS[:7], "person_id"]


def inputs_of(batch: dict) -> torch.Tensor:
    return batch["video"] if "video" in batch else batch["features"]


def key_of(sample: Sample) -> tuple[str, int]:
    """(video id, timestamp) of a keyframe sample (sample ids are ``<video_id>,<timestamp:04d>``)."""
    return str(sample.group), int(sample.meta["timestamp"])


def ground_truth_rows(samples: Sequence[Sample], class_ids: Sequence[int]) -> pd.DataFrame:
    """The official ground-truth rows (one per box and action, with the person id) of ``samples``."""
    rows = []
    for s in samples:
        vid, ts = key_of(s)
        pids = s.meta.get("person_ids") or [None] * len(s.meta["boxes"])
        for box, labels, pid in zip(s.meta["boxes"], s.meta["label_index"], pids):
            rows += [(vid, ts, *box, int(class_ids[c]), pid) for c in labels]
    return pd.DataFrame(rows, columns=GT_COLUMNS)


#: Decimals of boxes and scores in the prediction CSVs; rows are rounded to them before they are scored, so the
#: metrics of ``train@actions`` equal those ``evaluate@actions`` computes from the written files.
DECIMALS = 6


def as_written(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with boxes and scores as the CSV writer formats them (``%.6f``, parsed back)."""
    out = table.copy()
    for col in ("x1", "y1", "x2", "y2", "score"):
        out[col] = [float(f"{v:.{DECIMALS}f}") for v in table[col].to_numpy(dtype=np.float64)]
    return out


def detection_rows(keys: Sequence[tuple[str, int]], boxes: Sequence[np.ndarray], scores: Sequence[np.ndarray],
                   class_ids: Sequence[int]) -> pd.DataFrame:  # fmt: skip
    """Official detection rows: every box x every class with its score (rounded as written, :func:`as_written`)."""
    ids = np.asarray(class_ids, np.int64)
    parts = []
    for (vid, ts), b, sc in zip(keys, boxes, scores):
        if not len(b):
            continue
        n, k = sc.shape
        parts.append(pd.DataFrame({"video_id": vid, "timestamp": ts, "x1": np.repeat(b[:, 0], k), "y1": np.repeat(b[:, 1], k),
                                   "x2": np.repeat(b[:, 2], k), "y2": np.repeat(b[:, 3], k), "action_id": np.tile(ids, n),
                                   "score": sc.reshape(-1)}))  # fmt: skip
    return as_written(pd.concat(parts, ignore_index=True)) if parts else pd.DataFrame(columns=DET_COLUMNS)


class BoxSettings:
    def __init__(self, *, iou: float, per_clip: int, jitter: float) -> None:
        self.iou, self.per_clip, self.jitter = float(iou), int(per_clip), float(jitter)


class ActionsTask:
    """TaskAdapter of the actions task (see the module doc).

    ``size``: (H, W) of the input the map was made from (boxes are scaled to it); ``memory``: split name ->
    :class:`~replaylab.features.memory.MemoryBank` (IA block M) or None; ``pose``: class positions of the
    mutually exclusive pose group (``pose_loss: softmax``) or empty."""

    def __init__(self, *, num_classes: int, class_ids: Sequence[int], size: Sequence[int], boxes: BoxSettings,
                 pose: Sequence[int] = (), memory: dict[str, Any] | None = None, prefix: str = "val",
                 split: str = "val") -> None:  # fmt: skip
        self.num_classes = int(num_classes)
        self.class_ids = [int(c) for c in class_ids]
        self.size = (int(size[0]), int(size[1]))
        self.boxes = boxes
        self.pose = list(pose)
        self.other = [c for c in range(self.num_classes) if c not in set(self.pose)]
        self.memory = memory or {}
        self.prefix = prefix
        self.split = split

    def for_split(self, split: str, prefix: str) -> ActionsTask:
        return ActionsTask(num_classes=self.num_classes, class_ids=self.class_ids, size=self.size, boxes=self.boxes,
                           pose=self.pose, memory=self.memory, prefix=prefix, split=split)  # fmt: skip

    def metric_names(self, prefix: str) -> set[str]:
        return {f"{prefix}_loss", f"{prefix}_frame_map"}

    def batch_size_of(self, batch: dict) -> int:
        return int(batch["index"].shape[0])

    # ------------------------------------------------------------------ pieces
    def _memory(self, split: str, keys: list[tuple[str, int]], device: torch.device):
        """The memory of each keyframe of the batch (one row per keyframe; the model shares it among its boxes)."""
        bank = self.memory.get(split)
        if bank is None:
            return None
        m = bank.gather(keys, [1] * len(keys))
        return type(m)(m.tokens.to(device), m.mask.to(device), m.offsets.to(device))

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if not self.pose:
            return F.binary_cross_entropy_with_logits(logits, targets)
        out = F.binary_cross_entropy_with_logits(logits[:, self.other], targets[:, self.other]) if self.other else 0.0
        pose_t = targets[:, self.pose]
        has = pose_t.sum(1) > 0
        if has.any():
            out = out + F.cross_entropy(logits[has][:, self.pose], pose_t[has].argmax(1))
        return out

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        probs = torch.sigmoid(logits.float())
        if self.pose:
            probs[:, self.pose] = torch.softmax(logits.float()[:, self.pose], dim=1)
        return probs

    # ------------------------------------------------------------------ loop protocol
    def training_loss(self, model: torch.nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        samples = self.train_samples
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))  # the loop seeds torch per epoch
        picked = [samples[int(i)] for i in batch["index"]]
        boxes, targets = [], []
        for s in picked:
            b, t = training_boxes(s.meta["boxes"], s.meta["label_index"], s.meta.get("proposals", []),
                                  num_classes=self.num_classes, iou=self.boxes.iou, per_clip=self.boxes.per_clip,
                                  jitter=self.boxes.jitter, rng=rng)  # fmt: skip
            boxes.append(b)
            targets.append(t)
        rois = to_rois(boxes, self.size).to(device)
        memory = self._memory("train", [key_of(s) for s in picked], device)
        logits = model(inputs_of(batch).to(device, non_blocking=True), rois, memory=memory)
        return self.loss(logits, torch.from_numpy(np.concatenate(targets)).to(device))

    train_samples: Sequence[Sample] = ()

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, loader, device: torch.device) -> tuple[pd.DataFrame, float]:
        """Detection rows for the proposals of every keyframe of ``loader`` and the loss on its ground-truth boxes."""
        samples = loader.dataset.index.samples
        keys, det_boxes, det_scores = [], [], []
        loss_sum, n_boxes = 0.0, 0
        for batch in loader:
            picked = [samples[int(i)] for i in batch["index"]]
            x = inputs_of(batch).to(device)
            fmap = model.feature_map(x) if hasattr(model, "feature_map") else x
            props = [np.asarray(s.meta.get("proposals", []), np.float32).reshape(-1, 5)[:, :4] for s in picked]
            gts = [np.asarray(s.meta["boxes"], np.float32).reshape(-1, 4) for s in picked]
            k = [key_of(s) for s in picked]
            for boxes, which in ((props, "det"), (gts, "gt")):
                rois = to_rois(boxes, self.size).to(device)
                if not len(rois):
                    continue
                memory = self._memory(self.split, k, device)
                logits = model.head(fmap, rois, memory=memory)
                if which == "det":
                    sc = self.scores(logits).cpu().numpy()
                    cuts = np.cumsum([len(b) for b in boxes])[:-1]
                    det_scores += np.split(sc, cuts)
                    det_boxes += boxes
                    keys += k
                else:
                    targets = torch.from_numpy(np.concatenate([multi_hot(s.meta["label_index"], self.num_classes)
                                                               for s in picked])).to(device)  # fmt: skip
                    loss_sum += float(self.loss(logits, targets)) * len(targets)
                    n_boxes += len(targets)
        return detection_rows(keys, det_boxes, det_scores, self.class_ids), loss_sum / max(n_boxes, 1)

    def evaluate(self, model: torch.nn.Module, loader, device: torch.device) -> tuple[dict[str, float], list[dict]]:
        from ...evaluation.ava import frame_map

        was = model.training
        model.eval()
        dets, loss = self.predict(model, loader, device)
        model.train(was)
        gt = ground_truth_rows(loader.dataset.index.samples, self.class_ids)
        result = frame_map(groundtruth=gt, detections=dets, label_map=self.class_ids)
        metrics = {f"{self.prefix}_loss": loss, f"{self.prefix}_frame_map": float(result["mAP"])}
        return metrics, dets.to_dict("records")
