import h5py
import pytest
from video_fixtures import make_video

from replaylab import params as P
from replaylab.data.adapters import load_index
from replaylab.data.adapters.kinetics import clip_name, load_kinetics, read_kinetics_csv
from replaylab.data.cache import build_cache, read_cache_meta, spec_from_params
from replaylab.data.samples import AdapterError, read_csv
from replaylab.data.sources import task_index
from replaylab.data.task_splits import make_splits

HEADER = "label,youtube_id,time_start,time_end,split,is_cc\n"


def _write(root, name, lines, header=HEADER):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "".join(line + "\n" for line in lines))
    return path


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_clip_name_is_the_downloaders_trim_format():
    assert clip_name("-3B32lodo2M", 59, 69) == "-3B32lodo2M_000059_000069"


def test_index_layouts_labels_groups_and_skips(tmp_path):
    _write(tmp_path, "annotations/train.csv", [
        'abseiling,-3B32lodo2M,59,69,train,0',
        '"air drumming",_dbcJuKJQNs,40,50,train,0',
        '"air drumming",_dbcJuKJQNs,70,80,train,1',  # same YouTube video: same group
        '"passing American football (in game)",abcdefghijk,0,10,train,0',  # quoted, spaces and parentheses
        '"catching, throwing",zzzzzzzzzzz,5.0,15.0,train,0',  # comma inside the label; times written as floats
        'abseiling,missingclip1,0,10,train,0',  # never downloaded
    ])  # fmt: skip
    _write(tmp_path, "annotations/val.csv", ["abseiling,vvvvvvvvvvv,100,110,val,0", "yoga,untrimmed01,30,40,val,0"])
    _touch(tmp_path / "train/abseiling/-3B32lodo2M_000059_000069.mp4")  # <label>/<id>_<start>_<end> (downloader)
    _touch(tmp_path / "train/air drumming/_dbcJuKJQNs_000040_000050.mp4")
    _touch(tmp_path / "train/air_drumming/_dbcJuKJQNs_000070_000080.mkv")  # mmaction2 renamed folder, mkv
    _touch(tmp_path / "train/passing American football (in game)/abcdefghijk_000000_000010.mp4")
    _touch(tmp_path / "train/zzzzzzzzzzz_000005_000015.mp4")  # flat (CVDF tarballs)
    _touch(tmp_path / "val/vvvvvvvvvvv_000100_000110.webm")
    _touch(tmp_path / "val/untrimmed01.mp4")  # the whole YouTube video: centred on the window
    idx = load_kinetics(tmp_path)
    classes = ["abseiling", "air drumming", "catching, throwing", "passing American football (in game)", "yoga"]
    assert idx.classes == classes and idx.root == tmp_path
    assert idx.dropped == {"clip file missing": 1}
    got = [(s.sample_id, s.sources[0], s.group, classes[s.label], s.center_s, s.meta["official_split"]) for s in idx.samples]
    assert got == [
        ("-3B32lodo2M_000059_000069", "train/abseiling/-3B32lodo2M_000059_000069.mp4", "-3B32lodo2M", "abseiling", None, "train"),
        ("_dbcJuKJQNs_000040_000050", "train/air drumming/_dbcJuKJQNs_000040_000050.mp4", "_dbcJuKJQNs", "air drumming", None, "train"),
        ("_dbcJuKJQNs_000070_000080", "train/air_drumming/_dbcJuKJQNs_000070_000080.mkv", "_dbcJuKJQNs", "air drumming", None, "train"),
        ("abcdefghijk_000000_000010", "train/passing American football (in game)/abcdefghijk_000000_000010.mp4", "abcdefghijk",
         "passing American football (in game)", None, "train"),
        ("zzzzzzzzzzz_000005_000015", "train/zzzzzzzzzzz_000005_000015.mp4", "zzzzzzzzzzz", "catching, throwing", None, "train"),
        ("vvvvvvvvvvv_000100_000110", "val/vvvvvvvvvvv_000100_000110.webm", "vvvvvvvvvvv", "abseiling", None, "val"),
        ("untrimmed01_000030_000040", "val/untrimmed01.mp4", "untrimmed01", "yoga", 35.0, "val"),
    ]  # fmt: skip
    assert idx.samples[0].meta == {"official_split": "train", "time_start": 59, "time_end": 69}
    with pytest.raises(AdapterError, match=r"train\.csv, line 7: no clip file for missingclip1_000000_000010 .*tried"):
        load_kinetics(tmp_path, missing="fail")
    assert len(load_index("kinetics", tmp_path, split_csvs=["annotations/val.csv"], clips_dir="{split}")) == 2


