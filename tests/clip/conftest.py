"""Shared settings for the CLIP tests: one CPU thread (2 threads on a busy 2-core machine are slower than 1)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
