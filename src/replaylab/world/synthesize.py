"""Generate the whole synthetic dataset: matches, multi-view fouls, AVA, UCF101 (with captions) and header clips.

Work is split into independent tasks (one match, one foul action, one recognition clip), each with its
own random stream derived from (seed, task), so the output does not depend on the number of workers.
Everything is written into a hidden sibling directory and swapped into place at the end.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..io import replace_dir, write_csv, write_json, write_text
from ..params.world import SynthesizeParams
from ..viz.png import save_png
from ..viz.sheets import contact_sheet
from .captions import MENTIONS, captions_for_clip
from .fouls import FOUL_CLASSES, SEVERITY_BANDS
from .match import EVENT_TYPES, HEADER_OUTCOMES, MatchConfig, simulate_match
from .physics import BallParams
from .tracking import ProviderNoise
from .video import VideoSettings
from .writers.ava import write_ava
from .writers.matches import MatchRenderConfig, render_match
from .writers.mvfoul import FoulRenderConfig, annotations_document, render_foul
from .writers.ucf101 import RecognitionRenderConfig, clip_name, group_setting, render_clip, split_lists

TASK_CODES = {"match": 1, "foul": 2, "ucf": 3, "ava": 4, "caption": 5}
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Task:
    kind: str
    key: tuple  # match: (i,); foul: (split, index, class, band); ucf and caption: (class, group, clip)
    sheet: bool = False

    def rng(self, seed: int) -> np.random.Generator:
        nums = [seed, TASK_CODES[self.kind]]
        for k in self.key:
            nums.append(k if isinstance(k, int) else int.from_bytes(str(k).encode()[:8].ljust(8, b"\0"), "little"))
        return np.random.default_rng(nums)


def caption_rng(seed: int, cls: str, group: int, clip: int) -> np.random.Generator:
    """The captions' own random stream, apart from the clip's, so that captions never change a rendered byte."""
    return Task("caption", (cls, group, clip)).rng(seed)


def match_id(i: int) -> str:
    return f"match_{i:03d}"


def _ball(p: SynthesizeParams) -> BallParams:
    return BallParams(
        restitution=p.ball.restitution, bounce_friction=p.ball.bounce_friction, rolling_friction=p.ball.rolling_friction
    )


def _video(p: SynthesizeParams) -> VideoSettings:
    return VideoSettings(fps=p.fps, crf=p.video.crf, gop=p.video.gop, preset=p.video.preset)


def _look(p: SynthesizeParams) -> tuple[float, float, float]:
    return (p.look.blur_sigma, p.look.noise_std, p.look.light_drift)


@dataclass(frozen=True)
class WorldParams:
    """What the world reads of params.yaml: picklable, for the worker processes."""

    seed: int
    synthesize: SynthesizeParams


def plan_tasks(params: WorldParams) -> list[Task]:
    """Every task, longest first. Foul classes and severity bands are drawn here so that the contact
    sheets can ask for the first few of each class without shipping every clip back."""
    p = params.synthesize
    tasks = [Task("match", (i,)) for i in range(p.matches.count)]
    rng = np.random.default_rng([params.seed, 99])
    cw = np.array(list(p.fouls.class_weights.model_dump().values()), float)
    sw = np.array(list(p.fouls.severity_weights.model_dump().values()), float)
    if cw.sum() <= 0 or sw.sum() <= 0:
        raise ValueError("synthesize.fouls.class_weights and severity_weights need a positive weight")
    shown: dict[str, int] = {}
    for split in SPLITS:
        for i in range(getattr(p.fouls.splits, split)):
            cls = FOUL_CLASSES[int(rng.choice(len(FOUL_CLASSES), p=cw / cw.sum()))]
            band = int(rng.choice(4, p=sw / sw.sum()))
            sheet = shown.get(cls, 0) < p.contact_sheets.examples
            shown[cls] = shown.get(cls, 0) + sheet
            tasks.append(Task("foul", (split, i, cls, band), sheet))
    r = p.recognition
    for cls in r.classes:
        for g in range(1, r.groups + 1):
            for c in range(1, r.clips_per_group + 1):
                tasks.append(Task("ucf", (cls, g, c), c == 1 and g <= p.contact_sheets.examples))
    return tasks


_PARAMS: WorldParams | None = None
_ROOT: Path | None = None


def _init(params: WorldParams, root: Path) -> None:
    global _PARAMS, _ROOT
    _PARAMS, _ROOT = params, root
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _run_task(task: Task):
    params, root = _PARAMS, _ROOT
    p = params.synthesize
    rng = task.rng(params.seed)
    if task.kind == "match":
        (i,) = task.key
        m = p.matches
        w = m.outcomes.model_dump()
        cfg = MatchConfig(fps=p.fps, duration_s=m.duration_s, lofted_prob=m.lofted_prob, foul_prob=m.foul_prob,
                          outcome_weights={k: w[k] for k in HEADER_OUTCOMES}, ball=_ball(p))  # fmt: skip
        truth = simulate_match(cfg, rng, match_id(i))
        t = p.tracking
        noise = ProviderNoise(t.position_noise_m, t.ball_xy_noise_m, t.ball_z_noise_m, t.ball_z_missing, t.dropout_rate,
                              (t.dropout_s[0], t.dropout_s[1]))  # fmt: skip
        h = p.header_clips
        rcfg = MatchRenderConfig(m.width, m.height, m.view_width_m, _video(p), _look(p), noise, h.frames, h.size, h.crop_px,
                                 h.negatives_per_positive, h.random_negative_share, p.contact_sheets.examples,
                                 p.contact_sheets.steps, p.actions.min_box_px)  # fmt: skip
        prod = render_match(truth, rcfg, root / "matches" / match_id(i), root / "header_clips" / "clips", rng)
        return task, prod
    if task.kind == "foul":
        split, i, cls, band = task.key
        f = p.fouls
        onehot_c = tuple(1.0 if c == cls else 0.0 for c in FOUL_CLASSES)
        onehot_b = tuple(1.0 if b == band else 0.0 for b in range(len(SEVERITY_BANDS)))
        cfg = FoulRenderConfig(f.clip_frames, f.contact_frame, f.width, f.height, _video(p), _look(p), onehot_c, onehot_b,
                               f.severity_noise, f.ambiguous_fraction, f.distractors, _ball(p))  # fmt: skip
        entry, thumbs = render_foul(i, split, root / "mvfoul" / split, cfg, rng)
        return task, (entry, thumbs if task.sheet else [])
    cls, g, c = task.key
    r = p.recognition
    cfg = RecognitionRenderConfig(r.frames, r.width, r.height, _video(p), _look(p), r.extras, _ball(p))
    setting = group_setting(np.random.default_rng([params.seed, TASK_CODES["ucf"], g, sum(map(ord, cls))]), cfg)
    thumbs = render_clip(cls, g, c, setting, root / "ucf101", cfg, rng)
    crng = caption_rng(params.seed, cls, g, c)
    captions = [(m, text) for m, (kit, camera) in MENTIONS.items()
                for text in captions_for_clip(cls, setting, n=r.captions_per_clip, rng=crng, kit=kit, camera=camera)]  # fmt: skip
    return task, (thumbs if task.sheet else [], captions)


def generate(params, out_dir: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Write the dataset to ``out_dir`` (default: params.synthesize.out_dir); return summary metrics."""
    params = WorldParams(seed=params.seed, synthesize=params.synthesize)
    p = params.synthesize
    final = Path(out_dir or p.out_dir)
    work = final.with_name(f".{final.name}.partial")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    tasks = plan_tasks(params)
    workers = p.workers or os.cpu_count() or 1
    t0 = time.time()
    results = []
    bar = tqdm(total=len(tasks), desc="synthesize", unit="task", disable=not progress, smoothing=0.05)
    if workers == 1:
        _init(params, work)
        for t in tasks:
            results.append(_run_task(t))
            bar.update()
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers, initializer=_init, initargs=(params, work)) as pool:
            for res in pool.imap_unordered(_run_task, tasks, chunksize=1):
                results.append(res)
                bar.update()
    bar.close()
    summary = _finish(params, work, results)
    summary["seconds"] = round(time.time() - t0, 1)
    replace_dir(work, final)
    return summary


