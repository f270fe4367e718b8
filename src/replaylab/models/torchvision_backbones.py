"""torchvision video backbones (r3d_18, mc3_18, r2plus1d_18, s3d, mvit_v2_s), built with ``weights=None``.

Each wrapper keeps torchvision's module names, so a torchvision video state dict (``stem.0.weight``,
``layer1.0.conv1.0.0.weight``, ``features.0.0.0.weight``, ``blocks.0.attn.qkv.weight`` ...) loads
unchanged; the classification head is dropped (its checkpoint keys ``fc.*`` / ``classifier.1.*`` /
``head.1.*`` go to the classifier's head, see :mod:`replaylab.models.checkpoints`). ``forward`` returns the
last stage's map (global pooling is the head's, so any input size above the minimum works); MViT's map is
its patch tokens after the final norm on the token grid (the class token is dropped, so its pooled features
are the mean of the patch tokens, no longer the class token torchvision's classifier reads).
Input normalisation: ``kinetics``.

Map strides (t, s, s), every stride rounding up unless said: R3D-18 and R(2+1)D-18 (8, 16, 16), MC3-18
(1, 16, 16) (only its 3D stem and layer1 are 3D, later layers stride space only), S3D (8, 32, 32) with its
last 2x pool unpadded (T' = floor(ceil(T/4)/2), H' = floor(ceil(H/16)/2)), MViT-v2-S (2, 32, 32) (exact:
the input check asks for multiples).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.video import mc3_18, r2plus1d_18, r3d_18, s3d
from torchvision.models.video.mvit import MSBlockConfig, MViT
from torchvision.models.video.resnet import VideoResNet

from .parts import BlockGroup
from .registry import BackboneSpec, Grid, Size, input_constraints, register, strided_grid, strided_length

__all__ = ["MViTBackbone", "S3DBackbone", "VideoResNetBackbone", "build_mvit_v2_s", "mvit_v2_s_blocks"]


# ------------------------------------------------------------------------------------------ ResNet-18s
class VideoResNetBackbone(nn.Module):
    """torchvision's VideoResNet (R3D / MC3 / R(2+1)D) without ``avgpool`` and ``fc``: map (B, 512, T', H', W')."""

    feature_pool = "mean"
    post_pool_norm = None

    def __init__(self, net: VideoResNet, *, temporal_stride: int) -> None:
        super().__init__()
        self.feature_strides: Grid = (temporal_stride, 16, 16)
        self.stem = net.stem
        self.layer1 = net.layer1
        self.layer2 = net.layer2
        self.layer3 = net.layer3
        self.layer4 = net.layer4
        self.feature_dim: int = net.fc.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def feature_grid(self, frames: int, size: Size) -> Grid:
        return strided_grid(frames, size, self.feature_strides)

    def blocks(self) -> list[nn.Module]:
        return [self.stem, self.layer1, self.layer2, self.layer3, self.layer4]


def _video_resnet(factory: Callable[..., VideoResNet], temporal_stride: int) -> Callable[..., nn.Module]:
    def build(*, frames: int, size: Size) -> nn.Module:
        return VideoResNetBackbone(factory(weights=None), temporal_stride=temporal_stride)

    build.__name__ = f"build_{factory.__name__}"
    return build


# ------------------------------------------------------------------------------------------ S3D
class S3DBackbone(nn.Module):
    """torchvision's S3D ``features`` (its fixed (2, 7, 7) average pool is left to the head's global mean):
    map (B, 1024, floor(ceil(T/4)/2), floor(ceil(H/16)/2), floor(ceil(W/16)/2))."""

    feature_strides: Grid = (8, 32, 32)
    feature_pool = "mean"
    post_pool_norm = None

    def __init__(self) -> None:
        super().__init__()
        self.features = s3d(weights=None).features
        self.feature_dim = 1024

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def feature_grid(self, frames: int, size: Size) -> Grid:
        # padded strided convs / pools round up; the last, unpadded 2x2x2 max pool rounds down
        t, h, w = strided_grid(frames, size, (4, 16, 16))
        return (
            strided_length(t, 2, rounding="floor"),
            strided_length(h, 2, rounding="floor"),
            strided_length(w, 2, rounding="floor"),
        )

    def blocks(self) -> list[nn.Module]:
        f = self.features
        # stem (convs and the first two max pools), then each inception block with the pool before it
        return [f[0:5], f[5], f[6], f[7:9], f[9], f[10], f[11], f[12], f[13:15], f[15]]


def build_s3d(*, frames: int, size: Size) -> nn.Module:
    return S3DBackbone()


# ------------------------------------------------------------------------------------------ MViT-v2-S
MVIT_V2_S_STAGES: tuple[tuple[int, int, int], ...] = ((96, 1, 1), (192, 2, 2), (384, 11, 4), (768, 2, 8))  # dim, depth, heads


def mvit_v2_s_blocks() -> list[MSBlockConfig]:
    """MViT-v2-S's block settings: 4 stages (dims 96-192-384-768, depths 1-2-11-2, heads 1-2-4-8); each
    later stage opens with a block that halves the query grid spatially and the key/value stride (8 at the
    start) with it."""
    settings: list[MSBlockConfig] = []
    kv_stride, in_dim = 8, MVIT_V2_S_STAGES[0][0]
    for stage, (dim, depth, heads) in enumerate(MVIT_V2_S_STAGES):
        for j in range(depth):
            pool_q = stage > 0 and j == 0
            kv_stride = kv_stride // 2 if pool_q else kv_stride
            settings.append(
                MSBlockConfig(
                    num_heads=heads,
                    input_channels=in_dim,
                    output_channels=dim,
                    kernel_q=[3, 3, 3],
                    kernel_kv=[3, 3, 3],
                    stride_q=[1, 2, 2] if pool_q else [1, 1, 1],
                    stride_kv=[1, kv_stride, kv_stride],
                )
            )
            in_dim = dim
    return settings


class MViTBackbone(nn.Module):
    """torchvision's MViT built for one clip shape (``frames`` x ``size``): its relative position tables
    are sized for that token grid, so inputs must have exactly that shape. ``forward``: the patch tokens
    after the final (per-token) norm on their grid, (B, 768, T/2, H/32, W/32); the class token, which
    torchvision's classifier reads, is dropped. The transformer blocks are registered
    as ``blocks`` (checkpoint names ``blocks.N.*``); the method ``blocks()`` lists fine-tuning blocks."""

    def __init__(self, *, frames: int, size: Size, drop_path: float = 0.2, attention_dropout: float = 0.0) -> None:
        super().__init__()
        net = MViT(
            spatial_size=size,
            temporal_size=frames,
            block_setting=mvit_v2_s_blocks(),
            residual_pool=True,
            residual_with_cls_embed=False,
            rel_pos_embed=True,
            proj_after_attn=True,
            stochastic_depth_prob=drop_path,
            attention_dropout=attention_dropout,
            num_classes=1,
        )
        self.frames, self.size = frames, tuple(size)
        self.conv_proj = net.conv_proj
        self.pos_encoding = net.pos_encoding
        self.blocks = net.blocks  # registered as a submodule; attribute lookup still finds the method below
        self.norm = net.norm
        self.feature_dim: int = net.norm.normalized_shape[0]
        self.feature_strides: Grid = (2, 32, 32)
        self.feature_pool = "mean"
        self.post_pool_norm = None

    @property
    def layers(self) -> nn.ModuleList:
        return self._modules["blocks"]  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != (self.frames, *self.size):
            raise ValueError(
                f"mvit_v2_s was built for {self.frames}x{self.size[0]}x{self.size[1]} clips, got {tuple(x.shape[2:])}"
            )
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = self.pos_encoding(x)
        thw = (self.pos_encoding.temporal_size, *self.pos_encoding.spatial_size)
        for block in self.layers:
            x, thw = block(x, thw)
        x = self.norm(x)[:, 1:]  # the patch tokens, (t, h, w) order
        return x.transpose(1, 2).unflatten(2, tuple(thw))

    def feature_grid(self, frames: int, size: Size) -> Grid:
        return strided_grid(frames, size, self.feature_strides)

    def blocks(self) -> list[nn.Module]:  # type: ignore[override]
        layers = list(self.layers)
        return [BlockGroup(self.conv_proj, self.pos_encoding), *layers[:-1], BlockGroup(layers[-1], self.norm)]

    def adapt_checkpoint(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Resample relative position tables trained on another token grid (linear, as torchvision does at
        run time) to this model's lengths."""
        own = self.state_dict()
        resized = []
        for key, value in list(state.items()):
            is_table = key.rsplit(".", 1)[-1] in ("rel_pos_h", "rel_pos_w", "rel_pos_t") and key in own
            if is_table and value.ndim == 2 and value.shape != own[key].shape and value.shape[1] == own[key].shape[1]:
                state[key] = _resample_rows(value, own[key].shape[0])
                resized.append(key)
        if resized:
            return [f"resampled {len(resized)} relative position tables to this model's token grid (e.g. {resized[0]})"]
        return []


