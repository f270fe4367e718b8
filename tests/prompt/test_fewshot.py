from __future__ import annotations

import numpy as np
import pytest

from replaylab.prompt.fewshot import sample_per_class

LABELS = np.array([0] * 10 + [1] * 6 + [2] * 2)


def test_k_per_class_deterministic_and_nested():
    idx, short = sample_per_class(LABELS, k=4, seed=5, n_classes=3)
    assert np.bincount(LABELS[idx]).tolist() == [4, 4, 2]
    assert short == {2: 2}
    again, _ = sample_per_class(LABELS, k=4, seed=5, n_classes=3)
    assert np.array_equal(idx, again) and np.all(np.diff(idx) > 0)
    small, _ = sample_per_class(LABELS, k=2, seed=5, n_classes=3)
    assert set(small) <= set(idx)  # a larger K draws a superset
    other, _ = sample_per_class(LABELS, k=4, seed=6, n_classes=3)
    assert not np.array_equal(idx, other)


def test_none_takes_every_clip_and_bad_k():
    idx, short = sample_per_class(LABELS, k=None, seed=0, n_classes=3)
    assert np.array_equal(idx, np.arange(len(LABELS))) and short == {}
    with pytest.raises(ValueError, match="k must be >= 1"):
        sample_per_class(LABELS, k=0, seed=0, n_classes=3)
