import json
import re
from pathlib import Path

import h5py
import pytest
from video_fixtures import make_video

from replaylab import params as P
from replaylab.data.adapters import load_index
from replaylab.data.adapters.ava import load_ava
from replaylab.data.adapters.ava_coco import load_ava_coco
from replaylab.data.cache import build_cache, read_cache_meta, spec_from_params
from replaylab.data.samples import AdapterError, read_csv
from replaylab.data.sources import task_index
from replaylab.data.task_splits import make_splits

LABEL_MAP = """\
label { name: "bend/bow (at the waist)" label_id: 1 label_type: PERSON_MOVEMENT }
label { name: "stand" label_id: 3 label_type: PERSON_MOVEMENT }
label { name: "talk to (e.g., self, a person, a group)" label_id: 8 label_type: PERSON_INTERACTION }
"""
# the same people and actions as AVA CSV rows: video_id, timestamp, x1, y1, x2, y2 (normalised), action_id, person_id
ROWS = [
    ("-5KQ66BBWC4", 902, 0.077, 0.151, 0.283, 0.811, 3, 1),
    ("-5KQ66BBWC4", 902, 0.077, 0.151, 0.283, 0.811, 8, 1),  # same person, second action
    ("-5KQ66BBWC4", 902, 0.332, 0.194, 0.481, 0.891, 1, 0),
    ("-5KQ66BBWC4", 903, 0.300, 0.200, 0.500, 0.900, 3, 0),
    ("2PpxiG0WU18", 1798, 0.500, 0.500, 0.600, 0.700, 8, 4),
]
PROPOSALS = {
    "-5KQ66BBWC4,0902": [[0.08, 0.15, 0.28, 0.81, 0.99], [0.5, 0.5, 0.6, 0.6, 0.2]],
    "-5KQ66BBWC4,0905": [[0.1, 0.1, 0.2, 0.3, 0.95]],  # proposals but no ground truth
    "2PpxiG0WU18,1798": [],
}
SIZES = {"-5KQ66BBWC4": (640, 480), "2PpxiG0WU18": (400, 300), "v": (96, 64), "m1": (96, 64), "m2": (96, 64)}  # (w, h)
CATEGORIES = [{"id": 1, "name": "bend/bow (at the waist)"}, {"id": 3, "name": "stand"},
              {"id": 8, "name": "talk to (e.g., self, a person, a group)"}]  # fmt: skip


def _px(box, size):
    (x1, y1, x2, y2), (w, h) = box, size
    return [round(x1 * w, 2), round(y1 * h, 2), round((x2 - x1) * w, 2), round((y2 - y1) * h, 2)]


def _images(rows, proposals, *, alphaction: bool):
    keys = sorted({(r[0], r[1]) for r in rows} | {(k.rsplit(",")[0], int(k.rsplit(",")[1])) for k in proposals})
    images, ids = [], {}
    for n, (vid, ts) in enumerate(keys):
        w, h = SIZES[vid]
        ids[(vid, ts)] = 100 + n
        if alphaction:  # tools/ava/csv2COCO.py's keys
            images.append({"id": 100 + n, "img_path": f"{vid}/{ts}.jpg", "video_path": f"{vid}/{ts}.mp4", "height": h,
                           "width": w, "movie": vid, "timestamp": ts})  # fmt: skip
        else:  # the custom-data guide's keys
            images.append({"id": 100 + n, "file_name": f"{vid}/{ts}.jpg", "width": w, "height": h})
    return images, ids


