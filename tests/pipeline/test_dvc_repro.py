"""End to end: `dvc repro` on tiny params in a temporary git repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from repo_fixtures import REPO, TINY_PARAMS

from replaylab import params as P

# three matches so the header task has a match for each of train / val / test; small clips
PIPELINE_PARAMS = (
    TINY_PARAMS.replace("count: 2,", "count: 3,")
    + """\
cache_clips:  # dvc.yaml names these keys, so they must be in the file (DVC reads them without the schema)
  out_dir: data/cache
  on_bad_video: fail
  compression: none
  header: {source: {format: matches, root: data/raw/synthetic/matches}, frames: 8, size: [32, 32], crop_px: 64}
  foul: {source: {format: mvfoul, root: data/raw/synthetic/mvfoul, center_frame: 20}, frames: 6, size: [32, 48], views: 4}
  actions: {source: {format: ava, root: data/raw/synthetic/ava}, frames: 8, stride: 2, size: [36, 64]}
  recognition: {source: {format: ucf101, root: data/raw/synthetic/ucf101}, frames: 6, size: [32, 40]}
split:
  out_dir: data/splits
  header: {strategy: grouped, fractions: {train: 0.34, val: 0.33, test: 0.33}}
  foul: {strategy: official}
  actions: {strategy: official}
  recognition: {strategy: official}
weights: {dest: models/pretrained, fetch: [i3d_k400], offline: true, local: {i3d_k400: ../i3d_k400_random.pt}}
featurize:
  out_dir: data/features
  batch_size: 8
  device: cpu
  header: {models: [{key: c3d, backbone: compact3d, backbone_options: {width: 0.25}}], shard_size: 64}
  foul: {models: [{key: c3d, backbone: compact3d, backbone_options: {width: 0.25}}], shard_size: 64}
  actions: {models: [{key: c3d, backbone: compact3d, backbone_options: {width: 0.25}, store_maps: true}], shard_size: 64}
  recognition: {models: [{key: student, backbone: compact3d, backbone_options: {width: 0.25}},
                         {key: i3d, backbone: i3d, pretrained: models/pretrained/i3d_k400.pt, backbone_options: {endpoint: Mixed_4f},
                          frames: 8, size: [32, 32]},
                         {key: videomae_small, backbone: videomae_small, pretrained: null, frames: 4, size: [32, 32]}],
                dtype: float32, shard_size: 64}
train:
  out_dir: models
  live_dir: dvclive
  header: {epochs: 2, batch_size: 4, num_workers: 0, early_stop_patience: 0, warmup_epochs: 0.5, lr: 0.001, lr_head: null,
           finetune_mode: frozen, backbone: compact3d}
  foul: {epochs: 1, batch_size: 4, num_workers: 0, warmup_epochs: 0.0, hidden: 16, backbone_options: {width: 0.25}, aggregation: attention,
         input: features}
  actions: {input: video, backbone: compact3d, backbone_options: {}, pretrained: null, frozen_bn: false, epochs: 1, batch_size: 4,
            num_workers: 0, warmup_iters: 2, milestones: [100], roi: {hidden: 16, output_size: 3},
            ia: {active: false, dim_inner: 8, memory_span_s: 2}}
  recognition: {input: features, epochs: 2, batch_size: 4, num_workers: 0, warmup_epochs: 0.0}
  kd: {epochs: 2, batch_size: 4, num_workers: 0, warmup_epochs: 0.0, fusion: {hidden: 16}, teachers: [i3d],
       converter: {epochs: 3, patience: 2, batch_size: 4}}
evaluate:
  out_dir: reports
  header: {tolerance_s: 0.5}
  foul: {splits: [val, test]}
  actions: {splits: [val, test]}
  recognition: {splits: [val, test]}
  kd: {splits: [val, test]}
pre_xgb: {n_folds: 5, target_recall: 0.98, xgb: {n_estimators: 60, threads: 1}}
export_probs: {out: data/probs/header.csv, batch_size: 16, threads: 1, ensemble: {rule: mean, weight: 0.5}, dense_splits: [val, test],
               dense_stride: 2}
