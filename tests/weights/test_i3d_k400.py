"""Flax I3D checkpoint layout -> PyTorch state dict: names, transposes, statistics, and errors naming the entry."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from replaylab.models.i3d import create_i3d
from replaylab.weights.i3d_k400 import ConversionError, convert_i3d_variables, i3d_state_shapes, torch_key, validate_i3d_state
from replaylab.weights.safe_pickle import load_numpy_pickle


def tiny_checkpoint(seed: int = 0) -> dict:
    """A few layers of the released checkpoint, in its exact layout (nesting, names, shapes, float32)."""
    rng = np.random.default_rng(seed)

    def f(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    return {
        "params": {
            "Conv3d_1a_7x7": {"Conv_0": {"kernel": f(7, 7, 7, 3, 64)}, "BatchNorm_0": {"bias": f(64)}},
            "Mixed_3b": {
                "Branch_1/Conv3d_0b_3x3": {"Conv_0": {"kernel": f(3, 3, 3, 96, 128)}, "BatchNorm_0": {"bias": f(128)}},
                "Branch_3/Conv3d_0b_1x1": {"Conv_0": {"kernel": f(1, 1, 1, 192, 32)}, "BatchNorm_0": {"bias": f(32)}},
            },
            "Logits/Conv3d_0c_1x1": {"Conv_0": {"kernel": f(1, 1, 1, 1024, 400), "bias": f(400)}},
        },
        "batch_stats": {
            "Conv3d_1a_7x7": {"BatchNorm_0": {"mean": f(1, 1, 1, 1, 64), "var": np.abs(f(1, 1, 1, 1, 64))}},
            "Mixed_3b": {
                "Branch_1/Conv3d_0b_3x3": {"BatchNorm_0": {"mean": f(1, 1, 1, 1, 128), "var": np.abs(f(1, 1, 1, 1, 128))}}
            },
        },
    }


def test_tiny_checkpoint_in_the_real_layout_converts():
    ckpt = tiny_checkpoint()
    tree = load_numpy_pickle(pickle.dumps(ckpt, protocol=4))  # as the fetcher reads it
    state = convert_i3d_variables(tree, complete=False)
    assert set(state) == {
        "Conv3d_1a_7x7.conv.weight", "Conv3d_1a_7x7.bn.bias", "Conv3d_1a_7x7.bn.running_mean",
        "Conv3d_1a_7x7.bn.running_var", "Conv3d_1a_7x7.bn.num_batches_tracked",
        "Mixed_3b.branch_1.1.conv.weight", "Mixed_3b.branch_1.1.bn.bias", "Mixed_3b.branch_1.1.bn.running_mean",
        "Mixed_3b.branch_1.1.bn.running_var", "Mixed_3b.branch_1.1.bn.num_batches_tracked",
        "Mixed_3b.branch_3.1.conv.weight", "Mixed_3b.branch_3.1.bn.bias", "logits.weight", "logits.bias",
    }  # fmt: skip
    k = ckpt["params"]["Conv3d_1a_7x7"]["Conv_0"]["kernel"]  # (kt, kh, kw, in, out) -> (out, in, kt, kh, kw)
    w = state["Conv3d_1a_7x7.conv.weight"]
    assert w.shape == (64, 3, 7, 7, 7) and w.dtype == torch.float32 and w.is_contiguous()
    assert w[5, 2, 1, 3, 6].item() == k[1, 3, 6, 2, 5]
    mean = ckpt["batch_stats"]["Mixed_3b"]["Branch_1/Conv3d_0b_3x3"]["BatchNorm_0"]["mean"]
    assert state["Mixed_3b.branch_1.1.bn.running_mean"].tolist() == mean.reshape(-1).tolist()
    assert state["logits.weight"].shape == (400, 1024, 1, 1, 1) and state["logits.bias"].shape == (400,)
    assert state["Conv3d_1a_7x7.bn.num_batches_tracked"].item() == 0
    # loads into the model (partially): every converted key is one of its tensors, of the same shape
    model = create_i3d(endpoint="Logits")
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and not set(missing) & set(state)
    assert torch.equal(model.Mixed_3b.branch_3[1].conv.weight, state["Mixed_3b.branch_3.1.conv.weight"])


def test_incomplete_unknown_or_misshapen_entries_are_errors():
    ckpt = tiny_checkpoint()
    with pytest.raises(ConversionError, match=r"not an I3D state dict: \d+ missing \(e.g. Conv3d_2b_1x1"):
        convert_i3d_variables(ckpt)
    bad = tiny_checkpoint()
    bad["params"]["Mixed_3b"]["Branch_4/Conv3d_0a_1x1"] = {"Conv_0": {"kernel": np.zeros((1, 1, 1, 192, 8), np.float32)}}
    with pytest.raises(ConversionError, match=r"params/Mixed_3b/Branch_4/Conv3d_0a_1x1/Conv_0/kernel: not an I3D layer"):
        convert_i3d_variables(bad, complete=False)
    bad = tiny_checkpoint()
    bad["params"]["Conv3d_1a_7x7"]["BatchNorm_0"]["scale"] = np.ones(64, np.float32)  # Sonnet's BN has no scale
    with pytest.raises(ConversionError, match=r"params/Conv3d_1a_7x7/BatchNorm_0/scale: not an I3D checkpoint entry"):
        convert_i3d_variables(bad, complete=False)
    bad = tiny_checkpoint()
    bad["params"]["Conv3d_1a_7x7"]["Conv_0"]["kernel"] = np.zeros((7, 7, 7, 3, 32), np.float32)
    with pytest.raises(ConversionError, match=r"Conv3d_1a_7x7/Conv_0/kernel: shape \(7, 7, 7, 3, 32\) does not fit"):
        convert_i3d_variables(bad, complete=False)
    with pytest.raises(ConversionError, match="expected Flax variables"):
        convert_i3d_variables({"model": {}})
    with pytest.raises(ConversionError, match="expected a numeric array"):
        convert_i3d_variables({"params": {"Conv3d_1a_7x7": {"Conv_0": {"kernel": np.array(["x"], dtype=object)}}}})


def test_torch_keys():
    assert torch_key(("params", "Mixed_5c", "Branch_0/Conv3d_0a_1x1", "Conv_0", "kernel")) == "Mixed_5c.branch_0.0.conv.weight"
    assert torch_key(("params", "Mixed_4f", "Branch_2/Conv3d_0b_3x3", "BatchNorm_0", "bias")) == "Mixed_4f.branch_2.1.bn.bias"
    assert torch_key(("batch_stats", "Conv3d_2c_3x3", "BatchNorm_0", "var")) == "Conv3d_2c_3x3.bn.running_var"
    assert torch_key(("params", "Logits/Conv3d_0c_1x1", "Conv_0", "bias")) == "logits.bias"


def test_validate_a_full_state_dict():
    state = create_i3d(endpoint="Logits").state_dict()
    validate_i3d_state(state)
    assert len(i3d_state_shapes()) == len(state) == 287
    state["Mixed_4b.branch_0.0.bn.bias"] = torch.full((192,), float("nan"))
    with pytest.raises(ConversionError, match=r"1 not finite \(e.g. Mixed_4b.branch_0.0.bn.bias\)"):
        validate_i3d_state(state)
    del state["logits.bias"]
    with pytest.raises(ConversionError, match=r"1 missing \(e.g. logits.bias\)"):
        validate_i3d_state(state)