def _write_coco(root: Path, rows=ROWS, proposals=PROPOSALS, *, split="train", alphaction=False, clips=True, doc=None) -> Path:
    """The COCO-style layout from AVA rows: one annotation per action (guide form) or one per person with
    ``action_ids`` + ``person_id`` and a person-only category (AlphAction form); empty placeholder clips."""
    images, ids = _images(rows, proposals, alphaction=alphaction)
    anns: list[dict] = []
    if alphaction:
        people: dict = {}
        for vid, ts, *box, act, pid in rows:
            key = (vid, ts, pid)
            if key not in people:
                bbox = _px(box, SIZES[vid])
                people[key] = {"id": len(people), "image_id": ids[(vid, ts)], "category_id": 1, "action_ids": [],
                               "person_id": pid, "bbox": bbox, "area": bbox[2] * bbox[3], "keypoints": [], "iscrowd": 0}  # fmt: skip
                anns.append(people[key])
            people[key]["action_ids"].append(act)
        categories = [{"supercategory": "person", "id": 1, "name": "person"}]
    else:
        for n, (vid, ts, *box, act, _pid) in enumerate(rows):
            bbox = _px(box, SIZES[vid])
            anns.append({"id": n, "image_id": ids[(vid, ts)], "category_id": act, "bbox": bbox, "area": bbox[2] * bbox[3],
                         "iscrowd": 0})  # fmt: skip
        categories = CATEGORIES
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    body = doc if doc is not None else {"images": images, "annotations": anns, "categories": categories}
    (root / "annotations" / f"{split}.json").write_text(json.dumps(body))
    if alphaction:
        (root / "annotations" / "ava_action_list_v2.2.pbtxt").write_text(LABEL_MAP)
    dets = [{"image_id": ids[(k.rsplit(",")[0], int(k.rsplit(",")[1]))], "category_id": 1,
             "bbox": _px(p[:4], SIZES[k.rsplit(",")[0]]), "score": p[4]} for k, ps in proposals.items() for p in ps]  # fmt: skip
    (root / "boxes").mkdir(exist_ok=True)
    (root / "boxes" / f"{split}_person_bbox.json").write_text(json.dumps(dets))
    if clips:
        for vid, ts in {(r[0], r[1]) for r in rows} | {(k.rsplit(",")[0], int(k.rsplit(",")[1])) for k in proposals}:
            (root / "clips" / vid).mkdir(parents=True, exist_ok=True)
            (root / "clips" / vid / f"{ts}.mp4").write_bytes(b"")
    return root


def _people(s, *, person_ids: bool) -> list:
    """A keyframe's people as (person id, box rounded, labels, label_index), in person-id order or else box order."""
    rows = [(p if person_ids else 0, [round(v, 4) for v in b], lab, li)
            for p, b, lab, li in zip(s.meta["person_ids"], s.meta["boxes"], s.meta["labels"], s.meta["label_index"])]  # fmt: skip
    return sorted(rows)


def _same_index(a, b, *, person_ids: bool):
    assert a.classes == b.classes
    assert [s.sample_id for s in a.samples] == [s.sample_id for s in b.samples]
    for x, y in zip(a.samples, b.samples):
        assert (x.group, x.label, x.meta["timestamp"]) == (y.group, y.label, y.meta["timestamp"])
        assert _people(x, person_ids=person_ids) == _people(y, person_ids=person_ids)
        assert len(x.meta["proposals"]) == len(y.meta["proposals"])
        for p, q in zip(x.meta["proposals"], y.meta["proposals"]):
            assert p == pytest.approx(q, abs=2e-5)  # pixel boxes rounded to 0.01 px


@pytest.fixture
def ava(tmp_path, write_ava):
    return write_ava(tmp_path / "ava", ROWS, proposals=PROPOSALS)


@pytest.mark.parametrize("alphaction", [False, True], ids=["guide", "alphaction"])
@pytest.mark.parametrize("unannotated", [False, True])
def test_same_index_as_the_ava_layout(tmp_path, ava, alphaction, unannotated):
    coco = _write_coco(tmp_path / "coco", alphaction=alphaction)
    kw = {"label_map": "ava_action_list_v2.2.pbtxt"} if alphaction else {}
    got = load_ava_coco(coco, keyframe_s=0.5, include_unannotated=unannotated, **kw)
    want = load_ava(ava, include_unannotated=unannotated)
    _same_index(got, want, person_ids=alphaction)  # the guide's form has no person ids: boxes number 0.. in box order
    s = got.samples[0]
    assert s.sources == ("clips/-5KQ66BBWC4/902.mp4",) and s.center_s == 0.5 and got.name == "ava_coco:train"
    if alphaction:  # same order as load_ava: by person id
        assert s.meta["person_ids"] == [0, 1] and s.meta["labels"] == [[1], [3, 8]]
    else:
        assert s.meta["person_ids"] == [0, 1] and s.meta["labels"] == [[3, 8], [1]]
    assert s.meta["boxes"][s.meta["labels"].index([3, 8])] == pytest.approx([0.077, 0.151, 0.283, 0.811], abs=2e-5)