post_xgb: {probs: data/probs/header.csv, xgb: {n_estimators: 40, threads: 1}}
prompt:
  unseen_classes: [ThrowIn]
  clip: {model: tiny, checkpoint: models/clip/clip.pt, layout: auto}
  pretrain: {tiny: {embed_dim: 64, image_size: 32, patch_size: 8, vision_width: 64, vision_layers: 2, text_width: 64, text_layers: 1,
                    context_length: 24}, captions: captions.csv, epochs: 2, batch_size: 4, frames: 2}
  method: video_coop
  pooling: attention
  ctx_len: 2
  class_specific: true
  ctx_init: a video
  template: "a video of a {}."
  visual_prompts: 2
  visual_prompt_layer: -1
  stt: {layers: 1, heads: 1, grid: 2}
  frames: 4
  num_temporal_views: 2
  videomix: none
  videomix_prob: 0.5
  k_train: 2
  k_val: 1
  epochs: 2
  batch_size: 2
  batches_per_backprop: 1
  lr: 2.0e-3
  weight_decay: 0.0
  threads: 1
  sweep: {runs: {zero_shot: {method: zero_shot}, coop: {method: video_coop, pooling: mean}}, k: [1, 2], seeds: [1, 2]}
"""
)
TASKS = ("header", "foul", "actions", "recognition")

BIN = Path(sys.executable).parent


def run(cmd: list[str], cwd: Path, *, ok: bool = True) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        DVC_NO_ANALYTICS="1",
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=str(cwd / "src"),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if ok:
        assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "stages", root / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / "params.yaml").write_text(PIPELINE_PARAMS)
    # the weights stage without the network: a converted I3D state dict the user "already has" (random values)
    from replaylab.models.i3d import create_i3d

    torch.manual_seed(0)
    torch.save(create_i3d(endpoint="Logits").state_dict(), root.parent / "i3d_k400_random.pt")
    (root / "metrics").mkdir()
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "config", "core.analytics", "false"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "init"], root)
    return root


def test_repro_runs_synthesize_then_is_a_noop(project):
    first = run(["dvc", "repro"], project)
    assert "Running stage 'validate_params'" in first.stdout and "Running stage 'synthesize'" in first.stdout
    assert (project / "data/raw/synthetic/manifest.json").is_file()
    metrics = json.loads((project / "metrics/synthesize.json").read_text())
    assert metrics["matches"] == 3 and "seconds" not in metrics
    for task in TASKS:
        assert f"Running stage 'cache_clips@{task}'" in first.stdout and f"Running stage 'split@{task}'" in first.stdout
        cache = json.loads((project / f"metrics/cache_{task}.json").read_text())
        assert cache["clips"] > 0 and cache["skipped_sources"] == 0
        split = json.loads((project / f"metrics/split_{task}.json").read_text())
        assert split["groups_in_two_splits"] == 0
        sizes = [split["splits"][k]["n_samples"] for k in ("train", "val", "test")]
        assert all(n > 0 for n in sizes) and sum(sizes) == cache["clips"], (task, sizes)
        assert (project / f"data/cache/{task}.h5").is_file() and (project / f"data/splits/{task}/test.csv").is_file()
        assert not (project / "data/cache/.work" / task).exists()
    assert "Running stage 'train@header'" in first.stdout
    train = json.loads((project / "metrics/train_header.json").read_text())
    assert train["epochs_run"] == 2 and 0.0 <= train["test"]["auroc"] <= 1.0 and train["backbone"] == "compact3d"
    for name in (
        "best.pt",
        "last.pt",
        "config.yaml",
        "metrics_epoch.csv",
        "val_predictions.csv",
        "best_metrics.json",
        "plots/roc.csv",
    ):
        assert (project / "models/header" / name).is_file(), name
    assert "Running stage 'pre_xgb'" in first.stdout
    pre = json.loads((project / "metrics/pre_xgb.json").read_text())
    assert pre["cv"]["n_matches"] == 2 and pre["test"]["n_matches"] == 1 and pre["cv"]["event_recall"] >= 0.98
    assert 0.0 < pre["test"]["frames_kept"] < 1.0 and 0.0 <= pre["detector"]["test"]["f1"] <= 1.0
    meta = json.loads((project / "models/pre_xgb/meta.json").read_text())
    assert (
        len(meta["feature_names"]) == 36
        and sorted(meta["folds"]) == sorted(meta["cv_matches"])
        and len(meta["test_matches"]) == 1
    )
    for name in ("frames.csv", "candidates.csv", "proposals.csv"):
        assert (project / "data/pre_xgb" / name).is_file(), name
    for stage in ("export_probs", "post_xgb", "evaluate@header"):
        assert f"Running stage '{stage}'" in first.stdout, stage
    exported = json.loads((project / "metrics/export_probs.json").read_text())
    assert exported["frames"] == sum(m["frames"] for m in exported["matches"].values()) and exported["dense_windows"] > 0
    assert 0 < exported["cnn_windows"] < exported["frames"]
    with open(project / "data/probs/header.csv") as fh:
        assert sum(1 for _ in fh) == exported["frames"] + 1  # one row per video frame
    post = json.loads((project / "metrics/post_xgb.json").read_text())
    assert post["ablation"]["columns"] == ["cnn_prob"] and post["test"]["n_matches"] == 1
    ev = json.loads((project / "metrics/eval_header.json").read_text())
    assert set(ev["test_f1"]) == {"pre_filter", "cnn", "pre_filter+cnn", "cnn+post_filter", "full"}
    assert ev["test"]["full"]["threshold_chosen_on"] == ["train", "val"] and ev["test"]["cnn"]["threshold_chosen_on"] == ["val"]
    for name in ("timeline.csv", "timeline.png", "pr/full.csv", "pr/cnn.csv"):
        assert (project / "reports/header" / name).is_file(), name
    assert "Running stage 'train@foul'" in first.stdout and "Running stage 'evaluate@foul'" in first.stdout
    foul = json.loads((project / "metrics/train_foul.json").read_text())
    assert foul["epochs_run"] == 1 and foul["aggregation"] == "attention"
    evaluated = json.loads((project / "metrics/eval_foul.json").read_text())
    for split in ("val", "test"):
        assert evaluated[split]["actions_counted"] == foul["actions"][split] and evaluated[split]["actions_missing"] == 0
        assert evaluated[split]["accuracy_action"] == foul[split]["accuracy_action"]
        assert (project / f"reports/foul/{split}/confusion_offence_severity.png").is_file()
    assert (project / "models/foul/predictions/test.json").is_file()
    for stage in ("featurize@actions", "train@actions", "evaluate@actions"):
        assert f"Running stage '{stage}'" in first.stdout, stage
    actions = json.loads((project / "metrics/train_actions.json").read_text())
    assert actions["input"] == "video" and actions["ia"] is False and actions["epochs_run"] == 1
    scored = json.loads((project / "metrics/eval_actions.json").read_text())
    assert scored["test"]["frame_map"] == actions["test"]["frame_map"] and scored["test"]["box_prior_frame_map"] is not None
    assert (project / "reports/actions/test/groundtruth.csv").is_file() and (
        project / "models/actions/predictions/test.csv"
    ).is_file()
    for stage in ("pretrain@clip", "prompt_tune", "prompt_fewshot"):
        assert f"Running stage '{stage}'" in first.stdout, stage
    assert (project / "models/clip/clip.pt").is_file() and (project / "models/prompt/video_coop/best.pt").is_file()
    fewshot = json.loads((project / "metrics/eval_prompt.json").read_text())
    assert set(fewshot["runs"]) == {"zero_shot", "coop"} and fewshot["unseen_classes"] == ["ThrowIn"]
    assert (project / "reports/prompt/accuracy_vs_k.png").is_file()
    for stage in ("featurize@recognition", "train@recognition", "evaluate@recognition", "train@kd", "evaluate@kd"):
        assert f"Running stage '{stage}'" in first.stdout, stage
    kd = json.loads((project / "metrics/eval_kd.json").read_text())
    assert kd["teachers"] == ["i3d"] and {"fusion", "student", "teacher_i3d"} <= set(kd)
    assert "Running stage 'weights'" in first.stdout and (project / "models/pretrained/i3d_k400.pt").is_file()
    record = json.loads((project / "models/pretrained/i3d_k400.json").read_text())
    assert record["output"]["tensors"] > 200  # the user's file, checked against the I3D's keys and shapes, copied as is
    assert "Running stage 'featurize@foul'" in first.stdout
    featurized = json.loads((project / "metrics/featurize_foul.json").read_text())
    assert featurized["samples"] > 0 and "seconds" not in featurized and "clips_per_s" not in featurized  # no wall clock
    assert "computed_shards" not in str(featurized)  # nor what this run happened to reuse
    assert "seconds" in json.loads((project / "logs/featurize_foul_timing.json").read_text())
    assert "input: features" in (project / "models/foul/config.yaml").read_text()  # foul's head on the feature store
    assert (project / "dvc.lock").is_file()
    stamp = (project / "data/raw/synthetic/manifest.json").stat().st_mtime_ns
    second = run(["dvc", "repro"], project)
    assert "Running stage" not in second.stdout
    assert "didn't change" in second.stdout or "up to date" in second.stdout
    assert (project / "data/raw/synthetic/manifest.json").stat().st_mtime_ns == stamp


def test_plots_show_renders_the_declared_plots(project):
    res = run(["dvc", "plots", "show", "--json"], project)
    shown = json.loads(res.stdout)
    assert "errors" not in shown, shown.get("errors")
    for name in ("Header loss", "Header val AUROC and F1", "Header ROC (val, best epoch)", "Header PR (val, best epoch)",
                 "Header confusion (val, best epoch)", "Pre-filter feature importance (total gain)", "Foul loss",
                 "Foul val leaderboard and balanced accuracies", "Foul action confusion (test)",
                 "Foul offence-severity confusion (test)", "Header timeline (one test match; header = 1 at the true headers)",
                 "Actions loss", "Actions val frame-mAP", "Actions AP per class (test; official frame-mAP rules)"):  # fmt: skip
        plot = shown["data"][name][0]
        assert plot["type"] == "vega" and plot["content"]["data"]["values"], name
    for png in (
        "reports/foul/test/confusion_action.png",
        "reports/foul/test/confusion_offence_severity.png",
        "reports/header/timeline.png",
        "reports/actions/test/per_class_ap.png",
    ):
        assert shown["data"][png][0]["type"] == "image", png


def test_detect_on_a_new_match_finds_its_headers(project):
    """`replaylab detect` with the pipeline's models on the test match: the same detections as post_xgb's, and
    the headers of the match found."""
    import csv

    test_match = sorted({r["group"] for r in csv.DictReader(open(project / "data/splits/header/test.csv"))})[0]
    folder = project / "data/raw/synthetic/matches" / test_match
    out = project / "detected.csv"
    res = run([str(BIN / "replaylab"), "detect", "--video", str(folder / "video.mp4"), "--tracking", str(folder / "tracking.csv"),
               "--models", "models", "--out", str(out), "--quiet"], project)  # fmt: skip
    assert "x real time" in res.stderr and "CNN windows" in res.stderr
    found = [int(r["frame"]) for r in csv.DictReader(open(out))]
    pipeline = [int(r["frame"]) for r in csv.DictReader(open(project / "data/predictions/header_events.csv"))
                if r["video_id"] == test_match and r["detected"] == "1"]  # fmt: skip
    assert found == pipeline
    headers = [int(r["frame"]) for r in csv.DictReader(open(folder / "events.csv")) if r["type"] == "header"]
    assert headers, "the tiny test match has headers"
    hits = sum(any(abs(f - h) <= 12 for f in found) for h in headers)
    assert hits / len(headers) >= 0.5, (found, headers)


def test_exp_run_changes_only_the_trainer(project):
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline run"], project)
    # the example: the header tool's CSN name, full fine-tuning, a head learning rate
    res = run(["dvc", "exp", "run", "-S", "train.header.backbone=csn", "-S", "train.header.finetune_mode=full",
               "-S", "train.header.lr_head=1e-3"], project)  # fmt: skip
    assert "Running stage 'train@header'" in res.stdout and "Running stage 'synthesize'" not in res.stdout
    assert "Running stage 'cache_clips" not in res.stdout
    assert json.loads((project / "metrics/train_header.json").read_text())["backbone"] == "csn"
    shown = run(["dvc", "exp", "show", "--json"], project)
    assert "train.header.backbone" in shown.stdout or "csn" in shown.stdout


def test_exp_run_trains_actions_with_slowfast_and_ia(project):
    """The issue's example: SlowFast-R50 in video mode with the interaction aggregation (its memory read from the
    feature store); only the actions trainer and its evaluation re-run."""
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "before slowfast", "--allow-empty"], project)
    res = run(["dvc", "exp", "run", "-S", "train.actions.backbone=slowfast_r50", "-S", "train.actions.ia.active=true"], project)
    assert "Running stage 'train@actions'" in res.stdout and "Running stage 'evaluate@actions'" in res.stdout
    assert "Running stage 'featurize@actions'" not in res.stdout and "Running stage 'train@header'" not in res.stdout
    summary = json.loads((project / "metrics/train_actions.json").read_text())
    assert summary["backbone"] == "slowfast_r50" and summary["ia"] is True
    config = (project / "models/actions/config.yaml").read_text()
    assert "memory:" in config and "slowfast_r50" in config


def test_exp_run_distils_from_two_teachers(project):
    """The issue's example: two teachers from the feature store; only the kd trainer and its evaluation re-run."""
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "before two teachers", "--allow-empty"], project)
    res = run(["dvc", "exp", "run", "-S", "train.kd.teachers=[i3d,videomae_small]"], project)
    assert "Running stage 'train@kd'" in res.stdout and "Running stage 'evaluate@kd'" in res.stdout
    assert "Running stage 'featurize@recognition'" not in res.stdout and "Running stage 'train@recognition'" not in res.stdout
    summary = json.loads((project / "metrics/train_kd.json").read_text())
    assert summary["teachers"] == ["i3d", "videomae_small"] and set(summary["converters"]) == {"i3d", "videomae_small"}
    scored = json.loads((project / "metrics/eval_kd.json").read_text())
    assert {"fusion", "student", "teacher_i3d", "teacher_videomae_small"} <= set(scored)
    assert scored["fusion"]["test"]["top1"] == summary["test"]["top1"]


