"""SoccerNet-MVFoul (the SoccerNet VARS multi-view foul dataset), one split directory at a time::

    <split>/annotations.json            {"Set": ..., "Number of actions": N, "Actions": {"<n>": {...}, ...}}
    <split>/action_<n>/clip_<v>.mp4     view v of action n (clip_0 is the live main camera, then replays)

One :class:`Sample` per action kept by the official label rules; its sources are the views in the order
of the action's ``"Clips"`` list, its label the action class (:data:`ACTION_CLASSES`) and
``meta["offence_severity"]`` the official 4-way offence / severity target
(:data:`OFFENCE_SEVERITY_CLASSES`). The group is the game the action comes from (league / season /
game parsed from ``"UrlLocal"``), so no game is split across train and test.

Which actions the official rules drop, and why, is reported by :func:`mvfoul_skipped`
(:func:`load_mvfoul` returns only the index, so that it fits the adapter registry).

The challenge split is distributed without labels: a split directory named ``challenge`` / ``chall``
that has no ``annotations.json`` is indexed from its ``action_<n>`` folders with label -1.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ..paths import inside_root
from ..samples import AdapterError, Sample, SampleIndex

ACTION_CLASSES = ["Tackling", "Standing tackling", "High leg", "Holding", "Pushing", "Elbowing", "Challenge", "Dive"]
OFFENCE_SEVERITY_CLASSES = ["No offence", "Offence + 1.0", "Offence + 3.0", "Offence + 5.0"]

# Every value the annotation files use for these three fields (anything else is a format error).
KNOWN_ACTION_CLASSES = frozenset(ACTION_CLASSES) | {"Dont know", ""}
KNOWN_OFFENCES = frozenset({"Offence", "No offence", "No Offence", "Between", ""})
KNOWN_SEVERITIES = frozenset({"", "1.0", "2.0", "3.0", "4.0", "5.0"})

_NO_OFFENCE = ("No offence", "No Offence")
_UNSURE_SEVERITY = ("", "2.0", "4.0")
_SEVERITY_CLASS = {"1.0": 1, "3.0": 2, "5.0": 3}
_SPLIT_NAMES = {
    "train": "train", "training": "train", "valid": "valid", "val": "valid", "validation": "valid",
    "test": "test", "chall": "challenge", "challenge": "challenge",
}  # fmt: skip
_GAME_DIR = re.compile(r"\d{4}-\d{2}-\d{2} - \d{2}-\d{2} ")  # "2015-02-21 - 18-00 Chelsea 1 - 1 Burnley"
_CLIP_FILE = re.compile(r"clip_(\d+)\.mp4")


def _judge(action_class: str, offence: str, severity: str) -> tuple[int, int] | str:
    """The official label rules: ``(action index, offence-severity index)``, or the reason the action is dropped.

    Follows ``label2vectormerge`` in ``VARS model/data_loader.py`` of github.com/SoccerNet/sn-mvfoul
    (the baseline the benchmark's numbers come from), rule for rule:

    1. action class "" or "Dont know"                                    -> dropped
    2. offence "" or "Between", unless the action class is "Dive"         -> dropped
    3. severity "", "2.0" or "4.0", unless the action class is "Dive" or
       the offence is "No offence" / "No Offence"                         -> dropped
    4. then offence "" / "Between" (only Dives get here) counts as "Offence", and severity
       "" / "2.0" / "4.0" (Dives and non-offences) counts as "1.0"
    5. "No offence" / "No Offence" -> 0 whatever the severity; "Offence" with "1.0" / "3.0" / "5.0"
       -> 1 / 2 / 3. (So a Dive keeps an annotated "3.0" or "5.0", and a Dive marked "No offence" is 0.)
    """
    if action_class in ("", "Dont know"):
        return f"action class {action_class or '(empty)'!r}"
    if offence in ("", "Between") and action_class != "Dive":
        return f"offence {offence or '(empty)'!r}"
    if severity in _UNSURE_SEVERITY and action_class != "Dive" and offence not in _NO_OFFENCE:
        return f"severity {severity or '(empty)'!r} for an offence"
    if offence in ("", "Between"):
        offence = "Offence"
    if severity in _UNSURE_SEVERITY:
        severity = "1.0"
    if offence in _NO_OFFENCE:
        return ACTION_CLASSES.index(action_class), 0
    if offence == "Offence" and severity in _SEVERITY_CLASS:
        return ACTION_CLASSES.index(action_class), _SEVERITY_CLASS[severity]
    return f"offence {offence!r} with severity {severity!r}"  # unreachable with the known vocabularies


def _check_vocab(action_class: Any, offence: Any, severity: Any, where: str) -> None:
    for key, value, known in (("Action class", action_class, KNOWN_ACTION_CLASSES), ("Offence", offence, KNOWN_OFFENCES),
                              ("Severity", severity, KNOWN_SEVERITIES)):  # fmt: skip
        if not isinstance(value, str) or value not in known:
            raise AdapterError(f"{where}: unknown {key!r} value {value!r} (expected one of {sorted(known)})")


def official_labels(action_class: str, offence: str, severity: str) -> tuple[int, int] | None:
    """``(action index, offence-severity index)`` under the official rules, or None when they drop the action.

    Raises :class:`AdapterError` for a value outside the dataset's vocabulary.
    """
    _check_vocab(action_class, offence, severity, "MVFoul labels")
    verdict = _judge(action_class, offence, severity)
    return None if isinstance(verdict, str) else verdict


def game_of(url_local: Any) -> str | None:
    """``league/season/game`` from an ``"UrlLocal"`` such as
    ``england_epl\\2014-2015\\2015-02-21 - 18-00 Chelsea 1 - 1 Burnley[\\...]``; None when there is none."""
    if not isinstance(url_local, str) or not url_local.strip():
        return None
    parts = [p.strip() for p in re.split(r"[\\/]+", url_local.strip()) if p.strip()]
    for i, part in enumerate(parts):
        if _GAME_DIR.match(part):  # the SoccerNet game folder: everything up to it identifies the game
            return "/".join(parts[: i + 1])
    return "/".join(parts[:3])  # league / season / game, whatever the game folder is called


def split_name(name: str) -> str:
    """Canonical split name (train / valid / test / challenge) of a directory or ``"Set"`` value."""
    return _SPLIT_NAMES.get(name.strip().lower(), name.strip().lower())


def _read_annotations(root: Path) -> tuple[Path, dict]:
    path = root / "annotations.json"
    if not path.is_file():
        raise AdapterError(f"{path}: annotations.json not found (is {root} a SoccerNet-MVFoul split directory?)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise AdapterError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e
    except UnicodeDecodeError as e:
        raise AdapterError(f"{path}: not UTF-8 text: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("Actions"), dict):
        raise AdapterError(f"{path}: expected an object with an 'Actions' object")
    for key, action in doc["Actions"].items():
        if not str(key).isdigit():
            raise AdapterError(f"{path}: action id {key!r} is not a number")
        if not isinstance(action, dict):
            raise AdapterError(f"{path}, action {key}: expected an object, got {type(action).__name__}")
        for field in ("Action class", "Offence", "Severity"):
            if field not in action:
                raise AdapterError(f"{path}, action {key}: missing key {field!r}")
    return path, doc


def _judge_all(root: Path) -> tuple[Path, str, list[tuple[str, dict, tuple[int, int]]], list[tuple[str, str]]]:
    path, doc = _read_annotations(root)
    split = split_name(doc["Set"]) if isinstance(doc.get("Set"), str) and doc["Set"].strip() else split_name(root.name)
    kept, skipped = [], []
    for key in sorted(doc["Actions"], key=int):
        action = doc["Actions"][key]
        ac, off, sev = action["Action class"], action["Offence"], action["Severity"]
        _check_vocab(ac, off, sev, f"{path}, action {key}")
        verdict = _judge(ac, off, sev)
        if isinstance(verdict, str):
            skipped.append((key, verdict))
        else:
            kept.append((key, action, verdict))
    return path, split, kept, skipped


def mvfoul_skipped(root: str | os.PathLike) -> list[tuple[str, str]]:
    """``(action id, reason)`` for every action of the split at ``root`` that the official rules drop."""
    return _judge_all(Path(root))[3]


def _clip_sources(root: Path, key: str, action: dict, path: Path) -> list[str]:
    folder = f"action_{key}"
    clips = action.get("Clips")
    names: list[str] = []
    if isinstance(clips, list) and clips:
        for v, clip in enumerate(clips):
            url = clip.get("Url") if isinstance(clip, dict) else None
            stem = url.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) and url.strip() else ""
            if not re.fullmatch(r"clip_\d+", stem):
                stem = f"clip_{v}"
            names.append(f"{folder}/{stem}.mp4")
        for name in names:
            inside_root(root, name, where=f"{path}, action {key}", what="clip")
            if not (root / name).is_file():
                raise AdapterError(f"{path}, action {key}: clip {root / name} listed in 'Clips' does not exist")
    else:  # no clip list: take the clip files that are there, in view order
        found = sorted(
            (int(m.group(1)), m.group(0)) for p in (root / folder).glob("clip_*.mp4") if (m := _CLIP_FILE.fullmatch(p.name))
        )
        names = [f"{folder}/{name}" for _, name in found]
        if not names:
            raise AdapterError(f"{path}, action {key}: no 'Clips' list and no clip_<v>.mp4 files in {root / folder}")
        for name in names:
            inside_root(root, name, where=f"{path}, action {key}", what="clip")
    return names


def _challenge_index(root: Path, center_s: float, max_views: int | None, split: str = "challenge") -> SampleIndex:
    samples = []
    actions = sorted((int(p.name[7:]), p) for p in root.glob("action_*") if p.is_dir() and p.name[7:].isdigit())
    if not actions:
        if split != "challenge":
            raise AdapterError(f"{root}: no action_<n> folders (is it a SoccerNet-MVFoul split directory?)")
        raise AdapterError(f"{root / 'annotations.json'}: annotations.json not found and no action_<n> folders in {root}")
    for n, folder in actions:
        views = sorted((int(m.group(1)), m.group(0)) for p in folder.glob("clip_*.mp4") if (m := _CLIP_FILE.fullmatch(p.name)))
        if not views:
            raise AdapterError(f"{folder}: action {n} has no clip_<v>.mp4 files")
        sources = tuple(f"action_{n}/{name}" for _, name in views)[:max_views]
        for s in sources:
            inside_root(root, s, where=f"{folder}", what="clip")
        meta = {"action_id": str(n), "n_views": len(sources), "split": split}
        samples.append(Sample(f"action_{n}", sources, f"{split}/action_{n}", -1, center_s, None, meta))
    return SampleIndex(samples, list(ACTION_CLASSES), root, f"mvfoul:{root}")


def load_mvfoul_actions(
    root: str | os.PathLike, *, center_frame: int = 75, fps: float = 25.0, max_views: int | None = None
) -> SampleIndex:
    """Every ``action_<n>`` folder of a SoccerNet-MVFoul split directory, labelled or not, with label -1 and
    the views ``clip_<v>.mp4`` in number order (for predicting on footage outside the pipeline: the
    annotations, if any, are not read, so no action is left out)."""
    root = Path(root)
    if fps <= 0:
        raise AdapterError(f"mvfoul: fps must be positive, got {fps}")
    if max_views is not None and max_views < 1:
        raise AdapterError(f"mvfoul: max_views must be at least 1, got {max_views}")
    if not root.is_dir():
        raise AdapterError(f"{root}: not a directory")
    return _challenge_index(root, center_frame / fps, max_views, split=split_name(root.name))


def load_mvfoul(
    root: str | os.PathLike, *, center_frame: int = 75, fps: float = 25.0, max_views: int | None = None
) -> SampleIndex:
    """Index one SoccerNet-MVFoul split directory (``.../train``, ``.../valid``, ``.../test``, ``.../challenge``).

    - ``center_s`` = ``center_frame / fps`` (the official clips put the foul at frame 75 of 25 fps clips).
    - ``sources``: ``action_<n>/clip_<v>.mp4`` relative to ``root`` in ``"Clips"`` order (every listed clip
      must exist), at most ``max_views`` of them (clip_0, the live main camera, first).
    - ``label``: index into :data:`ACTION_CLASSES`; ``meta``: ``action`` (same), ``offence_severity`` (index
      into :data:`OFFENCE_SEVERITY_CLASSES`), the original ``action_class`` / ``offence`` / ``severity``
      strings, ``action_id``, ``n_views`` (views in ``sources``) and ``split``.
    - ``group``: the game (``league/season/game`` from ``"UrlLocal"``), else ``<split>/action_<n>``.

    Actions the official rules drop are left out; :func:`mvfoul_skipped` lists them with the reason and the
    index's ``dropped`` counts them per reason (the clip cache reports it as ``dropped_by_rules``).
    """
    root = Path(root)
    if fps <= 0:
        raise AdapterError(f"mvfoul: fps must be positive, got {fps}")
    if max_views is not None and max_views < 1:
        raise AdapterError(f"mvfoul: max_views must be at least 1, got {max_views}")
    center_s = center_frame / fps
    if not (root / "annotations.json").exists() and split_name(root.name) == "challenge":
        return _challenge_index(root, center_s, max_views)
    path, split, kept, skipped = _judge_all(root)
    dropped: dict[str, int] = {}
    for _, reason in skipped:
        dropped[reason] = dropped.get(reason, 0) + 1
    samples = []
    for key, action, (label, offence_severity) in kept:
        sources = tuple(_clip_sources(root, key, action, path)[:max_views])
        group = game_of(action.get("UrlLocal")) or f"{split}/action_{key}"
        meta = {
            "action": label,
            "offence_severity": offence_severity,
            "action_class": action["Action class"],
            "offence": action["Offence"],
            "severity": action["Severity"],
            "action_id": key,
            "n_views": len(sources),
            "split": split,
        }
        samples.append(Sample(f"action_{key}", sources, group, label, center_s, None, meta))
    return SampleIndex(samples, list(ACTION_CLASSES), root, f"mvfoul:{root}", dropped)


__all__ = [
    "ACTION_CLASSES", "OFFENCE_SEVERITY_CLASSES", "game_of", "load_mvfoul", "load_mvfoul_actions", "mvfoul_skipped",
    "official_labels", "split_name",
]  # fmt: skip
