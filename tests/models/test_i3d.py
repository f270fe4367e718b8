"""I3D: TensorFlow SAME padding by hand, parity with the reference Flax network (fixture made by
tests/fixtures/make_i3d_fixture.py with jax + flax, outside the project), endpoints, loading converted weights."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from replaylab.models import build_backbone, build_classifier, get_spec, load_pretrained
from replaylab.models import i3d as i3d_module
from replaylab.models.i3d import MaxPool3dSame, create_i3d, same_padding
from replaylab.weights import convert_i3d_variables

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _fixture_maker():
    spec = importlib.util.spec_from_file_location("make_i3d_fixture", FIXTURES / "make_i3d_fixture.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# ------------------------------------------------------------------------------------------ SAME padding
@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pads"),
    [
        # out = ceil(size / stride); total = max((out - 1) * stride + kernel - size, 0); smaller half before
        (7, 7, 2, (3, 3)),  # out 4: 6 + 7 - 7 = 6
        (8, 7, 2, (2, 3)),  # out 4: 6 + 7 - 8 = 5
        (5, 3, 2, (1, 1)),  # out 3: 4 + 3 - 5 = 2
        (6, 3, 2, (0, 1)),  # out 3: 4 + 3 - 6 = 1
        (5, 2, 2, (0, 1)),  # out 3: 4 + 2 - 5 = 1
        (4, 2, 2, (0, 0)),  # out 2: 2 + 2 - 4 = 0
        (1, 7, 2, (3, 3)),  # out 1: 0 + 7 - 1 = 6
        (9, 3, 1, (1, 1)),  # stride 1: kernel - 1
        (3, 1, 1, (0, 0)),
    ],
)
def test_same_padding_by_hand(size, kernel, stride, pads):
    assert same_padding(size, kernel, stride) == pads


def test_max_pool_pads_with_minus_infinity_asymmetrically():
    """Width 6, window 3, stride 2: padding (0, 1) -> windows [0..2], [2..4], [4..5 + pad]; width 5: (1, 1)."""
    x = torch.tensor([-6.0, -5.0, -4.0, -3.0, -2.0, -1.0]).view(1, 1, 1, 1, 6)
    out = MaxPool3dSame((1, 1, 3), (1, 1, 2))(x).flatten().tolist()
    assert out == [-4.0, -2.0, -1.0]
    # PyTorch's own symmetric padding would read [-1..1], [1..3], [3..5]: -5, -3, -1
    assert torch.nn.functional.max_pool3d(x, (1, 1, 3), (1, 1, 2), (0, 0, 1)).flatten().tolist() == [-5.0, -3.0, -1.0]
    y = torch.tensor([-5.0, -3.0, -1.0, -2.0, -4.0]).view(1, 1, 1, 1, 5)
    assert MaxPool3dSame((1, 1, 3), (1, 1, 2))(y).flatten().tolist() == [-3.0, -1.0, -2.0]  # zeros would give 0, .., 0


def test_conv_pads_with_zeros_asymmetrically():
    """Sum over a width-3 window, stride 2, on 0..5: windows [0,1,2], [2,3,4], [4,5,pad] -> 3, 9, 9."""
    conv = i3d_module.Conv3dSame(1, 1, (1, 1, 3), stride=(1, 1, 2), bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        out = conv(torch.arange(6.0).view(1, 1, 1, 1, 6)).flatten().tolist()
    assert out == [3.0, 9.0, 9.0]
    # 7 x 7 stride 2 (the stem) on 8 x 8 pads (2, 3): the first output sees rows 0..4 only
    stem = i3d_module.Conv3dSame(1, 1, (1, 7, 7), stride=(1, 2, 2), bias=False)
    with torch.no_grad():
        stem.weight.fill_(1.0)
        y = stem(torch.ones(1, 1, 1, 8, 8))
    assert y.shape[-2:] == (4, 4) and y[0, 0, 0, 0, 0].item() == 25.0 and y[0, 0, 0, -1, -1].item() == 16.0


# ------------------------------------------------------------------------------------------ reference parity
@pytest.fixture(scope="module")
def reference():
    """(fixture arrays, fixture maker module, converted state dict of the seeded random weights)."""
    maker = _fixture_maker()
    data = np.load(FIXTURES / "i3d_reference.npz")
    meta = json.loads(str(data["meta"]))
    variables = maker.random_variables([(p, s) for p, s in meta["layout"]], meta["weight_seed"])
    first = variables["params"]["Conv3d_1a_7x7"]["Conv_0"]["kernel"]
    assert maker.sha256_array(first) == str(data["weights_first_sha256"]), "numpy draws other weights than the fixture's"
    assert len(meta["layout"]) == 230  # every array of the released checkpoint
    return data, maker, convert_i3d_variables(variables)


def _run(state, endpoint: str, x_bthwc: np.ndarray) -> torch.Tensor:
    model = create_i3d(endpoint=endpoint)
    model.load_state_dict({k: v for k, v in state.items() if k in model.state_dict()})
    with torch.no_grad():
        return model.eval()(torch.from_numpy(x_bthwc).permute(0, 4, 1, 2, 3).contiguous())


def _input(data, maker, name: str) -> np.ndarray:
    x = maker.make_input(name)
    assert maker.sha256_array(x) == str(data[f"{name}/input_sha256"]), f"numpy draws another {name!r} input than the fixture's"
    return x


def test_matches_the_flax_reference_on_odd_sizes(reference):
    """11 x 45 x 37 input (asymmetric padding in every strided layer): Mixed_4f and Mixed_5c maps to 1e-4."""
    data, maker, state = reference
    x = _input(data, maker, "odd")
    for endpoint in ("Mixed_4f", "Mixed_5c"):
        got = _run(state, endpoint, x).permute(0, 2, 3, 4, 1).numpy()
        np.testing.assert_allclose(got, data[f"odd/{endpoint}"], rtol=1e-4, atol=1e-4, err_msg=endpoint)


def test_matches_the_flax_reference_logits(reference):
    """9 x 193 x 193 (the smallest input with a defined reference Logits endpoint): Kinetics logits and the
    spatio-temporal mean of Mixed_5c to 1e-4; ``logits_of`` is the mean of the Logits map."""
    data, maker, state = reference
    x = _input(data, maker, "logits")
    logit_map = _run(state, "Logits", x)
    assert logit_map.shape == (1, 400, 1, 1, 1)
    np.testing.assert_allclose(logit_map.mean(dim=(2, 3, 4)).numpy(), data["logits/Logits"], rtol=1e-4, atol=1e-4)
    pooled = _run(state, "Mixed_5c", x).mean(dim=(2, 3, 4)).numpy()
    np.testing.assert_allclose(pooled, data["logits/Mixed_5c_mean"], rtol=1e-4, atol=1e-4)


def test_the_fixture_catches_symmetric_padding(reference, monkeypatch):
    """The comparison has teeth: PyTorch-style symmetric padding instead of SAME misses the reference."""
    data, maker, state = reference
    monkeypatch.setattr(i3d_module, "same_padding", lambda n, k, s: ((k - 1) // 2, (k - 1) // 2))
    got = _run(state, "Mixed_4f", _input(data, maker, "odd")).permute(0, 2, 3, 4, 1).numpy()
    assert got.shape == data["odd/Mixed_4f"].shape
    assert np.abs(got - data["odd/Mixed_4f"]).max() > 1e-2


# ------------------------------------------------------------------------------------------ endpoints
def test_endpoints_channels_and_grids():
    with torch.device("meta"):
        for endpoint, dim, size, grid in (
            ("Mixed_5c", 1024, (16, (112, 112)), (2, 4, 4)),
            ("Mixed_4f", 832, (16, (112, 112)), (4, 7, 7)),
            ("Logits", 400, (24, (256, 256)), (2, 2, 2)),  # Mixed_5c 3 x 8 x 8, (2, 7, 7) VALID average pool
            ("Logits", 400, (16, (64, 64)), (1, 1, 1)),  # Mixed_5c 2 x 2 x 2: the pool shrinks to the map
        ):
            m = build_backbone("i3d", frames=size[0], size=size[1], endpoint=endpoint)
            y = m(torch.zeros(1, 3, size[0], *size[1]))
            assert m.feature_dim == dim and tuple(y.shape) == (1, dim, *grid) == (1, dim, *m.feature_grid(*size)), endpoint
    assert get_spec("i3d").norm == "inception"


def test_logits_only_from_the_logits_endpoint():
    m = create_i3d(endpoint="Logits").eval()
    with torch.no_grad():
        assert m.logits_of(torch.zeros(2, 3, 8, 32, 32)).shape == (2, 400)
    with pytest.raises(ValueError, match="endpoint 'Mixed_5c'.*endpoint='Logits'"):
        create_i3d().logits_of(torch.zeros(1, 3, 8, 32, 32))
    with pytest.raises(ValueError, match="i3d: endpoint must be one of Mixed_4f, Mixed_5c, Logits"):
        build_backbone("i3d", frames=8, size=32, endpoint="Mixed_3b")


def test_blocks_and_bn_frozen():
    m = create_i3d(endpoint="Mixed_4f", bn_frozen=True)
    assert len(m.blocks()) == 8  # stem + Mixed_3b .. Mixed_4f
    assert not any(hasattr(m, n) for n in ("Mixed_5b", "Mixed_5c", "MaxPool3d_5a_2x2"))
    m.train()
    bns = [b for b in m.modules() if isinstance(b, torch.nn.BatchNorm3d)]
    assert bns and not any(b.training for b in bns) and not any(p.requires_grad for b in bns for p in b.parameters())


# ------------------------------------------------------------------------------------------ loading
@pytest.fixture(scope="module")
def full_checkpoint(tmp_path_factory) -> Path:
    """A converted-layout checkpoint (endpoint Logits) with distinctive values."""
    torch.manual_seed(0)
    model = create_i3d(endpoint="Logits")
    state = {k: (v + torch.rand_like(v) if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    path = tmp_path_factory.mktemp("i3d") / "i3d_k400.pt"
    torch.save(state, path)
    return path


def test_converted_weights_load_into_a_classifier_and_a_bare_backbone(full_checkpoint):
    state = torch.load(full_checkpoint, weights_only=True)
    clf = build_classifier(backbone="i3d", num_classes=2, frames=8, size=(32, 32), pretrained=str(full_checkpoint))
    report = clf.load_report
    assert not report.missing and not report.unexpected
    assert any("dropped 2 checkpoint tensors of layers not built (logits)" in m for m in report.messages)
    assert torch.equal(clf.backbone.Mixed_5c.branch_3[1].bn.bias, state["Mixed_5c.branch_3.1.bn.bias"])
    small = build_backbone("i3d", frames=8, size=32, endpoint="Mixed_4f")
    report = load_pretrained(small, full_checkpoint)
    assert not report.missing and not report.unexpected
    assert any("(Mixed_5b, Mixed_5c, logits)" in m for m in report.messages)
    assert torch.equal(small.Conv3d_1a_7x7.conv.weight, state["Conv3d_1a_7x7.conv.weight"])
    full = build_backbone("i3d", frames=8, size=32, endpoint="Logits")
    report = load_pretrained(full, full_checkpoint)
    assert not report.missing and not report.unexpected and torch.equal(full.logits.bias, state["logits.bias"])