def test_guide_form_merges_one_annotation_per_action(tmp_path):
    rows = [("v", 7, 0.1, 0.1, 0.3, 0.9, a, 0) for a in (8, 1, 3)] + [("v", 7, 0.5, 0.1, 0.7, 0.9, 3, 1)]
    idx = load_ava_coco(_write_coco(tmp_path, rows, {}), keyframe_s=0.0)
    (s,) = idx.samples
    assert s.sample_id == "v,0007" and s.meta["timestamp"] == 7
    assert s.meta["labels"] == [[1, 3, 8], [3]] and s.meta["label_index"] == [[0, 1, 2], [1]]
    assert s.meta["boxes"] == [pytest.approx(b, abs=1e-6) for b in ([0.1, 0.1, 0.3, 0.9], [0.5, 0.1, 0.7, 0.9])]
    assert s.meta["person_ids"] == [0, 1]


def test_proposals_score_filter_and_registry(tmp_path):
    coco = _write_coco(tmp_path)
    idx = load_index("ava_coco", coco, keyframe_s=0.0, min_proposal_score=0.5)
    assert [len(s.meta["proposals"]) for s in idx.samples] == [1, 0, 0]
    assert idx.samples[0].meta["proposals"][0] == pytest.approx([0.08, 0.15, 0.28, 0.81, 0.99], abs=2e-5)
    assert all(s.meta["proposals"] == [] for s in load_ava_coco(coco, keyframe_s=0.0, proposals=False).samples)
    (coco / "boxes" / "train_person_bbox.json").unlink()
    assert len(load_ava_coco(coco, keyframe_s=0.0).samples) == 3  # the person-box file is optional
    with pytest.raises(AdapterError, match="person-box file not found"):
        load_ava_coco(coco, keyframe_s=0.0, proposals=True)


def test_excluded_keyframes_and_split_placeholder(tmp_path):
    coco = _write_coco(tmp_path, split="val", clips=False)
    for vid, ts in {(r[0], r[1]) for r in ROWS}:
        (coco / "clips" / "val" / vid).mkdir(parents=True, exist_ok=True)
        (coco / "clips" / "val" / vid / f"{ts}.mp4").write_bytes(b"")
    (coco / "annotations" / "excluded.csv").write_text("-5KQ66BBWC4,903\n")
    idx = load_ava_coco(coco, split="val", clips_dir="clips/{split}", excluded="excluded.csv", keyframe_s=0.0)
    assert [s.sample_id for s in idx.samples] == ["-5KQ66BBWC4,0902", "2PpxiG0WU18,1798"]
    assert idx.samples[0].sources == ("clips/val/-5KQ66BBWC4/902.mp4",)


def test_keyframe_at_the_middle_frame_of_real_clips(tmp_path):
    rows = [("v", 10, 0.1, 0.1, 0.3, 0.9, 3, 0), ("v", 11, 0.1, 0.1, 0.3, 0.9, 3, 0)]
    coco = _write_coco(tmp_path, rows, {}, clips=False)
    (coco / "clips" / "v").mkdir(parents=True)
    make_video(coco / "clips" / "v" / "10.mp4", fps=25, n_frames=50)  # 2 s: keyframe = frame 25 at 1.0 s
    make_video(coco / "clips" / "v" / "11.mp4", fps=25, n_frames=25)  # 1 s, odd: frame 12 at 0.48 s
    idx = load_ava_coco(coco)
    assert [s.center_s for s in idx.samples] == pytest.approx([1.0, 0.48])
    assert [s.center_s for s in load_ava_coco(coco, keyframe_s=0.0).samples] == [0.0, 0.0]  # AlphAction's clips
    (coco / "clips" / "v" / "11.mp4").write_bytes(b"not a video")
    with pytest.raises(AdapterError, match=r"images\[1\].*cannot read the clip.*set keyframe_s"):
        load_ava_coco(coco)


# ---- bad input names the file and the entry
def _doc(**changes) -> dict:
    images, ids = _images(ROWS, {}, alphaction=False)
    anns = [{"id": n, "image_id": ids[(r[0], r[1])], "category_id": r[6], "bbox": _px(r[2:6], SIZES[r[0]])}
            for n, r in enumerate(ROWS)]  # fmt: skip
    doc = {"images": images, "annotations": anns, "categories": CATEGORIES}
    for path, value in changes.items():
        key, n, field = path.split(".")
        doc[key][int(n)][field] = value
    return doc


