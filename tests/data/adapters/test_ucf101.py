import pytest
from spec_readers import read_ucf_lists

from replaylab.data.adapters import load_index
from replaylab.data.adapters.ucf101 import hmdb_source, load_hmdb51, load_ucf101, read_class_index, ucf_group
from replaylab.data.samples import AdapterError

# ---- UCF101
TRAIN = [
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02.avi",
    "HandstandPushups/v_HandStandPushups_g08_c01.avi",  # the real dataset's spelling mismatch: folder wins
]
TEST = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "HandstandPushups/v_HandStandPushups_g01_c01.avi"]


def test_ucf101_index(tmp_path, write_ucf):
    root = write_ucf(
        tmp_path, ["ApplyEyeMakeup", "HandstandPushups"], TRAIN, TEST, extra=("ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c01.avi",)
    )
    idx = load_ucf101(root)
    assert idx.classes == ["ApplyEyeMakeup", "HandstandPushups"] and idx.root == root
    by_id = {s.sample_id: s for s in idx.samples}
    assert set(by_id) == set(TRAIN + TEST)  # the unlisted g09 clip is left out
    s = by_id["HandstandPushups/v_HandStandPushups_g08_c01.avi"]
    assert s.sources == (s.sample_id,) and s.label == 1 and s.center_s is None and s.point is None
    assert s.group == "HandstandPushups_g08" and s.meta == {"official_split": "train"}
    assert by_id[TEST[0]].group == "ApplyEyeMakeup_g01" and by_id[TEST[0]].meta == {"official_split": "test"}
    assert by_id[TRAIN[0]].group == by_id[TRAIN[1]].group != by_id[TEST[0]].group
    assert len(load_index("ucf101", root, split_id=1)) == 5


def test_ucf101_names_with_spaces_crlf_and_bom(tmp_path, write_ucf):
    classes = ["Apply Eye Makeup", "Kick-Off (wide)"]
    train = ["Apply Eye Makeup/v_Apply Eye Makeup_g01_c01.avi", "Kick-Off (wide)/v_KickOff_g02_c01.avi"]
    test = ["Apply Eye Makeup/v_Apply Eye Makeup_g03_c01.avi"]
    root = write_ucf(tmp_path, classes, train, test, newline="\r\n", bom=True, split_id=2)
    assert read_class_index(root / "ucfTrainTestlist" / "classInd.txt") == classes
    idx = load_ucf101(root, split_id=2)
    assert [(s.sample_id, s.label, s.group) for s in idx.samples] == [
        (train[0], 0, "Apply Eye Makeup_g01"), (train[1], 1, "Kick-Off (wide)_g02"), (test[0], 0, "Apply Eye Makeup_g03"),
    ]  # fmt: skip


def test_ucf101_test_list_with_labels(tmp_path, write_ucf):
    root = write_ucf(tmp_path, ["A"], ["A/v_A_g02_c01.avi"], ["A/v_A_g01_c01.avi"])
    (root / "ucfTrainTestlist" / "testlist01.txt").write_text("A/v_A_g01_c01.avi 1\n")
    assert load_ucf101(root).samples[1].meta == {"official_split": "test"}


def test_ucf101_missing_listed_file(tmp_path, write_ucf):
    root = write_ucf(
        tmp_path, ["A", "B"], ["A/v_A_g02_c01.avi"], ["A/v_A_g01_c01.avi", "B/v_B_g01_c01.avi"], missing=("B/v_B_g01_c01.avi",)
    )
    with pytest.raises(AdapterError) as e:
        load_ucf101(root)
    assert "testlist01.txt, line 2" in str(e.value) and "v_B_g01_c01.avi" in str(e.value)


