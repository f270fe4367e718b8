import json

import pytest

from replaylab.io import atomic_path, replace_dir, write_csv, write_json


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_csv_and_json(tmp_path):
    write_csv(tmp_path / "a.csv", ("x", "y"), [(1, 2), (3, 4)])
    assert (tmp_path / "a.csv").read_text().splitlines() == ["x,y", "1,2", "3,4"]
    write_json(tmp_path / "m.json", {"a": 1})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1}


def test_replace_dir_swaps_only_complete_directory(tmp_path):
    final = tmp_path / "final"
    final.mkdir()
    (final / "old").write_text("1")
    work = tmp_path / "work"
    work.mkdir()
    (work / "new").write_text("2")
    replace_dir(work, final)
    assert sorted(p.name for p in final.iterdir()) == ["new"]
    assert not work.exists()
