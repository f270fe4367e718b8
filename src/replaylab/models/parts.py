"""Small pieces shared by the backbones: block groups for ``blocks()`` and conv / BN initialisation."""

from __future__ import annotations

from torch import nn

__all__ = ["BlockGroup", "freeze_batchnorm", "init_conv_bn"]


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
