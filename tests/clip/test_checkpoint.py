"""load_clip over the three layouts (OpenAI TorchScript, OpenAI state dict, open_clip training checkpoint),
save_openai_state_dict round trips, and the errors that name the file."""

from __future__ import annotations

import hashlib
import warnings

import pytest
import torch
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

from replaylab.clip.checkpoint import load_clip, save_openai_state_dict
from replaylab.clip.model import TinyClipConfig, build_tiny_clip, tokenizer

CFG = TinyClipConfig(
    embed_dim=64, image_size=32, patch_size=8, vision_width=64, vision_layers=2, text_width=64, text_layers=1, context_length=16
)


@pytest.fixture(scope="module")
def tiny() -> CLIP:
    return build_tiny_clip(cfg=CFG, seed=3)


def _inputs(cfg: TinyClipConfig = CFG) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.randn(3, 3, cfg.image_size, cfg.image_size, generator=torch.Generator().manual_seed(0))
    return images, tokenizer(context_length=cfg.context_length)(["a red clip", "a header", "a foul in the box"])


def _assert_same_outputs(a: CLIP, b: CLIP, *, exact: bool = True) -> None:
    images, text = _inputs()
    with torch.no_grad():
        pairs = [(a.encode_image(images), b.encode_image(images)), (a.encode_text(text), b.encode_text(text))]
    for x, y in pairs:
        if exact:
            assert torch.equal(x, y)
        else:
            torch.testing.assert_close(x, y, atol=1e-2, rtol=1e-2)


def test_openai_state_dict_round_trip_is_exact(tiny, tmp_path):
    path = tmp_path / "out" / "clip.pt"
    save_openai_state_dict(model=tiny, path=path)
    assert [p.name for p in path.parent.iterdir()] == ["clip.pt"]  # the temporary file was renamed
    loaded, report = load_clip(checkpoint=path, model="auto")
    assert report.layout == "openai_state_dict" and report.missing == [] and report.unexpected == []
    assert report.md5 == hashlib.md5(path.read_bytes()).hexdigest() and report.path == str(path)
    arch = report.as_dict()["architecture"]
    assert arch["embed_dim"] == 64 and arch["vision"] == {"layers": 2, "width": 64, "patch_size": 8, "image_size": 32}
    assert arch["text"]["context_length"] == 16 and arch["text"]["heads"] == 1
    assert not loaded.training and all(p.dtype == torch.float32 for p in loaded.parameters())
    _assert_same_outputs(tiny, loaded)


def test_half_precision_state_dict_loads_as_float32(tiny, tmp_path):
    path = tmp_path / "half.pt"
    torch.save({k: v.half() for k, v in tiny.state_dict().items()}, path)
    loaded, report = load_clip(checkpoint=path, model="ViT-B-32")  # OpenAI layout: the file's shapes win over the name
    assert report.layout == "openai_state_dict" and report.architecture["vision"]["width"] == 64
    assert loaded.visual.proj.dtype == torch.float32
    _assert_same_outputs(tiny, loaded, exact=False)


def test_torchscript_archive_loads_as_openai_jit(tiny, tmp_path):
    images, text = _inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about python values in open_clip's forward
        traced = torch.jit.trace_module(tiny, {"encode_image": (images,), "encode_text": (text,)}, check_trace=False)
        path = tmp_path / "ViT-tiny.pt"
        torch.jit.save(traced, str(path))  # (deprecated in favour of torch.export)
    loaded, report = load_clip(checkpoint=path, model="auto")
    assert report.layout == "openai_jit"
    assert report.missing == [] and report.unexpected == []  # attn_mask, kept by TorchScript, is not a weight
    _assert_same_outputs(tiny, loaded)
    with pytest.raises(ValueError, match="is a TorchScript archive"):
        load_clip(checkpoint=path, model="auto", layout="open_clip")


def test_open_clip_checkpoint_reports_missing_and_unexpected_keys(tiny, tmp_path):
    state = {"module." + k: v for k, v in tiny.state_dict().items()}
    path = tmp_path / "epoch_3.pt"
    torch.save({"epoch": 3, "name": "run", "state_dict": state}, path)
    loaded, report = load_clip(checkpoint=path, model="tiny", tiny=CFG)
    assert report.layout == "open_clip" and report.missing == [] and report.unexpected == []
    assert report.architecture["model"] == "tiny" and report.architecture["vision_width"] == 64
    _assert_same_outputs(tiny, loaded)

    state.pop("module.visual.proj")
    state["module.bogus.weight"] = torch.zeros(2)
    torch.save({"epoch": 3, "state_dict": state}, path)
    _, report = load_clip(checkpoint=path, model="tiny", tiny=CFG)
    assert report.missing == ["visual.proj"] and report.unexpected == ["bogus.weight"]


