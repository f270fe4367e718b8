"""The temporal memory of actor features (the feature bank an interaction-aggregation "M" block reads).

AlphAction's memory for a keyframe at ``t`` of a video holds, for each step ``t + k * MEMORY_RATE`` with
``k`` in ``-LENGTH[0] .. LENGTH[1]``, at most ``MAX_PER_SEC`` actor features of that keyframe (a random
subset when there are more), the current keyframe's own (detached) features among them. Here:

* :class:`MemoryBank` takes, per keyframe ``(video_id, timestamp)`` (integer seconds), the actor features
  (K, D) of that keyframe (the caller computes them, e.g. :meth:`replaylab.models.heads.RoiHead.roi_features`
  of the stored maps and boxes), ordered as the caller likes: the **first** ``max_per_sec`` rows of a keyframe
  are kept (order them by detection score, highest first, to keep the highest-scoring; a fixed rule keeps
  training and evaluation deterministic, where AlphAction samples);
* the memory of a query keyframe ``(v, t)`` is the kept rows of the keyframes ``(v, t + k * stride_s)`` with
  ``0 < |k * stride_s| <= span_s`` present in the bank, plus ``(v, t)`` itself when ``include_current``
  (AlphAction includes it; turn it off to keep only the neighbours). Same video only;
* :meth:`MemoryBank.gather` returns, for query keyframes with ``counts`` actors each, the tokens repeated per
  actor (every actor of a keyframe gets the same memory): ``tokens`` (N, L, D) float32, ``mask`` (N, L) bool
  (True = a real token) and ``offsets`` (N, L) long (the token's keyframe offset in steps, ``k``; 0 at
  padding), N = ``sum(counts)``. L is the largest memory among the queried keyframes (at least 1), tokens
  ordered by offset, then by row; padding is zero.

Fast for thousands of keyframes: each keyframe's memory is an index array into one stacked feature matrix,
computed once at construction (per video, the neighbours come from the sorted timestamps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch

__all__ = ["Memory", "MemoryBank"]

Key = tuple[str, int]


class Memory(NamedTuple):
    """Memory tokens per actor: ``tokens`` (N, L, D) float32, ``mask`` (N, L) bool, ``offsets`` (N, L) long."""

    tokens: torch.Tensor
    mask: torch.Tensor
    offsets: torch.Tensor


class MemoryBank:
    """Actor features per keyframe -> memory tokens of query keyframes (see the module docstring).

    ``MemoryBank(features, *, span_s, max_per_sec, stride_s=1, include_current=True)``: ``features`` maps
    ``(video_id, timestamp_s)`` to an array (K, D) (K may be 0); ``span_s`` >= 0 seconds each side
    (AlphAction's ``LENGTH``, 30 by default there, in seconds when ``MEMORY_RATE`` is 1); ``max_per_sec`` >= 1
    actors kept per keyframe (AlphAction's ``MAX_PER_SEC``, 5); ``stride_s`` >= 1 seconds between memory
    keyframes (``MEMORY_RATE``). ``max_length`` is the most tokens one memory can hold."""

    def __init__(
        self,
        features: Mapping[Key, np.ndarray],
        *,
        span_s: int,
        max_per_sec: int,
        stride_s: int = 1,
        include_current: bool = True,
    ) -> None:
        if span_s < 0:
            raise ValueError(f"span_s must be >= 0, got {span_s}")
        if max_per_sec < 1:
            raise ValueError(f"max_per_sec must be >= 1, got {max_per_sec}")
        if stride_s < 1:
            raise ValueError(f"stride_s must be >= 1, got {stride_s}")
        self.span_s, self.max_per_sec, self.stride_s = int(span_s), int(max_per_sec), int(stride_s)
        self.include_current = bool(include_current)
        steps = self.span_s // self.stride_s
        self.steps = steps
        self.max_length = (2 * steps + int(self.include_current)) * self.max_per_sec

        dim: int | None = None
        blocks: list[np.ndarray] = []
        per_video: dict[str, list[tuple[int, int, int]]] = {}  # video -> [(timestamp, first row, rows kept)]
        start = 0
        for key, value in features.items():
            video, timestamp = self._check_key(key)
            array = np.asarray(value)
            if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
                raise ValueError(f"memory features of {key!r}: expected a numeric array (K, D), got {array.dtype} {array.shape}")
            if dim is None:
                dim = int(array.shape[1])
            elif array.shape[1] != dim:
                raise ValueError(f"memory features of {key!r}: width {array.shape[1]}, the others have {dim}")
            if not np.isfinite(array).all():
                raise ValueError(f"memory features of {key!r} are not all finite")
            kept = array[: self.max_per_sec]
            blocks.append(kept.astype(np.float32, copy=False))
            per_video.setdefault(video, []).append((timestamp, start, len(kept)))
            start += len(kept)
        self.dim = 0 if dim is None else dim
        self._matrix = torch.from_numpy(np.concatenate(blocks) if blocks else np.zeros((0, self.dim), np.float32))
        self._videos: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for video, rows in per_video.items():
            rows.sort()
            array = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
            self._videos[video] = (array[:, 0], array[:, 1], array[:, 2])
        self._cache: dict[Key, tuple[np.ndarray, np.ndarray]] = {}

    @staticmethod
    def _check_key(key: object) -> Key:
        if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str)):
            raise ValueError(f"memory key {key!r}: expected (video_id: str, timestamp_s: int)")
        timestamp = key[1]
        if isinstance(timestamp, (bool, np.bool_)) or not isinstance(timestamp, (int, np.integer)):
            raise ValueError(f"memory key {key!r}: the timestamp must be an integer number of seconds")
        return key[0], int(timestamp)

    def __len__(self) -> int:
        return sum(len(v[0]) for v in self._videos.values())

    def rows(self, key: Key) -> tuple[np.ndarray, np.ndarray]:
        """The memory of one keyframe: row indices into the stacked features and their offsets (in steps)."""
        video, timestamp = self._check_key(key)
        cached = self._cache.get((video, timestamp))
        if cached is not None:
            return cached
        if video not in self._videos:
            raise KeyError(f"memory: video {video!r} of keyframe {key!r} has no keyframe in the bank")
        times, starts, kept = self._videos[video]
        lo = np.searchsorted(times, timestamp - self.steps * self.stride_s, side="left")
        hi = np.searchsorted(times, timestamp + self.steps * self.stride_s, side="right")
        delta = times[lo:hi] - timestamp
        use = (delta % self.stride_s == 0) & ((delta != 0) | self.include_current)
        delta, first, count = delta[use], starts[lo:hi][use], kept[lo:hi][use]
        total = int(count.sum())
        index = np.repeat(first - np.cumsum(count) + count, count) + np.arange(total)
        offsets = np.repeat(delta // self.stride_s, count)
        self._cache[(video, timestamp)] = (index, offsets)
        return index, offsets

    def gather(self, keys: Sequence[Key], counts: Sequence[int]) -> Memory:
        """Memory tokens for the actors of ``keys`` (``counts[i]`` actors at ``keys[i]``), in that order."""
        if len(keys) != len(counts):
            raise ValueError(f"gather: {len(keys)} keys but {len(counts)} counts")
        counts_t = torch.as_tensor(np.asarray(counts, dtype=np.int64).reshape(-1))
        if len(counts_t) and counts_t.min() < 0:
            raise ValueError("gather: counts must be >= 0")
        found = [self.rows(key) for key in keys]
        length = max([1] + [len(index) for index, _ in found])
        k = len(keys)
        index = torch.zeros((k, length), dtype=torch.long)
        offsets = torch.zeros((k, length), dtype=torch.long)
        mask = torch.zeros((k, length), dtype=torch.bool)
        for i, (rows, offs) in enumerate(found):
            n = len(rows)
            index[i, :n] = torch.from_numpy(rows)
            offsets[i, :n] = torch.from_numpy(offs)
            mask[i, :n] = True
        if len(self._matrix):
            tokens = self._matrix[index] * mask[..., None]
        else:
            tokens = torch.zeros((k, length, self.dim), dtype=torch.float32)
        return Memory(
            tokens.repeat_interleave(counts_t, dim=0),
            mask.repeat_interleave(counts_t, dim=0),
            offsets.repeat_interleave(counts_t, dim=0),
        )