def test_exp_run_tunes_dual_coop_with_four_shots(project):
    """The issue's example: Dual-CoOp at K = 4; only prompt_tune re-runs (not the pretraining, nor the table)."""
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "before dual coop", "--allow-empty"], project)
    res = run(["dvc", "exp", "run", "-S", "prompt.method=dual_coop", "-S", "prompt.k_train=4"], project)
    assert "Running stage 'prompt_tune'" in res.stdout
    for other in ("pretrain@clip", "prompt_fewshot", "cache_clips@recognition"):
        assert f"Running stage '{other}'" not in res.stdout, other
    summary = json.loads((project / "metrics/train_prompt.json").read_text())
    assert summary["method"] == "dual_coop" and summary["k_train"] == 4
    assert summary["clip_load"]["layout"] == "openai_state_dict" and summary["clip_load"]["missing"] == []
    learned = torch.load(project / "models/prompt/dual_coop/best.pt", weights_only=True)["state_dict"]
    assert "visual_prompts" in learned and "prompts.ctx" in learned and not any(k.startswith("visual.") for k in learned)


def test_exp_run_with_a_changed_param_reruns(project):
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline"], project)
    res = run(["dvc", "exp", "run", "-S", "synthesize.fouls.splits.test=2"], project)
    assert "Running stage 'synthesize'" in res.stdout
    shown = run(["dvc", "metrics", "show", "--json"], project)
    assert "foul_actions" in shown.stdout