def test_open_clip_checkpoint_with_model_auto_takes_the_shapes(tiny, tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": tiny.state_dict()}, path)
    loaded, report = load_clip(checkpoint=path, model="auto")
    assert report.layout == "open_clip" and report.architecture["source"] == "tensor shapes"
    _assert_same_outputs(tiny, loaded)


def test_resnet_image_tower_is_inferred_from_the_shapes(tmp_path):
    torch.manual_seed(0)
    vision = CLIPVisionCfg(layers=(1, 1, 1, 1), width=16, image_size=64)
    text = CLIPTextCfg(context_length=16, width=64, heads=1, layers=1)
    resnet = CLIP(64, vision_cfg=vision, text_cfg=text, quick_gelu=True).eval()
    path = tmp_path / "rn.pt"
    save_openai_state_dict(model=resnet, path=path)
    loaded, report = load_clip(checkpoint=path, model="auto")
    assert report.architecture["vision"] == {"layers": [1, 1, 1, 1], "width": 16, "patch_size": None, "image_size": 64}
    assert report.missing == [] and report.unexpected == []
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(resnet.encode_image(images), loaded.encode_image(images))


def test_shape_mismatch_names_the_key_both_shapes_and_the_file(tiny, tmp_path):
    path = tmp_path / "wide.pt"
    torch.save({"epoch": 1, "state_dict": tiny.state_dict()}, path)
    other = TinyClipConfig(
        embed_dim=128,
        image_size=32,
        patch_size=8,
        vision_width=64,
        vision_layers=2,
        text_width=64,
        text_layers=1,
        context_length=16,
    )
    with pytest.raises(
        ValueError, match=r"wide\.pt.*'text_projection' has shape \(64, 64\) in the file but \(64, 128\) in the model"
    ):
        load_clip(checkpoint=path, model="tiny", tiny=other)


def test_unreadable_and_foreign_files_are_errors_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_clip(checkpoint=tmp_path / "nope.pt", model="auto")
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(ValueError, match=r"notes\.pt: not a checkpoint torch.load can read"):
        load_clip(checkpoint=text, model="auto")
    pickled = tmp_path / "object.pt"
    torch.save({"cfg": CFG}, pickled)  # a dataclass: refused by weights_only=True
    with pytest.raises(ValueError, match=r"object\.pt: not a checkpoint"):
        load_clip(checkpoint=pickled, model="auto")
    other = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(1), "fc.weight": torch.zeros(1)}, other)
    with pytest.raises(ValueError, match=r"resnet\.pt: no CLIP keys.*conv1.weight"):
        load_clip(checkpoint=other, model="auto")
    listing = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listing)
    with pytest.raises(ValueError, match=r"list\.pt: not a checkpoint: torch.load gave a list"):
        load_clip(checkpoint=listing, model="auto")


def test_without_checkpoint_the_architecture_is_built_from_the_seed():
    a, report = load_clip(checkpoint=None, model="tiny", tiny=CFG, seed=5)
    b = build_tiny_clip(cfg=CFG, seed=5)
    assert report is None and torch.equal(a.visual.proj, b.visual.proj)
    with pytest.raises(ValueError, match="model='auto'"):
        load_clip(checkpoint=None, model="auto")
    with pytest.raises(ValueError, match="unknown CLIP checkpoint layout 'jit'"):
        load_clip(checkpoint=None, model="tiny", layout="jit")


def test_explicit_jit_layout_on_a_state_dict_is_an_error(tiny, tmp_path):
    path = tmp_path / "sd.pt"
    save_openai_state_dict(model=tiny, path=path)
    with pytest.raises(ValueError, match=r"sd\.pt: layout 'openai_jit' was asked for, but the file is not a TorchScript archive"):
        load_clip(checkpoint=path, model="auto", layout="openai_jit")
    _, report = load_clip(checkpoint=path, model="tiny", tiny=CFG, layout="open_clip")  # a bare dict read by name
    assert report.layout == "open_clip" and report.architecture["model"] == "tiny"


def test_safetensors_file_is_a_bare_state_dict(tiny, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in tiny.state_dict().items()}, str(path))
    loaded, report = load_clip(checkpoint=path, model="auto")
    assert report.layout == "openai_state_dict" and report.missing == [] and report.unexpected == []
    _assert_same_outputs(tiny, loaded)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match=r"broken\.safetensors: not a readable safetensors file"):
        load_clip(checkpoint=broken, model="auto")
