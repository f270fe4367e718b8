"""The distillation-fusion network: [frozen student] -> frozen converters -> fusion head -> class logits.

:class:`KdNet` takes either clips (``input: video``: normalised (B, 3, T, H, W) at the cache's size, resampled
to the student's input inside, through the frozen student backbone) or the student's stored features
(``input: features``: pooled (B, Ds), or maps (B, Ds, T', H', W') for time tokens). From the student's map it
forms the pooled vector (the student's own global pool, as the feature store) and the converter input
(``pooled``: that vector; ``time``: the map averaged over space, one token per time step), both standardised with
the train split's statistics. Converters give
each teacher's features (standardised with the teacher's train-split mean / std); the fusion head maps
[student, converted...] to logits. Only the fusion head trains: the student and the converters stay frozen and
in eval mode whatever ``train()`` says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["KdNet", "Standardise", "StudentEncoder", "build_student", "converter_input", "student_pool"]


def converter_input(student_map: torch.Tensor | None, pooled: torch.Tensor, tokens: str) -> torch.Tensor:
    """What the converters read: the pooled vector (B, Ds) or time tokens (B, T', Ds) from the map."""
    if tokens == "pooled":
        return pooled
    if student_map is None:
        raise ValueError("converter tokens 'time' need the student's map (features_source: map)")
    return student_map.mean(dim=(-2, -1)).transpose(1, 2)  # (B, Ds, T', H', W') -> (B, T', Ds)


class StudentEncoder(nn.Module):
    """The frozen student: normalised clips at the cache's size -> (map, pooled) at the student's input size."""

    def __init__(self, backbone: nn.Module, pool: nn.Module, *, frames: int, size: Sequence[int], resize: str) -> None:
        super().__init__()
        self.backbone, self.pool = backbone, pool
        self.frames, self.size, self.resize = int(frames), (int(size[0]), int(size[1])), resize

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from ...features.featurize import resample

        fmap = self.backbone(resample(video, frames=self.frames, size=self.size, mode=self.resize))
        return fmap, self.pool(fmap)


def student_pool(identity: dict[str, Any]) -> nn.Module:
    """The student backbone's global pool (what ``featurize`` pooled its maps with), frozen."""
    from ...models import build_backbone, global_pool_of

    net = build_backbone(identity["backbone"], frames=int(identity["frames"]), size=tuple(identity["size"]),
                         **identity["backbone_options"])  # fmt: skip
    pool = global_pool_of(net)
    for p in pool.parameters():
        p.requires_grad_(False)
    return pool.eval()


def build_student(identity: dict[str, Any]) -> StudentEncoder:
    """The student backbone of a feature-store model identity (``model.json``), with its weights, frozen: the same
    network and preprocessing ``featurize`` used (random-weight backbones are remade from their init seed)."""
    from ...models import build_backbone, global_pool_of, load_pretrained

    torch.manual_seed(int(identity.get("init_seed", 0) or 0))
    net = build_backbone(identity["backbone"], frames=int(identity["frames"]), size=tuple(identity["size"]),
                         **identity["backbone_options"])  # fmt: skip
    if identity.get("pretrained"):
        load_pretrained(net, identity["pretrained"])
    enc = StudentEncoder(net, global_pool_of(net), frames=identity["frames"], size=identity["size"], resize=identity["resize"])
    for p in enc.parameters():
        p.requires_grad_(False)
    return enc.eval()


class Standardise(nn.Module):
    """x -> (x - mean) / std over the last dimension, with fixed train-split statistics (buffers, saved with the model)."""

    def __init__(self, mean, std) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).clone())
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class KdNet(nn.Module):
    """Student (optional: None reads stored features) + converters + fusion head; see the module doc.

    ``scale_in`` standardises the converters' input and ``scale_pooled`` the student's pooled vector the fusion head
    reads (train-split statistics of the student's features; the same module when the converters read the pooled
    vector)."""

    def __init__(self, *, student: StudentEncoder | None, converters: nn.Module, fusion: nn.Module, teachers: Sequence[str],
                 tokens: str, scale_in: nn.Module, scale_pooled: nn.Module, source: str = "pooled",
                 pool: nn.Module | None = None) -> None:  # fmt: skip
        super().__init__()
        self.scale_in, self.scale_pooled = scale_in, scale_pooled
        if student is None and source == "map" and pool is None:
            raise ValueError("stored maps need the student's global pool (pool=) to form its pooled vector")
        self.pool = pool
        self.student, self.converters, self.fusion = student, converters, fusion
        self.teachers, self.tokens, self.source = list(teachers), tokens, source
        for p in self.converters.parameters():
            p.requires_grad_(False)
        self.frozen_modules = [m for m in (self.student, self.converters, self.pool) if m is not None]
        self.finetune_mode = "frozen"

    def train(self, mode: bool = True) -> KdNet:
        super().train(mode)
        for m in self.frozen_modules:
            m.eval()
        return self

    def student_features(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(map or None, pooled) of the student from clips (video mode) or stored features."""
        if self.student is not None:
            with torch.no_grad():
                return self.student(x)
        if self.source == "map":
            with torch.no_grad():
                return x, self.pool(x)
        return None, x

    def converted(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The student's pooled vector and each teacher's converted features (in ``teachers`` order)."""
        fmap, pooled = self.student_features(x)
        with torch.no_grad():
            out = self.converters(self.scale_in(converter_input(fmap, pooled, self.tokens)))
        return self.scale_pooled(pooled), [out[t] for t in self.teachers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled, conv = self.converted(x)
        return self.fusion(pooled, conv)