def _error(root, **kw) -> str:
    with pytest.raises(AdapterError) as e:
        load_ava_coco(root, keyframe_s=0.0, **kw)
    return str(e.value)


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"annotations.2.image_id": 999}, r"train\.json, annotations\[2\] \(id 2\): image_id 999 is not an image"),
        ({"annotations.1.category_id": 79}, r"annotations\[1\] \(id 1\): action id 79 is not in the categories"),
        ({"annotations.1.bbox": [10, 10, 0, 20]}, r"annotations\[1\] .*width or height <= 0"),
        ({"annotations.1.bbox": [10, 10, 20, -1]}, r"annotations\[1\] .*width or height <= 0"),
        ({"annotations.3.bbox": [600, 10, 50, 20]}, r"annotations\[3\] .*outside the 640x480 image"),
        ({"annotations.3.bbox": [-5, 10, 50, 20]}, r"annotations\[3\] .*outside the 640x480 image"),
        ({"annotations.0.bbox": [1, 2, 3]}, r"annotations\[0\] .*not \[x, y, w, h\]"),
        ({"images.1.width": 0}, r"images\[1\] \(id 101\): width / height"),
        ({"images.1.file_name": "-5KQ66BBWC4/keyframe.jpg"}, r"images\[1\] .*timestamp 'keyframe' is not a whole number"),
        ({"images.1.file_name": "903.jpg"}, r"images\[1\] .*no video id"),
        ({"images.1.id": 100}, r"images\[1\] \(id 100\): duplicate image id"),
        ({"annotations.1.action_ids": [3, 99]}, r"annotations\[1\] .*action id 99 .*need label_map="),
        ({"annotations.1.person_id": 4}, r"annotations\[1\] .*person_id is on some annotations"),
    ],
)
def test_bad_entries(tmp_path, changes, expected):
    root = _write_coco(tmp_path, ROWS, {}, doc=_doc(**changes))
    msg = _error(root)
    assert re.search(expected, msg), msg


def test_bad_files(tmp_path):
    root = _write_coco(tmp_path)
    assert "val.json: annotation file not found" in _error(root, split="val")
    (root / "annotations" / "train.json").write_text('{"images": [')
    assert "train.json: not valid JSON" in _error(root)
    (root / "annotations" / "train.json").write_text("[]")
    assert "COCO-style object" in _error(root)
    _write_coco(root)
    (root / "boxes" / "train_person_bbox.json").write_text(json.dumps([{"image_id": 100, "bbox": [1, 1, 5, 5], "score": 1},
                                                                      {"image_id": 7, "bbox": [1, 1, 5, 5], "score": 1}]))  # fmt: skip
    assert "train_person_bbox.json, entry 1: image_id 7 is not an image" in _error(root)
    (root / "boxes" / "train_person_bbox.json").write_text(json.dumps([{"image_id": 100, "bbox": [1, 1, 5, 500], "score": 1}]))
    assert "train_person_bbox.json, entry 0: bbox" in _error(root)
    _write_coco(root)
    (root / "clips" / "2PpxiG0WU18" / "1798.mp4").unlink()
    assert "clip '2PpxiG0WU18/1798.mp4' not found" in _error(root)
    (root / "annotations" / "train.json").write_text(json.dumps({"images": [], "annotations": [], "categories": CATEGORIES}))
    assert "no annotated keyframes" in _error(root, proposals=False)


def test_low_score_proposal_is_still_checked_and_keyframe_s_range(tmp_path):
    root = _write_coco(tmp_path)
    (root / "boxes" / "train_person_bbox.json").write_text(json.dumps([{"image_id": 100, "bbox": [1, 1, 0, 5], "score": 0.01}]))
    assert "entry 0: bbox" in _error(root, min_proposal_score=0.5)
    with pytest.raises(AdapterError, match="keyframe_s must be"):
        load_ava_coco(root, keyframe_s=-1.0)


def test_alphaction_form_needs_the_label_map(tmp_path):
    root = _write_coco(tmp_path, alphaction=True)
    assert "action id 3 is not in the categories" in _error(root) and "label_map=" in _error(root)


def test_box_rounding_at_the_edge_is_clipped(tmp_path):
    rows = [("-5KQ66BBWC4", 902, 0.5, 0.5, 1.0, 1.0, 3, 0)]
    doc = _doc()
    doc["annotations"] = [{"id": 0, "image_id": 100, "category_id": 3, "bbox": [320.004, 240.0, 320.004, 240.5]}]
    idx = load_ava_coco(_write_coco(tmp_path, rows, {}, doc=doc), keyframe_s=0.0)
    assert idx.samples[0].meta["boxes"] == [[pytest.approx(0.500006), 0.5, 1.0, 1.0]]


