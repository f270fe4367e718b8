from __future__ import annotations

import numpy as np
import pytest
import torch

from replaylab.data.samples import Sample
from replaylab.tasks.actions.adapter import ActionsTask, BoxSettings, detection_rows, ground_truth_rows

IDS = [1, 2, 3, 5]  # ids need not be contiguous


def _sample(vid, ts, boxes, labels):
    props = [[*b, 0.9] for b in boxes]
    meta = {"timestamp": ts, "boxes": boxes, "label_index": labels, "person_ids": list(range(len(boxes))), "proposals": props}
    return Sample(f"{vid},{ts:04d}", ("v.mp4",), vid, -1, float(ts), None, meta)


SAMPLES = [_sample("a", 1, [[0.1, 0.1, 0.3, 0.5], [0.5, 0.1, 0.7, 0.5]], [[0, 3], [1]]),
           _sample("a", 2, [[0.2, 0.2, 0.4, 0.6]], [[2]])]  # fmt: skip


class Oracle(torch.nn.Module):
    """Scores each proposal with its own ground truth (proposals = boxes here): a perfect detector."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def feature_map(self, x):
        return x

    def head(self, fmap, rois, memory=None):
        out = []
        for r in rois:
            s = SAMPLES[int(fmap[int(r[0])])]
            box = (r[1:] / torch.tensor([64.0, 32, 64, 32])).tolist()
            k = int(np.argmin([np.abs(np.array(b) - box).sum() for b in s.meta["boxes"]]))
            out.append([8.0 if c in s.meta["label_index"][k] else -8.0 for c in range(4)])
        return torch.tensor(out) + self.w


class Loader:
    def __init__(self):
        self.dataset = type("D", (), {"index": type("I", (), {"samples": SAMPLES})()})()

    def __iter__(self):
        yield {"index": torch.tensor([0, 1]), "features": torch.tensor([0.0, 1.0])}


def _task(pose=()):
    return ActionsTask(num_classes=4, class_ids=IDS, size=(32, 64), boxes=BoxSettings(iou=0.5, per_clip=8, jitter=0.0), pose=pose)


def test_a_perfect_detector_scores_frame_map_one_and_rows_are_official():
    metrics, rows = _task().evaluate(Oracle(), Loader(), torch.device("cpu"))
    assert metrics["val_frame_map"] == pytest.approx(1.0)
    assert len(rows) == 3 * 4 and {r["action_id"] for r in rows} == set(IDS)
    gt = ground_truth_rows(SAMPLES, IDS)
    assert sorted(gt["action_id"]) == [1, 2, 3, 5] and list(gt["person_id"]) == [0, 0, 1, 0]


def test_softmax_pose_group_scores_sum_to_one_and_skips_boxes_without_a_pose():
    task = _task(pose=[0, 1])
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.0, 0.0, 3.0, 0.0]])
    scores = task.scores(logits)
    assert scores[:, :2].sum(1).tolist() == pytest.approx([1.0, 1.0])
    assert scores[0, 2].item() == pytest.approx(torch.sigmoid(torch.tensor(0.0)).item())
    targets = torch.tensor([[1.0, 0, 0, 1], [0, 0, 1, 0]])  # the second box has no pose class: only its BCE counts
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 2:], targets[:, 2:])
    ce = torch.nn.functional.cross_entropy(logits[:1, :2], torch.tensor([0]))
    assert task.loss(logits, targets).item() == pytest.approx((bce + ce).item())
    sig = _task().loss(logits, targets)
    assert sig.item() == pytest.approx(torch.nn.functional.binary_cross_entropy_with_logits(logits, targets).item())


def test_detection_rows_list_every_box_and_class():
    rows = detection_rows([("a", 1)], [np.array([[0.1, 0.2, 0.3, 0.4]])], [np.array([[0.1, 0.2, 0.3, 0.4]])], IDS)
    assert rows["action_id"].tolist() == IDS and rows["score"].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert detection_rows([], [], [], IDS).empty
