"""Run-to-run spread of the headline metrics over training seeds, on the same data.

Every trained model's seed (``train.<task>.seed``, ``pre_xgb.seed``, ``post_xgb.seed``) is set to each of
``--seeds`` while the data (synthetic world, caches, splits) stays that of the default run. The default
run's own seed is read from the workspace (``metrics/*.json`` of the last ``dvc repro``, which must be up to
date); every other seed runs as a DVC experiment in a temporary workspace
(``dvc exp run --temp -n seed-<s> -S ...``), which recomputes only the stages that depend on those seeds,
and its metrics are read back from the experiment's git ref. Writes ``benchmarks/results/seed_spread.json``
(every metrics file of every seed) and ``.md``; ``replaylab docs --write`` turns it into the spread
columns of the results tables.

Usage (after ``dvc repro``, with the workspace committed): ``python benchmarks/seed_spread.py --seeds 42 43 44``;
then each group of :data:`GROUPS` (``actions``, ``recognition``, ``kd``) on its own, merged into that result:
``python benchmarks/seed_spread.py --seeds 42 43 44 --only kd``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from replaylab.io import write_json, write_text  # noqa: E402

#: The metrics files a seed changes (the others describe data, which stays fixed).
METRICS = ("pre_xgb", "train_header", "export_probs", "post_xgb", "eval_header", "train_foul", "eval_foul")
#: The params that seed the trained models (each null in params.yaml = the top-level seed).
SEED_KEYS = ("train.header.seed", "train.foul.seed", "pre_xgb.seed", "post_xgb.seed")
#: Groups that can be run on their own (``--only``) and merged into an existing result: their stages depend on
#: no other group's seed, so varying their seed alone gives the same runs as varying every seed at once.
GROUPS = {
    "actions": (("train_actions", "eval_actions"), ("train.actions.seed",)),
    # the plain clip classifier on featurize@recognition's store (the store itself is seeded by the top-level seed only)
    "recognition": (("train_recognition", "eval_recognition"), ("train.recognition.seed",)),
    # converters + fusion head + the student-alone / teacher-alone reference heads, all seeded by train.kd.seed
    "kd": (("train_kd", "eval_kd"), ("train.kd.seed",)),
}
OUT = ROOT / "benchmarks" / "results" / "seed_spread"


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, check=True, text=True, **kw)


def workspace_seed() -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from replaylab import params as P

    params = P.load(path=ROOT / "params.yaml")
    tr = params.train
    seeds = {params.seed if v is None else v for v in (tr.header.seed, tr.foul.seed, tr.actions.seed, tr.recognition.seed,
                                                       tr.kd.seed, params.pre_xgb.seed, params.post_xgb.seed)}  # fmt: skip
    if len(seeds) != 1:
        keys = (*SEED_KEYS, *(k for _, ks in GROUPS.values() for k in ks))
        raise SystemExit(f"params.yaml seeds the trained models differently ({sorted(seeds)}); set {keys} to null")
    return seeds.pop()


def workspace_metrics(metrics: tuple[str, ...] = METRICS) -> dict:
    status = run(["dvc", "status", "--json"], capture_output=True).stdout.strip()
    if status not in ("", "{}"):
        raise SystemExit("the workspace is not up to date with dvc.lock (run `dvc repro` first):\n" + status[:2000])
    return {name: json.loads((ROOT / "metrics" / f"{name}.json").read_text()) for name in metrics}


def experiment_metrics(seed: int, metrics: tuple[str, ...] = METRICS, keys: tuple[str, ...] = SEED_KEYS,
                       name: str | None = None) -> dict:  # fmt: skip
    name = name or f"seed-{seed}"
    sets = [a for key in keys for a in ("-S", f"{key}={seed}")]
    subprocess.run(["dvc", "exp", "remove", name], cwd=ROOT, capture_output=True)  # a previous run of this seed
    run(["dvc", "exp", "run", "--temp", "-n", name, *sets])
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], capture_output=True).stdout.split()
    ref = [r for r in refs if r.rsplit("/", 1)[-1] == name]
    if len(ref) != 1:
        raise SystemExit(f"experiment {name}: expected one git ref, found {ref}")
    show = lambda n: run(["git", "show", f"{ref[0]}:metrics/{n}.json"], capture_output=True).stdout  # noqa: E731
    return {n: json.loads(show(n)) for n in metrics}


#: One test metric per source for the summary: (source, label, keys into metrics/<source>.json).
SUMMARY = (
    ("eval_header", "full header pipeline test F1", ("test", "full", "f1")),
    ("eval_foul", "foul test leaderboard", ("test", "leaderboard_value")),
    ("eval_actions", "actions test frame-mAP", ("test", "frame_map")),
    ("eval_recognition", "recognition test top-1", ("test", "top1")),
    ("eval_kd", "kd fusion test top-1", ("fusion", "test", "top1")),
    ("eval_kd", "kd student-alone test top-1", ("student", "test", "top1")),
    ("eval_kd", "kd fusion gain over student (test top-1)", ("gain_over_student", "test")),
)


def _lookup(node, keys: tuple[str, ...]):
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


def summary_md(result: dict) -> str:
    lines = [f"# Seed spread ({len(result['seeds'])} seeds: {', '.join(map(str, result['seeds']))})", ""]
    for source, label, keys in SUMMARY:
        vals = [_lookup(result["runs"][str(s)].get(source), keys) for s in result["seeds"]]
        if all(v is None for v in vals):  # a group not run yet (--only)
            continue
        lines.append(f"- {label}: {', '.join('—' if v is None else f'{v:.3f}' for v in vals)}")
    lines.append(f"\n(machine: {result['machine']}; {result['seconds']:.0f} s)")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    ap.add_argument("--only", choices=sorted(GROUPS), help="run one group's seeds alone and merge them into the existing "
                    "result (its stages depend on no other seed)")  # fmt: skip
    args = ap.parse_args()
    t0 = time.perf_counter()
    base = workspace_seed()
    if args.only:
        metrics, keys = GROUPS[args.only]
        result = json.loads(OUT.with_suffix(".json").read_text())
        if [int(s) for s in result["seeds"]] != args.seeds:
            raise SystemExit(f"{OUT.with_suffix('.json')} has seeds {result['seeds']}; run --only with the same seeds")
        for seed in args.seeds:
            print(f"seed {seed} ({args.only}): {'workspace' if seed == base else 'dvc exp run --temp'}", flush=True)
            got = (
                workspace_metrics(metrics)
                if seed == base
                else experiment_metrics(seed, metrics, keys, f"seed-{seed}-{args.only}")
            )
            result["runs"][str(seed)].update(got)
        result["varied"] = list(dict.fromkeys([*result["varied"], *keys]))
        result.setdefault("groups", {})[args.only] = {"seconds": round(time.perf_counter() - t0, 1), "varied": list(keys)}
        write_json(OUT.with_suffix(".json"), result)
        write_text(OUT.with_suffix(".md"), summary_md(result))
        print(summary_md(result))
        return
    runs = {}
    for seed in args.seeds:
        print(f"seed {seed}: {'workspace' if seed == base else 'dvc exp run --temp'}", flush=True)
        runs[str(seed)] = workspace_metrics() if seed == base else experiment_metrics(seed)
    import platform

    import torch

    result = {
        "seeds": args.seeds,
        "varied": list(SEED_KEYS),
        "runs": runs,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
    }
    write_json(OUT.with_suffix(".json"), result)
    write_text(OUT.with_suffix(".md"), summary_md(result))
    print(summary_md(result))


if __name__ == "__main__":
    main()