# ---- paths stay inside the dataset root
@pytest.mark.parametrize(
    "field, value",
    [("file_name", "../outside/902.jpg"), ("file_name", "../../../../tmp/outside/902.jpg"), ("video_path", "/tmp/outside.mp4"),
     ("video_path", "../../outside.mp4")],
)  # fmt: skip
def test_clip_outside_the_root(tmp_path, field, value):
    (tmp_path / "outside.mp4").write_bytes(b"")
    root = _write_coco(tmp_path / "coco", ROWS, {}, doc=_doc(**{f"images.0.{field}": value}))
    with pytest.raises(AdapterError, match=r"train\.json, images\[0\] \(id 100\): clip .*(outside the dataset root|is absolute)"):
        load_ava_coco(root, keyframe_s=0.0)


def test_clip_symlink_out_of_the_root(tmp_path):
    (tmp_path / "outside.mp4").write_bytes(b"")
    root = _write_coco(tmp_path / "coco")
    clip = root / "clips" / "-5KQ66BBWC4" / "902.mp4"
    clip.unlink()
    clip.symlink_to(tmp_path / "outside.mp4")
    with pytest.raises(AdapterError, match=r"images\[0\] .* leads through a symlink to .*outside.mp4"):
        load_ava_coco(root, keyframe_s=0.0)


def test_params_schema(tmp_path):
    src = {"format": "ava_coco", "root": "x", "clips_dir": "clips/{split}", "keyframe_s": 0.0, "label_map": "m.pbtxt"}
    cfg = P.validate({"cache_clips": {"actions": {"source": src}}}).cache_clips.actions
    assert type(cfg.source).__name__ == "AvaCocoSource" and cfg.source.splits == ["train", "val"]
    with pytest.raises(P.ParamsError, match="timestamp_offset"):  # an `ava` key is refused for ava_coco
        P.validate({"cache_clips": {"actions": {"source": {**src, "timestamp_offset": 900.0}}}})
    assert type(P.validate({}).cache_clips.actions.source).__name__ == "AvaSource"  # the default stays AVA


# ---- params -> index -> clip cache -> official split, as cache_clips@actions and split@actions run them
def test_cache_and_official_split_end_to_end(tmp_path):
    train = [("m1", 902, 0.1, 0.2, 0.4, 0.9, 3, 0), ("m1", 902, 0.1, 0.2, 0.4, 0.9, 8, 0), ("m1", 903, 0.5, 0.2, 0.8, 0.9, 1, 1)]
    val = [("m2", 902, 0.2, 0.1, 0.6, 0.8, 8, 0)]
    root = tmp_path / "coco"
    _write_coco(root, train, {"m1,0902": [[0.1, 0.2, 0.4, 0.9, 0.9]]}, split="train", clips=False)
    _write_coco(root, val, {}, split="val", clips=False)
    for vid, ts in [("m1", 902), ("m1", 903), ("m2", 902)]:
        (root / "clips" / vid).mkdir(parents=True, exist_ok=True)
        make_video(root / "clips" / vid / f"{ts}.mp4", fps=25, n_frames=25)
    data = {"cache_clips": {"actions": {"source": {"format": "ava_coco", "root": str(root)}, "frames": 4, "stride": 2,
                                        "size": [16, 24]}}}  # fmt: skip
    cfg = P.validate(data).cache_clips.actions
    spec = spec_from_params(cfg)
    index = task_index("actions", cfg, seed=0, margin_s=spec.half_window_s())
    assert [(s.sample_id, s.meta["official_split"]) for s in index.samples] == [
        ("train/m1,0902", "train"), ("train/m1,0903", "train"), ("val/m2,0902", "test")]  # fmt: skip
    out = tmp_path / "cache"
    summary = build_cache(index, spec, out_h5=out / "actions.h5", out_index=out / "actions_index.csv",
                          work_dir=out / "work", workers=1, progress=False, task="actions")  # fmt: skip
    assert summary["clips"] == 3
    with h5py.File(out / "actions.h5", "r") as f:
        assert f["clips"].shape == (3, 4, 16, 24, 3)
    back = read_csv(out / "actions_index.csv", classes=read_cache_meta(out / "actions.h5")["classes"])
    assert back.samples[0].meta["labels"] == [[3, 8]] and back.samples[0].meta["label_index"] == [[1, 2]]
    assert back.samples[0].meta["proposals"] == [pytest.approx([0.1, 0.2, 0.4, 0.9, 0.9], abs=1e-6)]
    parts = make_splits(back, strategy="official", fractions={"train": 0.7, "val": 0.0, "test": 0.3}, seed=0, task="actions")
    assert [len(parts[k]) for k in ("train", "val", "test")] == [2, 0, 1]