def _finish(params: WorldParams, root: Path, results: list) -> dict:
    p = params.synthesize
    matches = sorted((r for t, r in results if t.kind == "match"), key=lambda m: m.match_id)
    fouls = {s: {} for s in SPLITS}
    sheets: dict[str, list] = {}
    captions: dict[tuple, list[tuple[str, str]]] = {}
    for t, r in results:
        if t.kind == "foul":
            split, i, cls, _ = t.key
            entry, thumbs = r
            fouls[split][i] = entry
            if thumbs:
                sheets.setdefault(f"foul_{cls.lower().replace(' ', '_')}", []).append((t.key, thumbs[0]))
        elif t.kind == "ucf":
            thumbs, captions[t.key] = r
            if thumbs:
                sheets.setdefault(f"recognition_{t.key[0].lower()}", []).append((t.key, thumbs))
    for m in matches:
        for etype, rows in m.sheets.items():
            for k, frames in enumerate(rows):
                sheets.setdefault(f"match_{etype}", []).append(((m.match_id, k), frames))
    # multi-view fouls
    for split in SPLITS:
        write_json(root / "mvfoul" / split / "annotations.json", annotations_document(split, fouls[split]), indent=4)
    # header clips (.npy + CSV of relative paths)
    clip_rows = [r for m in matches for r in m.header_clips]
    write_csv(root / "header_clips" / "dataset.csv", ("path", "label", "video_id", "frame", "event", "track_id"),
              [(f"clips/{r['clip_id']}.npy", r["label"], r["video_id"], r["frame"], r["event"], r["track_id"]) for r in clip_rows])  # fmt: skip
    # AVA over the match videos
    n_val = p.actions.val_matches if len(matches) > 1 else 0
    val = {m.match_id for m in matches[len(matches) - n_val :]} if n_val else set()
    ava_counts = write_ava(root / "ava", matches, {m.match_id: root / "matches" / m.match_id for m in matches}, val,
                           np.random.default_rng([params.seed, TASK_CODES["ava"]]), p.actions.proposal_jitter,
                           p.actions.proposal_miss, p.actions.false_positives)  # fmt: skip
    # UCF101 lists
    r = p.recognition
    ind, train, test = split_lists(list(r.classes), r.groups, r.clips_per_group, r.test_groups)
    lists = root / "ucf101" / "ucfTrainTestlist"
    write_text(lists / "classInd.txt", "\n".join(ind) + "\n")
    write_text(lists / "trainlist01.txt", "\n".join(train) + "\n")
    write_text(lists / "testlist01.txt", "\n".join(test) + "\n")
    caption_rows = [(clip_name(cls, g, c), text, m) for cls in r.classes for g in range(1, r.groups + 1)
                    for c in range(1, r.clips_per_group + 1) for m, text in captions[(cls, g, c)]]  # fmt: skip
    if r.captions_per_clip:
        write_csv(root / "ucf101" / "captions.csv", ("path", "caption", "mentions"), caption_rows)
    # contact sheets
    for name, items in sorted(sheets.items()):
        rows = [frames for _, frames in sorted(items, key=lambda kv: str(kv[0]))][: p.contact_sheets.examples]
        save_png(root / "contact_sheets" / f"{name}.png", contact_sheet(name.replace("_", " "), rows))
    event_counts = {t: 0 for t in EVENT_TYPES}  # every type, so `dvc metrics diff` compares like with like
    for m in matches:
        for k, v in m.events.items():
            event_counts[k] = event_counts.get(k, 0) + v
    summary = {
        "matches": len(matches),
        "match_frames": int(sum(m.n_frames for m in matches)),
        "events": event_counts,
        "header_clips": len(clip_rows),
        "header_clip_positives": int(sum(r["label"] for r in clip_rows)),
        "foul_actions": {s: len(fouls[s]) for s in SPLITS},
        "foul_classes": _class_counts(fouls),
        "recognition_clips": len(train) + len(test),
        "recognition_captions": len(caption_rows),
        **ava_counts,
    }
    manifest = {"generator": "replaylab.world", "seed": params.seed, "params": params.synthesize.model_dump(), "summary": summary}
    write_json(root / "manifest.json", manifest)
    return summary


def _class_counts(fouls: dict[str, dict[int, dict]]) -> dict[str, int]:
    out = {c: 0 for c in FOUL_CLASSES}
    for split in fouls.values():
        for e in split.values():
            if e["Action class"] in out:
                out[e["Action class"]] += 1
    return out
