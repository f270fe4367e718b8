"""Whether a text names a class: the rule that keeps held-out classes out of CLIP pretraining captions.

A class name's words come from splitting it (CamelCase and punctuation, lowercased, stop-words such as "in" left
out: ``ChestControl`` -> chest, control; ``ThrowIn`` -> throw). A text names the class when one of its words has
the same stem as a name word (one inflection suffix removed, at least 3 letters kept: ``diving`` -> ``div``),
starts with a name word's stem of 4 letters or more (``controlled``), or is a listed irregular form (``threw``,
``dove``). The rule errs on the side of naming: a caption it flags is dropped from pretraining.
Pure Python, so the synthetic world (which writes captions) and the pretraining corpus (which filters them) share it.
"""

from __future__ import annotations

import re

__all__ = ["class_name_words", "names_class", "stem"]

STOP_WORDS = frozenset({"a", "an", "the", "in", "on", "of", "and", "to"})
SUFFIXES = ("ations", "ation", "ings", "ing", "ions", "ion", "ers", "er", "ed", "es", "e", "s")
IRREGULAR = {"throw": ("threw",), "dive": ("dove",)}  # inflections the suffix rule does not reach
PREFIX_STEM = 4  # stems this long also match any word starting with them ("control" -> "controlled")


def class_name_words(cls: str) -> set[str]:
    """The words of a class name: CamelCase and punctuation split, lowercased, stop-words left out
    (``ChestControl`` -> {"chest", "control"}, ``ThrowIn`` -> {"throw"})."""
    return {w for w in _words(cls) if w not in STOP_WORDS}


def stem(word: str) -> str:
    """The word without its first matching inflection suffix, keeping at least 3 letters
    (``header`` -> ``head``, ``diving`` -> ``div``, ``celebration`` -> ``celebr``)."""
    w = word.lower()
    for s in SUFFIXES:
        if w.endswith(s) and len(w) - len(s) >= 3:
            return w[: -len(s)]
    return w


def names_class(caption: str, cls: str) -> bool:
    """True when ``caption`` contains a word of ``cls``'s name or an inflection of it: the same stem, a word
    starting with a stem of at least 4 letters, or a listed irregular form ("threw", "dove")."""
    words = _words(caption)
    for name in class_name_words(cls):
        s = stem(name)
        for w in words:
            if stem(w) == s or (len(s) >= PREFIX_STEM and w.startswith(s)) or w in IRREGULAR.get(name, ()):
                return True
    return False


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", text)]