def _locked(project: Path, stages: tuple[str, ...]) -> dict[str, str]:
    lock = P.read_yaml(project / "dvc.lock")["stages"]
    return {f"{st}:{o['path']}": o["md5"] for st in stages for o in lock[st]["outs"]}


def test_a_retrain_with_the_same_params_gives_the_same_hashes(project):
    """Tracked outputs hold no wall-clock figures: retraining from scratch gives byte-identical models and metrics,
    so the stages after training do not re-run."""
    stages = ("train@header", "train@foul")
    before = _locked(project, stages)
    metrics = {t: (project / f"metrics/train_{t}.json").read_text() for t in ("header", "foul")}
    for task in ("header", "foul"):
        shutil.rmtree(project / "models" / task)
        shutil.rmtree(project / "dvclive" / task)
    res = run(["dvc", "repro"], project)
    assert "Running stage 'train@header'" in res.stdout and "Running stage 'train@foul'" in res.stdout
    assert "Running stage 'export_probs'" not in res.stdout and "Running stage 'evaluate@foul'" not in res.stdout
    assert _locked(project, stages) == before
    assert {t: (project / f"metrics/train_{t}.json").read_text() for t in ("header", "foul")} == metrics


def _typos_fail_first(project, original: str, stamp: int) -> None:
    for typo, said in (("lr: 0.0001\n", "lr: unknown key (did you mean prompt.lr or train.actions.lr or train.foul.lr or train.header.lr?)"),
                       ("", "train.header.epochz: unknown key (did you mean train.header.epochs?)")):  # fmt: skip
        text = typo + original if typo else original.replace("header: {epochs: 2,", "header: {epochz: 2,")
        (project / "params.yaml").write_text(text)
        res = run(["dvc", "repro"], project, ok=False)
        assert res.returncode != 0 and said in res.stderr, res.stderr
        assert "Traceback" not in res.stderr and "Running stage 'train@header'" not in res.stdout
        assert (project / "models/header/best.pt").stat().st_mtime_ns == stamp


