"""Paths read from data files stay inside their dataset root: ``..``, absolute paths and symlinks."""

import os

import pytest

from replaylab.data.paths import inside_root
from replaylab.data.samples import AdapterError


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "dataset"
    (r / "clips").mkdir(parents=True)
    (r / "clips" / "a.npy").write_bytes(b"")
    (tmp_path / "secret.txt").write_text("outside")
    return r


def test_relative_paths_inside_pass(root):
    assert inside_root(root, "clips/a.npy", where="x.csv, row 2") == root / "clips" / "a.npy"
    assert inside_root(root, "clips/../clips/a.npy", where="x.csv, row 2") == root / "clips/../clips/a.npy"
    assert inside_root(root, "clips/not_yet_there.npy", where="x.csv, row 2") == root / "clips" / "not_yet_there.npy"


@pytest.mark.parametrize("rel", ["../secret.txt", "clips/../../secret.txt", "../../../../etc/passwd", "..\\secret.txt"])
def test_dotdot_out_of_root(root, rel):
    if "\\" in rel and os.sep == "/":
        rel = rel.replace("\\", "/")
    with pytest.raises(AdapterError, match=r"x\.csv, row 3: clip .* leads to .*outside the dataset root"):
        inside_root(root, rel, where="x.csv, row 3", what="clip")


@pytest.mark.parametrize("rel", ["/etc/passwd", "C:\\Windows\\win.ini", "\\\\server\\share\\f"])
def test_absolute_paths_refused(root, rel):
    with pytest.raises(AdapterError, match=r"x\.csv, row 4: path .* is absolute"):
        inside_root(root, rel, where="x.csv, row 4")


def test_symlinks(root, tmp_path):
    (root / "clips" / "out.npy").symlink_to(tmp_path / "secret.txt")
    (root / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    (root / "clips" / "in.npy").symlink_to(root / "clips" / "a.npy")
    with pytest.raises(AdapterError, match=r"clips/out\.npy' leads through a symlink to .*secret\.txt, outside"):
        inside_root(root, "clips/out.npy", where="x.csv, row 5")
    with pytest.raises(AdapterError, match="outside the dataset root"):
        inside_root(root, "linkdir/secret.txt", where="x.csv, row 6")
    assert inside_root(root, "clips/in.npy", where="x.csv, row 7") == root / "clips" / "in.npy"


def test_symlinked_root_itself_is_fine(root, tmp_path):
    (tmp_path / "alias").symlink_to(root, target_is_directory=True)
    assert inside_root(tmp_path / "alias", "clips/a.npy", where="w") == tmp_path / "alias" / "clips" / "a.npy"


def test_empty_and_nul(root):
    with pytest.raises(AdapterError, match="empty or holds a NUL"):
        inside_root(root, "", where="w")
    with pytest.raises(AdapterError, match="empty or holds a NUL"):
        inside_root(root, "a\x00b", where="w")
