"""The temporal memory bank: neighbours within the span of the same video, cap per keyframe, mask and offsets."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from replaylab.features.memory import Memory, MemoryBank


def _feat(value: float, k: int, d: int = 3) -> np.ndarray:
    """k actors whose features are value + actor / 10 (so rows can be recognised)."""
    return (value + np.arange(k, dtype=np.float32)[:, None] / 10 + np.zeros((1, d), np.float32)).astype(np.float32)


@pytest.fixture
def features() -> dict[tuple[str, int], np.ndarray]:
    return {
        ("a", 10): _feat(10, 2),
        ("a", 11): _feat(11, 3),
        ("a", 12): _feat(12, 1),
        ("a", 14): _feat(14, 2),
        ("a", 20): _feat(20, 1),
        ("b", 11): _feat(111, 2),
        ("b", 13): _feat(113, 0),
    }


def test_neighbours_within_span_same_video_self_excluded_and_capped(features):
    bank = MemoryBank(features, span_s=2, max_per_sec=2, include_current=False)
    mem = bank.gather([("a", 12)], [1])
    assert isinstance(mem, Memory)
    valid = mem.mask[0]
    values = mem.tokens[0, valid, 0].tolist()
    # 10 (2 actors), 11 (3 actors, capped to the first 2), 14 (2 actors); not 12 itself, not 20, not video b
    assert values == pytest.approx([10.0, 10.1, 11.0, 11.1, 14.0, 14.1])
    assert mem.offsets[0, valid].tolist() == [-2, -2, -1, -1, 2, 2]
    assert mem.tokens.shape == (1, 6, 3) and mem.tokens.dtype == torch.float32
    assert mem.mask.dtype == torch.bool and mem.offsets.dtype == torch.long


def test_include_current_adds_the_keyframe_itself_at_offset_zero(features):
    bank = MemoryBank(features, span_s=1, max_per_sec=5)
    mem = bank.gather([("a", 12)], [1])
    assert mem.tokens[0, mem.mask[0], 0].tolist() == pytest.approx([11.0, 11.1, 11.2, 12.0])
    assert mem.offsets[0, mem.mask[0]].tolist() == [-1, -1, -1, 0]
    assert bank.max_length == 3 * 5


def test_gather_repeats_per_actor_pads_and_masks(features):
    bank = MemoryBank(features, span_s=1, max_per_sec=5, include_current=False)
    mem = bank.gather([("a", 10), ("b", 11), ("a", 20)], [2, 1, 3])
    assert mem.tokens.shape == (6, 3, 3)  # L = the largest memory: a@10 sees a@11's 3 actors
    assert mem.mask.sum(1).tolist() == [3, 3, 0, 0, 0, 0]  # b@11: b@13 has no actor, b@12 absent; a@20 alone
    torch.testing.assert_close(mem.tokens[0], mem.tokens[1])
    assert (mem.tokens[~mem.mask] == 0).all() and (mem.offsets[~mem.mask] == 0).all()
    assert mem.offsets[0].tolist() == [1, 1, 1]


def test_query_keyframe_not_in_bank_stride_and_empty_cases(features):
    bank = MemoryBank(features, span_s=4, max_per_sec=1, stride_s=2, include_current=False)
    mem = bank.gather([("a", 17)], [1])  # not a bank keyframe: 13 .. 21 in steps of 2 -> none (all odd)
    assert not mem.mask.any()
    mem = bank.gather([("a", 16)], [1])  # 12, 14 and 20 (even steps within 4 s), not 11 (odd) or 10 (6 s)
    assert mem.tokens[0, mem.mask[0], 0].tolist() == pytest.approx([12.0, 14.0, 20.0])
    assert mem.offsets[0, mem.mask[0]].tolist() == [-2, -1, 2]  # in steps of stride_s
    empty = bank.gather([], [])
    assert empty.tokens.shape == (0, 1, 3) and empty.mask.shape == (0, 1)
    none = bank.gather([("a", 16)], [0])
    assert none.tokens.shape[0] == 0
    nothing = MemoryBank({}, span_s=2, max_per_sec=2)
    assert len(nothing) == 0
    with pytest.raises(KeyError, match="video 'a'"):
        nothing.gather([("a", 1)], [1])


def test_bad_input_is_named(features):
    with pytest.raises(ValueError, match=r"memory features of \('a', 2\): width 4"):
        MemoryBank({("a", 1): np.zeros((1, 3)), ("a", 2): np.zeros((1, 4))}, span_s=1, max_per_sec=1)
    with pytest.raises(ValueError, match="integer number of seconds"):
        MemoryBank({("a", 1.5): np.zeros((1, 3))}, span_s=1, max_per_sec=1)
    with pytest.raises(ValueError, match=r"\('a', 1\) are not all finite"):
        MemoryBank({("a", 1): np.full((1, 3), np.nan)}, span_s=1, max_per_sec=1)
    with pytest.raises(ValueError, match="max_per_sec must be >= 1"):
        MemoryBank(features, span_s=1, max_per_sec=0)
    bank = MemoryBank(features, span_s=1, max_per_sec=1)
    with pytest.raises(ValueError, match="2 keys but 1 counts"):
        bank.gather([("a", 10), ("a", 11)], [1])
    with pytest.raises(KeyError, match="video 'zz'"):
        bank.gather([("zz", 10)], [1])


def test_matches_a_brute_force_reference_and_is_fast():
    rng = np.random.default_rng(0)
    features = {}
    for v in range(20):
        for t in rng.choice(900, size=100, replace=False):
            features[(f"v{v}", int(t))] = rng.normal(size=(int(rng.integers(0, 9)), 16)).astype(np.float32)
    start = time.perf_counter()
    bank = MemoryBank(features, span_s=30, max_per_sec=5, include_current=False)
    keys = list(features)
    counts = [len(features[k]) for k in keys]
    mem = bank.gather(keys, counts)
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0, elapsed  # 2000 keyframes x ~4 actors (well under a second when unloaded)
    row = 0
    for key, count in zip(keys[:50], counts[:50]):
        video, t = key
        want = [
            (s - t, f[:5])
            for (vv, s), f in sorted(features.items(), key=lambda kv: kv[0][1])
            if vv == video and 0 < abs(s - t) <= 30
        ]
        want_tokens = np.concatenate([f for _, f in want]) if want else np.zeros((0, 16))
        want_offsets = [o for o, f in want for _ in range(len(f))]
        for a in range(count):
            valid = mem.mask[row + a]
            np.testing.assert_allclose(mem.tokens[row + a, valid].numpy(), want_tokens)
            assert mem.offsets[row + a, valid].tolist() == want_offsets
        row += count
