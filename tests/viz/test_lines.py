from __future__ import annotations

import numpy as np
import pytest

from replaylab.viz.lines import line_chart, save_line_chart


def test_draws_each_series_in_its_colour(tmp_path):
    img = line_chart(["K=1", "K=4"], {"a": ([0.2, 0.8], [0.1, 0.7], [0.3, 0.9]), "b": ([0.5, float("nan")], [0.5, 0.5], [0.5, 0.5])},
                     title="t", ylabel="top-1")  # fmt: skip
    assert img.shape == (420, 560, 3) and img.dtype == np.uint8
    assert ((img == (31, 119, 180)).all(axis=2)).sum() > 50  # series a
    assert ((img == (255, 127, 14)).all(axis=2)).sum() > 5  # series b: its point and legend
    save_line_chart(tmp_path / "x.png", ["K=1"], {"a": ([0.5], [0.4], [0.6])}, title="t", ylabel="y")
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"


def test_values_outside_the_axis_are_clipped():
    img = line_chart(["1"], {"a": ([1.5], [-1.0], [2.0])}, title="t", ylabel="y")
    assert img.shape == (420, 560, 3)
    with pytest.raises(ValueError):
        line_chart(["1"], {"a": ([0.5],)}, title="t", ylabel="y")
