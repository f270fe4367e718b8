"""Content hashes of what a training run was made from: files, directories and source code."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def file_digest(path: str | os.PathLike) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sources(target: str) -> list[Path]:
    p = Path(target)
    if not p.exists():
        spec = importlib.util.find_spec(target)
        if spec is None or spec.origin is None:
            raise ValueError(f"{target}: no such module or path")
        p = Path(spec.origin)
        if p.name == "__init__.py":
            p = p.parent
    return sorted(q for q in p.rglob("*.py") if "__pycache__" not in q.parts) if p.is_dir() else [p]


def code_digest(*targets: str) -> str:
    h = hashlib.md5()
    for t in targets:
        for f in _sources(t):
            h.update(f"{t}:{f.name}\n".encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
