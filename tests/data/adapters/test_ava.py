import os
import pickle

import numpy as np
import pytest
from spec_readers import read_ava_csv, read_ava_proposals, read_pbtxt_labelmap

from replaylab.data.adapters import load_index
from replaylab.data.adapters.ava import load_ava, read_label_map, read_proposals
from replaylab.data.samples import AdapterError

# real-style rows: timestamps are seconds in the movie (keyframes 902..1798), three decimals, no header
ROWS = [
    ("-5KQ66BBWC4", 902, 0.077, 0.151, 0.283, 0.811, 3, 1),
    ("-5KQ66BBWC4", 902, 0.077, 0.151, 0.283, 0.811, 8, 1),  # same person, second action: one box, two labels
    ("-5KQ66BBWC4", 902, 0.332, 0.194, 0.481, 0.891, 1, 0),
    ("-5KQ66BBWC4", 903, 0.300, 0.200, 0.500, 0.900, 3, 0),
    ("-5KQ66BBWC4", 904, 0.300, 0.200, 0.500, 0.900, 3, 0),  # excluded below
    ("2PpxiG0WU18", 1798, 0.500, 0.500, 0.600, 0.700, 8, 4),
]
PROPOSALS = {
    "-5KQ66BBWC4,0902": [[0.08, 0.15, 0.28, 0.81, 0.99], [0.5, 0.5, 0.6, 0.6, 0.2]],
    "-5KQ66BBWC4,0905": [[0.1, 0.1, 0.2, 0.3, 0.95]],  # a keyframe with proposals but no ground truth
    "2PpxiG0WU18,1798": [],
}


@pytest.fixture
def ava(tmp_path, write_ava):
    return write_ava(tmp_path / "ava", ROWS, excluded=[("-5KQ66BBWC4", 904)], proposals=PROPOSALS,
                     videos={"-5KQ66BBWC4": ".mkv", "2PpxiG0WU18": ".webm"})  # fmt: skip


def test_keyframes_boxes_labels(ava):
    idx = load_ava(ava, timestamp_offset=900)
    assert idx.classes == ["bend/bow (at the waist)", "stand", "talk to (e.g., self, a person, a group)"]
    assert [s.sample_id for s in idx.samples] == ["-5KQ66BBWC4,0902", "-5KQ66BBWC4,0903", "2PpxiG0WU18,1798"]
    s = idx.samples[0]
    assert s.sources == ("videos/-5KQ66BBWC4.mkv",) and s.group == "-5KQ66BBWC4" and s.label == -1
    assert s.center_s == pytest.approx(2.0)
    assert s.meta["timestamp"] == 902
    assert s.meta["person_ids"] == [0, 1]
    assert s.meta["boxes"] == [[0.332, 0.194, 0.481, 0.891], [0.077, 0.151, 0.283, 0.811]]
    assert s.meta["labels"] == [[1], [3, 8]]  # raw AVA ids, merged per person
    assert s.meta["label_index"] == [[0], [1, 2]]  # the same as positions in idx.classes
    assert idx.samples[2].sources == ("videos/2PpxiG0WU18.webm",) and idx.samples[2].center_s == pytest.approx(898.0)


def test_proposals_and_score_filter(ava):
    idx = load_ava(ava, timestamp_offset=900)
    props = idx.samples[0].meta["proposals"]
    assert len(props) == 2 and props[0] == pytest.approx([0.08, 0.15, 0.28, 0.81, 0.99], abs=1e-6)
    assert idx.samples[1].meta["proposals"] == [] and idx.samples[2].meta["proposals"] == []
    high = load_ava(ava, timestamp_offset=900, min_proposal_score=0.5)
    assert len(high.samples[0].meta["proposals"]) == 1
    none = load_ava(ava, timestamp_offset=900, proposals=False)
    assert all(s.meta["proposals"] == [] for s in none.samples)


def test_excluded_and_unannotated_keyframes(ava):
    ids = [s.sample_id for s in load_ava(ava, timestamp_offset=900).samples]
    assert "-5KQ66BBWC4,0904" not in ids and "-5KQ66BBWC4,0905" not in ids
    idx = load_ava(ava, timestamp_offset=900, include_unannotated=True)
    empty = {s.sample_id: s for s in idx.samples}["-5KQ66BBWC4,0905"]
    assert empty.meta["boxes"] == [] and empty.meta["labels"] == [] and empty.meta["person_ids"] == []
    assert len(empty.meta["proposals"]) == 1 and empty.center_s == pytest.approx(5.0)
    assert len(idx) == 4


