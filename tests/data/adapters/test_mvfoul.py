import json

import pytest
from spec_readers import read_mvfoul_split

from replaylab.data.adapters import ADAPTERS, load_index
from replaylab.data.adapters.mvfoul import (
    ACTION_CLASSES,
    OFFENCE_SEVERITY_CLASSES,
    game_of,
    load_mvfoul,
    load_mvfoul_actions,
    mvfoul_skipped,
    official_labels,
)
from replaylab.data.samples import AdapterError

CHELSEA_BURNLEY = "england_epl\\2014-2015\\2015-02-21 - 18-00 Chelsea 1 - 1 Burnley"  # the default UrlLocal of mvfoul_action
OTHER_GAME = "spain_laliga\\2016-2017\\2017-04-08 - 21-45 Malaga 2 - 0 Barcelona"


# ---- the official label rules (label2vectormerge, SoccerNet/sn-mvfoul "VARS model/data_loader.py")
@pytest.mark.parametrize(
    "action_class, offence, severity, expected",
    [
        ("Tackling", "Offence", "1.0", (0, 1)),
        ("Standing tackling", "Offence", "3.0", (1, 2)),
        ("High leg", "Offence", "5.0", (2, 3)),
        ("Holding", "No offence", "", (3, 0)),
        ("Pushing", "No Offence", "4.0", (4, 0)),  # the capitalised spelling, any severity
        ("Elbowing", "No offence", "5.0", (5, 0)),  # no offence wins over the severity
        ("Challenge", "No offence", "2.0", (6, 0)),
        ("Dive", "", "", (7, 1)),  # a Dive without offence / severity counts as Offence + 1.0
        ("Dive", "Between", "2.0", (7, 1)),
        ("Dive", "Offence", "4.0", (7, 1)),
        ("Dive", "Offence", "3.0", (7, 2)),  # an annotated severity stays
        ("Dive", "No offence", "", (7, 0)),
        ("Dont know", "Offence", "1.0", None),
        ("", "Offence", "3.0", None),
        ("Challenge", "Between", "3.0", None),
        ("Challenge", "", "1.0", None),
        ("Tackling", "Offence", "", None),
        ("Tackling", "Offence", "2.0", None),
        ("Holding", "Offence", "4.0", None),
    ],
)
def test_official_rules(action_class, offence, severity, expected):
    assert official_labels(action_class, offence, severity) == expected


def test_official_labels_rejects_unknown_strings():
    with pytest.raises(AdapterError, match="Action class"):
        official_labels("Slide tackle", "Offence", "1.0")
    with pytest.raises(AdapterError, match="Severity"):
        official_labels("Tackling", "Offence", "6.0")


def test_constants():
    assert ACTION_CLASSES == ["Tackling", "Standing tackling", "High leg", "Holding", "Pushing", "Elbowing", "Challenge", "Dive"]
    assert OFFENCE_SEVERITY_CLASSES == ["No offence", "Offence + 1.0", "Offence + 3.0", "Offence + 5.0"]


# ---- indexing a split directory
@pytest.fixture
def split(tmp_path, mvfoul_action, write_mvfoul):
    actions = {
        0: mvfoul_action(0, "High leg", "Offence", "5.0", views=3),
        1: mvfoul_action(1, "Dont know", "Offence", "1.0"),
        2: mvfoul_action(2, "Holding", "No offence", "", views=4, url_local=OTHER_GAME),
        3: mvfoul_action(3, "Dive", "", "", views=2),
        10: mvfoul_action(10, "Tackling", "Offence", "2.0"),
        11: mvfoul_action(11, "Pushing", "Between", "3.0"),
    }
    # the replay views listed out of file order: the index follows "Clips"
    actions[2]["Clips"] = [actions[2]["Clips"][i] for i in (0, 3, 1, 2)]
    return write_mvfoul(tmp_path / "Train", actions, "train")


