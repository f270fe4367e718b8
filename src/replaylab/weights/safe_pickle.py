"""Reading numpy-array pickles without running code from them.

A pickle names the functions it calls (``GLOBAL`` / ``STACK_GLOBAL`` opcodes, resolved by
``Unpickler.find_class``); a crafted file can name ``os.system`` or ``builtins.eval``. The unpickler here
resolves only :data:`NUMPY_ARRAY_GLOBALS` -- numpy's array / dtype reconstruction (numpy 1 and 2 module
names; ``_codecs.encode``, which protocol-2 pickles use to rebuild the array's bytes) and the plain
containers -- and refuses anything else *before* it is imported or called, naming it.
Persistent ids (out-of-band objects) are refused too. A file that passes can only have built dicts, lists,
tuples, strings, numbers and numpy arrays.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["NUMPY_ARRAY_GLOBALS", "RestrictedUnpickler", "UnsafePickleError", "array_leaves", "load_numpy_pickle"]

NUMPY_ARRAY_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {(m, n) for m in ("builtins", "__builtin__") for n in ("dict", "list", "tuple")}
    | {(m, "_reconstruct") for m in ("numpy.core.multiarray", "numpy._core.multiarray")}  # ndarray.__reduce__
    | {(m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")}  # protocol 5 arrays
    | {("numpy", "ndarray"), ("numpy", "dtype")}
    | {("_codecs", "encode")}  # how Python 3 writes bytes (an array's data) in protocol-2 pickles
)


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references something other than numpy arrays and plain containers."""


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the globals in ``allowed`` (default :data:`NUMPY_ARRAY_GLOBALS`)."""

    def __init__(self, file: io.BufferedIOBase, *, allowed: frozenset[tuple[str, str]] = NUMPY_ARRAY_GLOBALS) -> None:
        super().__init__(file, encoding="latin1")
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.allowed:
            raise UnsafePickleError(f"refused to load {module}.{name} (only numpy arrays and plain containers are allowed)")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refused persistent id {pid!r} (only numpy arrays and plain containers are allowed)")


def load_numpy_pickle(source: str | os.PathLike | bytes) -> Any:
    """The object in a pickle file (or its bytes) made of plain containers and numpy arrays only; anything
    else raises :class:`UnsafePickleError` naming the class or function and the file, before it is called."""
    where = "<bytes>" if isinstance(source, bytes | bytearray) else str(source)
    try:
        if isinstance(source, bytes | bytearray):
            return RestrictedUnpickler(io.BytesIO(source)).load()
        with open(Path(source), "rb") as fh:
            return RestrictedUnpickler(fh).load()
    except UnsafePickleError as e:
        raise UnsafePickleError(f"{where}: {e}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise pickle.UnpicklingError(f"{where}: not a readable numpy pickle ({type(e).__name__}: {e})") from e


def array_leaves(tree: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """The (key path, array) leaves of a nested dict of numeric numpy arrays, in insertion order; any other
    leaf (an object array, a string, a list ...) raises ``ValueError`` naming its path."""
    if isinstance(tree, dict):
        out = []
        for key, value in tree.items():
            out.extend(array_leaves(value, (*path, str(key))))
        return out
    where = "/".join(path) or "<root>"
    if not isinstance(tree, np.ndarray):
        raise ValueError(f"{where}: expected a numpy array, got {type(tree).__name__}")
    if tree.dtype.kind not in "fiub":
        raise ValueError(f"{where}: expected a numeric array, got dtype {tree.dtype}")
    return [(path, tree)]
