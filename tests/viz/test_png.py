"""PNG writing: the pixels read back unchanged, in RGB order, and no partial file on failure."""

import cv2
import numpy as np
import pytest

from replaylab.viz.png import save_png


def test_png_round_trip_keeps_rgb_pixels(tmp_path):
    img = np.zeros((4, 5, 3), np.uint8)
    img[..., 0] = 200  # red
    img[1, 2] = (10, 20, 30)
    save_png(tmp_path / "a" / "x.png", img)
    back = cv2.cvtColor(cv2.imread(str(tmp_path / "a" / "x.png")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(back, img)


def test_unencodable_image_leaves_no_file(tmp_path):
    with pytest.raises(cv2.error):
        save_png(tmp_path / "bad.png", np.zeros((0, 0, 7), np.uint8))
    assert not list(tmp_path.iterdir())
