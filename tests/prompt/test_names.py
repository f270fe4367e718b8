from __future__ import annotations

import pytest

from replaylab.prompt.names import class_name_words, names_class, stem


def test_stem():
    assert (stem("header"), stem("diving"), stem("celebration"), stem("run")) == ("head", "div", "celebr", "run")


def test_class_name_words_split_camel_case_and_drop_stop_words():
    assert class_name_words("ChestControl") == {"chest", "control"}
    assert class_name_words("ThrowIn") == {"throw"}
    assert class_name_words("Header") == {"header"}
    assert class_name_words("SoccerPenalty") == {"soccer", "penalty"}


@pytest.mark.parametrize(
    "text, cls",
    [("he dives", "Dive"), ("diving", "Dive"), ("dived", "Dive"), ("he dove in", "Dive"),
     ("celebrates", "Celebration"), ("celebrating wildly", "Celebration"), ("throws it", "ThrowIn"),
     ("threw", "ThrowIn"), ("a Throw-in", "ThrowIn"), ("kicks", "Kick"), ("kicking", "Kick"), ("tackles", "Tackle"),
     ("tackling", "Tackle"), ("dribbles", "Dribble"), ("headed", "Header"), ("with his head", "Header"),
     ("controls it", "ChestControl"), ("controlled", "ChestControl"), ("chested down", "ChestControl"),
     ("a ThrowIn clip", "ThrowIn")],
)  # fmt: skip
def test_names_class_catches_inflections(text, cls):
    assert names_class(text, cls)


@pytest.mark.parametrize(
    "text, cls",
    [("runs in", "ThrowIn"), ("divides the pitch", "Dive"), ("a shot from afar", "Kick"), ("drives the ball", "Dive"),
     ("in a red shirt", "ChestControl"), ("a wide shot", "Header")],
)  # fmt: skip
def test_names_class_leaves_other_words_alone(text, cls):
    assert not names_class(text, cls)