def test_index_labels_sources_and_meta(split):
    idx = load_mvfoul(split)
    assert idx.classes == ACTION_CLASSES and idx.root == split
    assert [s.sample_id for s in idx.samples] == ["action_0", "action_2", "action_3"]
    s0, s2, s3 = idx.samples
    assert s0.label == 2 and s0.center_s == pytest.approx(3.0) and s0.point is None
    assert s0.sources == ("action_0/clip_0.mp4", "action_0/clip_1.mp4", "action_0/clip_2.mp4")
    assert s2.sources == ("action_2/clip_0.mp4", "action_2/clip_3.mp4", "action_2/clip_1.mp4", "action_2/clip_2.mp4")
    assert all((split / src).is_file() for s in idx.samples for src in s.sources)
    assert s0.meta == {"action": 2, "offence_severity": 3, "action_class": "High leg", "offence": "Offence", "severity": "5.0",
                       "action_id": "0", "n_views": 3, "split": "train"}  # fmt: skip
    assert (s2.label, s2.meta["offence_severity"], s2.meta["severity"]) == (3, 0, "")
    assert (s3.label, s3.meta["offence_severity"], s3.meta["offence"]) == (7, 1, "")  # Dive -> Offence + 1.0, original kept


def test_groups_are_games(split):
    idx = load_mvfoul(split)
    groups = {s.sample_id: s.group for s in idx.samples}
    assert groups["action_0"] == groups["action_3"] == "england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1 Burnley"
    assert groups["action_2"] == "spain_laliga/2016-2017/2017-04-08 - 21-45 Malaga 2 - 0 Barcelona"


def test_game_of_variants():
    assert game_of(CHELSEA_BURNLEY) == "england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1 Burnley"
    assert game_of(CHELSEA_BURNLEY + "\\1_720p.mkv") == game_of(CHELSEA_BURNLEY)  # a file part after the game folder
    assert game_of(CHELSEA_BURNLEY.replace("\\", "/")) == game_of(CHELSEA_BURNLEY)
    assert game_of("synthetic_league\\2026-2027\\train-003 - 20-00 Synthetic Home - Synthetic Away") == (
        "synthetic_league/2026-2027/train-003 - 20-00 Synthetic Home - Synthetic Away"
    )
    assert game_of("") is None and game_of(None) is None


def test_group_falls_back_to_action(tmp_path, mvfoul_action, write_mvfoul):
    root = write_mvfoul(tmp_path / "valid", {4: mvfoul_action(4, url_local=None), 5: mvfoul_action(5, url_local="")}, "valid")
    idx = load_mvfoul(root)
    assert [s.group for s in idx.samples] == ["valid/action_4", "valid/action_5"]
    assert {s.meta["split"] for s in idx.samples} == {"valid"}


def test_skipped_actions_with_reasons(split):
    skipped = dict(mvfoul_skipped(split))
    assert set(skipped) == {"1", "10", "11"}
    assert "Dont know" in skipped["1"] and "2.0" in skipped["10"] and "Between" in skipped["11"]


def test_dropped_actions_counted_per_reason_through_the_merge(split, tmp_path, mvfoul_action, write_mvfoul):
    from replaylab.data.sources import _merge

    idx = load_mvfoul(split)
    assert idx.dropped == {"action class 'Dont know'": 1, "severity '2.0' for an offence": 1, "offence 'Between'": 1}
    other = write_mvfoul(tmp_path / "valid", {7: mvfoul_action(7, "Tackling", "Between", "1.0"), 8: mvfoul_action(8)}, "valid")
    merged = _merge([(idx, "train", "Train"), (load_mvfoul(other), "val", "valid")], "mvfoul", tmp_path)
    assert merged.dropped == {"action class 'Dont know'": 1, "severity '2.0' for an offence": 1, "offence 'Between'": 2}
    assert merged.subset([merged.samples[0].sample_id]).dropped == merged.dropped