def _resample_rows(table: torch.Tensor, length: int) -> torch.Tensor:
    """(L, C) -> (length, C), linear along L."""
    out = F.interpolate(table.float().t().unsqueeze(0), size=length, mode="linear", align_corners=False)
    return out.squeeze(0).t().to(table.dtype).contiguous()


def build_mvit_v2_s(*, frames: int, size: Size, drop_path: float = 0.2, attention_dropout: float = 0.0) -> nn.Module:
    return MViTBackbone(frames=frames, size=size, drop_path=drop_path, attention_dropout=attention_dropout)


# ------------------------------------------------------------------------------------------ registry
_CNN_INPUT = input_constraints(min_frames=1, min_size=16)

for _factory, _t_stride, _what in (
    (r3d_18, 8, "ResNet3D-18 (full 3x3x3 convs), 33M params"),
    (mc3_18, 1, "Mixed-convolution ResNet-18 (3D stem and layer1, 2D later), 11M params"),
    (r2plus1d_18, 8, "R(2+1)D-18 (factorised spatial + temporal convs), 31M params"),
):
    register(
        BackboneSpec(
            name=_factory.__name__,
            builder=_video_resnet(_factory, _t_stride),
            norm="kinetics",
            check=_CNN_INPUT,
            description=f"torchvision {_what}; Kinetics-400 weights as a local .pth",
            default_input=(16, (112, 112)),
            smallest_input=(1, (16, 16)),
        )
    )

register(
    BackboneSpec(
        name="s3d",
        builder=build_s3d,
        norm="kinetics",
        # temporal: conv /2, pool /2 (padded), then an unpadded 2x pool needs 2 positions -> >= 5 frames, but
        # torch 2.x's CPU Conv3d backward corrupts memory for the stem's 7-tap stride-2 temporal conv over
        # exactly 5 frames (the process aborts) -> >= 6; spatial: four halvings must leave 2 positions -> >= 17 px
        check=input_constraints(min_frames=6, min_size=17),
        description="torchvision S3D (separable 3D inception), 8M params",
        default_input=(16, (224, 224)),
        smallest_input=(6, (17, 17)),
    )
)

register(
    BackboneSpec(
        name="mvit_v2_s",
        builder=build_mvit_v2_s,
        norm="kinetics",
        # patches stride (2, 4, 4) and three 2x query poolings: exact token grids need frames % 2 == 0, sides % 32 == 0
        check=input_constraints(min_frames=2, min_size=32, frame_multiple=2, size_multiple=32),
        description="torchvision MViT-v2-S (multiscale ViT, relative positions) built for the clip shape, 34M params",
        default_input=(16, (224, 224)),
        smallest_input=(2, (32, 32)),
    )
)
