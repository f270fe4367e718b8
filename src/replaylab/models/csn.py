"""ResNet3D-CSN with interaction-reduced channel-separated bottlenecks (ir-CSN, Tran et al. 2019).

Each bottleneck is 1x1x1 conv -> 3x3x3 *depthwise* conv (groups = channels) -> 1x1x1 conv, with BN and
ReLU, plus a residual (1x1x1 conv + BN where the shape changes). Stem: 3x7x7 conv stride (1, 2, 2) and a
(1, 3, 3) max pool stride (1, 2, 2); stages of widths ``base_width * (1, 2, 4, 8)`` (x4 out), strides
(1, 2, 2, 2) in time and space. ``forward`` returns the last stage's map (B, 8 * base_width * 4, T', H', W')
at strides (8, 32, 32) with the default ``temporal_strides`` (the product of ``temporal_strides`` in time);
every stride rounds up (padded convs / pools): T' = ceil(T / 8), H' = ceil(H / 32).

Module names follow mmaction2's ``ResNet3dCSN`` (``conv1.conv``, ``conv1.bn``, ``layer{i}.{j}.conv1.conv``,
``layer{i}.{j}.conv2.0.conv`` (mmaction2 wraps the depthwise conv in a Sequential), ``conv3.bn``,
``downsample.conv`` / ``downsample.bn``; BN eps 1e-3), so its checkpoints load once the ``backbone.``
prefix is stripped. Input normalisation: ``imagenet``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import torch
from torch import nn

from .parts import BlockGroup, ConvBN, freeze_batchnorm, init_conv_bn
from .registry import BackboneSpec, Grid, Size, input_constraints, register, strided_grid

__all__ = ["STAGE_BLOCKS", "CSNBottleneck", "ConvBN", "ResNet3dCSN", "create_csn"]

STAGE_BLOCKS: dict[int, tuple[int, int, int, int]] = {
    26: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
EXPANSION = 4


class CSNBottleneck(nn.Module):
    """ir-CSN bottleneck: ``planes`` wide inside, ``planes * 4`` out; the stride sits on the depthwise conv."""

    def __init__(self, cin: int, planes: int, *, stride: tuple[int, int, int] = (1, 1, 1), bn_eps: float = 1e-3) -> None:
        super().__init__()
        cout = planes * EXPANSION
        self.conv1 = ConvBN(cin, planes, (1, 1, 1), bn_eps=bn_eps)
        self.conv2 = nn.Sequential(ConvBN(planes, planes, (3, 3, 3), stride=stride, groups=planes, bn_eps=bn_eps))
        self.conv3 = ConvBN(planes, cout, (1, 1, 1), relu=False, bn_eps=bn_eps)
        self.downsample = (
            ConvBN(cin, cout, (1, 1, 1), stride=stride, relu=False, bn_eps=bn_eps) if stride != (1, 1, 1) or cin != cout else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu_(self.conv3(self.conv2(self.conv1(x))) + identity)


class ResNet3dCSN(nn.Module):
    """ir-CSN backbone; ``forward`` returns the last stage's map (B, ``feature_dim``, T', H', W')."""

    feature_pool = "mean"
    post_pool_norm = None

    def __init__(
        self,
        *,
        stage_blocks: tuple[int, ...],
        base_width: int = 64,
        temporal_strides: tuple[int, ...] = (1, 2, 2, 2),
        bn_eps: float = 1e-3,
        bn_frozen: bool = False,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if len(temporal_strides) != len(stage_blocks):
            raise ValueError(f"temporal_strides {temporal_strides} must have one entry per stage ({len(stage_blocks)})")
        self.bn_frozen = bn_frozen
        self.conv1 = ConvBN(3, base_width, (3, 7, 7), stride=(1, 2, 2), bn_eps=bn_eps)
        self.maxpool = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        cin = base_width
        self.stage_names: list[str] = []
        for i, (n, t_stride) in enumerate(zip(stage_blocks, temporal_strides)):
            planes = base_width * 2**i
            s = 1 if i == 0 else 2
            layer = nn.Sequential(
                *(
                    CSNBottleneck(
                        cin if j == 0 else planes * EXPANSION,
                        planes,
                        stride=(t_stride, s, s) if j == 0 else (1, 1, 1),
                        bn_eps=bn_eps,
                    )
                    for j in range(n)
                )
            )
            self.add_module(f"layer{i + 1}", layer)
            self.stage_names.append(f"layer{i + 1}")
            cin = planes * EXPANSION
        self.feature_dim: int = cin
        side = 2 ** (len(stage_blocks) + 1)  # stem conv and max pool, then every stage after the first
        self.feature_strides: Grid = (math.prod(temporal_strides), side, side)
        self._init_weights(zero_init_residual)
        if bn_frozen:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm3d):
                    m.requires_grad_(False)

    def _init_weights(self, zero_init_residual: bool) -> None:
        init_conv_bn(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, CSNBottleneck):
                    nn.init.zeros_(m.conv3.bn.weight)

    def train(self, mode: bool = True) -> ResNet3dCSN:
        """With ``bn_frozen`` every BN layer stays in eval mode (running statistics fixed)."""
        super().train(mode)
        if self.bn_frozen:
            freeze_batchnorm(self)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x

    def feature_grid(self, frames: int, size: Size) -> Grid:
        return strided_grid(frames, size, self.feature_strides)

    def blocks(self) -> list[nn.Module]:
        return [BlockGroup(self.conv1, self.maxpool), *(getattr(self, n) for n in self.stage_names)]

    def adapt_checkpoint(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Accept the depthwise conv named without mmaction2's Sequential index (``conv2.conv`` / ``conv2.bn``)."""
        renamed = 0
        for key in list(state):
            new = re.sub(r"^(layer\d+\.\d+\.conv2)\.(conv|bn)\.", r"\1.0.\2.", key)
            if new != key and new not in state:
                state[new] = state.pop(key)
                renamed += 1
        return [f"renamed {renamed} depthwise conv keys conv2.conv/bn -> conv2.0.conv/bn"] if renamed else []


