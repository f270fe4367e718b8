"""Small pieces shared by the backbones: block groups for ``blocks()`` and conv / BN initialisation."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BlockGroup", "ConvBN", "freeze_batchnorm", "init_conv_bn"]


class BlockGroup(nn.Module):
    """Several modules (and loose parameters of a parent, e.g. a position embedding) seen as one block.

    Only a view for ``blocks()``: it is never attached to the backbone, so the backbone's state dict is
    unchanged; ``parameters()`` and ``train()`` / ``eval()`` reach the grouped modules."""

    def __init__(self, *modules: nn.Module, params: dict[str, nn.Parameter] | None = None) -> None:
        super().__init__()
        self.parts = nn.ModuleList(modules)
        for name, p in (params or {}).items():
            self.register_parameter(name, p)

    def forward(self, *args: object) -> None:  # pragma: no cover - a view, not a layer
        raise RuntimeError("BlockGroup is a view of a backbone's blocks; it has no forward")


def init_conv_bn(module: nn.Module) -> None:
    """He (fan-out) init for every Conv3d, unit scale and zero shift for every BatchNorm3d below ``module``."""
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def freeze_batchnorm(module: nn.Module) -> None:
    """Every BatchNorm3d of ``module`` to eval mode (running statistics fixed): ``bn_frozen`` backbones call it
    from ``train()``."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.eval()


class ConvBN(nn.Module):
    """Conv3d (no bias, "same" padding for odd kernels) -> BatchNorm3d -> optional ReLU, named ``conv`` / ``bn``
    like mmcv's ConvModule (the CSN and SlowFast checkpoints' layout)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: tuple[int, int, int],
        *,
        stride: tuple[int, int, int] = (1, 1, 1),
        dilation: tuple[int, int, int] = (1, 1, 1),
        groups: int = 1,
        relu: bool = True,
        bn_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        padding = tuple(d * (k // 2) for k, d in zip(kernel, dilation))
        self.conv = nn.Conv3d(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=bn_eps)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return torch.relu_(x) if self.relu else x
