"""Confusion-matrix PNGs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from replaylab.viz.confusion import confusion_image, confusion_png


def test_confusion_png(tmp_path):
    m = np.array([[5, 1, 0], [0, 3, 2]])
    confusion_png(tmp_path / "c.png", m, ["No offence", "Offence + 1.0"], ["No offence", "Offence + 1.0", "(other)"], title="t")
    img = cv2.imread(str(tmp_path / "c.png"))
    assert img is not None and img.shape[0] > 2 * 44 and img.shape[1] > 3 * 44
    plain = confusion_image(np.zeros((2, 2), int), ["a", "b"], ["a", "b"])
    shaded = confusion_image(np.array([[4, 0], [0, 4]]), ["a", "b"], ["a", "b"])
    assert plain.shape == shaded.shape and (plain != shaded).any()  # the diagonal is shaded by its row share


def test_shape_mismatch():
    with pytest.raises(ValueError, match="does not fit 2 row and 3 column labels"):
        confusion_image(np.zeros((2, 2)), ["a", "b"], ["a", "b", "c"])
