"""Shared fixtures: a tiny synthetic dataset generated once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from repo_fixtures import REPO, TINY_PARAMS, tiny_params  # noqa: E402,F401  (re-exported for fixtures)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> tuple[Path, dict]:
    """(root of a generated tiny dataset, summary metrics)."""
    from replaylab import params as P
    from replaylab.world.synthesize import generate

    tmp = tmp_path_factory.mktemp("world")
    params = P.load(None, tiny_params(tmp))
    out = tmp / "synthetic"
    summary = generate(params, out_dir=out, progress=False)
    return out, summary
