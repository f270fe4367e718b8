"""Content fingerprints of what a training run is made from (data files, split files, source code), and a
readable list of what differs between two identities.

* :func:`file_digest`: md5 of a file's bytes, read in chunks (the hash DVC records for a file output);
* :func:`tree_digest`: a directory's digest from its sorted relative paths and their file digests;
* :func:`code_digest`: the ``.py`` sources of modules / packages / directories (``__pycache__`` ignored);
* :func:`describe_changes`: the dotted keys whose values differ between two nested mappings.

Digests depend on content and relative paths only, never on where a checkout lives or on file times.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["code_digest", "describe_changes", "file_digest", "flatten", "tree_digest"]

_CHUNK = 1 << 20
_ABSENT = "<absent>"
#: Strings of at least this many hex digits are shown shortened to :data:`_SHORT` characters.
_HASH_MIN_LEN = 16
_SHORT = 8
_MAX_VALUE_LEN = 80


def file_digest(path: str | os.PathLike) -> str:
    """Hex md5 of the file's content, streamed."""
    md5 = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            md5.update(chunk)
    return md5.hexdigest()


def _files_under(root: Path, *, suffix: str | None = None) -> Iterator[tuple[str, Path]]:
    """(posix relative path, path) of the regular files under ``root``, sorted by relative path; ``__pycache__``
    directories are skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if suffix is None or name.endswith(suffix):
                path = Path(dirpath) / name
                found.append((path.relative_to(root).as_posix(), path))
    return iter(sorted(found))


def tree_digest(path: str | os.PathLike) -> str:
    """A file: :func:`file_digest`. A directory: md5 over one ``<relative path> <md5>`` line per file, sorted by
    path (renaming, adding or removing a file changes it; file times and the directory's location do not)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"cannot fingerprint {path}: it does not exist")
    if not path.is_dir():
        return file_digest(path)
    md5 = hashlib.md5()
    for rel, file in _files_under(path):
        md5.update(f"{rel} {file_digest(file)}\n".encode())
    return md5.hexdigest()


def _is_module_name(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


def _code_roots(item: str | os.PathLike) -> list[tuple[str, Path]]:
    """(label, file or directory) of one :func:`code_digest` argument."""
    if isinstance(item, str) and _is_module_name(item):
        spec = importlib.util.find_spec(item)
        if spec is None:
            raise ModuleNotFoundError(f"code_digest: no module named {item!r}")
        if spec.submodule_search_locations:  # a package (namespace packages may have several directories)
            return [(item, Path(loc)) for loc in sorted(spec.submodule_search_locations)]
        if spec.origin is None or not spec.origin.endswith(".py"):
            raise ValueError(f"code_digest: module {item!r} has no Python source file ({spec.origin})")
        return [(item, Path(spec.origin))]
    path = Path(item)
    if not path.exists():
        raise FileNotFoundError(f"code_digest: {path} does not exist")
    return [(path.name, path)]


def code_digest(*packages_or_paths: str | os.PathLike) -> str:
    """Hex md5 of the Python sources of the given modules or paths.

    Each argument is a dotted module name (``"replaylab.training"``: the package's directory, or the module's
    file; found with ``importlib`` without importing it) or a path (an ``os.PathLike``, or a string that is not
    a dotted name) to a directory or a ``.py`` file. Every ``.py`` file under a directory counts
    (``__pycache__`` skipped), hashed as ``<label>/<relative path>`` plus its bytes, where the label is the
    module name or the path's last component, so the digest does not depend on where the checkout lives.
    """
    if not packages_or_paths:
        raise ValueError("code_digest needs at least one module name or path")
    md5 = hashlib.md5()
    for item in packages_or_paths:
        for label, root in _code_roots(item):
            files = _files_under(root, suffix=".py") if root.is_dir() else iter([(root.name, root)])
            for rel, file in files:
                data = file.read_bytes()
                md5.update(f"{label}/{rel}\0{len(data)}\0".encode())
                md5.update(data)
    return md5.hexdigest()


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level with dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``); an empty mapping
    stays a value of its own."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _show(value: Any) -> str:
    if value is _ABSENT:
        return _ABSENT
    if isinstance(value, str):
        is_hash = len(value) >= _HASH_MIN_LEN and all(c in "0123456789abcdef" for c in value.lower())
        text = value[:_SHORT] if is_hash else value
    elif isinstance(value, (list, tuple, Mapping)):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    return text if len(text) <= _MAX_VALUE_LEN else text[: _MAX_VALUE_LEN - 3] + "..."


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """One ``"<dotted key>: <old> -> <new>"`` line per entry that differs (added and removed keys show
    ``<absent>`` on their missing side), sorted by key. Hex digests are shortened to 8 characters, long values
    cut at 80."""
    a, b = flatten(old), flatten(new)
    lines = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, _ABSENT), b.get(key, _ABSENT)
        if va is _ABSENT or vb is _ABSENT or va != vb:
            lines.append(f"{key}: {_show(va)} -> {_show(vb)}")
    return lines