def test_options(split):
    idx = load_mvfoul(split, center_frame=50, fps=25.0, max_views=2)
    assert all(s.center_s == pytest.approx(2.0) for s in idx.samples)
    assert all(len(s.sources) == 2 and s.meta["n_views"] == 2 for s in idx.samples)
    assert idx.samples[1].sources == ("action_2/clip_0.mp4", "action_2/clip_3.mp4")  # clip_0, the live view, first
    with pytest.raises(AdapterError, match="max_views"):
        load_mvfoul(split, max_views=0)


def test_split_name_from_set_or_folder(tmp_path, mvfoul_action, write_mvfoul):
    root = write_mvfoul(tmp_path / "Valid", {0: mvfoul_action(0)}, "Valid")
    assert load_mvfoul(root).samples[0].meta["split"] == "valid"
    doc = json.loads((root / "annotations.json").read_text())
    del doc["Set"]
    (root / "annotations.json").write_text(json.dumps(doc))
    assert load_mvfoul(root).samples[0].meta["split"] == "valid"


def test_clip_files_used_when_no_clip_list(tmp_path, mvfoul_action, write_mvfoul):
    action = mvfoul_action(0, views=3)
    root = write_mvfoul(tmp_path / "test", {0: action}, "test")
    action = dict(action)
    del action["Clips"]
    (root / "annotations.json").write_text(json.dumps({"Set": "test", "Number of actions": 1, "Actions": {"0": action}}))
    assert load_mvfoul(root).samples[0].sources == ("action_0/clip_0.mp4", "action_0/clip_1.mp4", "action_0/clip_2.mp4")


def test_challenge_split_without_annotations(tmp_path):
    for n, views in ((0, 2), (1, 3)):
        for v in range(views):
            p = tmp_path / "challenge" / f"action_{n}" / f"clip_{v}.mp4"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"")
    idx = load_mvfoul(tmp_path / "challenge")
    assert [(s.sample_id, s.label, len(s.sources)) for s in idx.samples] == [("action_0", -1, 2), ("action_1", -1, 3)]
    assert idx.samples[0].meta["split"] == "challenge"


def test_every_action_folder_for_prediction(tmp_path, mvfoul_action, write_mvfoul):
    # a labelled split whose second action the official rules drop: prediction still covers it
    root = write_mvfoul(tmp_path / "test", {0: mvfoul_action(0, views=2), 1: mvfoul_action(1, "Dont know", views=3)}, "test")
    assert [s.sample_id for s in load_mvfoul(root).samples] == ["action_0"]
    idx = load_mvfoul_actions(root, center_frame=50, fps=25.0, max_views=2)
    assert [(s.sample_id, s.label, s.sources, s.center_s) for s in idx.samples] == [
        ("action_0", -1, ("action_0/clip_0.mp4", "action_0/clip_1.mp4"), 2.0),
        ("action_1", -1, ("action_1/clip_0.mp4", "action_1/clip_1.mp4"), 2.0),
    ]
    assert idx.samples[1].meta == {"action_id": "1", "n_views": 2, "split": "test"}
    with pytest.raises(AdapterError, match="no action_<n> folders"):
        load_mvfoul_actions(tmp_path)
    with pytest.raises(AdapterError, match="not a directory"):
        load_mvfoul_actions(tmp_path / "missing")


