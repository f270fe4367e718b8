"""The backbone registry: one :class:`BackboneSpec` per name, and :func:`build_backbone`.

Every backbone takes a float tensor (B, 3, T, H, W), normalised with the spec's ``norm``, and returns a
feature map (B, C, T', H', W') from ``forward`` (the ViTs reshape their patch tokens to the token grid and
drop any class token). Pooling lives in the heads (:mod:`replaylab.models.heads`). A built backbone declares:

* ``feature_dim``: C, the channels of the map;
* ``feature_strides``: (temporal, spatial, spatial) strides of the map over the input;
* ``feature_grid(frames, size)``: the exact (T', H', W') for an input (see :func:`strided_length` for the
  rounding: most backbones round up at each stride, S3D rounds its last 2x pool down);
* ``feature_pool``: how its global pooling is defined: ``mean`` (the usual global average) or ``mean+max``
  (average and maximum concatenated, 2C features: ``compact3d``);
* ``post_pool_norm``: a norm of the backbone's own applied to the pooled features, or None (VideoMAE's
  ``fc_norm`` after the token mean; a LayerNorm does not commute with the mean, so it cannot go into the map);
* ``blocks()``: its parts in order, stem first, every parameter in exactly one of them (fine-tune only the
  last N).

Global pooling of the map (+ ``post_pool_norm``) gives the pooled features the classifier head sees
(:class:`replaylab.models.heads.GlobalPool`).

Backbone modules register themselves when :mod:`replaylab.models` is imported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from torch import nn

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "Grid",
    "InputCheck",
    "Size",
    "build_backbone",
    "get_spec",
    "input_constraints",
    "module_blocks",
    "register",
    "strided_grid",
    "strided_length",
]

Size = tuple[int, int]
Grid = tuple[int, int, int]
InputCheck = Callable[[int, Size], None]
Norm = Literal["imagenet", "kinetics", "videomae", "inception"]
NORMS: tuple[str, ...] = ("imagenet", "kinetics", "videomae", "inception")


def module_blocks(module: nn.Module) -> list[nn.Module]:
    """The backbone's own ``blocks()`` (the default way a spec lists blocks)."""
    return list(module.blocks())  # type: ignore[operator]


@dataclass(frozen=True)
class BackboneSpec:
    """What the rest of the project needs to know about one backbone.

    * ``builder``: keyword-only ``builder(*, frames, size, **options) -> nn.Module``;
    * ``norm``: the input normalisation its (pre-trained) weights expect;
    * ``check``: ``check(frames, size)`` raises ``ValueError`` (message without the name) for inputs the
      backbone cannot take;
    * ``blocks``: lists a built backbone's blocks in order (stem .. last stage);
    * ``default_input``: (frames, (H, W)) its released weights were trained on;
    * ``smallest_input``: the smallest (frames, (H, W)) it takes (tests, quick runs);
    * ``heavy``: too large to build and run on a CPU in a unit test (tests only count its parameters).
    """

    name: str
    builder: Callable[..., nn.Module]
    norm: Norm
    check: InputCheck
    description: str
    default_input: tuple[int, Size]
    smallest_input: tuple[int, Size]
    blocks: Callable[[nn.Module], list[nn.Module]] = field(default=module_blocks)
    heavy: bool = False

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"{self.name}: norm must be one of {NORMS}, got {self.norm!r}")


BACKBONES: dict[str, BackboneSpec] = {}


def register(spec: BackboneSpec) -> BackboneSpec:
    """Add ``spec`` under its name (a name registers once)."""
    if spec.name in BACKBONES and BACKBONES[spec.name] is not spec:
        raise ValueError(f"backbone {spec.name!r} is already registered")
    BACKBONES[spec.name] = spec
    return spec


# the header tool's backbone names (``--backbone csn|vmae``) for users migrating from it
ALIASES: dict[str, str] = {"csn": "csn50", "vmae": "videomae_base"}


def get_spec(name: str) -> BackboneSpec:
    """The spec of ``name`` (or of the backbone an alias in :data:`ALIASES` names)."""
    try:
        return BACKBONES[ALIASES.get(name, name)]
    except KeyError:
        known = sorted(BACKBONES) + [f"{a} (= {t})" for a, t in ALIASES.items()]
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(known)}") from None


def build_backbone(name: str, *, frames: int, size: Size, **options: object) -> nn.Module:
    """Build backbone ``name`` for clips of ``frames`` x ``size`` (H, W); ``options`` go to its builder.

    Raises ``ValueError`` naming the backbone for an unknown name, an input it cannot take or an option
    its builder does not have."""
    spec = get_spec(name)
    size = _as_size(size)
    try:
        spec.check(int(frames), size)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    _check_options(spec, options)
    try:
        return spec.builder(frames=int(frames), size=size, **options)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from e


def _as_size(size: Size | int | list[int]) -> Size:
    if isinstance(size, int):
        return (size, size)
    values = tuple(int(s) for s in size)
    if len(values) != 2:
        raise ValueError(f"size must be (height, width), got {size!r}")
    return values  # type: ignore[return-value]


def _check_options(spec: BackboneSpec, options: dict[str, object]) -> None:
    params = inspect.signature(spec.builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = sorted(n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in ("frames", "size"))
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"{spec.name}: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(accepted) or 'none'}")


def input_constraints(*, min_frames: int = 1, min_size: int = 1, frame_multiple: int = 1, size_multiple: int = 1) -> InputCheck:
    """A ``check(frames, size)`` for the usual limits: at least ``min_frames`` frames and ``min_size``
    pixels a side; frames a multiple of ``frame_multiple``; height and width multiples of ``size_multiple``."""

    def check(frames: int, size: Size) -> None:
        h, w = size
        if frames < min_frames:
            raise ValueError(f"needs at least {min_frames} frames, got {frames}")
        if min(h, w) < min_size:
            raise ValueError(f"needs at least {min_size}x{min_size} pixels, got {tuple(size)}")
        if frames % frame_multiple:
            raise ValueError(f"frames must be a multiple of {frame_multiple}, got {frames}")
        if h % size_multiple or w % size_multiple:
            raise ValueError(f"size must be multiples of {size_multiple}, got {tuple(size)}")

    return check


def strided_length(n: int, stride: int, *, rounding: Literal["ceil", "floor"] = "ceil") -> int:
    """Length of ``n`` positions after a total ``stride``: ``ceil(n / stride)`` for a chain of padded
    (kernel 2p+1, padding p) strided convs / pools, ``floor(n / stride)`` for unpadded kernel = stride pools."""
    if rounding == "ceil":
        return -(-int(n) // int(stride))
    if rounding == "floor":
        return int(n) // int(stride)
    raise ValueError(f"rounding must be 'ceil' or 'floor', got {rounding!r}")


def strided_grid(frames: int, size: Size, strides: Grid, *, rounding: Literal["ceil", "floor"] = "ceil") -> Grid:
    """(T', H', W') of a ``frames`` x ``size`` input after ``strides`` (t, h, w), each side by :func:`strided_length`."""
    t, h, w = strides
    return (
        strided_length(frames, t, rounding=rounding),
        strided_length(size[0], h, rounding=rounding),
        strided_length(size[1], w, rounding=rounding),
    )
