"""Paths read from data files (CSV rows, split lists, annotation JSON, ids) stay inside their dataset root.

:func:`inside_root` joins such a path to its root, resolves ``..`` and symlinks (of the root too) and
refuses anything that lands outside the root, with an :class:`~replaylab.data.samples.AdapterError`
naming the data file and row, the path as written and where it leads. Absolute paths are refused
outright: a dataset lists its files relative to its root.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from .samples import AdapterError

__all__ = ["inside_root"]


def inside_root(root: str | os.PathLike, rel: str | os.PathLike, *, where: str, what: str = "path") -> Path:
    """``root / rel`` (not resolved, so messages and sample sources keep the dataset's own spelling), after
    checking that it resolves, symlinks included, to a path under ``root`` resolved. ``where`` names the
    data file and row (``"<file>, row 7"``); ``what`` names the kind of path (``"clip"``, ``"video"``)."""
    text = os.fspath(rel)
    if not text or "\x00" in text:
        raise AdapterError(f"{where}: {what} {text!r} is empty or holds a NUL byte")
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive:
        raise AdapterError(f"{where}: {what} {text!r} is absolute; paths in a dataset must be relative to its root {root}")
    base = Path(root)
    joined = base / text
    real_root = base.resolve()
    real = joined.resolve()
    if real != real_root and real_root not in real.parents:
        how = "through a symlink " if ".." not in PurePosixPath(text.replace("\\", "/")).parts else ""
        raise AdapterError(f"{where}: {what} {text!r} leads {how}to {real}, outside the dataset root {real_root}")
    return joined
