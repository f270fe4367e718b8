import numpy as np
import pytest

from replaylab.viz.png import save_png
from replaylab.viz.sheets import contact_sheet


def test_contact_sheet_grid_and_png(tmp_path):
    rows = [[np.full((48, 64, 3), 100, np.uint8)] * 3, [np.full((48, 64, 3), 50, np.uint8)] * 2]
    img = contact_sheet("header", rows, thumb_h=48)
    assert img.shape == (22 + 2 * 50, 3 * 64 + 2 * 2, 3)
    save_png(tmp_path / "s.png", img)
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no examples"):
        contact_sheet("empty", [])
