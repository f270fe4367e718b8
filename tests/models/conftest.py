"""Shared settings for the model tests: one CPU thread (the machine is shared), fixed seeds."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _small_and_seeded():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 threads on a busy 2-core machine are slower than 1
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
