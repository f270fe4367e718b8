from __future__ import annotations

import hashlib
import shutil
import sys

import pytest

from replaylab.training.fingerprint import code_digest, describe_changes, file_digest, flatten, tree_digest


def _tree(root, files: dict[str, bytes]):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_file_digest_is_the_md5_of_the_content_streamed(tmp_path):
    data = bytes(range(256)) * 9000  # > 2 MiB: several chunks
    (tmp_path / "a.bin").write_bytes(data)
    assert file_digest(tmp_path / "a.bin") == hashlib.md5(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert file_digest(tmp_path / "empty") == "d41d8cd98f00b204e9800998ecf8427e"


def test_tree_digest_keys_on_paths_and_contents_not_location(tmp_path):
    a = _tree(tmp_path / "a", {"x.csv": b"1,2\n", "sub/y.txt": b"y"})
    b = _tree(tmp_path / "elsewhere" / "b", {"sub/y.txt": b"y", "x.csv": b"1,2\n"})
    assert tree_digest(a) == tree_digest(b)
    assert tree_digest(a / "x.csv") == file_digest(a / "x.csv")
    base = tree_digest(a)
    (b / "x.csv").write_bytes(b"1,3\n")
    assert tree_digest(b) != base
    (b / "x.csv").write_bytes(b"1,2\n")
    (b / "sub" / "y.txt").rename(b / "sub" / "z.txt")
    assert tree_digest(b) != base
    (b / "sub" / "z.txt").rename(b / "sub" / "y.txt")
    assert tree_digest(b) == base
    (b / "extra").write_bytes(b"")
    assert tree_digest(b) != base
    with pytest.raises(FileNotFoundError, match="nope"):
        tree_digest(tmp_path / "nope")


def test_code_digest_of_directories_and_modules(tmp_path, monkeypatch):
    pkg = _tree(tmp_path / "src" / "toypkg", {"__init__.py": b"", "core.py": b"X = 1\n", "data.json": b"{}"})
    base = code_digest(pkg)
    assert code_digest(str(pkg)) == base
    # other files, __pycache__ and the checkout's location do not count
    (pkg / "data.json").write_bytes(b'{"a": 1}')
    _tree(pkg, {"__pycache__/core.cpython-311.pyc": b"\0\1"})
    moved = tmp_path / "other" / "toypkg"
    shutil.copytree(pkg, moved)
    assert code_digest(pkg) == code_digest(moved) == base
    (moved / "core.py").write_bytes(b"X = 2\n")
    assert code_digest(moved) != base
    (moved / "core.py").write_bytes(b"X = 1\n")
    _tree(moved, {"sub/new.py": b""})
    assert code_digest(moved) != base
    # module names resolve through the import system; a single-module file works too
    _tree(tmp_path / "src", {"toymod.py": b"Y = 1\n"})
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    assert code_digest("toypkg") != code_digest("toypkg.core")
    assert code_digest("toypkg", "toymod") != code_digest("toypkg")
    assert code_digest("replaylab.training") == code_digest("replaylab.training")
    for name in ("toypkg.core", "toypkg"):  # find_spec of a submodule imports its parent package
        sys.modules.pop(name, None)
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        code_digest("no_such_module")
    with pytest.raises(FileNotFoundError):
        code_digest(tmp_path / "missing")
    with pytest.raises(ValueError):
        code_digest()


def test_describe_changes_names_every_differing_entry():
    old = {"inputs": {"split_train": "1a2b3c4d" * 4, "cache": "ab" * 16}, "config": {"lr": 0.001, "epochs": 5},
           "code": "c0de" * 8, "gone": 1, "views": [0, 1]}  # fmt: skip
    new = {"inputs": {"split_train": "9f8e7d6c" * 4, "cache": "ab" * 16}, "config": {"lr": 0.003, "epochs": 5},
           "code": "beef" * 8, "added": {"crop": "ball"}, "views": [0, 1, 2]}  # fmt: skip
    assert describe_changes(old, new) == [
        "added.crop: <absent> -> ball",
        "code: c0dec0de -> beefbeef",
        "config.lr: 0.001 -> 0.003",
        "gone: 1 -> <absent>",
        "inputs.split_train: 1a2b3c4d -> 9f8e7d6c",
        "views: [0, 1] -> [0, 1, 2]",
    ]
    assert describe_changes(old, old) == []
    assert describe_changes({"a": "x" * 200}, {"a": "y"})[0].endswith("... -> y")
    assert flatten({"a": {"b": {"c": 1}}, "e": {}}) == {"a.b.c": 1, "e": {}}
