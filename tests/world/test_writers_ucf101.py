from spec_readers import probe_video, read_ucf_lists

from replaylab.world.writers.ucf101 import split_lists


def test_lists_parse_and_groups_do_not_leak(tiny_world):
    root, summary = tiny_world
    classes, train, test = read_ucf_lists(root / "ucf101")
    assert classes == {1: "Header", 2: "Kick", 3: "ThrowIn"}
    assert len(train) + len(test) == summary["recognition_clips"] == 3 * 3 * 2
    test_groups = {p.split("_g")[1][:2] for p in test}
    train_groups = {p.split("_g")[1][:2] for p, _ in train}
    assert test_groups == {"01"} and not test_groups & train_groups
    for path, idx in train:
        assert classes[idx] == path.split("/")[0]
    n, fps, w, h, _ = probe_video(root / "ucf101" / train[0][0])
    assert (n, fps, w, h) == (20, 25.0, 96, 72)


def test_split_lists_format():
    ind, train, test = split_lists(["A", "B"], 3, 1, 1)
    assert ind == ["1 A", "2 B"]
    assert "A/v_A_g02_c01.mp4 1" in train and "B/v_B_g01_c01.mp4" in test
