"""The HDF5 clip cache: decode every clip once, read it back in microseconds for every epoch after.

Layout of ``<task>.h5`` (one row per sample, in the order of ``<task>_index.csv``):

- ``clips``: uint8, (N, T, H, W, 3), or (N, V, T, H, W, 3) for multi-view tasks (missing views are zero
  and counted in ``n_views``), chunked one clip per chunk so a random read touches one chunk;
- ``sample_id`` (N,) strings, ``label`` (N,) int64, ``n_views`` (N,) int16 (readable views, stored first);
- attributes ``spec`` (JSON of :class:`ClipSpec`), ``classes`` (JSON list), ``format_version``.

Windows that reach outside a video (before its first frame, past its last, or a whole-video sample of a video
with fewer frames than the clip) follow ``ClipSpec.outside``: ``skip`` (the sample is left out and listed in the
skipped CSV), ``fail`` (the build stops naming the sample) or ``pad`` (edge frames repeat; counted in the summary
as ``padded_clips`` / ``padded_frames``). In a multi-view sample an unreadable view is dropped (listed, counted as
``dropped_views``), the readable views move to the front, and the sample is kept while at least
``ClipSpec.min_views`` views remain.

The build is resumable: every unit of work (one source video, or the views of one multi-view action)
is written to ``work_dir`` as its own ``.npy`` part named by a fingerprint of the clip spec, the samples
and the source files' size and mtime. A killed run restarts and decodes only the units without a part;
the HDF5 file appears (atomically) only when every unit is done, and the parts are then removed.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..io import atomic_path, write_csv
from .samples import AdapterError, Sample, SampleIndex
from .video import VideoReadError, clip_times, crop_resize, probe, read_frames, uniform_times

FORMAT_VERSION = 1


class WindowOutsideError(AdapterError):
    """A sample's clip window reaches outside its video (``outside: fail``); the message names sample and file."""


class BadVideosError(RuntimeError):
    """Some source videos could not be read (``on_bad_video: fail``); ``bad`` lists (file, reason)."""

    def __init__(self, bad: list[tuple[str, str]]):
        self.bad = bad
        lines = "\n".join(f"  {f}: {r}" for f, r in bad)
        super().__init__(f"{len(bad)} unreadable source(s) (set on_bad_video: skip to leave them out):\n{lines}")


