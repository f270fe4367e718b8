"""Heads on stored features give what the full models give on clips; a trained head goes back onto its backbone."""

from __future__ import annotations

import pytest
import torch

from replaylab.features.featurize import model_identity
from replaylab.features.heads import (
    InputResample,
    PooledClassifier,
    PooledMultiView,
    frozen_classifier,
    frozen_multiview,
    load_head,
)
from replaylab.models import build_classifier
from replaylab.models.multiview import build_multiview

from .store_fixtures import small_model

ARCH = {"backbone": "compact3d", "backbone_options": {"width": 0.25}, "aggregation": "attention", "hidden": 8, "dropout": 0.2}


def test_pooled_classifier_is_the_classifier_head():
    torch.manual_seed(0)
    full = build_classifier(backbone="compact3d", num_classes=3, frames=4, size=(16, 16), backbone_options={"width": 0.25}).eval()
    head = PooledClassifier(full.head).eval()
    x = torch.randn(2, 3, 4, 16, 16)
    with torch.no_grad():
        fmap = full.backbone(x)
        torch.testing.assert_close(head(full.features(x)), full(x))
        torch.testing.assert_close(head(fmap), full(x))  # from the map through the head's own pooling
    assert sorted(head.state_dict()) == ["head.bias", "head.weight"] and not list(head.backbone.parameters())


def test_pooled_multiview_is_the_multiview_head():
    torch.manual_seed(0)
    net = build_multiview(**ARCH, frames=4, size=(16, 16)).eval()
    head = PooledMultiView(net.head).eval()
    video = torch.randn(2, 3, 3, 4, 16, 16)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    with torch.no_grad():
        feats, _ = net.view_features(video, mask)
        fmaps = net.backbone(video.flatten(0, 1)).unflatten(0, (2, 3))
        want = net(video, mask)
        for got in (head(feats, mask), head(fmaps, mask)):
            for a, b in zip(got, want):
                torch.testing.assert_close(a, b)
    assert set(head.state_dict()) == {k for k in net.state_dict() if k.startswith("head.")}
    with pytest.raises(ValueError, match="expected view features"):
        head(torch.zeros(2, 3, 4, 5))


def test_input_resample_and_frozen_models_from_a_store_identity(tmp_path):
    torch.manual_seed(3)
    ckpt = tmp_path / "w.pt"
    torch.save(build_classifier(backbone="compact3d", num_classes=2, frames=8, size=(32, 32),
                                backbone_options={"width": 0.25}).backbone.state_dict(), ckpt)  # fmt: skip
    ident = model_identity(small_model(pretrained=str(ckpt), frames=8, size=[32, 32]), {"frames": 4, "size": [16, 16]},
                           dtype="float32", seed=0)  # fmt: skip
    model = frozen_classifier(ident, num_classes=2, dropout=0.3, where="m").eval()
    assert isinstance(model, InputResample) and (model.frames, model.size) == (8, (32, 32))
    trained = PooledClassifier(build_classifier(backbone="compact3d", num_classes=2, frames=8, size=(32, 32),
                                                backbone_options={"width": 0.25}).head)  # fmt: skip
    load_head(model.model, trained.state_dict(), "m")
    torch.testing.assert_close(model.model.head.weight, trained.head.weight)
    assert model(torch.randn(1, 3, 4, 16, 16)).shape == (1, 2)  # clips at the cache's size go in
    with pytest.raises(ValueError, match="does not match the model's head"):
        load_head(model.model, {"head.other": torch.zeros(1)}, "m")
    mv = frozen_multiview(ident, {**ARCH, "frames": 8, "size": [32, 32]}, view_chunk=2, where="m").eval()
    action, offence = mv(torch.randn(1, 2, 3, 4, 16, 16), torch.tensor([[True, False]]))
    assert action.shape == (1, 8) and offence.shape == (1, 4)
    torch.save({"other": torch.zeros(1)}, ckpt)  # the backbone file changed since featurizing
    with pytest.raises(ValueError, match="md5"):
        frozen_classifier(ident, num_classes=2, dropout=0.3, where="m")