def test_ucf101_list_errors(tmp_path, write_ucf):
    root = write_ucf(tmp_path, ["A", "B"], ["A/v_A_g02_c01.avi", "B/v_B_g02_c01.avi"], [])
    lists = root / "ucfTrainTestlist"
    (lists / "trainlist01.txt").write_text("A/v_A_g02_c01.avi 1\nB/v_B_g02_c01.avi 1\n")
    with pytest.raises(AdapterError, match="trainlist01.txt, line 2: index 1"):
        load_ucf101(root)
    (lists / "trainlist01.txt").write_text("C/v_C_g02_c01.avi 3\n")
    with pytest.raises(AdapterError, match="trainlist01.txt, line 1: class folder 'C'"):
        load_ucf101(root)
    (lists / "trainlist01.txt").write_text("A/v_A_g02_c01.avi 1\n")
    (lists / "testlist01.txt").write_text("A/v_A_g02_c01.avi\n")
    with pytest.raises(AdapterError, match="already listed"):
        load_ucf101(root)
    with pytest.raises(AdapterError, match="trainlist03.txt"):
        load_ucf101(root, split_id=3)
    (lists / "classInd.txt").write_text("1 A\nB\n")
    with pytest.raises(AdapterError, match="classInd.txt, line 2"):
        load_ucf101(root)


def test_ucf_group_without_tags():
    assert ucf_group("Kick", "Kick/v_Kick_g12_c03.avi") == "Kick_g12"
    assert ucf_group("Kick", "Kick/my clip.avi") == "Kick/my clip"


def test_ucf101_synthetic_world(tiny_world):
    root, summary = tiny_world
    classes, train, test = read_ucf_lists(root / "ucf101")
    idx = load_ucf101(root / "ucf101")
    assert idx.classes == [classes[i] for i in sorted(classes)]
    assert len(idx) == len(train) + len(test) == summary["recognition_clips"]
    for s in idx.samples:
        assert (idx.root / s.sources[0]).is_file() and idx.classes[s.label] == s.sample_id.split("/")[0]
    by_split = {sp: {s.group for s in idx.samples if s.meta["official_split"] == sp} for sp in ("train", "test")}
    assert by_split["train"] and by_split["test"] and not by_split["train"] & by_split["test"]


# ---- HMDB51
HMDB = {
    "brush_hair": [("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", 1), ("April_09_brush_hair_u_nm_np1_ba_goo_1.avi", 1),
                   ("Brushing_Hair_with_Beth_brush_hair_h_nm_np1_le_goo_0.avi", 2), ("Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0.avi", 0)],
    "cartwheel": [("(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi", 2), ("Pulp_Fiction_cartwheel_f_cm_np1_fr_bad_3.avi", 1)],
    "smile": [("Pulp_Fiction_smile_h_nm_np1_fr_goo_0.avi", 1)],
}  # fmt: skip


def test_hmdb51_index(tmp_path, write_hmdb):
    root = write_hmdb(tmp_path, HMDB, newline="\r\n")
    idx = load_hmdb51(root)
    assert idx.classes == ["brush_hair", "cartwheel", "smile"]
    by_id = {s.sample_id: s for s in idx.samples}
    assert len(idx) == 6 and "brush_hair/Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0.avi" not in by_id
    s = by_id["cartwheel/(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi"]
    assert s.sources == (s.sample_id,) and s.label == 1 and s.center_s is None
    assert s.group == "(Rad)Schlag_die_Bank!" and s.meta == {"official_split": "test"}
    assert by_id["brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_1.avi"].group == "April_09"
    # one movie gives clips to two classes: one group, so its footage stays on one side of a split
    assert (
        by_id["smile/Pulp_Fiction_smile_h_nm_np1_fr_goo_0.avi"].group
        == by_id["cartwheel/Pulp_Fiction_cartwheel_f_cm_np1_fr_bad_3.avi"].group
    )
    assert len(load_index("hmdb51", root)) == 6


def test_hmdb51_unused_lines(tmp_path, write_hmdb):
    idx = load_hmdb51(write_hmdb(tmp_path, HMDB), include_unused=True)
    unused = [s for s in idx.samples if s.meta["official_split"] == "unused"]
    assert [s.sample_id for s in unused] == ["brush_hair/Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0.avi"]


