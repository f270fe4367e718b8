"""Deferred imports for task specs: a spec names its trainer and evaluator by ``"module:attribute"`` so that
reading the registry (e.g. to validate params) does not import torch."""

from __future__ import annotations

import importlib
from typing import Any


class Lazy:
    """Stands for ``module:attribute`` (a class is instantiated without arguments); imported on first use."""

    def __init__(self, target: str) -> None:
        module, sep, attr = target.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"lazy target must look like 'package.module:name', got {target!r}")
        self.target = target
        self._obj: Any = None

    def resolve(self) -> Any:
        if self._obj is None:
            module, _, attr = self.target.partition(":")
            obj = getattr(importlib.import_module(module), attr)
            self._obj = obj() if isinstance(obj, type) else obj
        return self._obj

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.resolve(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"lazy({self.target!r})"


def lazy(target: str) -> Lazy:
    return Lazy(target)
