"""The multi-view foul network: one registered backbone shared by every camera view, a view aggregation, an
intermediate layer and two heads (the 8 SoccerNet-MVFoul action classes and the 4 offence-severity classes).

Input ``video`` (B, V, 3, T, H, W) and an optional ``view_mask`` (B, V) bool (False = a missing view, e.g. the
zero padding of an action with fewer views than the cache holds); output ``(action_logits (B, 8),
offence_logits (B, 4))``. Only the valid views go through the backbone; each view's feature map is pooled by the
backbone's declared global pooling (:class:`~replaylab.models.heads.GlobalPool`, ``head["pool"]``) into its
view features, which the aggregation combines. In eval mode the backbone sees at most
``view_chunk`` clips at a time (0 = all at once), so an action with many views, or a large evaluation batch,
does not have to fit in memory at once; chunking does not change the result (BatchNorm uses its running
statistics in eval mode).

Aggregations (:data:`AGGREGATIONS`), each a module ``(features (B, V, D), mask (B, V)) -> (B, D)`` that is
invariant to the order of the views:

* ``max``: element-wise maximum over the valid views;
* ``mean``: mean over the valid views;
* ``attention``: learned weights from the relations between the views: ``h_v = f_v W`` (W learned, D x D),
  relation ``r_uv = relu(h_u . h_v)`` over the pairs of valid views, weight of view v ``a_v = sum_u r_uv /
  sum_uv r_uv``, output ``sum_v a_v h_v`` (uniform weights when every relation is 0). The weights of the last
  forward are kept in ``last_weights`` for inspection.

The non-backbone part is ``model.head`` (a ModuleDict: pool, aggregate, inter, action, offence), so
:func:`replaylab.models.set_finetune_mode` and :func:`replaylab.models.param_groups` work on this model as on
a :class:`~replaylab.models.classifier.VideoClassifier`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .heads import global_pool_of
from .registry import Size, build_backbone

__all__ = [
    "AGGREGATIONS",
    "AttentionViews",
    "MaxViews",
    "MeanViews",
    "MultiViewNet",
    "build_aggregation",
    "build_multiview",
]

NUM_ACTIONS = 8
NUM_OFFENCE_SEVERITY = 4


def _check(features: torch.Tensor, mask: torch.Tensor) -> None:
    if features.ndim != 3 or mask.shape != features.shape[:2]:
        raise ValueError(f"expected features (B, V, D) and mask (B, V), got {tuple(features.shape)} and {tuple(mask.shape)}")
    if not bool(mask.any(1).all()):
        raise ValueError("every sample needs at least one valid view (a view_mask row is all False)")


class MaxViews(nn.Module):
    """Element-wise maximum over the valid views."""

    def __init__(self, *, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        _check(features, mask)
        fill = torch.finfo(features.dtype).min
        return features.masked_fill(~mask.unsqueeze(-1), fill).amax(dim=1)


class MeanViews(nn.Module):
    """Mean over the valid views."""

    def __init__(self, *, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        _check(features, mask)
        w = mask.to(features.dtype).unsqueeze(-1)
        return (features * w).sum(1) / w.sum(1)


class AttentionViews(nn.Module):
    """View weights learned from the pairwise relations of the projected view features (see the module doc)."""

    def __init__(self, *, dim: int) -> None:
        super().__init__()
        self.out_dim = dim
        self.proj = nn.Parameter(torch.eye(dim) + 0.02 * torch.randn(dim, dim))
        self.last_weights: torch.Tensor | None = None

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        _check(features, mask)
        h = features @ self.proj.to(features.dtype)  # (B, V, D)
        pair = (mask.unsqueeze(2) & mask.unsqueeze(1)).to(h.dtype)  # (B, V, V): both views valid
        relation = torch.relu(h @ h.transpose(1, 2)) * pair
        column = relation.sum(1)  # (B, V): how strongly each view relates to all the (valid) views
        total = column.sum(1, keepdim=True)
        valid = mask.to(h.dtype)
        uniform = valid / valid.sum(1, keepdim=True)
        weights = torch.where(total > 0, column / total.clamp_min(torch.finfo(h.dtype).tiny), uniform)
        self.last_weights = weights.detach()
        return (weights.unsqueeze(-1) * h).sum(1)


#: name -> builder(*, dim) of a view aggregation
AGGREGATIONS: dict[str, Callable[..., nn.Module]] = {"max": MaxViews, "mean": MeanViews, "attention": AttentionViews}


def build_aggregation(name: str, *, dim: int) -> nn.Module:
    try:
        return AGGREGATIONS[name](dim=dim)
    except KeyError:
        raise ValueError(f"unknown view aggregation {name!r}; known: {', '.join(AGGREGATIONS)}") from None


class MultiViewNet(nn.Module):
    """Shared backbone -> view aggregation -> intermediate layer -> action and offence-severity heads."""

    def __init__(self, backbone: nn.Module, *, aggregation: str = "max", hidden: int = 256, dropout: float = 0.3,
                 num_actions: int = NUM_ACTIONS, num_offence: int = NUM_OFFENCE_SEVERITY, view_chunk: int = 0,
                 backbone_name: str = "") -> None:  # fmt: skip
        super().__init__()
        if hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {hidden}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if view_chunk < 0:
            raise ValueError(f"view_chunk must be >= 0 (0 = all views at once), got {view_chunk}")
        pool = global_pool_of(backbone)
        dim = pool.out_dim
        self.backbone = backbone
        aggregate = build_aggregation(aggregation, dim=dim)
        inter = nn.Sequential(
            nn.LayerNorm(aggregate.out_dim), nn.Linear(aggregate.out_dim, hidden), nn.GELU(), nn.Dropout(dropout)
        )
        self.head = nn.ModuleDict({"pool": pool, "aggregate": aggregate, "inter": inter, "action": nn.Linear(hidden, num_actions),
                                   "offence": nn.Linear(hidden, num_offence)})  # fmt: skip
        self.aggregation = aggregation
        self.view_chunk = int(view_chunk)
        self.backbone_name = backbone_name
        self.feature_dim = dim
        # the same fine-tuning bookkeeping as VideoClassifier (see replaylab.models.set_finetune_mode)
        self.finetune_mode = "full"
        self.frozen_modules: list[nn.Module] = []
        self._trainable_by_design = {name: p.requires_grad for name, p in backbone.named_parameters()}
        self.load_report: Any = None
        for name in ("action", "offence"):
            nn.init.trunc_normal_(self.head[name].weight, std=0.01)
            nn.init.zeros_(self.head[name].bias)

    def encode(self, clips: torch.Tensor) -> torch.Tensor:
        """Pooled view features (N, D) of clips (N, 3, T, H, W): the backbone's map through ``head["pool"]``;
        in eval mode ``view_chunk`` clips at a time."""
        pool = self.head["pool"]
        if self.training or self.view_chunk <= 0 or len(clips) <= self.view_chunk:
            return pool(self.backbone(clips))
        return torch.cat([pool(self.backbone(part)) for part in clips.split(self.view_chunk)])

    def view_features(self, video: torch.Tensor, view_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-view features (B, V, D) (zero for missing views) and the mask (B, V)."""
        if video.ndim != 6:
            raise ValueError(f"expected video (B, V, 3, T, H, W), got shape {tuple(video.shape)}")
        b, v = video.shape[:2]
        if view_mask is None:
            view_mask = torch.ones(b, v, dtype=torch.bool, device=video.device)
        view_mask = view_mask.to(device=video.device, dtype=torch.bool)
        if view_mask.shape != (b, v):
            raise ValueError(f"view_mask must be (B, V) = {(b, v)}, got {tuple(view_mask.shape)}")
        if bool(view_mask.all()):
            return self.encode(video.flatten(0, 1)).unflatten(0, (b, v)), view_mask
        feats = self.encode(video[view_mask])
        out = feats.new_zeros(b, v, feats.shape[-1])
        return out.index_put((view_mask,), feats), view_mask

    def forward(self, video: torch.Tensor, view_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        feats, mask = self.view_features(video, view_mask)
        z = self.head["inter"](self.head["aggregate"](feats, mask))
        return self.head["action"](z), self.head["offence"](z)

    def train(self, mode: bool = True) -> MultiViewNet:
        super().train(mode)
        for m in self.frozen_modules:
            m.eval()
        return self


def build_multiview(
    *,
    backbone: str,
    frames: int,
    size: Size,
    aggregation: str = "max",
    hidden: int = 256,
    dropout: float = 0.3,
    view_chunk: int = 0,
    pretrained: str | None = None,
    backbone_options: dict[str, Any] | None = None,
) -> MultiViewNet:
    """Registered ``backbone`` for ``frames`` x ``size`` clips, shared by all views, with the ``aggregation``
    (``max`` / ``mean`` / ``attention``), a ``hidden``-wide intermediate layer and the two heads;
    ``pretrained``: a local checkpoint of the backbone (its classification head, if any, is not used)."""
    net = build_backbone(backbone, frames=frames, size=size, **(backbone_options or {}))
    model = MultiViewNet(net, aggregation=aggregation, hidden=hidden, dropout=dropout, view_chunk=view_chunk,
                         backbone_name=backbone)  # fmt: skip
    if pretrained:
        from .checkpoints import load_pretrained

        model.load_report = load_pretrained(model.backbone, pretrained)
    return model