def test_deepmind_csv_names_crlf_bom_and_unlabelled_test(tmp_path):
    """DeepMind's file names, a "validate" split value, mmaction2-style videos_<split> folders and the
    unlabelled test CSV (no label column)."""
    (tmp_path / "kinetics_400_validate.csv").write_bytes(
        ("\ufeff" + HEADER + "abseiling,aaaaaaaaaaa,1,11,validate,0\n\n").replace("\n", "\r\n").encode()
    )
    _write(tmp_path, "kinetics_400_test.csv", ["bbbbbbbbbbb,0,10,test"], header="youtube_id,time_start,time_end,split\n")
    _touch(tmp_path / "videos_validate/abseiling/aaaaaaaaaaa_000001_000011.mp4")
    _touch(tmp_path / "videos_test/bbbbbbbbbbb_000000_000010.mp4")
    idx = load_kinetics(tmp_path, split_csvs=["kinetics_400_validate.csv", "kinetics_400_test.csv"], clips_dir="videos_{split}")
    assert [(s.sample_id, s.meta["official_split"]) for s in idx.samples] == [("aaaaaaaaaaa_000001_000011", "val")]
    assert idx.dropped == {"no label": 1} and idx.classes == ["abseiling"]
    # the validation set as the held-out test split
    idx = load_kinetics(
        tmp_path, split_csvs=["kinetics_400_validate.csv"], clips_dir="videos_{split}", split_map={"validate": "test"}
    )
    assert idx.samples[0].meta["official_split"] == "test"


