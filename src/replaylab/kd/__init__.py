"""Distillation fusion (TC-BombKD) model side: converters from a frozen student's features to each teacher's
feature space (:mod:`.converters`), their losses and metrics (:mod:`.losses`), and fusion heads over
[student, converted teacher features] (:mod:`.fusion`)."""

from __future__ import annotations

from .converters import CONVERTERS, ConverterBank, build_converter
from .fusion import FUSIONS, FusionHead, build_fusion
from .losses import converter_loss, converter_metrics, linear_cka, mean_cosine, r2_score, similarity_matching

__all__ = [
    "CONVERTERS",
    "FUSIONS",
    "ConverterBank",
    "FusionHead",
    "build_converter",
    "build_fusion",
    "converter_loss",
    "converter_metrics",
    "linear_cka",
    "mean_cosine",
    "r2_score",
    "similarity_matching",
]
