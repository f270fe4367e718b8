"""The ``replaylab`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import params as P


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
    return ap


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except P.ParamsError as e:
        print(f"replaylab: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
