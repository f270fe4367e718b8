"""SlowFast (Feichtenhofer et al. 2019): a Slow and a Fast ResNet-3D pathway with lateral connections.

Input: one clip (B, 3, T, H, W) at the Fast pathway's frame rate; T a multiple of ``alpha``.

* **Slow pathway**: frames 0, alpha, 2 alpha, ... (mmaction2's ``resample_rate`` with its nearest-neighbour
  temporal resize; the data loader samples the clip at ``tau / alpha``); stem conv 1x7x7 stride (1, 2, 2) +
  BN + ReLU, max pool 1x3x3 stride (1, 2, 2); bottleneck ResNet stages res2..res5 of widths 64, 128, 256,
  512 (x4 out); the first 1x1x1 conv of each bottleneck has temporal kernel 1 in res2 / res3 and 3 in res4 /
  res5 (mmaction2 ``inflate=(0, 0, 1, 1)``, PySlowFast ``_TEMPORAL_KERNEL_BASIS["slowfast"]``).
* **Fast pathway**: every frame, channels 1/8 of the Slow ones (``beta``: stem 8), stem temporal kernel 5,
  temporal kernel 3 in the first conv of every bottleneck; no temporal stride anywhere.
* **Lateral connections** Fast -> Slow after the stem and after res2, res3, res4: a (5, 1, 1) conv of
  temporal stride ``alpha`` with twice the Fast channels, concatenated to the Slow features on channels
  (the paper's time-strided convolution). mmaction2 uses the bare conv (``ConvModule`` with ``bias=False``,
  ``norm_cfg=None``, ``act_cfg=None``); PySlowFast's ``FuseFastToSlow`` adds BN + ReLU; AlphAction's
  ``LateralBlock`` is a conv with bias. Builder option ``fusion``: ``conv`` (default), ``conv_bn_relu`` or
  ``conv_bias``; ``fusion_kernel`` (default 5: mmaction2, the paper, AlphAction; PySlowFast's
  ``SLOWFAST_8x8_R50`` and AVA ``SLOWFAST_32x2_R50_SHORT`` configs use ``FUSION_KERNEL_SZ: 7``).
* **Spatial strides** (1, 2, 2, s5) with ``res5_stride`` s5: 1 (the AVA detectors' setting, res5 dilated by
  ``res5_dilation``, default 2 as in PySlowFast's AVA configs and AlphAction; mmaction2's AVA configs keep
  dilation 1: ``res5_dilation=1``) or 2 (the Kinetics classifiers). Dilation and stride
  change no weight shape: every layout loads whatever they are.
* **Output**: the Slow res5 map (2048 channels) concatenated on channels with the Fast res5 map (256
  channels) average-pooled over time by ``alpha``: (B, 2304, T / alpha, ceil(H / s), ceil(W / s)), s = 16
  (``res5_stride=1``) or 32; ``feature_strides = (alpha, s, s)``. Its global mean is the Slow and the Fast
  global means concatenated, i.e. what mmaction2's ``SlowFastHead`` (``cls_head.fc_cls``, 2304 inputs) and
  PySlowFast's ``ResNetBasicHead`` (``head.projection``) classify.

Frame sampling differs between the three sources (data-side, not built here): mmaction2 takes Slow frames
0, tau, 2 tau, ... and Fast frames every tau / alpha of the raw clip (as this module does on its input);
PySlowFast's ``pack_pathway_output`` picks the Slow frames at ``linspace(0, T - 1, T / alpha)`` of the Fast
clip (first and last frame included); AlphAction's ``SlowFastCrop`` starts the Slow frames at (tau - 1) // 2
of the raw clip and the Fast ones at (tau / alpha - 1) // 2.

Module names are mmaction2's ``ResNet3dSlowFast`` (``slow_path.conv1.conv``, ``slow_path.conv1.bn``,
``slow_path.conv1_lateral.conv``, ``slow_path.layer1.0.conv1.conv``, ``...downsample.conv`` / ``.bn``,
``slow_path.layer{1,2,3}_lateral.conv``, ``fast_path....``), so its checkpoints load once ``backbone.`` is
stripped. :meth:`SlowFast.adapt_checkpoint` renames the PySlowFast layout (``s1.pathway0_stem.conv``,
``s1_fuse.conv_f2s``, ``s2.pathway0_res0.branch2.a``, ...; head ``head.projection``), pytorchvideo's
(``blocks.0.multipathway_blocks.0.conv``, ``blocks.0.multipathway_fusion.conv_fast_to_slow``,
``blocks.1.multipathway_blocks.0.res_blocks.0.branch2.conv_a``, ...; head ``blocks.6.proj``; the same
network as PySlowFast: ``fusion="conv_bn_relu"``, and ``fusion_kernel=7`` for its hub weights) and
AlphAction's (``slow.conv1``, ``slow.bn1``, ``slow.res_nl1.res_0.btnk.conv1.conv``, ``fast.Tconv1.conv``, ...)
to these names. BN eps 1e-5 (all four; AlphAction's defaults ``BN_EPSILON: 1e-05``, its configs freeze BN).

Input normalisation: ``imagenet`` (mmaction2's SlowFast configs: mean (123.675, 116.28, 103.53), std
(58.395, 57.12, 57.375) on 0..255). PySlowFast trains with mean 0.45 / std 0.225 on every channel, which no
registry norm matches (``kinetics`` is torchvision's); its checkpoints see slightly shifted inputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .parts import BlockGroup, ConvBN, freeze_batchnorm, init_conv_bn
from .registry import BackboneSpec, Grid, Size, input_constraints, register, strided_length

__all__ = ["FUSIONS", "STAGE_BLOCKS", "Bottleneck", "ConvBN", "Lateral", "Pathway", "SlowFast", "create_slowfast"]

STAGE_BLOCKS: dict[int, tuple[int, int, int, int]] = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
EXPANSION = 4
BETA_INV = 8  # Fast channels = Slow channels / 8
FUSION_KERNEL = 5  # mmaction2's default, the paper's and AlphAction's; PySlowFast's 8x8 / AVA configs use 7
LATERAL_RATIO = 2  # lateral out channels = 2 x Fast channels
Fusion = Literal["conv", "conv_bn_relu", "conv_bias"]
FUSIONS: tuple[str, ...] = ("conv", "conv_bn_relu", "conv_bias")
MIN_SIZE = 32


class Bottleneck(nn.Module):
    """ResNet-3D bottleneck: Tx1x1 conv (T = ``temporal_kernel``) -> 1x3x3 conv (spatial stride, dilation) ->
    1x1x1 conv, BN after each, ReLU after the first two and after the residual sum; a 1x1x1 conv + BN
    shortcut (``downsample``) where the shape changes."""

    def __init__(
        self, cin: int, planes: int, *, temporal_kernel: int, stride: int = 1, dilation: int = 1, bn_eps: float = 1e-5
    ) -> None:
        super().__init__()
        cout = planes * EXPANSION
        self.conv1 = ConvBN(cin, planes, (temporal_kernel, 1, 1), bn_eps=bn_eps)
        self.conv2 = ConvBN(
            planes, planes, (1, 3, 3), stride=(1, stride, stride), dilation=(1, dilation, dilation), bn_eps=bn_eps
        )
        self.conv3 = ConvBN(planes, cout, (1, 1, 1), relu=False, bn_eps=bn_eps)
        self.downsample = (
            ConvBN(cin, cout, (1, 1, 1), stride=(1, stride, stride), relu=False, bn_eps=bn_eps)
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu_(self.conv3(self.conv2(self.conv1(x))) + identity)


class Lateral(nn.Module):
    """Fast -> Slow time-strided conv ((5, 1, 1), temporal stride ``alpha``): ``conv`` only (mmaction2),
    ``conv`` + ``bn`` + ReLU (PySlowFast) or ``conv`` with a bias (AlphAction)."""

    def __init__(self, cin: int, *, alpha: int, fusion: Fusion, kernel: int = FUSION_KERNEL, bn_eps: float = 1e-5) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            cin,
            cin * LATERAL_RATIO,
            (kernel, 1, 1),
            stride=(alpha, 1, 1),
            padding=(kernel // 2, 0, 0),
            bias=fusion == "conv_bias",
        )
        self.bn = nn.BatchNorm3d(cin * LATERAL_RATIO, eps=bn_eps) if fusion == "conv_bn_relu" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x if self.bn is None else torch.relu_(self.bn(x))


class Pathway(nn.Module):
    """One pathway: stem (``conv1`` + ``maxpool``) and ``layer1``..``layer4``; the Slow one also holds the
    lateral convs (``conv1_lateral``, ``layer{1,2,3}_lateral``) and takes their channels in."""

    def __init__(
        self,
        *,
        stage_blocks: tuple[int, ...],
        base_width: int,
        stem_temporal_kernel: int,
        temporal_kernels: tuple[int, int, int, int],
        spatial_strides: tuple[int, int, int, int],
        dilations: tuple[int, int, int, int],
        stem_pool_padding: bool,
        lateral_from: int | None = None,
        alpha: int = 8,
        fusion: Fusion = "conv",
        fusion_kernel: int = FUSION_KERNEL,
        bn_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.conv1 = ConvBN(3, base_width, (stem_temporal_kernel, 7, 7), stride=(1, 2, 2), bn_eps=bn_eps)
        self.maxpool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1) if stem_pool_padding else 0)
        extra = 0
        if lateral_from is not None:
            self.conv1_lateral = Lateral(lateral_from, alpha=alpha, fusion=fusion, kernel=fusion_kernel, bn_eps=bn_eps)
            extra = lateral_from * LATERAL_RATIO
        cin = base_width
        for i, n in enumerate(stage_blocks):
            planes = base_width * 2**i
            layer = nn.Sequential(
                *(
                    Bottleneck(
                        cin + extra if j == 0 else planes * EXPANSION,
                        planes,
                        temporal_kernel=temporal_kernels[i],
                        stride=spatial_strides[i] if j == 0 else 1,
                        dilation=dilations[i],
                        bn_eps=bn_eps,
                    )
                    for j in range(n)
                )
            )
            self.add_module(f"layer{i + 1}", layer)
            cin = planes * EXPANSION
            if lateral_from is not None and i < len(stage_blocks) - 1:
                fast_channels = lateral_from * 2**i * EXPANSION
                self.add_module(
                    f"layer{i + 1}_lateral",
                    Lateral(fast_channels, alpha=alpha, fusion=fusion, kernel=fusion_kernel, bn_eps=bn_eps),
                )
                extra = fast_channels * LATERAL_RATIO
        self.out_channels = cin


class SlowFast(nn.Module):
    """SlowFast backbone; ``forward`` returns (B, 2304, T / alpha, H', W') (see the module docstring)."""

    feature_pool = "mean"
    post_pool_norm = None

    def __init__(
        self,
        *,
        depth: int = 50,
        alpha: int = 8,
        res5_stride: int = 1,
        res5_dilation: int | None = None,
        fusion: Fusion = "conv",
        fusion_kernel: int = FUSION_KERNEL,
        stem_pool_padding: bool = True,
        bn_eps: float = 1e-5,
        bn_frozen: bool = False,
    ) -> None:
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise ValueError(f"SlowFast depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}")
        if alpha < 1:
            raise ValueError(f"alpha must be >= 1, got {alpha}")
        if res5_stride not in (1, 2):
            raise ValueError(f"res5_stride must be 1 or 2, got {res5_stride}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        if fusion_kernel < 1 or fusion_kernel % 2 == 0:
            raise ValueError(f"fusion_kernel must be odd and >= 1, got {fusion_kernel}")
        dilation = res5_dilation if res5_dilation is not None else (2 if res5_stride == 1 else 1)
        if dilation < 1:
            raise ValueError(f"res5_dilation must be >= 1, got {dilation}")
        self.depth, self.alpha, self.res5_stride, self.res5_dilation = depth, alpha, res5_stride, dilation
        self.fusion: Fusion = fusion
        self.fusion_kernel = fusion_kernel
        self.stem_pool_padding = stem_pool_padding
        self.bn_frozen = bn_frozen
        blocks = STAGE_BLOCKS[depth]
        strides = (1, 2, 2, res5_stride)
        dilations = (1, 1, 1, dilation)
        common = {"stage_blocks": blocks, "spatial_strides": strides, "dilations": dilations,
                  "stem_pool_padding": stem_pool_padding, "bn_eps": bn_eps}  # fmt: skip
        self.slow_path = Pathway(base_width=64, stem_temporal_kernel=1, temporal_kernels=(1, 1, 3, 3),
                                 lateral_from=64 // BETA_INV, alpha=alpha, fusion=fusion, fusion_kernel=fusion_kernel,
                                 **common)  # fmt: skip
        self.fast_path = Pathway(base_width=64 // BETA_INV, stem_temporal_kernel=5, temporal_kernels=(3, 3, 3, 3), **common)
        self.lateral_names = ["conv1_lateral", "layer1_lateral", "layer2_lateral", "layer3_lateral"]
        self.feature_dim: int = self.slow_path.out_channels + self.fast_path.out_channels
        side = 16 * res5_stride
        self.feature_strides: Grid = (alpha, side, side)
        init_conv_bn(self)
        if bn_frozen:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm3d):
                    m.requires_grad_(False)

    def train(self, mode: bool = True) -> SlowFast:
        """With ``bn_frozen`` every BN layer stays in eval mode (running statistics fixed)."""
        super().train(mode)
        if self.bn_frozen:
            freeze_batchnorm(self)
        return self

    def check_frames(self, frames: int) -> None:
        if frames < self.alpha or frames % self.alpha:
            raise ValueError(f"frames must be a positive multiple of alpha={self.alpha}, got {frames}")

    def pathways(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Slow and Fast res5 maps (B, 2048, T / alpha, H', W') and (B, 256, T, H', W')."""
        if x.ndim != 5:
            raise ValueError(f"SlowFast expects clips (B, 3, T, H, W), got shape {tuple(x.shape)}")
        self.check_frames(x.shape[2])
        slow_p, fast_p = self.slow_path, self.fast_path
        s = slow_p.maxpool(slow_p.conv1(x[:, :, :: self.alpha]))
        f = fast_p.maxpool(fast_p.conv1(x))
        s = torch.cat([s, slow_p.conv1_lateral(f)], dim=1)
        for i in range(1, 5):
            s = getattr(slow_p, f"layer{i}")(s)
            f = getattr(fast_p, f"layer{i}")(f)
            if i < 4:
                s = torch.cat([s, getattr(slow_p, f"layer{i}_lateral")(f)], dim=1)
        return s, f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, f = self.pathways(x)
        f = F.avg_pool3d(f, (self.alpha, 1, 1), stride=(self.alpha, 1, 1))
        return torch.cat([s, f], dim=1)

    def feature_grid(self, frames: int, size: Size) -> Grid:
        def side(n: int) -> int:
            n = strided_length(n, 2)  # stem conv (7, stride 2, padding 3)
            n = strided_length(n, 2) if self.stem_pool_padding else (n - 3) // 2 + 1  # max pool 3, stride 2
            return strided_length(n, 4 * self.res5_stride)  # res3, res4 (and res5) halve, rounding up

        return strided_length(frames, self.alpha), side(size[0]), side(size[1])

    def blocks(self) -> list[nn.Module]:
        """stem, res2, res3, res4, res5; each with both pathways' part and the lateral reading its output."""
        s, f = self.slow_path, self.fast_path
        out: list[nn.Module] = [BlockGroup(s.conv1, f.conv1, s.conv1_lateral)]
        for i in range(1, 5):
            parts = [getattr(s, f"layer{i}"), getattr(f, f"layer{i}")]
            if i < 4:
                parts.append(getattr(s, f"layer{i}_lateral"))
            out.append(BlockGroup(*parts))
        return out

    def adapt_checkpoint(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Rename a PySlowFast, pytorchvideo or AlphAction checkpoint's keys (in place) to mmaction2's; refuse a
        checkpoint whose laterals are built otherwise than this model's ``fusion`` / ``fusion_kernel``."""
        messages: list[str] = []
        layouts = (("PySlowFast", _PYSLOWFAST_RULES), ("pytorchvideo", _PYTORCHVIDEO_RULES), ("AlphAction", _ALPHACTION_RULES))
        for layout, rules in layouts:
            renamed = _rename(state, rules)
            if renamed:
                messages.append(f"{layout} layout: renamed {renamed} keys to mmaction2 names")
        lateral_keys = [k for k in state if re.match(r"^slow_path\.(conv1|layer\d)_lateral\.", k)]
        kernels = {int(state[k].shape[2]) for k in lateral_keys if k.endswith(".conv.weight") and state[k].ndim == 5}
        if kernels and kernels != {self.fusion_kernel}:
            raise ValueError(
                f"the checkpoint's lateral convs have temporal kernel {'/'.join(map(str, sorted(kernels)))} but this "
                f"SlowFast was built with fusion_kernel={self.fusion_kernel}; build it with the option "
                f"fusion_kernel={min(kernels)}"
            )
        if lateral_keys:
            found: Fusion = (
                "conv_bn_relu"
                if any(".bn." in k for k in lateral_keys)
                else "conv_bias"
                if any(k.endswith(".conv.bias") for k in lateral_keys)
                else "conv"
            )
            if found != self.fusion:
                raise ValueError(
                    f"the checkpoint's lateral connections are fusion={found!r} ({_FUSION_SOURCE[found]}) but this "
                    f"SlowFast was built with fusion={self.fusion!r}; build it with the option fusion={found!r}"
                )
        return messages


_FUSION_SOURCE = {"conv": "a bare conv, mmaction2", "conv_bn_relu": "conv + BN + ReLU, PySlowFast",
                  "conv_bias": "conv with bias, AlphAction"}  # fmt: skip
_PATH = {"0": "slow_path", "1": "fast_path", "slow": "slow_path", "fast": "fast_path"}
_BRANCH2 = {"a": "conv1", "b": "conv2", "c": "conv3"}
_CONV_OR_BN = {"conv": "conv", "conv_fast_to_slow": "conv", "norm": "bn"}


def _lateral_name(stage: str) -> str:
    """Lateral after stage ``stage`` (1 = stem, 2..4 = res2..res4) -> mmaction2's name."""
    return "conv1_lateral" if stage == "1" else f"layer{int(stage) - 1}_lateral"


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]
_PYSLOWFAST_RULES: tuple[Rule, ...] = (
    (re.compile(r"^s1\.(?:pathway|s)([01])_stem\.(conv|bn)\.(\w+)$"), lambda m: f"{_PATH[m[1]]}.conv1.{m[2]}.{m[3]}"),
    (re.compile(r"^s([1-4])_fuse\.conv_f2s\.(\w+)$"), lambda m: f"slow_path.{_lateral_name(m[1])}.conv.{m[2]}"),
    (re.compile(r"^s([1-4])_fuse\.bn\.(\w+)$"), lambda m: f"slow_path.{_lateral_name(m[1])}.bn.{m[2]}"),
    (
        re.compile(r"^s([2-5])\.pathway([01])_res(\d+)\.branch1(_bn)?\.(\w+)$"),
        lambda m: f"{_PATH[m[2]]}.layer{int(m[1]) - 1}.{m[3]}.downsample.{'bn' if m[4] else 'conv'}.{m[5]}",
    ),
    (
        re.compile(r"^s([2-5])\.pathway([01])_res(\d+)\.branch2\.([abc])(_bn)?\.(\w+)$"),
        lambda m: f"{_PATH[m[2]]}.layer{int(m[1]) - 1}.{m[3]}.{_BRANCH2[m[4]]}.{'bn' if m[5] else 'conv'}.{m[6]}",
    ),
)
_PYTORCHVIDEO_RULES: tuple[Rule, ...] = (
    (
        re.compile(r"^blocks\.0\.multipathway_blocks\.([01])\.(conv|norm)\.(\w+)$"),
        lambda m: f"{_PATH[m[1]]}.conv1.{_CONV_OR_BN[m[2]]}.{m[3]}",
    ),
    (
        re.compile(r"^blocks\.([0-3])\.multipathway_fusion\.(conv_fast_to_slow|norm)\.(\w+)$"),
        lambda m: f"slow_path.{_lateral_name(str(int(m[1]) + 1))}.{_CONV_OR_BN[m[2]]}.{m[3]}",
    ),
    (
        re.compile(r"^blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.(\d+)\.branch1_(conv|norm)\.(\w+)$"),
        lambda m: f"{_PATH[m[2]]}.layer{m[1]}.{m[3]}.downsample.{_CONV_OR_BN[m[4]]}.{m[5]}",
    ),
    (
        re.compile(r"^blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.(\d+)\.branch2\.(conv|norm)_([abc])\.(\w+)$"),
        lambda m: f"{_PATH[m[2]]}.layer{m[1]}.{m[3]}.{_BRANCH2[m[5]]}.{_CONV_OR_BN[m[4]]}.{m[6]}",
    ),
)
_ALPHACTION_RULES: tuple[Rule, ...] = (
    (re.compile(r"^(slow|fast)\.conv1\.(\w+)$"), lambda m: f"{_PATH[m[1]]}.conv1.conv.{m[2]}"),
    (re.compile(r"^(slow|fast)\.bn1\.(\w+)$"), lambda m: f"{_PATH[m[1]]}.conv1.bn.{m[2]}"),
    (
        re.compile(r"^(slow|fast)\.res_nl([1-4])\.res_(\d+)\.btnk\.(conv[123])\.(conv|bn)\.(\w+)$"),
        lambda m: f"{_PATH[m[1]]}.layer{m[2]}.{m[3]}.{m[4]}.{m[5]}.{m[6]}",
    ),
    (
        re.compile(r"^(slow|fast)\.res_nl([1-4])\.res_(\d+)\.shortcut\.(conv|bn)\.(\w+)$"),
        lambda m: f"{_PATH[m[1]]}.layer{m[2]}.{m[3]}.downsample.{m[4]}.{m[5]}",
    ),
    (re.compile(r"^fast\.Tconv([1-4])\.conv\.(\w+)$"), lambda m: f"slow_path.{_lateral_name(m[1])}.conv.{m[2]}"),
)