def test_fps_gives_frame_and_registry(ava):
    idx = load_index("ava", ava, split="train", timestamp_offset=900, fps=30)
    assert [s.meta["frame"] for s in idx.samples] == [60, 90, 26940]


def test_label_map_forms(tmp_path):
    (tmp_path / "item.pbtxt").write_text('# older form\nitem {\n  name: "person"\n  id: 1\n  display_name: "Person"\n}\n'
                                         'item { name: "ball" id: 37 }\n')  # fmt: skip
    assert read_label_map(tmp_path / "item.pbtxt") == {1: "person", 37: "ball"}
    (tmp_path / "bad.pbtxt").write_text('label {\n  name: "stand"\n}\n')
    with pytest.raises(AdapterError, match="bad.pbtxt, line 1"):
        read_label_map(tmp_path / "bad.pbtxt")


def test_proposals_reader(tmp_path, write_ava):
    root = write_ava(tmp_path, ROWS[:1], proposals={"-5KQ66BBWC4,0902": [[0.1, 0.1, 0.2, 0.2, 0.9]]})
    props = read_proposals(root / "annotations" / "ava_dense_proposals_train.FAIR.recall_93.9.pkl")
    assert list(props) == ["-5KQ66BBWC4,0902"] and props["-5KQ66BBWC4,0902"].shape == (1, 5)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_proposals_pickle_protocols(tmp_path, protocol):
    arrays = {"v,0902": np.array([[0.1, 0.1, 0.2, 0.2, 0.9]], np.float32), "v,0903": np.zeros((0, 5)),
              "v,0904": [[0.1, 0.2, 0.3, 0.4]]}  # fmt: skip
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=protocol))
    props = read_proposals(path)
    assert props["v,0902"].shape == (1, 5) and props["v,0903"].shape == (0, 5) and props["v,0904"][0, 4] == 1.0


