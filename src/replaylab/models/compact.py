"""``compact3d``: the small default backbone, trained from scratch in minutes on a 2-core CPU.

Design for small, fast objects (a ball meeting a head in a 64x64 crop):

* a motion input: the clip's frame-to-frame differences are stacked onto its colour channels (a moving
  ball stands out in them where it is a few pixels on a busy background);
* (2+1)D residual blocks (1x3x3 spatial then 3x1x1 temporal conv, BN + ReLU after each): cheap, and the
  extra non-linearity helps when training from scratch;
* stride space first: the stem and the first two stages keep every frame (a header's contact lasts 1-3
  frames), and time is halved only in the last two stages;
* output: a 128-channel map at strides (4, 16, 16) (every stride rounds up: ceil(T/4) x ceil(H/16) x
  ceil(W/16)); its declared global pooling (``feature_pool = "mean+max"``) concatenates the average and the
  maximum (the max keeps a strong local response, e.g. one contact, from being averaged away).

Widths 16-32-64-128 (``width`` scales them), 2 x 128 = 256-d pooled features, about 0.44M parameters.
Input normalisation: ``imagenet``.
"""

from __future__ import annotations

import torch
from torch import nn

from .parts import init_conv_bn
from .registry import BackboneSpec, Grid, Size, input_constraints, register, strided_grid

__all__ = ["Compact3D", "Conv2Plus1d", "ResBlock2Plus1d", "create_compact3d"]


class Conv2Plus1d(nn.Sequential):
    """1 x k x k spatial conv -> BN -> ReLU -> 3 x 1 x 1 temporal conv -> BN (-> ReLU)."""

    def __init__(
        self, cin: int, cout: int, *, stride: tuple[int, int, int] = (1, 1, 1), kernel: int = 3, relu: bool = True
    ) -> None:
        t, s, _ = stride
        layers: list[nn.Module] = [
            nn.Conv3d(cin, cout, (1, kernel, kernel), stride=(1, s, s), padding=(0, kernel // 2, kernel // 2), bias=False),
            nn.BatchNorm3d(cout),
            nn.ReLU(inplace=True),
            nn.Conv3d(cout, cout, (3, 1, 1), stride=(t, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(cout),
        ]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResBlock2Plus1d(nn.Module):
    """Two (2+1)D convs with a residual (1x1x1 conv + BN where the shape changes)."""

    def __init__(self, cin: int, cout: int, *, stride: tuple[int, int, int] = (1, 1, 1)) -> None:
        super().__init__()
        self.conv1 = Conv2Plus1d(cin, cout, stride=stride)
        self.conv2 = Conv2Plus1d(cout, cout, relu=False)
        self.shortcut: nn.Module = (
            nn.Sequential(nn.Conv3d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm3d(cout))
            if cin != cout or stride != (1, 1, 1)
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class Compact3D(nn.Module):
    """``forward``: (B, 3, T, H, W) -> map (B, ``feature_dim``, ceil(T/4), ceil(H/16), ceil(W/16))."""

    feature_strides: Grid = (4, 16, 16)
    feature_pool = "mean+max"
    post_pool_norm = None

    def __init__(self, *, widths: tuple[int, int, int, int] = (16, 32, 64, 128), motion: bool = True) -> None:
        super().__init__()
        self.motion = motion
        w1, w2, w3, w4 = widths
        self.stem = Conv2Plus1d(6 if motion else 3, w1, stride=(1, 2, 2), kernel=5)  # T x H/2 x W/2
        self.stage1 = ResBlock2Plus1d(w1, w1)  # T x H/2
        self.stage2 = ResBlock2Plus1d(w1, w2, stride=(1, 2, 2))  # T x H/4
        self.stage3 = ResBlock2Plus1d(w2, w3, stride=(2, 2, 2))  # T/2 x H/8
        self.stage4 = ResBlock2Plus1d(w3, w4, stride=(2, 2, 2))  # T/4 x H/16
        self.feature_dim: int = w4
        init_conv_bn(self)
        for m in self.modules():  # each residual branch starts near zero: a deep identity at init
            if isinstance(m, ResBlock2Plus1d):
                nn.init.constant_(m.conv2[-1].weight, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.motion:
            diff = torch.zeros_like(x)
            diff[:, :, 1:] = x[:, :, 1:] - x[:, :, :-1]
            x = torch.cat((x, diff), dim=1)
        return self.stage4(self.stage3(self.stage2(self.stage1(self.stem(x)))))

    def feature_grid(self, frames: int, size: Size) -> Grid:
        return strided_grid(frames, size, self.feature_strides)

    def blocks(self) -> list[nn.Module]:
        return [self.stem, self.stage1, self.stage2, self.stage3, self.stage4]


def create_compact3d(*, width: float = 1.0, motion: bool = True) -> Compact3D:
    """``compact3d`` with widths ``width`` x (16, 32, 64, 128); ``motion`` adds frame differences to the input."""
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    widths = tuple(max(4, round(c * width)) for c in (16, 32, 64, 128))
    return Compact3D(widths=widths, motion=motion)  # type: ignore[arg-type]


def build_compact3d(*, frames: int, size: Size, width: float = 1.0, motion: bool = True) -> nn.Module:
    return create_compact3d(width=width, motion=motion)


register(
    BackboneSpec(
        name="compact3d",
        builder=build_compact3d,
        norm="imagenet",
        check=input_constraints(min_frames=2, min_size=16),
        description="compact (2+1)D ResNet with a frame-difference input, widths 16-32-64-128, 0.44M params (CPU default)",
        default_input=(16, (64, 64)),
        smallest_input=(2, (16, 16)),
    )
)