def create_csn(
    *,
    depth: int = 50,
    base_width: int = 64,
    temporal_strides: tuple[int, ...] = (1, 2, 2, 2),
    bn_eps: float = 1e-3,
    bn_frozen: bool = False,
    zero_init_residual: bool = False,
) -> ResNet3dCSN:
    """ir-CSN of ``depth`` 26 (2, 2, 2, 2), 50 (3, 4, 6, 3), 101 (3, 4, 23, 3) or 152 (3, 8, 36, 3) bottlenecks
    per stage; ``base_width`` is the stem width (64 in the released models); ``bn_frozen`` keeps every BN
    layer in eval mode with its affine parameters fixed (as mmaction2's fine-tuning configs do)."""
    if depth not in STAGE_BLOCKS:
        raise ValueError(f"CSN depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}")
    if base_width < 1:
        raise ValueError(f"base_width must be >= 1, got {base_width}")
    return ResNet3dCSN(
        stage_blocks=STAGE_BLOCKS[depth],
        base_width=base_width,
        temporal_strides=tuple(temporal_strides),
        bn_eps=bn_eps,
        bn_frozen=bn_frozen,
        zero_init_residual=zero_init_residual,
    )


def _csn_builder(depth: int, default_width: int) -> Callable[..., nn.Module]:
    def build(
        *, frames: int, size: Size, base_width: int = default_width, bn_frozen: bool = False, bn_eps: float = 1e-3
    ) -> nn.Module:
        return create_csn(depth=depth, base_width=base_width, bn_frozen=bn_frozen, bn_eps=bn_eps)

    build.__name__ = f"build_csn{depth}"
    return build


for _depth, _width, _what in (
    (26, 16, "small ir-CSN-26 for CPUs (stages 2-2-2-2, stem width 16: 512-d features, 0.5M params)"),
    (50, 64, "ir-CSN-50 (stages 3-4-6-3), 12M params"),
    (101, 64, "ir-CSN-101 (stages 3-4-23-3), 21M params"),
    (152, 64, "ir-CSN-152 (stages 3-8-36-3) as released by mmaction2 / VMZ (IG-65M, Kinetics), 29M params"),
):
    register(
        BackboneSpec(
            name=f"csn{_depth}",
            builder=_csn_builder(_depth, _width),
            norm="imagenet",
            check=input_constraints(min_frames=1, min_size=16),
            description=_what,
            default_input=(32, (224, 224)) if _depth != 26 else (16, (64, 64)),
            smallest_input=(1, (16, 16)),
            heavy=_depth == 152,
        )
    )
