"""Trimmed-clip recognition datasets with official split lists: UCF101 and HMDB51.

UCF101::

    <root>/<Class>/v_<Class>_g<GG>_c<CC>.avi
    <root>/ucfTrainTestlist/classInd.txt          "<index> <class name>"   (1-based; the name is the rest of the line)
    <root>/ucfTrainTestlist/trainlist0<N>.txt     "<Class>/v_..._gGG_cCC.avi <index>"
    <root>/ucfTrainTestlist/testlist0<N>.txt      "<Class>/v_..._gGG_cCC.avi"

HMDB51::

    <root>/<class>/<video>.avi
    <root>/testTrainMulti_7030_splits/<class>_test_split<N>.txt    "<video file name> <0|1|2>"  (1 train, 2 test, 0 unused)

One :class:`Sample` per listed video (train and test lists together), the whole clip (``center_s`` None),
``meta["official_split"]`` ``"train"`` / ``"test"`` (``"unused"`` for HMDB's 0-lines when asked for).
Lists are read as UTF-8 (a BOM is ignored) with any line endings; names may contain spaces.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..paths import inside_root
from ..samples import AdapterError, Sample, SampleIndex

_LABELLED = re.compile(r"(.*\S)\s+(\d+)")  # "<path> <int>"; the path may contain spaces
_UCF_GROUP = re.compile(r"_g(\d+)_c(\d+)$")
# HMDB51 file names: <source>_<action>_<body part>_<camera motion>_<people>_<viewpoint>_<quality>_<clip number>
_HMDB_TAGS = re.compile(r"_(?:f|h|l|u)_(?:cm|nm)_np\d+_(?:fr|ba|le|ri)_(?:bad|med|goo)_\d+$")
_HMDB_SPLIT = re.compile(r"(.+)_test_split(\d+)\.txt")


def _lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the non-blank lines of a list file."""
    if not path.is_file():
        raise AdapterError(f"{path}: list file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise AdapterError(f"{path}: not UTF-8 text: {e}") from e
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _resolve(base: Path, name: str | os.PathLike) -> Path:
    p = Path(name)
    return p if p.is_absolute() else base / p


def read_class_index(path: str | os.PathLike) -> list[str]:
    """Class names from a ``classInd.txt`` (``"<index> <name>"`` lines), ordered by index."""
    path = Path(path)
    by_index: dict[int, str] = {}
    for n, line in _lines(path):
        m = re.fullmatch(r"(\d+)\s+(.+)", line)
        if m is None:
            raise AdapterError(f"{path}, line {n}: expected '<index> <class name>', got {line!r}")
        head, name = m.group(1), m.group(2).strip()
        if int(head) in by_index:
            raise AdapterError(f"{path}, line {n}: index {head} given twice")
        if name in by_index.values():
            raise AdapterError(f"{path}, line {n}: class {name!r} given twice")
        by_index[int(head)] = name
    if not by_index:
        raise AdapterError(f"{path}: no classes")
    return [by_index[i] for i in sorted(by_index)]


def ucf_group(class_name: str, path: str) -> str:
    """``<Class>_g<GG>``: UCF101 clips of one group (within a class) are cut from the same long video, so
    they must stay on one side of a split. A file name without ``_gGG_cCC`` is its own group."""
    stem = Path(path).stem
    m = _UCF_GROUP.search(stem)
    return f"{class_name}_g{m.group(1)}" if m else f"{class_name}/{stem}"


def load_ucf101(root: str | os.PathLike, *, split_id: int = 1, lists_dir: str | os.PathLike = "ucfTrainTestlist") -> SampleIndex:
    """Index the videos of UCF101 split ``split_id`` (``trainlist0N.txt`` + ``testlist0N.txt``).

    ``label``: 0-based position in ``classInd.txt`` order (of the class folder in the list path; a train
    line's own index must agree); ``group``: :func:`ucf_group`; ``sources``: the list path, relative to
    ``root``. Videos in neither list are left out; a listed file that does not exist is an error.
    """
    root = Path(root)
    lists = _resolve(root, lists_dir)
    classes = read_class_index(lists / "classInd.txt")
    index_of = {name: i for i, name in enumerate(classes)}
    samples: list[Sample] = []
    seen: dict[str, str] = {}
    for split, fname in (("train", f"trainlist{split_id:02d}.txt"), ("test", f"testlist{split_id:02d}.txt")):
        path = lists / fname
        for n, line in _lines(path):
            where = f"{path}, line {n}"
            m = _LABELLED.fullmatch(line)
            rel, given = (m.group(1), int(m.group(2))) if m else (line, None)
            inside_root(root, rel.replace("\\", "/"), where=where, what="video")
            rel = rel.replace("\\", "/").strip("/")
            cls = rel.split("/", 1)[0] if "/" in rel else ""
            if cls not in index_of:
                raise AdapterError(f"{where}: class folder {cls!r} of {rel!r} is not in {lists / 'classInd.txt'}")
            label = index_of[cls]
            if given is not None and given != label + 1:
                raise AdapterError(f"{where}: index {given} disagrees with classInd.txt, where {cls!r} is {label + 1}")
            if not (root / rel).is_file():
                raise AdapterError(f"{where}: listed video {root / rel} does not exist")
            if rel in seen:
                raise AdapterError(f"{where}: {rel} is already listed at {seen[rel]}")
            seen[rel] = where
            samples.append(Sample(rel, (rel,), ucf_group(cls, rel), label, None, None, {"official_split": split}))
    return SampleIndex(samples, classes, root, f"ucf101:split{split_id}")


def hmdb_source(file_name: str, class_name: str) -> str:
    """The source movie / video of an HMDB51 clip, used as its group.

    HMDB51 names clips ``<source>_<action>_<body part>_<camera motion>_<people>_<viewpoint>_<quality>_<n>``
    (e.g. ``April_09_brush_hair_u_nm_np1_ba_goo_0.avi`` -> ``April_09``); the clips of one source share
    scene and actors. The group is the source alone, not prefixed by the class: one movie (say
    ``Pulp_Fiction``) gives clips to several classes, and grouping them together keeps its footage on
    one side of a split. Names without the tags fall back to the stem minus a trailing ``_<n>``.
    """
    stem = Path(file_name).stem
    m = _HMDB_TAGS.search(stem)
    if m is None:
        return re.sub(r"_\d+$", "", stem) or stem
    prefix = stem[: m.start()]
    if prefix.endswith(f"_{class_name}"):
        return prefix[: -len(class_name) - 1] or prefix
    return prefix


def load_hmdb51(
    root: str | os.PathLike,
    *,
    split_id: int = 1,
    splits_dir: str | os.PathLike = "testTrainMulti_7030_splits",
    include_unused: bool = False,
) -> SampleIndex:
    """Index the videos of HMDB51 split ``split_id`` from the ``<class>_test_split<N>.txt`` files.

    ``label``: index into the sorted class names (the split files' class names, which are the folder
    names); ``group``: :func:`hmdb_source`; ``sources``: ``<class>/<video>`` relative to ``root``;
    ``meta["official_split"]``: ``"train"`` (1) / ``"test"`` (2); lines marked 0 are left out unless
    ``include_unused`` (then ``"unused"``). A listed file that does not exist is an error.
    """
    root = Path(root)
    sdir = _resolve(root, splits_dir)
    if not sdir.is_dir():
        raise AdapterError(f"{sdir}: HMDB51 splits directory not found")
    files: dict[str, Path] = {}
    for p in sorted(sdir.iterdir()):
        m = _HMDB_SPLIT.fullmatch(p.name)
        if m and int(m.group(2)) == split_id and p.is_file():
            files[m.group(1)] = p
    if not files:
        raise AdapterError(f"{sdir}: no <class>_test_split{split_id}.txt files")
    classes = sorted(files)
    names = {0: "unused", 1: "train", 2: "test"}
    samples: list[Sample] = []
    seen: dict[str, str] = {}
    for label, cls in enumerate(classes):
        path = files[cls]
        for n, line in _lines(path):
            m = _LABELLED.fullmatch(line)
            if not m or int(m.group(2)) not in names:
                raise AdapterError(f"{path}, line {n}: expected '<video file> <0|1|2>', got {line!r}")
            video, code = m.group(1), int(m.group(2))
            if code == 0 and not include_unused:
                continue
            rel = f"{cls}/{video}"
            inside_root(root, rel, where=f"{path}, line {n}", what="video")
            if not (root / rel).is_file():
                raise AdapterError(f"{path}, line {n}: listed video {root / rel} does not exist")
            if rel in seen:
                raise AdapterError(f"{path}, line {n}: {video} is already listed at {seen[rel]}")
            seen[rel] = f"line {n}"
            meta = {"official_split": names[code]}
            samples.append(Sample(rel, (rel,), hmdb_source(video, cls), label, None, None, meta))
    return SampleIndex(samples, classes, root, f"hmdb51:split{split_id}")


__all__ = ["hmdb_source", "load_hmdb51", "load_ucf101", "read_class_index", "ucf_group"]