def test_invalid_params_fail_before_any_stage_runs(project):
    """An unknown key anywhere (here the top-level key `-S +lr=...` writes) fails in validate_params, naming the key
    and the nearest valid one, and no stage's outputs are touched."""
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "before typos", "--allow-empty"], project)
    stamp = (project / "models/header/best.pt").stat().st_mtime_ns
    original = (project / "params.yaml").read_text()
    try:
        _typos_fail_first(project, original, stamp)
    finally:  # a failed check must not leave the typo for the next test
        (project / "params.yaml").write_text(original)
    try:
        res = run(["dvc", "exp", "run", "-S", "+lr=1e-4"], project, ok=False)
        said = "did you mean prompt.lr or train.actions.lr or train.foul.lr or train.header.lr?"
        assert res.returncode != 0 and said in res.stdout + res.stderr
    finally:
        run(["git", "checkout", "params.yaml"], project)
    assert "Running stage 'validate_params'" in run(["dvc", "repro"], project).stdout


def test_the_readme_sweep_runs_every_experiment(project):
    """Exactly the README's queued sweep, from a workspace whose models are finished."""
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "before the sweep", "--allow-empty"], project)
    readme = (REPO / "README.md").read_text()
    sweep = [line.split("#")[0].split() for line in readme.splitlines() if line.startswith("dvc exp run --")]
    assert [c[3] for c in sweep] == ["--queue", "--queue", "--run-all"], sweep
    for cmd in sweep:
        res = run(cmd, project)
    status = run(["dvc", "queue", "status"], project).stdout
    assert "Failed" not in status and status.count("Success") == 2, f"{status}\n{res.stdout}\n{res.stderr}"
    shown = run(["dvc", "exp", "show", "--csv"], project).stdout
    assert "0.0003" in shown and "0.001" in shown, shown