class _Payload:
    """Unpickling this creates ``marker`` (a stand-in for arbitrary code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class _Evil(dict):
    pass


@pytest.mark.parametrize(
    "payload, refused",
    [
        (lambda m: _Payload(m), r"refused to load (builtins|io|_io)\.open"),
        (lambda m: {"v,0902": _Payload(m)}, r"refused to load (builtins|io|_io)\.open"),
        (lambda m: (os.system, (f"touch {m}",)), r"refused to load (posix|os|nt)\.system"),
        (lambda m: _Evil(), r"refused to load .*_Evil"),
    ],
)
def test_malicious_proposals_pickle_runs_no_code(tmp_path, write_ava, payload, refused):
    marker = tmp_path / "pwned"
    root = write_ava(tmp_path / "ava", ROWS[:1])
    path = root / "annotations" / "ava_dense_proposals_train.FAIR.recall_93.9.pkl"
    obj = payload(marker)
    if isinstance(obj, tuple):  # a raw (callable, args) reduce
        data = pickle.dumps(_Reduce(*obj))
    else:
        data = pickle.dumps(obj)
    path.write_bytes(data)
    with pytest.raises(AdapterError, match=rf"{path.name}: cannot read the proposals pickle: {refused}"):
        read_proposals(path)
    with pytest.raises(AdapterError, match=refused):
        load_ava(root)
    assert not marker.exists()


class _Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


# ---- errors name the CSV row
def _error(root, **kw) -> str:
    with pytest.raises(AdapterError) as e:
        load_ava(root, **kw)
    return str(e.value)


def test_unknown_action_id(tmp_path, write_ava):
    root = write_ava(tmp_path, [*ROWS[:2], ("-5KQ66BBWC4", 902, 0.1, 0.1, 0.2, 0.2, 79, 2)])
    msg = _error(root)
    assert "ava_train_v2.2.csv, row 3" in msg and "79" in msg


@pytest.mark.parametrize(
    "box", [(0.1, 0.1, 1.2, 0.5), (-0.01, 0.1, 0.2, 0.5), (0.4, 0.1, 0.4, 0.5), (0.5, 0.1, 0.3, 0.5), (0.1, 0.6, 0.3, 0.5)]
)
def test_bad_boxes(tmp_path, write_ava, box):
    root = write_ava(tmp_path, [ROWS[0], ("-5KQ66BBWC4", 903, *box, 3, 0)])
    assert "row 2" in _error(root)


def test_empty_csv(tmp_path, write_ava):
    root = write_ava(tmp_path, [], videos={})
    assert "no annotated keyframes" in _error(root)


def test_everything_excluded(tmp_path, write_ava):
    root = write_ava(tmp_path, ROWS[:1], excluded=[("-5KQ66BBWC4", 902)])
    assert "no annotated keyframes" in _error(root)


def test_missing_video(tmp_path, write_ava):
    root = write_ava(tmp_path, ROWS, videos={"-5KQ66BBWC4": ".mp4"})
    assert "2PpxiG0WU18" in _error(root)


def test_wrong_column_count_and_timestamp(tmp_path, write_ava):
    root = write_ava(tmp_path, [ROWS[0], ("-5KQ66BBWC4", 903, 0.1, 0.1, 0.2, 0.2, 3)])
    assert "row 2" in _error(root) and "8 columns" in _error(root)
    root = write_ava(tmp_path, [ROWS[0], ("-5KQ66BBWC4", "903.5", 0.1, 0.1, 0.2, 0.2, 3, 0)])
    assert "row 2" in _error(root)


def test_offset_past_the_keyframe(ava):
    assert "timestamp_offset" in _error(ava, timestamp_offset=1000)


def test_missing_label_map_and_csv(tmp_path, write_ava):
    root = write_ava(tmp_path, ROWS[:1])
    (root / "annotations" / "ava_action_list_v2.2.pbtxt").unlink()
    assert "label map" in _error(root)
    assert "ava_val_v2.2.csv" in _error(root, split="val")


# ---- the synthetic world's AVA layout
def test_synthetic_world(tiny_world):
    root, _ = tiny_world
    ava = root / "ava"
    names = read_pbtxt_labelmap(ava / "annotations" / "ava_action_list_v2.2.pbtxt")
    for split in ("train", "val"):
        rows = read_ava_csv(ava / "annotations" / f"ava_{split}_v2.2.csv")
        props = read_ava_proposals(ava / "annotations" / f"ava_dense_proposals_{split}.FAIR.recall_93.9.pkl")
        idx = load_ava(ava, split=split)
        assert idx.classes == [names[i] for i in sorted(names)]
        assert len(idx) == len({(r[0], r[1]) for r in rows})
        assert sum(len(labels) for s in idx.samples for labels in s.meta["labels"]) == len(
            {(r[0], r[1], r[4], r[3]) for r in rows}
        )
        assert sum(len(s.meta["proposals"]) for s in idx.samples) == sum(
            len(props[k]) for k in props if k in {s.sample_id for s in idx.samples}
        )
        for s in idx.samples:
            assert (idx.root / s.sources[0]).is_file() and s.group == s.sources[0].split("/")[-1].rsplit(".", 1)[0]
            assert s.center_s == s.meta["timestamp"] and len(s.meta["boxes"]) == len(s.meta["labels"]) == len(
                s.meta["person_ids"]
            )


# ---- paths stay inside the dataset root
@pytest.mark.parametrize("vid", ["../outside", "../../../../tmp/outside", "/tmp/outside"])
def test_video_id_outside_the_root(tmp_path, write_ava, vid):
    root = write_ava(tmp_path / "ava", [*ROWS[:1], (vid, 902, 0.1, 0.1, 0.2, 0.2, 3, 0)], videos={ROWS[0][0]: ".mp4"})
    (tmp_path / "outside.mp4").write_bytes(b"")
    with pytest.raises(
        AdapterError, match=rf"ava_train_v2\.2\.csv, row 2: video_id '{vid}': video .*(outside the dataset root|is absolute)"
    ):
        load_ava(root)


def test_video_symlink_out_of_the_root(tmp_path, write_ava):
    (tmp_path / "outside.mp4").write_bytes(b"")
    root = write_ava(tmp_path / "ava", ROWS[:1], videos={})
    (root / "videos" / f"{ROWS[0][0]}.mp4").symlink_to(tmp_path / "outside.mp4")
    with pytest.raises(AdapterError, match="row 1: video_id .* leads through a symlink to .*outside.mp4"):
        load_ava(root)
