"""Heads on a backbone's feature map (B, C, T', H', W') (see :mod:`replaylab.models.registry`).

* :class:`GlobalPool`: the map -> pooled features (B, D): mean over time and space (or mean and max
  concatenated, as the backbone declares in ``feature_pool``), then the backbone's ``post_pool_norm``;
* :class:`PoolingHead`: :class:`GlobalPool` -> dropout -> linear: clip logits (the classifier's head);
* :class:`RoiHead`: per-person logits: temporal mean of the map -> ``torchvision.ops.roi_align`` per box ->
  spatial max (or mean) -> dropout -> MLP (an ROI head for person-action detection, as AVA models use).

The post-pool norm belongs to the backbone (its state-dict keys and optimiser group stay the backbone's, and
released checkpoints fill it): :class:`GlobalPool` applies it without registering it as its own submodule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

HeadNorm = Literal["none", "batchnorm"]
__all__ = ["POOL_MODES", "GlobalPool", "PoolingHead", "RoiHead", "global_pool_of"]

PoolMode = Literal["mean", "mean+max"]
POOL_MODES: tuple[str, ...] = ("mean", "mean+max")


def _check_map(x: torch.Tensor, channels: int) -> None:
    if x.ndim != 5 or x.shape[1] != channels:
        raise ValueError(f"expected a feature map (B, {channels}, T, H, W), got shape {tuple(x.shape)}")


class GlobalPool(nn.Module):
    """(B, C, T, H, W) -> (B, D): mean over (T, H, W) (``mean``, D = C) or mean and max concatenated
    (``mean+max``, D = 2C), then ``norm`` (a module owned by the backbone, applied but not registered here)."""

    def __init__(self, channels: int, *, mode: PoolMode = "mean", norm: nn.Module | None = None) -> None:
        super().__init__()
        if mode not in POOL_MODES:
            raise ValueError(f"pool mode must be one of {', '.join(POOL_MODES)}, got {mode!r}")
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels = int(channels)
        self.mode = mode
        self.out_dim = self.channels * (2 if mode == "mean+max" else 1)
        self._norm = (norm,)  # a tuple: nn.Module registers Module attributes, and this one is the backbone's

    @property
    def norm(self) -> nn.Module | None:
        return self._norm[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_map(x, self.channels)
        pooled = x.mean(dim=(2, 3, 4))  # deterministic backward on every device, unlike adaptive pooling on CUDA
        if self.mode == "mean+max":
            pooled = torch.cat((pooled, x.amax(dim=(2, 3, 4))), dim=1)
        norm = self._norm[0]
        return pooled if norm is None else norm(pooled)

    def extra_repr(self) -> str:
        norm = self._norm[0]
        return f"{self.channels}, mode={self.mode!r}" + (
            f", norm={type(norm).__name__} (the backbone's)" if norm is not None else ""
        )


def global_pool_of(backbone: nn.Module) -> GlobalPool:
    """The :class:`GlobalPool` a backbone declares (``feature_dim``, ``feature_pool``, ``post_pool_norm``)."""
    return GlobalPool(
        int(backbone.feature_dim),
        mode=getattr(backbone, "feature_pool", "mean"),
        norm=getattr(backbone, "post_pool_norm", None),
    )


class PoolingHead(nn.Linear):
    """Feature map (B, C, T, H, W) -> ``pool`` -> [``norm``] -> dropout -> linear -> logits (B, num_classes).

    ``norm="batchnorm"`` standardises the pooled features (BatchNorm1d without an affine part: batch
    statistics while training, running ones in eval) before the linear layer, which pretrained backbones'
    pooled features need (their channels differ in scale by orders of magnitude); ``"none"``: nothing.

    It *is* the linear layer (an ``nn.Linear`` whose ``forward`` pools first), so its parameters are
    ``weight`` / ``bias`` (a classifier's ``head.weight`` / ``head.bias``, as before heads took maps, and the
    key names checkpoint loading maps released heads to); ``in_features`` is the pooled width.
    Built right after the backbone it draws the same random numbers as a plain ``nn.Linear``."""

    def __init__(self, pool: GlobalPool, num_classes: int, *, dropout: float = 0.5, norm: HeadNorm = "none") -> None:
        if norm not in ("none", "batchnorm"):
            raise ValueError(f"norm must be 'none' or 'batchnorm', got {norm!r}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        super().__init__(pool.out_dim, num_classes)
        self.pool = pool
        self.norm = nn.BatchNorm1d(pool.out_dim, affine=False) if norm == "batchnorm" else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def for_backbone(cls, backbone: nn.Module, num_classes: int, *, dropout: float = 0.5, norm: HeadNorm = "none") -> PoolingHead:
        return cls(global_pool_of(backbone), num_classes, dropout=dropout, norm=norm)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Logits of pooled features (B, ``in_features``): norm -> dropout -> linear."""
        return F.linear(self.dropout(self.norm(pooled)), self.weight, self.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, ``in_features``) of a map."""
        return self.pool(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.classify(self.pool(x))


class RoiHead(nn.Module):
    """Per-box logits from a clip's feature map.

    ``forward(x, rois)``: ``x`` (B, C, T, H, W); ``rois`` (N, 5) rows ``[batch_index, x1, y1, x2, y2]`` in
    input pixels (of the clip the backbone saw), or a list of B tensors (K_b, 4) of boxes per clip ->
    logits (N, num_classes). Steps: mean over T -> ``roi_align`` (boxes scaled by 1 / ``spatial_stride``,
    ``output_size`` bins, ``sampling_ratio`` points per bin side (0 = adaptive), ``aligned`` half-pixel
    correction) -> max (or mean, ``spatial_pool``) over the bins -> dropout -> MLP (``hidden`` > 0: linear,
    ReLU, dropout, then the output linear; 0: the output linear alone)."""

    def __init__(
        self,
        channels: int,
        num_classes: int,
        *,
        spatial_stride: int,
        output_size: int | tuple[int, int] = 7,
        sampling_ratio: int = 0,
        aligned: bool = True,
        spatial_pool: Literal["max", "mean"] = "max",
        hidden: int = 0,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if channels < 1 or num_classes < 1:
            raise ValueError(f"channels and num_classes must be >= 1, got {channels} and {num_classes}")
        if spatial_stride < 1:
            raise ValueError(f"spatial_stride must be >= 1, got {spatial_stride}")
        if spatial_pool not in ("max", "mean"):
            raise ValueError(f"spatial_pool must be 'max' or 'mean', got {spatial_pool!r}")
        if hidden < 0:
            raise ValueError(f"hidden must be >= 0 (0 = a single linear layer), got {hidden}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if sampling_ratio < 0:
            raise ValueError(f"sampling_ratio must be >= 0 (0 = adaptive), got {sampling_ratio}")
        self.channels = int(channels)
        self.spatial_stride = int(spatial_stride)
        self.output_size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)
        self.spatial_pool = spatial_pool
        self.dropout = nn.Dropout(dropout)
        layers: list[nn.Module] = []
        width = self.channels
        if hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.mlp = nn.Sequential(*layers)

    @classmethod
    def for_backbone(cls, backbone: nn.Module, num_classes: int, **options: object) -> RoiHead:
        """A head for ``backbone``'s map: its ``feature_dim`` channels and spatial stride."""
        _, sh, sw = backbone.feature_strides
        if sh != sw:
            raise ValueError(f"RoiHead needs equal spatial strides, the backbone has {sh} x {sw}")
        return cls(int(backbone.feature_dim), num_classes, spatial_stride=int(sh), **options)  # type: ignore[arg-type]

    def roi_features(self, x: torch.Tensor, rois: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """Pooled features (N, C) of each box (before dropout and MLP)."""
        _check_map(x, self.channels)
        if isinstance(rois, torch.Tensor):
            if rois.ndim != 2 or rois.shape[1] != 5:
                raise ValueError(f"rois must be (N, 5) rows [batch_index, x1, y1, x2, y2], got shape {tuple(rois.shape)}")
            if len(rois) and (rois[:, 0].min() < 0 or rois[:, 0].max() >= x.shape[0]):
                raise ValueError(f"rois batch indices must be in 0..{x.shape[0] - 1}")
            rois = rois.to(x.dtype)
        else:
            if len(rois) != x.shape[0]:
                raise ValueError(f"rois: expected one (K, 4) box tensor per clip ({x.shape[0]}), got {len(rois)}")
            rois = [r.to(x.dtype) for r in rois]
        frame = x.mean(dim=2)  # (B, C, H, W)
        cells = roi_align(
            frame,
            rois,
            output_size=self.output_size,
            spatial_scale=1.0 / self.spatial_stride,
            sampling_ratio=self.sampling_ratio,
            aligned=self.aligned,
        )  # (N, C, oh, ow)
        return cells.amax(dim=(2, 3)) if self.spatial_pool == "max" else cells.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor, rois: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        return self.mlp(self.dropout(self.roi_features(x, rois)))