def _rename(state: dict[str, torch.Tensor], rules: tuple[Rule, ...]) -> int:
    renamed = 0
    for key in list(state):
        for pattern, target in rules:
            m = pattern.match(key)
            if m:
                new = target(m)
                if new not in state:
                    state[new] = state.pop(key)
                    renamed += 1
                break
    return renamed


def create_slowfast(
    *,
    depth: int = 50,
    alpha: int = 8,
    res5_stride: int = 1,
    res5_dilation: int | None = None,
    fusion: Fusion = "conv",
    fusion_kernel: int = FUSION_KERNEL,
    stem_pool_padding: bool = True,
    bn_eps: float = 1e-5,
    bn_frozen: bool = False,
) -> SlowFast:
    """SlowFast-R``depth`` (50: stages 3-4-6-3, 101: 3-4-23-3); see :class:`SlowFast` and the module docstring.

    ``alpha``: Slow / Fast frame-rate ratio (Slow sees every ``alpha``-th input frame); ``res5_stride`` 1
    (total stride 16, res5 dilated by ``res5_dilation``, default 2) or 2 (stride 32, no dilation);
    ``fusion``: the lateral connections' form (``conv`` mmaction2, ``conv_bn_relu`` PySlowFast, ``conv_bias``
    AlphAction) and ``fusion_kernel`` their temporal kernel (5; 7 in PySlowFast's 8x8 and AVA configs);
    ``stem_pool_padding=False`` is AlphAction's unpadded stem max pool; ``bn_frozen`` keeps every
    BN layer in eval mode with its affine parameters fixed."""
    return SlowFast(depth=depth, alpha=alpha, res5_stride=res5_stride, res5_dilation=res5_dilation, fusion=fusion,
                    fusion_kernel=fusion_kernel, stem_pool_padding=stem_pool_padding, bn_eps=bn_eps,
                    bn_frozen=bn_frozen)  # fmt: skip


