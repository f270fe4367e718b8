from __future__ import annotations

import numpy as np
import pytest

from replaylab.data.samples import AdapterError
from replaylab.prompt.bank import ClipSplit
from replaylab.prompt.corpus import build_corpus, read_captions
from replaylab.prompt.names import names_class


@pytest.mark.parametrize(("caption", "cls", "named"), [
    ("a keeper dives to his left", "Dive", True),
    ("diving full length", "Dive", True),
    ("the winger celebrates a goal", "Celebration", True),
    ("he takes it on the chest", "ChestControl", True),
    ("controls the ball", "ChestControl", True),
    ("a player in red heads the ball", "Dive", False),
    ("a long throw from the touchline", "ThrowIn", True),
    ("a player in red heads the ball", "ThrowIn", False),  # 'in' is a stop word
])  # fmt: skip
def test_names_class(caption, cls, named):
    assert names_class(caption, cls) is named


def test_read_captions(tmp_path):
    p = tmp_path / "captions.csv"
    p.write_text("path,caption\nA/a.mp4,one\nA/a.mp4,two\nB/b.mp4,three\n")
    assert read_captions(p) == {"A/a.mp4": ["one", "two"], "B/b.mp4": ["three"]}
    p.write_text("path,text\nA/a.mp4,one\n")
    with pytest.raises(AdapterError, match=r"missing columns \['caption'\]"):
        read_captions(p)
    p.write_text("path,caption\nA/a.mp4,\n")
    with pytest.raises(AdapterError, match="row 2: empty path or caption"):
        read_captions(p)
    with pytest.raises(AdapterError, match="captions_per_clip"):
        read_captions(tmp_path / "none.csv")


def test_read_captions_selects_rows_by_mentions(tmp_path):
    p = tmp_path / "captions.csv"
    p.write_text("path,caption,mentions\nA/a.mp4,heads,action\nA/a.mp4,heads in red,action+kit\nB/b.mp4,kicks,action\n")
    assert read_captions(p, mentions=["action"]) == {"A/a.mp4": ["heads"], "B/b.mp4": ["kicks"]}
    assert read_captions(p, mentions=["action+kit"]) == {"A/a.mp4": ["heads in red"]}
    assert read_captions(p) == {"A/a.mp4": ["heads", "heads in red"], "B/b.mp4": ["kicks"]}
    with pytest.raises(AdapterError, match=r"no caption has mentions \['action\+camera'\]"):
        read_captions(p, mentions=["action", "action+camera"])
    p.write_text("path,caption\nA/a.mp4,heads\n")
    with pytest.raises(AdapterError, match="no mentions column.*prompt.pretrain.mentions: null"):
        read_captions(p, mentions=["action"])
    p.write_text("path,caption,mentions\nA/a.mp4,heads,action\nA/a.mp4,,action\n")
    with pytest.raises(AdapterError, match="row 3: empty path or caption"):
        read_captions(p, mentions=["action"])


def test_corpus_leaves_out_unseen_classes_and_captions_naming_them():
    split = ClipSplit("train", ["H/1", "H/2", "D/1", "K/1"], np.array([0, 0, 1, 2]), np.zeros((4, 2, 4, 4, 3), np.uint8),
                      ["Header", "Dive", "Kick"])  # fmt: skip
    caps = {"H/1": ["a header", "a header, then he dives"], "H/2": ["a dive-like header"], "D/1": ["a dive"], "K/1": ["a kick"]}
    c = build_corpus(split, caps, unseen=["Dive"])
    assert c.ids == ["H/1", "K/1"] and c.captions == [["a header"], ["a kick"]]
    assert c.report["left_out_unseen_class_clips"] == 1 and c.report["dropped_captions_naming_unseen"] == 2
    assert c.report["left_out_clips_without_caption"] == 1 and c.clips.shape[0] == 2
    assert not any(names_class(x, "Dive") for caps_ in c.captions for x in caps_)
    with pytest.raises(AdapterError, match=r"\['Goal'\] are not classes"):
        build_corpus(split, caps, unseen=["Goal"])
    with pytest.raises(AdapterError, match="nothing to pretrain on"):
        build_corpus(split, {}, unseen=["Dive"])
