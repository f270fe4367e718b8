from __future__ import annotations

import numpy as np
import torch

from replaylab.tasks.actions.boxes import jitter_boxes, multi_hot, to_rois, training_boxes

GT = [[0.1, 0.1, 0.3, 0.5], [0.6, 0.2, 0.8, 0.6]]
LABELS = [[0, 2], [1]]


def test_multi_hot_marks_every_label_of_each_box():
    assert multi_hot(LABELS, 4).tolist() == [[1, 0, 1, 0], [0, 1, 0, 0]]


def test_overlapping_proposals_take_the_labels_of_their_best_box_and_others_are_left_out():
    props = [
        [0.11, 0.1, 0.31, 0.5, 0.9],  # on box 0
        [0.6, 0.21, 0.8, 0.61, 0.8],  # on box 1
        [0.4, 0.4, 0.5, 0.5, 0.99],
    ]  # on nobody: not a training box
    boxes, targets = training_boxes(GT, LABELS, props, num_classes=4, iou=0.5, per_clip=10, jitter=0.0,
                                    rng=np.random.default_rng(0))  # fmt: skip
    assert len(boxes) == 4
    np.testing.assert_allclose(boxes[:2], GT)  # ground truth first
    np.testing.assert_allclose(boxes[2:], np.array(props)[:2, :4])
    assert targets.tolist() == [[1, 0, 1, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0]]


def test_per_clip_caps_the_boxes_and_the_draw_follows_the_generator():
    props = [[0.1 + d, 0.1, 0.3 + d, 0.5, 0.9] for d in (0.0, 0.005, 0.01, 0.015)]
    a = training_boxes(GT, LABELS, props, num_classes=4, iou=0.5, per_clip=3, jitter=0.0, rng=np.random.default_rng(5))
    b = training_boxes(GT, LABELS, props, num_classes=4, iou=0.5, per_clip=3, jitter=0.0, rng=np.random.default_rng(5))
    assert len(a[0]) == 3
    np.testing.assert_array_equal(a[0], b[0])


def test_jitter_moves_sides_by_a_share_of_the_box_and_stays_in_the_frame():
    boxes = np.array([[0.0, 0.0, 0.2, 0.4], [0.5, 0.5, 1.0, 1.0]], np.float32)
    out = jitter_boxes(boxes, 0.05, np.random.default_rng(1))
    assert out.shape == boxes.shape and not np.array_equal(out, boxes)
    assert (out >= 0).all() and (out <= 1).all()
    assert (out[:, 2] > out[:, 0]).all() and (out[:, 3] > out[:, 1]).all()
    assert np.abs(out - boxes).max() < 0.5 * 0.5  # a few sigma of 0.05 x the box size
    assert jitter_boxes(boxes, 0.0, np.random.default_rng(1)) is boxes


def test_no_ground_truth_gives_no_training_box():
    boxes, targets = training_boxes([], [], [[0.1, 0.1, 0.2, 0.2, 0.9]], num_classes=3, iou=0.5, per_clip=5, jitter=0.1,
                                    rng=np.random.default_rng(0))  # fmt: skip
    assert boxes.shape == (0, 4) and targets.shape == (0, 3)


def test_rois_are_in_input_pixels_with_the_clip_index():
    rois = to_rois([np.array([[0.5, 0.25, 1.0, 0.75]]), np.zeros((0, 4)), np.array([[0.0, 0.0, 0.5, 0.5]])], (72, 128))
    torch.testing.assert_close(rois, torch.tensor([[0.0, 64, 18, 128, 54], [2, 0, 0, 64, 36]]))