def _slowfast_builder(depth: int, default_alpha: int) -> Callable[..., nn.Module]:
    def build(
        *,
        frames: int,
        size: Size,
        alpha: int = default_alpha,
        res5_stride: int = 1,
        res5_dilation: int | None = None,
        fusion: Fusion = "conv",
        fusion_kernel: int = FUSION_KERNEL,
        stem_pool_padding: bool = True,
        bn_frozen: bool = False,
        bn_eps: float = 1e-5,
    ) -> nn.Module:
        model = create_slowfast(depth=depth, alpha=alpha, res5_stride=res5_stride, res5_dilation=res5_dilation,
                                fusion=fusion, fusion_kernel=fusion_kernel, stem_pool_padding=stem_pool_padding,
                                bn_eps=bn_eps, bn_frozen=bn_frozen)  # fmt: skip
        model.check_frames(frames)
        return model

    build.__name__ = f"build_slowfast_r{depth}"
    return build


for _depth, _alpha, _frames, _params in ((50, 8, 32, "33.6M"), (101, 4, 32, "61.9M")):
    register(
        BackboneSpec(
            name=f"slowfast_r{_depth}",
            builder=_slowfast_builder(_depth, _alpha),
            norm="imagenet",
            # frames must also be a multiple of the alpha option (checked by the builder, which sees it)
            check=input_constraints(min_frames=1, min_size=MIN_SIZE),
            description=f"SlowFast-R{_depth} (alpha {_alpha}: {_frames // _alpha}x{_alpha * 2} config at 32 input "
            f"frames), mmaction2 / PySlowFast / AlphAction checkpoints; 2304 ch at strides (alpha, 16, 16) "
            f"(res5_stride=1) or (alpha, 32, 32); {_params} params",
            default_input=(_frames, (224, 224)),
            smallest_input=(_alpha, (MIN_SIZE, MIN_SIZE)),
            heavy=_depth == 101,
        )
    )