# ---- errors name the file and the action
def test_missing_annotations(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(AdapterError, match="annotations.json"):
        load_mvfoul(tmp_path / "train")


def test_malformed_json(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "annotations.json").write_text('{"Set": "train", "Actions": {"0": {"Offence": }}}')
    with pytest.raises(AdapterError) as e:
        load_mvfoul(tmp_path / "train")
    assert "annotations.json" in str(e.value) and "line 1" in str(e.value)


@pytest.mark.parametrize("field, value", [("Action class", "Bicycle kick"), ("Offence", "Maybe"), ("Severity", "3")])
def test_unknown_label_strings(tmp_path, mvfoul_action, write_mvfoul, field, value):
    actions = {0: mvfoul_action(0), 7: mvfoul_action(7)}
    actions[7][field] = value
    root = write_mvfoul(tmp_path / "train", actions)
    with pytest.raises(AdapterError) as e:
        load_mvfoul(root)
    msg = str(e.value)
    assert str(root / "annotations.json") in msg and "action 7" in msg and field in msg and repr(value) in msg


def test_missing_key(tmp_path, mvfoul_action, write_mvfoul):
    actions = {3: mvfoul_action(3)}
    del actions[3]["Severity"]
    with pytest.raises(AdapterError, match="action 3.*Severity"):
        load_mvfoul(write_mvfoul(tmp_path / "train", actions))


def test_missing_listed_clip(tmp_path, mvfoul_action, write_mvfoul):
    root = write_mvfoul(tmp_path / "train", {0: mvfoul_action(0), 5: mvfoul_action(5, views=3)})
    (root / "action_5" / "clip_2.mp4").unlink()
    with pytest.raises(AdapterError) as e:
        load_mvfoul(root)
    assert "action 5" in str(e.value) and "clip_2.mp4" in str(e.value)


# ---- the adapter registry
def test_registry_dispatch_and_unknown_format(split):
    assert {"mvfoul", "ava", "ucf101", "hmdb51", "header_csv"} <= set(ADAPTERS)
    assert len(load_index("mvfoul", split, center_frame=75)) == 3
    with pytest.raises(AdapterError) as e:
        load_index("soccernet_v3", split)
    assert "soccernet_v3" in str(e.value) and "mvfoul" in str(e.value) and "header_csv" in str(e.value)


# ---- the synthetic world's MVFoul splits (same format as the real data)
def test_synthetic_world_splits(tiny_world):
    root, _ = tiny_world
    groups = {}
    for split in ("train", "valid", "test"):
        doc = read_mvfoul_split(root / "mvfoul" / split)
        idx = load_mvfoul(root / "mvfoul" / split)
        skipped = mvfoul_skipped(root / "mvfoul" / split)
        assert len(idx) + len(skipped) == doc["Number of actions"]
        for s in idx.samples:
            action = doc["Actions"][s.meta["action_id"]]
            assert official_labels(action["Action class"], action["Offence"], action["Severity"]) == (
                s.label,
                s.meta["offence_severity"],
            )
            assert len(s.sources) == len(action["Clips"]) and all((idx.root / src).is_file() for src in s.sources)
            assert s.group.startswith("synthetic_league/2026-2027/")
        for key, _reason in skipped:
            action = doc["Actions"][key]
            assert official_labels(action["Action class"], action["Offence"], action["Severity"]) is None
        groups[split] = set(idx.groups())
    assert not groups["train"] & groups["valid"] and not groups["train"] & groups["test"]


# ---- paths stay inside the dataset root (ids are digits and clip names are clip_<v>: only symlinks can lead out)
def test_symlinked_clip_out_of_the_root(tmp_path, mvfoul_action, write_mvfoul):
    (tmp_path / "outside.mp4").write_bytes(b"")
    root = write_mvfoul(tmp_path / "Train", {0: mvfoul_action(0), 1: mvfoul_action(1)}, "train")
    (root / "action_1" / "clip_1.mp4").unlink()
    (root / "action_1" / "clip_1.mp4").symlink_to(tmp_path / "outside.mp4")
    with pytest.raises(AdapterError, match=r"annotations\.json, action 1: clip 'action_1/clip_1\.mp4' leads through a symlink"):
        load_mvfoul(root)


def test_symlinked_action_folder_out_of_the_root(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "clip_0.mp4").write_bytes(b"")
    root = tmp_path / "Chall"
    root.mkdir()
    (root / "action_0").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(AdapterError, match=r"action_0: clip 'action_0/clip_0\.mp4' leads .*outside the dataset root"):
        load_mvfoul(root)