def test_hmdb51_split_id_and_errors(tmp_path, write_hmdb):
    root = write_hmdb(tmp_path, {"wave": [("a_wave_f_cm_np1_fr_med_0.avi", 1)]}, split_id=2)
    assert len(load_hmdb51(root, split_id=2)) == 1
    with pytest.raises(AdapterError, match="_test_split1.txt"):
        load_hmdb51(root, split_id=1)
    root = write_hmdb(tmp_path / "b", {"wave": [("a_wave_f_cm_np1_fr_med_0.avi", 1), ("b_wave_f_cm_np1_fr_med_0.avi", 2)]},
                      missing=("b_wave_f_cm_np1_fr_med_0.avi",))  # fmt: skip
    with pytest.raises(AdapterError) as e:
        load_hmdb51(root)
    assert "wave_test_split1.txt, line 2" in str(e.value) and "b_wave_f_cm_np1_fr_med_0.avi" in str(e.value)
    (root / "testTrainMulti_7030_splits" / "wave_test_split1.txt").write_text("a_wave_f_cm_np1_fr_med_0.avi 3\n")
    with pytest.raises(AdapterError, match="line 1"):
        load_hmdb51(root)
    with pytest.raises(AdapterError, match="splits directory"):
        load_hmdb51(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "name, cls, source",
    [
        ("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", "brush_hair", "April_09"),
        ("A_Beautiful_Mind_2_smile_h_nm_np1_fr_goo_2.avi", "smile", "A_Beautiful_Mind_2"),
        ("50_FIRST_DATES_sit_f_cm_np1_fr_med_24.avi", "sit", "50_FIRST_DATES"),
        ("some_clip_stand_f_nm_np1_fr_med_1.avi", "sit", "some_clip_stand"),  # action token differs from the folder
        ("home_movie_12.avi", "wave", "home_movie"),  # no tags
    ],
)
def test_hmdb_source(name, cls, source):
    assert hmdb_source(name, cls) == source


# ---- paths stay inside the dataset root
@pytest.mark.parametrize("entry", ["../ApplyEyeMakeup/v_x.avi", "ApplyEyeMakeup/../../outside.avi", "/etc/passwd"])
def test_ucf101_entries_outside_the_root(tmp_path, write_ucf, entry):
    root = write_ucf(tmp_path / "ucf", ["ApplyEyeMakeup"], ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"], [])
    (root / "ucfTrainTestlist" / "testlist01.txt").write_text(entry + "\n")
    with pytest.raises(AdapterError, match=r"testlist01\.txt, line 1: video .*(outside the dataset root|is absolute)"):
        load_ucf101(root)


def test_ucf101_symlink_out_of_the_root(tmp_path, write_ucf):
    (tmp_path / "outside.avi").write_bytes(b"")
    root = write_ucf(tmp_path / "ucf", ["ApplyEyeMakeup"], ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"],
                     ["ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi"], missing=("ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi",))  # fmt: skip
    (root / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g02_c01.avi").symlink_to(tmp_path / "outside.avi")
    with pytest.raises(AdapterError, match=r"testlist01\.txt, line 1: video .* leads through a symlink to .*outside\.avi"):
        load_ucf101(root)


@pytest.mark.parametrize("name", ["../../outside.avi", "../brush_hair/../../outside.avi"])
def test_hmdb51_entries_outside_the_root(tmp_path, write_hmdb, name):
    root = write_hmdb(tmp_path / "hmdb", {"brush_hair": [("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", 1)]})
    with open(root / "testTrainMulti_7030_splits" / "brush_hair_test_split1.txt", "a") as fh:
        fh.write(f"{name} 2 \n")
    with pytest.raises(AdapterError, match=r"brush_hair_test_split1\.txt, line 2: video .* outside the dataset root"):
        load_hmdb51(root)