@dataclass(frozen=True)
class ClipSpec:
    frames: int  # frames per clip (T)
    size: tuple[int, int]  # output (height, width)
    stride: int = 1  # frames between samples, at `fps`
    fps: float | None = None  # sampling rate; None = the source's own rate
    crop_px: int | None = None  # square window around the sample's point, source pixels; None = full frame
    views: int = 1  # > 1: a views axis of this length (multi-view tasks)
    outside: str = "skip"  # windows reaching outside the video: skip | fail | pad (repeat the edge frames)
    min_views: int = 1  # multi-view: keep a sample while at least this many views are readable

    def __post_init__(self):
        if self.outside not in OUTSIDE_MODES:
            raise ValueError(f"outside: unknown value {self.outside!r} ({', '.join(OUTSIDE_MODES)})")
        if not 1 <= self.min_views <= max(self.views, 1):
            raise ValueError(f"min_views must be in 1..views ({self.views}), got {self.min_views}")

    def times(self, sample: Sample, duration_s: float, source_fps: float) -> np.ndarray:
        """Timestamps to read for ``sample``: centred window, or uniform over the video when it has no centre.

        Windows reaching past either end repeat the first / last frame (edge replication); :meth:`outside_frames`
        says how many times that took."""
        if sample.center_s is None:
            return uniform_times(duration_s=duration_s, frames=self.frames)
        return self.window_times(sample.center_s, duration_s, source_fps)

    def raw_window_times(self, center_s: float, source_fps: float) -> np.ndarray:
        """The clip's timestamps around ``center_s`` before any clamping to the video."""
        step = self.stride / (self.fps or source_fps)
        return clip_times(center_s=center_s, frames=self.frames, step_s=step)

    def window_times(self, center_s: float, duration_s: float, source_fps: float) -> np.ndarray:
        """The clip's timestamps around ``center_s`` in a video of ``duration_s`` (edge frames repeat)."""
        t = self.raw_window_times(center_s, source_fps)
        return np.clip(t, 0.0, max(duration_s - 1.0 / source_fps, 0.0))

    def outside_frames(self, sample: Sample, duration_s: float, source_fps: float, n_frames: int) -> int:
        """How many of the sample's clip frames lie outside the video (and would repeat an edge frame).

        A window frame is outside when it is more than half a frame before the first frame or after the last;
        a whole-video sample (no centre) of a video with fewer than ``frames`` frames lacks the difference."""
        if sample.center_s is None:
            return max(self.frames - n_frames, 0)
        t = self.raw_window_times(sample.center_s, source_fps)
        half = 0.5 / source_fps
        last = duration_s - 1.0 / source_fps
        return int(np.count_nonzero((t < -half) | (t > last + half)))

    def half_window_s(self, source_fps: float = 25.0) -> float:
        """Half the clip's time span (for keeping windows inside a video); ``source_fps`` when ``fps`` is unset."""
        return (self.frames // 2) * self.stride / (self.fps or source_fps)

    def clip_shape(self) -> tuple[int, ...]:
        base = (self.frames, self.size[0], self.size[1], 3)
        return (self.views, *base) if self.views > 1 else base


OUTSIDE_MODES = ("skip", "fail", "pad")


def spec_from_params(cfg) -> ClipSpec:
    """ClipSpec from a validated ``cache_clips.<task>`` section."""
    return ClipSpec(frames=cfg.frames, size=(cfg.size[0], cfg.size[1]), stride=cfg.stride, fps=cfg.fps,
                    crop_px=cfg.crop_px, views=getattr(cfg, "views", 1), outside=getattr(cfg, "outside", "skip"),
                    min_views=getattr(cfg, "min_views", 1))  # fmt: skip


@dataclass
class Unit:
    key: str  # fingerprint, also the part's file name
    sources: tuple[str, ...]
    rows: list[int] = field(default_factory=list)  # positions in the index


def _file_stamp(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def plan_units(index: SampleIndex, spec: ClipSpec) -> list[Unit]:
    """Group samples by their source tuple; each unit is decoded by one worker."""
    by_src: dict[tuple[str, ...], list[int]] = {}
    for i, s in enumerate(index.samples):
        by_src.setdefault(s.sources[: spec.views], []).append(i)
    units = []
    spec_json = json.dumps(asdict(spec), sort_keys=True)
    for sources, rows in by_src.items():
        h = hashlib.sha1(f"v{FORMAT_VERSION}|{spec_json}".encode())
        for src in sources:
            h.update(f"|{src}|{_file_stamp(index.resolve(src))}".encode())
        for i in rows:
            s = index.samples[i]
            h.update(f"|{s.sample_id}|{s.center_s}|{s.point}|{s.track}".encode())
        units.append(Unit(h.hexdigest()[:20], sources, rows))
    return units


def _outside(path: Path, sample: Sample, spec: ClipSpec, missing: int, what: str) -> int:
    """Apply ``spec.outside`` to a clip lacking ``missing`` frames: the number of padded frames, or raise."""
    if missing == 0 or spec.outside == "pad":
        return missing
    msg = f"{path}: sample {sample.sample_id}: {missing} of {spec.frames} clip frames {what}"
    if spec.outside == "fail":
        raise WindowOutsideError(msg + " (outside: fail; set outside: skip or pad)")
    raise _SkipSample(msg)


class _SkipSample(Exception):
    """This sample is left out of the cache (the message says why)."""


def _npy_clip(path: Path, sample: Sample, spec: ClipSpec) -> tuple[np.ndarray, int]:
    from .adapters.header_csv import read_npy_clip

    clip = np.asarray(read_npy_clip(path))
    n = clip.shape[0]
    if sample.center_s is None:
        _padded = _outside(path, sample, spec, max(spec.frames - n, 0), f"missing: the clip has {n} frames")
        idx = np.linspace(0, n - 1, spec.frames).round().astype(int) if n != spec.frames else np.arange(n)
    else:
        raw = n // 2 + (np.arange(spec.frames) - spec.frames // 2) * spec.stride
        _padded = _outside(path, sample, spec, int(np.count_nonzero((raw < 0) | (raw > n - 1))),
                           f"outside the clip's {n} frames")  # fmt: skip
        idx = np.clip(raw, 0, n - 1)
    out = [
        crop_resize(np.ascontiguousarray(clip[i]), crop_center=sample.point, crop_px=spec.crop_px, size=spec.size) for i in idx
    ]
    frames = np.stack(out)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    return frames, _padded


def _read_source(path: Path, sample: Sample, spec: ClipSpec, infos: dict) -> tuple[np.ndarray, int]:
    """One view's clip and how many of its frames repeat an edge frame (``outside: pad``)."""
    if path.suffix.lower() == ".npy":
        if sample.track is not None:
            raise AdapterError(f"{path}: sample {sample.sample_id} has a moving crop track, which needs a video source")
        return _npy_clip(path, sample, spec)
    if path not in infos:
        infos[path] = probe(path)
    info = infos[path]
    missing = spec.outside_frames(sample, info.duration_s, info.fps, info.n_frames)
    what = (f"missing: the video has {info.n_frames} frames" if sample.center_s is None
            else f"outside the video (0 to {info.duration_s:.3f} s)")  # fmt: skip
    padded = _outside(path, sample, spec, missing, what)
    times = spec.times(sample, info.duration_s, info.fps)
    clip = read_frames(path, times, crop_center=sample.point, crop_px=spec.crop_px, size=spec.size,
                       crop_centers=sample.crop_centers(times))  # fmt: skip
    return clip, padded


_VIEW_ERRORS = (VideoReadError, AdapterError, OSError, ValueError)


def decode_unit_outcome(index: SampleIndex, unit: Unit, spec: ClipSpec) -> tuple[np.ndarray, dict]:
    """Clips of one unit, shape (len(unit.rows), *spec.clip_shape()), and what happened to its samples:
    ``skipped`` (row -> reason), ``views`` (row -> readable views), ``dropped_views`` ([row, file, reason]),
    ``padded`` (row -> padded frames).

    Single-view samples: an unreadable source raises (the whole unit is a bad video). Multi-view samples: an
    unreadable view is dropped, the readable ones move to the front, and the sample is skipped when fewer than
    ``spec.min_views`` remain."""
    infos: dict = {}
    out = np.zeros((len(unit.rows), *spec.clip_shape()), np.uint8)
    outcome: dict = {"skipped": {}, "views": {}, "dropped_views": [], "padded": {}}
    for j, i in enumerate(unit.rows):
        s = index.samples[i]
        sources = s.sources[: spec.views]
        good, padded = 0, 0
        try:
            for src in sources:
                path = index.resolve(src)
                if spec.views == 1:
                    out[j], padded = _read_source(path, s, spec, infos)
                    good = 1
                    continue
                try:
                    out[j, good], n_pad = _read_source(path, s, spec, infos)
                except WindowOutsideError:
                    raise
                except _VIEW_ERRORS as e:
                    outcome["dropped_views"].append([i, str(path), str(e)])
                    continue
                good += 1
                padded += n_pad
        except _SkipSample as e:
            outcome["skipped"][i] = str(e)
            out[j] = 0
            continue
        if spec.views > 1 and good < min(spec.min_views, len(sources)) or good == 0:
            outcome["skipped"][i] = f"sample {s.sample_id}: {good} of {len(sources)} views readable (min_views: {spec.min_views})"
            continue
        outcome["views"][i] = good
        if padded:
            outcome["padded"][i] = padded
    return out, outcome


def decode_unit(index: SampleIndex, unit: Unit, spec: ClipSpec) -> np.ndarray:
    """Clips of one unit, shape (len(unit.rows), *spec.clip_shape()) (see :func:`decode_unit_outcome`)."""
    return decode_unit_outcome(index, unit, spec)[0]


# worker process state (set once per process by the pool initializer)
_W: dict = {}


def _init_worker(index: SampleIndex, spec: ClipSpec, work_dir: Path) -> None:
    _W.update(index=index, spec=spec, work_dir=work_dir)


def _work(unit: Unit) -> tuple[str, int, str | None, str | None]:
    """Decode one unit into its part file (+ its outcome, ``<key>.json``). Returns (key, clips, bad file, reason)."""
    index, spec, work_dir = _W["index"], _W["spec"], _W["work_dir"]
    try:
        clips, outcome = decode_unit_outcome(index, unit, spec)
    except WindowOutsideError:
        raise
    except _VIEW_ERRORS as e:
        bad = next(
            (str(index.resolve(s)) for s in unit.sources if str(index.resolve(s)) in str(e)), str(index.resolve(unit.sources[0]))
        )
        return unit.key, 0, bad, str(e)
    with atomic_path(work_dir / f"{unit.key}.json") as tmp:
        Path(tmp).write_text(json.dumps(outcome))
    with atomic_path(work_dir / f"{unit.key}.npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, clips)
    return unit.key, len(clips), None, None


def _outcome(work_dir: Path, key: str) -> dict:
    """A finished unit's outcome (row keys back to int)."""
    raw = json.loads((work_dir / f"{key}.json").read_text())
    return {
        "skipped": {int(k): v for k, v in raw["skipped"].items()},
        "views": {int(k): v for k, v in raw["views"].items()},
        "dropped_views": raw["dropped_views"],
        "padded": {int(k): v for k, v in raw["padded"].items()},
    }


def build_cache(
    index: SampleIndex,
    spec: ClipSpec,
    *,
    out_h5: str | os.PathLike,
    out_index: str | os.PathLike,
    work_dir: str | os.PathLike,
    workers: int = 1,
    on_bad_video: str = "fail",
    skipped_csv: str | os.PathLike | None = None,
    compression: str | None = None,
    progress: bool = True,
    task: str = "",
    _after_unit: Callable[[str], None] | None = None,
) -> dict:
    """Decode every sample of ``index`` into ``out_h5`` + ``out_index``; returns a summary for the metrics."""
    if on_bad_video not in ("fail", "skip"):
        raise ValueError(f"on_bad_video: unknown value {on_bad_video!r} (fail, skip)")
    if not index.samples:
        raise AdapterError(f"{index.name or task}: the sample index is empty; nothing to cache")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    units = plan_units(index, spec)
    wanted = {u.key for u in units}
    for stale in [*work_dir.glob("*.npy"), *work_dir.glob("*.json")]:  # parts of another spec / older sources
        if stale.stem not in wanted:
            stale.unlink()
    todo = [u for u in units if not ((work_dir / f"{u.key}.npy").is_file() and (work_dir / f"{u.key}.json").is_file())]
    resumed = len(units) - len(todo)
    bad: dict[str, tuple[str, str]] = {}
    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=len(units), initial=resumed, unit="video", desc=f"cache {task}".strip(), disable=not progress)
    pool = None
    if workers == 1 or len(todo) <= 1:
        _init_worker(index, spec, work_dir)
        results = map(_work, todo)
    else:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        pool = ctx.Pool(min(workers, max(len(todo), 1)), initializer=_init_worker, initargs=(index, spec, work_dir))
        results = pool.imap_unordered(_work, todo, chunksize=1)
    try:
        for key, _n, bad_file, reason in results:
            if bad_file is not None:
                bad[key] = (bad_file, reason or "")
            bar.update(1)
            if _after_unit is not None:
                _after_unit(key)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    bad_list = sorted(bad.values())
    kept_units = [u for u in units if u.key not in bad]
    outcomes = {u.key: _outcome(work_dir, u.key) for u in kept_units}
    skipped_rows = {i: r for o in outcomes.values() for i, r in o["skipped"].items()}
    dropped_views = [d for o in outcomes.values() for d in o["dropped_views"]]
    if (bad_list or dropped_views) and on_bad_video == "fail":
        raise BadVideosError(sorted({*bad_list, *((f, r) for _, f, r in dropped_views)}))
    padded = {i: n for o in outcomes.values() for i, n in o["padded"].items()}
    n_views = {i: n for o in outcomes.values() for i, n in o["views"].items()}
    if skipped_csv is not None:
        lines = [[f, r, sum(len(u.rows) for u in units if u.key == k)] for k, (f, r) in sorted(bad.items(), key=lambda kv: kv[1])]
        lines += [["|".join(index.samples[i].sources[: spec.views]), r, 1] for i, r in sorted(skipped_rows.items())]
        lines += [[f, f"view of sample {index.samples[i].sample_id} dropped: {r}", 0] for i, f, r in sorted(dropped_views)]
        write_csv(skipped_csv, ["source", "reason", "samples"], lines)
    rows = sorted(i for u in kept_units for i in u.rows if i not in skipped_rows)
    if not rows:
        raise AdapterError(f"{index.name or task}: no sample could be cached (unreadable sources or windows outside them)")
    where = {}
    for u in kept_units:
        for j, i in enumerate(u.rows):
            where[i] = (u.key, j)
    _write_h5(index, spec, rows, where, work_dir, Path(out_h5), compression, task, n_views)
    kept = index.subset([index.samples[i].sample_id for i in rows])
    kept.write_csv(out_index)
    shutil.rmtree(work_dir, ignore_errors=True)
    try:
        work_dir.parent.rmdir()  # the shared parent of per-task work dirs, once the last one is gone
    except OSError:
        pass
    counts: dict[str, int] = {}
    for s in kept.samples:
        name = kept.label_name(s) or "multi_label"
        counts[name] = counts.get(name, 0) + 1
    few_views = sum(1 for r in skipped_rows.values() if "views readable" in r)
    return {
        "clips": len(rows),
        "sources": len({src for u in kept_units for src in u.sources}),
        "skipped_sources": len(bad_list),
        "skipped_samples": len(index) - len(rows),
        "skipped_outside": len(skipped_rows) - few_views,  # windows outside their video (outside: skip)
        "skipped_few_views": few_views,  # multi-view samples with fewer than min_views readable views
        "dropped_views": len(dropped_views),  # unreadable views left out of kept samples
        "padded_clips": len(padded),  # clips with repeated edge frames (outside: pad)
        "padded_frames": sum(padded.values()),
        "dropped_by_rules": dict(sorted(index.dropped.items())),  # adapter: samples its official rules leave out
        "resumed_units": resumed,
        "class_counts": counts,
        "clip_shape": list(spec.clip_shape()),
        "bytes": int(Path(out_h5).stat().st_size),
    }


def _write_h5(index, spec, rows, where, work_dir: Path, out_h5: Path, compression, task, n_views: dict) -> None:
    import h5py

    shape = spec.clip_shape()
    with atomic_path(out_h5) as tmp:
        with h5py.File(tmp, "w", track_order=True) as f:
            ds = f.create_dataset("clips", (len(rows), *shape), np.uint8, chunks=(1, *shape),
                                  compression=None if compression in (None, "none") else compression)  # fmt: skip
            f.create_dataset("sample_id", data=np.array([index.samples[i].sample_id for i in rows], dtype=h5py.string_dtype()))
            f.create_dataset("label", data=np.array([index.samples[i].label for i in rows], np.int64))
            f.create_dataset("n_views", data=np.array([n_views[i] for i in rows], np.int16))
            f.attrs["spec"] = json.dumps(asdict(spec), sort_keys=True)
            f.attrs["classes"] = json.dumps(index.classes)
            f.attrs["task"] = task
            f.attrs["format_version"] = FORMAT_VERSION
            parts: dict[str, np.ndarray] = {}
            for n, i in enumerate(rows):
                key, j = where[i]
                if key not in parts:
                    parts.clear()  # rows of one unit are contiguous in most indexes; keep one part in memory
                    parts[key] = np.load(work_dir / f"{key}.npy", mmap_mode="r")
                ds[n] = parts[key][j]


def read_cache_meta(path: str | os.PathLike) -> dict:
    """Spec, classes and sample ids of a cache file (raises FileNotFoundError naming it when missing)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: clip cache not found (run the cache_clips stage)")
    with h5py.File(path, "r") as f:
        return {
            "spec": json.loads(f.attrs["spec"]),
            "classes": json.loads(f.attrs["classes"]),
            "sample_ids": [s.decode() if isinstance(s, bytes) else s for s in f["sample_id"][:]],
            "n": int(f["clips"].shape[0]),
            "shape": tuple(f["clips"].shape[1:]),
        }


def contact_sheet_png(
    cache_h5: str | os.PathLike, out_png: str | os.PathLike, *, per_class: int = 2, steps: int = 6, seed: int = 0
) -> None:
    """A PNG of cached clips: ``per_class`` random clips of every class (first view), ``steps`` frames each,
    so a person can check crops, timing and labels at a glance."""
    import h5py

    from ..viz.png import save_png
    from ..viz.sheets import contact_sheet

    with h5py.File(cache_h5, "r") as f:
        labels = f["label"][:]
        classes = json.loads(f.attrs["classes"])
        rng = np.random.default_rng(seed)
        rows, names = [], []
        for c in sorted(set(labels.tolist())):
            pick = rng.permutation(np.flatnonzero(labels == c))[:per_class]
            for i in sorted(pick):
                clip = f["clips"][int(i)]
                clip = clip[0] if clip.ndim == 5 else clip
                at = np.linspace(0, clip.shape[0] - 1, steps).round().astype(int)
                rows.append([clip[t] for t in at])
                names.append(classes[c] if 0 <= c < len(classes) else "multi-label")
    title = f"{Path(cache_h5).stem}: rows " + ", ".join(dict.fromkeys(names)) + f" ({per_class} each)"
    save_png(out_png, contact_sheet(title, rows, thumb_h=max(64, rows[0][0].shape[0]) if rows else 64))
