from spec_readers import probe_video, read_ava_csv, read_ava_proposals, read_pbtxt_labelmap

from replaylab.world.actions import PERSON_ACTIONS


def test_ava_csv_labelmap_and_proposals(tiny_world):
    root, summary = tiny_world
    ann = root / "ava" / "annotations"
    labels = read_pbtxt_labelmap(ann / "ava_action_list_v2.2.pbtxt")
    assert labels == {i + 1: name for i, (name, _) in enumerate(PERSON_ACTIONS)}
    train = read_ava_csv(ann / "ava_train_v2.2.csv")
    val = read_ava_csv(ann / "ava_val_v2.2.csv")
    assert train and val
    assert {r[0] for r in train} == {"match_000"} and {r[0] for r in val} == {"match_001"}  # grouped by video
    assert all(r[3] in labels for r in train + val)
    assert len(train) == summary["ava_train_rows"]
    # multi-label: some person has more than one action at a keyframe
    per_person = {}
    for vid, ts, _box, action, person in train:
        per_person.setdefault((vid, ts, person), set()).add(action)
    assert max(len(v) for v in per_person.values()) >= 2
    props = read_ava_proposals(ann / "ava_dense_proposals_train.FAIR.recall_93.9.pkl")
    assert {k.split(",")[0] for k in props} == {"match_000"}
    assert all(0.0 <= v[:, :4].min() and v[:, :4].max() <= 1.0 and (v[:, 4] <= 1).all() for v in props.values())
    ts = sorted(int(k.split(",")[1]) for k in props)
    assert ts == sorted({r[1] for r in train})  # one proposal entry per annotated keyframe
    assert (ann / "ava_train_excluded_timestamps_v2.2.csv").exists()


def test_ava_videos_are_the_match_videos(tiny_world):
    root, _ = tiny_world
    a = (root / "ava" / "videos" / "match_000.mp4").read_bytes()
    b = (root / "matches" / "match_000" / "video.mp4").read_bytes()
    assert a == b
    n, fps, w, h, _ = probe_video(root / "ava" / "videos" / "match_000.mp4")
    assert (n, fps, w, h) == (24 * 25, 25.0, 320, 180)
