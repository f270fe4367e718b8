"""The headline metrics files of an earlier committed run, kept as a named baseline for the docs tables.

``python benchmarks/baseline_metrics.py --rev 139c345 --name from_scratch`` copies ``metrics/<stage>.json``
(train, export, post-filter and evaluation stages) as committed at git revision ``--rev`` (with its
``params.yaml`` and the revision itself) into ``benchmarks/results/baseline_<name>.json``; the docs compare
the current default run against it (``replaylab docs --write``). Nothing is recomputed: the numbers are those
``dvc repro`` wrote at that revision.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("train_header", "pre_xgb", "export_probs", "post_xgb", "eval_header", "train_foul", "eval_foul")


def git_show(rev: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", required=True, help="git revision whose committed metrics/*.json are the baseline")
    ap.add_argument("--name", required=True, help="baseline name: benchmarks/results/baseline_<name>.json")
    args = ap.parse_args()
    full = subprocess.run(["git", "rev-parse", args.rev], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    params = YAML(typ="safe", pure=True).load(git_show(full, "params.yaml"))
    out = {
        "rev": full,
        "subject": subprocess.run(
            ["git", "log", "-1", "--format=%s", full], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip(),  # fmt: skip
        "train": {t: {k: params["train"][t].get(k) for k in ("backbone", "input", "epochs")} for t in ("header", "foul")},
        "metrics": {m: json.loads(git_show(full, f"metrics/{m}.json")) for m in METRICS},
    }
    path = ROOT / "benchmarks" / "results" / f"baseline_{args.name}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)} from {full[:10]} ({out['subject']})")


if __name__ == "__main__":
    main()
