"""The restricted unpickler: numpy arrays and plain containers load; anything else is refused, by name,
before it runs."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from replaylab.weights.safe_pickle import UnsafePickleError, array_leaves, load_numpy_pickle


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_arrays_and_containers_round_trip(protocol, tmp_path):
    obj = {
        "params": {"conv": {"kernel": np.arange(24, dtype=np.float32).reshape(2, 3, 4)}, "b": np.float64(2.5) * np.ones(3)},
        "stats": [np.zeros((1, 1, 2), np.float16), (np.array([1, 2], np.int64),)],
        "name": "x",
    }
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    for source in (path, path.read_bytes()):
        back = load_numpy_pickle(source)
        np.testing.assert_array_equal(back["params"]["conv"]["kernel"], obj["params"]["conv"]["kernel"])
        assert back["params"]["conv"]["kernel"].dtype == np.float32
        assert back["stats"][0].shape == (1, 1, 2) and back["stats"][1][0].tolist() == [1, 2] and back["name"] == "x"


class _Opens:
    """Unpickling this calls ``open(marker, "w")``: the marker file appears."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


class _Runs:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_pickle_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "marker"
    payload = pickle.dumps({"params": {"w": np.ones(2)}, "evil": _Opens(str(marker))}, protocol=4)
    pickle.loads(payload)  # control: a plain unpickler runs it
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UnsafePickleError, match=r"refused to load (builtins|io)\.open"):
        load_numpy_pickle(payload)
    assert not marker.exists()

    file = tmp_path / "evil.ckpt"
    file.write_bytes(pickle.dumps([np.zeros(1), _Runs(str(marker))], protocol=2))
    with pytest.raises(UnsafePickleError, match=rf"{file}: refused to load (os|posix)\.system"):
        load_numpy_pickle(file)
    assert not marker.exists()


def test_other_classes_and_persistent_ids_are_refused():
    import collections

    with pytest.raises(UnsafePickleError, match=r"refused to load collections\.OrderedDict"):
        load_numpy_pickle(pickle.dumps(collections.OrderedDict(a=np.ones(1))))
    with pytest.raises(UnsafePickleError, match=r"numpy\.core\.multiarray\.scalar|numpy\._core\.multiarray\.scalar"):
        load_numpy_pickle(pickle.dumps(np.float32(1.0)))  # a numpy scalar is not an array

    class _Persist(pickle.Pickler):
        def persistent_id(self, obj):
            return "ext-1" if isinstance(obj, str) and obj == "external" else None

    import io

    buf = io.BytesIO()
    _Persist(buf, protocol=4).dump({"a": "external"})
    with pytest.raises(UnsafePickleError, match="refused persistent id 'ext-1'"):
        load_numpy_pickle(buf.getvalue())


def test_unreadable_bytes_name_the_file(tmp_path):
    bad = tmp_path / "trunc.ckpt"
    bad.write_bytes(pickle.dumps({"a": np.ones(1000)}, protocol=4)[:200])
    with pytest.raises(pickle.UnpicklingError, match=rf"{bad}: not a readable numpy pickle"):
        load_numpy_pickle(bad)


def test_array_leaves_accepts_numeric_arrays_only():
    tree = {"a": {"k": np.ones((2, 2), np.float32)}, "b": np.arange(3)}
    assert [(p, a.shape) for p, a in array_leaves(tree)] == [(("a", "k"), (2, 2)), (("b",), (3,))]
    with pytest.raises(ValueError, match="a/k: expected a numeric array, got dtype object"):
        array_leaves({"a": {"k": np.array([1, "x"], dtype=object)}})
    with pytest.raises(ValueError, match="a: expected a numpy array, got list"):
        array_leaves({"a": [1.0]})
