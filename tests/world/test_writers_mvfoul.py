import numpy as np
from spec_readers import probe_video, read_mvfoul_split


def test_annotations_follow_the_official_format(tiny_world):
    root, summary = tiny_world
    total = 0
    for split, n in (("train", 8), ("valid", 3), ("test", 3)):
        doc = read_mvfoul_split(root / "mvfoul" / split)
        assert doc["Set"] == split and doc["Number of actions"] == n
        assert sorted(doc["Actions"], key=int) == [str(i) for i in range(n)]
        total += n
    assert sum(summary["foul_actions"].values()) == total


def test_every_view_is_a_decodable_h264_clip_of_the_configured_size(tiny_world):
    root, _ = tiny_world
    doc = read_mvfoul_split(root / "mvfoul" / "train")
    action = doc["Actions"]["0"]
    assert len(action["Clips"]) == 4
    types = {c["Camera type"] for c in action["Clips"]}
    assert {"Main camera center", "Close-up player or field referee", "Main behind the goal"} <= types
    for v in range(4):
        n, fps, w, h, keys = probe_video(root / "mvfoul" / "train" / "action_0" / f"clip_{v}.mp4")
        assert (n, fps, w, h) == (36, 25.0, 128, 72)
        assert np.all(np.diff(keys) <= 12) and keys[0] == 0  # short keyframe interval


def test_labels_are_plausible_and_ambiguous_ones_appear(tiny_world):
    root, _ = tiny_world
    actions = [a for s in ("train", "valid", "test") for a in read_mvfoul_split(root / "mvfoul" / s)["Actions"].values()]
    for a in actions:
        if a["Action class"] == "Dive":
            assert a["Contact"] == "Without contact" and a["Severity"] in ("", "2.0", "4.0")
        if a["Offence"] == "No offence":
            assert a["Severity"] in ("", "2.0", "4.0")
    # ambiguous_fraction is 0.2 in the tiny params: at least one of the 14 actions carries an ambiguous label
    assert any(
        a["Action class"] == "Dont know"
        or a["Offence"] == "Between"
        or a["Severity"] in ("2.0", "4.0")
        or (a["Severity"] == "" and a["Offence"] == "Offence" and a["Action class"] != "Dive")
        for a in actions
    )
