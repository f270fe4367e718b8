"""A tiny trained header model (both crop modes share one cache build per mode) for the inference tests."""

from __future__ import annotations

import shutil

import pytest
from header_run_fixture import build_header_run  # noqa: E402


@pytest.fixture(scope="session")
def three_matches(tiny_world, tmp_path_factory):
    matches = tmp_path_factory.mktemp("inf") / "matches"
    shutil.copytree(tiny_world[0] / "matches", matches)
    shutil.copytree(matches / "match_000", matches / "match_002")  # a third group for train / val / test
    return matches


@pytest.fixture(scope="session")
def header_run(three_matches, tmp_path_factory):
    """A 1-epoch ``ball_track`` header model: (run root, params data, matches root)."""
    import os

    root = tmp_path_factory.mktemp("run")
    cwd = os.getcwd()
    os.chdir(root)  # dvclive looks for a DVC repo from the working directory
    try:
        data, _ = build_header_run(root, three_matches, crop_on="ball_track")
    finally:
        os.chdir(cwd)
    return root, data, three_matches