@pytest.mark.parametrize(
    "line, message",
    [
        ("abseiling,aaaaaaaaaaa,ten,20,train,0", "time_start 'ten' is not a number"),
        ("abseiling,aaaaaaaaaaa,10.5,20,train,0", "time_start '10.5' is not a whole"),
        ("abseiling,aaaaaaaaaaa,-1,20,train,0", "time_start '-1' is not a whole"),
        ("abseiling,aaaaaaaaaaa,20,20,train,0", "time_end 20 is not after time_start 20"),
        ("abseiling,aaaaaaaaaaa,0,nan,train,0", "time_end 'nan' is not a whole"),
        ("abseiling,aaaaaaaaaaa,0,10,training,0", "split 'training' is not one of test, train, val, validate"),
        ("abseiling,../../etc/x,0,10,train,0", "youtube_id '../../etc/x' is not a YouTube id"),
        ("abseiling,aaaaaaaaaaa,0,10,train,0,extra", "more fields than the header"),
        ("abseiling,bbbbbbbbbbb,0,10,train,0", "clip bbbbbbbbbbb_000000_000010 is already listed at .*line 2"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, line, message):
    _write(tmp_path, "annotations/train.csv", ["abseiling,bbbbbbbbbbb,0,10,train,0", line])
    _touch(tmp_path / "train/abseiling/bbbbbbbbbbb_000000_000010.mp4")
    with pytest.raises(AdapterError, match=rf"train\.csv, line 3: {message}"):
        load_kinetics(tmp_path, split_csvs=["annotations/train.csv"])


def test_file_and_option_errors(tmp_path):
    with pytest.raises(AdapterError, match=r"train\.csv: Kinetics annotation CSV not found"):
        load_kinetics(tmp_path)
    _write(tmp_path, "a.csv", ["x,0,10"], header="youtube_id,time_start,time_end\n")
    with pytest.raises(AdapterError, match=r"a\.csv, line 1: header .* lacks split"):
        read_kinetics_csv(tmp_path / "a.csv")
    with pytest.raises(AdapterError, match="missing must be"):
        load_kinetics(tmp_path, split_csvs=["a.csv"], missing="warn")
    with pytest.raises(AdapterError, match="split_map values"):
        load_kinetics(tmp_path, split_csvs=["a.csv"], split_map={"train": "dev"})


def test_label_folders_stay_inside_the_root(tmp_path):
    (tmp_path / "outside").mkdir()
    _write(tmp_path / "k", "annotations/train.csv", ['"../../outside",aaaaaaaaaaa,0,10,train,0'])
    with pytest.raises(AdapterError, match=r"train\.csv, line 2: clip .* outside the dataset root"):
        load_kinetics(tmp_path / "k", split_csvs=["annotations/train.csv"])


# ---- params -> index -> clip cache -> official split, as cache_clips@recognition and split@recognition run them
def test_cache_and_official_split_end_to_end(tmp_path):
    root = tmp_path / "k400"
    _write(root, "annotations/train.csv", ["abseiling,aaaaaaaaaaa,0,10,train,0", "abseiling,aaaaaaaaaaa,20,30,train,0",
                                           '"air drumming",bbbbbbbbbbb,0,10,train,0', "yoga,gone_______,0,10,train,0"])  # fmt: skip
    _write(root, "annotations/val.csv", ['"air drumming",ccccccccccc,5,15,val,0', "abseiling,ddddddddddd,0,10,val,0"])
    for rel in ["train/abseiling/aaaaaaaaaaa_000000_000010.mp4", "train/abseiling/aaaaaaaaaaa_000020_000030.mp4",
                "train/air drumming/bbbbbbbbbbb_000000_000010.mp4", "val/ccccccccccc_000005_000015.mp4",
                "val/ddddddddddd_000000_000010.mp4"]:  # fmt: skip
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        make_video(root / rel, fps=25, n_frames=20)
    data = {"cache_clips": {"recognition": {"source": {"format": "kinetics", "root": str(root)}, "frames": 4, "size": [16, 24]}}}
    cfg = P.validate(data).cache_clips.recognition
    assert type(cfg.source).__name__ == "KineticsSource" and cfg.source.missing == "skip"
    spec = spec_from_params(cfg)
    index = task_index("recognition", cfg, seed=0, margin_s=spec.half_window_s())
    assert [(s.sample_id, s.meta["official_split"]) for s in index.samples] == [
        ("aaaaaaaaaaa_000000_000010", "train"), ("aaaaaaaaaaa_000020_000030", "train"), ("bbbbbbbbbbb_000000_000010", "train"),
        ("ccccccccccc_000005_000015", "val"), ("ddddddddddd_000000_000010", "val")]  # fmt: skip
    assert index.classes == ["abseiling", "air drumming", "yoga"] and index.dropped == {"clip file missing": 1}
    out = tmp_path / "cache"
    summary = build_cache(index, spec, out_h5=out / "recognition.h5", out_index=out / "recognition_index.csv",
                          work_dir=out / "work", workers=1, progress=False, task="recognition")  # fmt: skip
    assert summary["clips"] == 5 and summary["dropped_by_rules"] == {"clip file missing": 1}
    with h5py.File(out / "recognition.h5", "r") as f:
        assert f["clips"].shape == (5, 4, 16, 24, 3)
    back = read_csv(out / "recognition_index.csv", classes=read_cache_meta(out / "recognition.h5")["classes"])
    assert [back.label_name(s) for s in back.samples] == ["abseiling", "abseiling", "air drumming", "air drumming", "abseiling"]
    parts = make_splits(back, strategy="official", fractions={"train": 0.8, "val": 0.2, "test": 0.0}, seed=0, task="recognition")
    assert [len(parts[k]) for k in ("train", "val", "test")] == [3, 2, 0]
    assert {s.group for s in parts["train"].samples} == {"aaaaaaaaaaa", "bbbbbbbbbbb"}
    with pytest.raises(P.ParamsError, match="split_id"):  # a ucf101 key is refused for kinetics
        P.validate({"cache_clips": {"recognition": {"source": {"format": "kinetics", "root": str(root), "split_id": 1}}}})
    with pytest.raises(P.ParamsError, match="missing"):
        P.validate({"cache_clips": {"recognition": {"source": {"format": "kinetics", "root": str(root), "missing": "warn"}}}})


def test_symlinked_clips(tmp_path):
    """CVDF's arrange_by_classes.py links <split>/<label>/<clip> to the extracted clips: fine inside the root,
    refused when the link leads out of it."""
    root = tmp_path / "k400"
    _write(root, "annotations/train.csv", ["abseiling,aaaaaaaaaaa,0,10,train,0", "yoga,bbbbbbbbbbb,0,10,train,0"])
    _touch(root / "extracted/aaaaaaaaaaa_000000_000010.mp4")
    (root / "train/abseiling").mkdir(parents=True)
    (root / "train/abseiling/aaaaaaaaaaa_000000_000010.mp4").symlink_to(root / "extracted/aaaaaaaaaaa_000000_000010.mp4")
    idx = load_kinetics(root, split_csvs=["annotations/train.csv"])
    assert [s.sources[0] for s in idx.samples] == ["train/abseiling/aaaaaaaaaaa_000000_000010.mp4"]
    assert idx.dropped == {"clip file missing": 1}
    _touch(tmp_path / "elsewhere.mp4")
    (root / "train/bbbbbbbbbbb_000000_000010.mp4").symlink_to(tmp_path / "elsewhere.mp4")
    with pytest.raises(AdapterError, match=r"train\.csv, line 3: clip .* leads through a symlink to .*elsewhere\.mp4"):
        load_kinetics(root, split_csvs=["annotations/train.csv"])
