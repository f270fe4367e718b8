import numpy as np
import pytest

from replaylab.viz.bars import bar_chart, save_bar_chart


def test_bar_chart_draws_one_row_per_bar(tmp_path):
    img = bar_chart(["a", "b", "c"], [3.0, 1.0, 0.0], title="t", xlabel="gain")
    assert img.dtype == np.uint8 and img.shape[2] == 3 and img.shape[0] > 3 * 18
    assert (img != 255).any()
    save_bar_chart(tmp_path / "p.png", ["a"], [1.0], title="t", xlabel="x")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        bar_chart(["a"], [1.0, 2.0], title="t", xlabel="x")
    with pytest.raises(ValueError):
        bar_chart(["a"], [-1.0], title="t", xlabel="x")
