import itertools
import re

import numpy as np
import pytest

from replaylab.world import captions as C
from replaylab.world.render import KIT_PALETTE, Kit, random_kits
from replaylab.world.scenes import RECOGNITION_CLASSES


def setting(dist=12.0, height=3.0, width=7.5, shirt=(200, 30, 40), shorts=(235, 235, 235)):
    kits = (Kit(shirt, shorts, shirt), Kit((30, 60, 170), (235, 235, 235), (30, 60, 170)), Kit(*[(20, 20, 24)] * 3))
    return {"kits": kits, "cam_dist": dist, "cam_height": height, "view_width": width}


def test_every_recognition_class_has_at_least_four_phrasings():
    assert set(C.ACTION_PHRASES) == set(RECOGNITION_CLASSES)
    for cls, phrases in C.ACTION_PHRASES.items():
        assert len(set(phrases)) >= 4, cls


def test_no_phrase_names_another_class():
    for cls, phrases in C.ACTION_PHRASES.items():
        for phrase, other in itertools.product(phrases, C.ACTION_PHRASES):
            assert other == cls or not C.names_class(phrase, other), (cls, phrase, other)


def test_kit_and_camera_wordings_name_no_class():
    parts = [*C.ACTOR_FORMS, *C.SUBJECT_FORMS, *C.TEMPLATES, *C.ACTION_TEMPLATES]
    for table in (C.DIST_WORDS, C.DIST_POST, C.HEIGHT_WORDS, C.HEIGHT_ATTR, C.HEIGHT_PRED, C.FRAME_WORDS, C.FRAME_ADJ):
        parts += [w for words in table.values() for w in words]
    parts += [n for names in C.COLOUR_NAMES.values() for n in names]
    for part, cls in itertools.product(parts, RECOGNITION_CLASSES):
        assert not C.names_class(part, cls), (part, cls)


def test_captions_of_every_class_and_setting_never_name_another_class():
    rng = np.random.default_rng(0)
    for cls in RECOGNITION_CLASSES:
        for _ in range(60):
            s = setting(rng.uniform(11, 18), rng.uniform(2.5, 6), rng.uniform(7, 10))
            s["kits"] = random_kits(rng)
            text = C.caption(cls, s, rng)
            for other in RECOGNITION_CLASSES:
                assert other == cls or not C.names_class(text, other), (cls, text, other)


@pytest.mark.parametrize("template", C.TEMPLATES)
def test_every_template_is_filled_and_names_no_other_class(template, monkeypatch):
    monkeypatch.setattr(C, "TEMPLATES", (template,))
    for cls in RECOGNITION_CLASSES:
        rng = np.random.default_rng(1)
        for _ in range(40):
            s = setting(rng.uniform(11, 18), rng.uniform(2.5, 6), rng.uniform(7, 10), shirt=KIT_PALETTE[rng.integers(10)])
            text = C.caption(cls, s, rng)
            assert "{" not in text and "}" not in text and "  " not in text, text
            for other in RECOGNITION_CLASSES:
                assert other == cls or not C.names_class(text, other), (cls, text, other)


def test_captions_mention_the_kit_colour_and_the_camera():
    rng = np.random.default_rng(3)
    for shirt in KIT_PALETTE:
        for dist, height, width in [(11.5, 2.8, 7.2), (14.5, 5.5, 9.5), (17.5, 3.0, 9.9)]:
            s = setting(dist, height, width, shirt=shirt)
            d, h, f = C.camera_bands(s)
            for _ in range(20):
                text = C.caption("Header", s, rng)
                assert any(n in text for n in C.COLOUR_NAMES[shirt]), (shirt, text)
                assert any(w in text for w in C.DIST_WORDS[d] + C.DIST_POST[d]), text
                assert any(w in text for w in C.HEIGHT_WORDS[h] + C.HEIGHT_ATTR[h] + C.HEIGHT_PRED[h]), text
                assert any(w in text for w in C.FRAME_WORDS[f] + C.FRAME_ADJ[f]), text


def _has(text: str, words) -> bool:
    return any(re.search(rf"\b{re.escape(w)}\b", text) for w in words)


@pytest.mark.parametrize("mentions", list(C.MENTIONS))
def test_captions_name_the_kit_and_the_camera_exactly_when_asked(mentions):
    kit, camera = C.MENTIONS[mentions]
    rng = np.random.default_rng(4)
    colours = [n for names in C.COLOUR_NAMES.values() for n in names]
    camera_words = [w for t in (C.DIST_WORDS, C.DIST_POST, C.HEIGHT_WORDS, C.FRAME_WORDS) for ws in t.values() for w in ws]
    for cls in RECOGNITION_CLASSES:
        for _ in range(30):
            s = setting(rng.uniform(11, 18), rng.uniform(2.5, 6), rng.uniform(7, 10), shirt=KIT_PALETTE[rng.integers(10)])
            d, h, f = C.camera_bands(s)
            text = C.caption(cls, s, rng, kit=kit, camera=camera)
            assert "{" not in text and "  " not in text, text
            assert any(p in text for p in C.ACTION_PHRASES[cls]), text
            assert _has(text, colours) == kit, (mentions, text)
            assert _has(text, camera_words) == camera or (camera and _has(text, C.FRAME_ADJ[f] + C.HEIGHT_ATTR[h])), text
            for other in RECOGNITION_CLASSES:
                assert other == cls or not C.names_class(text, other), (cls, text, other)
    assert list(C.MENTIONS)[0] == "action" and C.MENTIONS["action+kit+camera"] == (True, True)


def test_camera_bands_and_colour_names():
    assert C.camera_bands(setting(11.0, 2.5, 7.0)) == ("close", "low", "tight")
    assert C.camera_bands(setting(14.5, 4.25, 8.5)) == ("mid", "high", "wide")
    assert C.camera_bands(setting(18.0, 6.0, 10.0)) == ("far", "high", "wide")
    assert all(tuple(c) in C.COLOUR_NAMES for c in KIT_PALETTE)
    assert C.colour_names((200, 30, 40))[0] == "red" and C.colour_names((252, 118, 25))[0] == "orange"
    assert C.colour_names((25, 25, 30))[0] == "black" and C.colour_names((235, 235, 235))[0] == "white"
    text = C.caption("Kick", setting(shirt=(250, 120, 20)), np.random.default_rng(0))
    assert "a orange" not in text


def test_captions_are_deterministic_and_mostly_distinct():
    s = setting()
    a = C.captions_for_clip("Dribble", s, n=5, rng=np.random.default_rng(9))
    b = C.captions_for_clip("Dribble", s, n=5, rng=np.random.default_rng(9))
    assert a == b and len(a) == 5 and len(set(a)) == 5
    assert C.captions_for_clip("Dribble", s, n=0, rng=np.random.default_rng(9)) == []
    assert a != C.captions_for_clip("Dribble", s, n=5, rng=np.random.default_rng(10))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="no captions for class 'Juggle'"):
        C.caption("Juggle", setting(), np.random.default_rng(0))
    s = setting()
    del s["cam_height"]
    with pytest.raises(KeyError, match="cam_height"):
        C.caption("Kick", s, np.random.default_rng(0))
    with pytest.raises(ValueError, match="n must be >= 0"):
        C.captions_for_clip("Kick", setting(), n=-1, rng=np.random.default_rng(0))
