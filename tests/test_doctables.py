import json
from pathlib import Path

import pytest

from replaylab.doctables import (
    MISSING,
    TABLES,
    DocTablesError,
    check_docs,
    doc_files,
    find_blocks,
    load_sources,
    render_table,
    splice,
    write_docs,
)

REPO = Path(__file__).resolve().parents[1]


def _write_metrics(root: Path, **files) -> None:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / "metrics" / f"{name}.json").write_text(json.dumps(data))


CLASSES = ("Header", "Kick", "Tackle")


def _recognition_split(top1: float, per_class: dict | None = None) -> dict:
    per_class = per_class or {"Header": 1.0, "Kick": 0.3333, "Tackle": 0.5}
    return {"top1": top1, "top5": 1.0, "mean_class_accuracy": 0.6111, "majority_top1": 0.3333, "clips": 96,
            "per_class_accuracy": per_class}  # fmt: skip


def _kd_eval(*, fusion: float, student: float, teacher: float, references: bool = True) -> dict:
    rows = {"fusion": fusion, **({"student": student, "teacher_i3d": teacher} if references else {})}
    out = {"classes": 3, "teachers": ["i3d"], **{r: {s: _recognition_split(v) for s in ("val", "test")} for r, v in rows.items()}}
    out["converters"] = {"i3d": {s: {"r2": r2, "cosine": 0.8123} for s, r2 in (("train", 0.6), ("val", 0.41), ("test", 0.3871))}}
    if references:
        out["gain_over_student"] = {s: round(fusion - student, 4) for s in ("val", "test")}
    return out


def _small_run(root: Path) -> None:
    split = lambda auroc: {"auroc": auroc, "ap": 0.5532, "f1": 0.16667, "precision": 0.6667, "recall": 0.0952, "accuracy": 0.84}
    variant = {"precision": 0.8696, "recall": 1.0, "f1": 0.9302, "ap": 0.9513, "soccernet_a_mAP": 0.8972}
    foul = {"actions_counted": 79, "balanced_accuracy_action": 18.6458, "balanced_accuracy_offence_severity": 36.4394,
            "leaderboard_value": 27.5426, "accuracy_action": 22.7848, "accuracy_offence_severity": 37.9747}  # fmt: skip
    _write_metrics(
        root,
        train_header={
            "backbone": "compact3d",
            "parameters": 444394,
            "best_epoch": 13,
            "epochs_run": 15,
            "stopped_early": False,
            "val": split(0.89565),
            "test": split(0.924),
            "clips": {"val": 126, "test": 120},
        },  # fmt: skip
        pre_xgb={s: {"event_recall": 0.98989, "frames_kept": 0.02304} for s in ("cv", "val", "test")},
        eval_header={
            "variants": ["full"],
            "tolerance_s": 0.5,
            "val": {"matches": 2, "headers": 21, "full": variant},
            "test": {"matches": 2, "headers": 20, "full": variant},
        },  # fmt: skip
        eval_foul={"val": foul, "test": foul},
        eval_actions={s: {"frame_map": 0.28184, "box_prior_frame_map": 0.0959} for s in ("val", "test")},
        eval_recognition={s: _recognition_split(top1) for s, top1 in (("val", 0.5417), ("test", 0.6042))},
        eval_kd=_kd_eval(fusion=0.65, student=0.6042, teacher=0.7396),
        train_kd={"converters": {"i3d": {"best_epoch": 31, "epochs_run": 51, "val_r2": 0.41, "test_r2": 0.3871}}},
    )
    # three training seeds: the spread columns (mean and range)
    runs = {}
    for seed, f1, lb, fusion in ((42, 0.9302, 27.5426, 0.65), (43, 0.8, 23.0, 0.62), (44, 0.9, 30.0, 0.68)):
        names = ("train_header", "pre_xgb", "eval_foul", "eval_actions", "eval_recognition")
        run = {n: json.loads((root / "metrics" / f"{n}.json").read_text()) for n in names}
        run["eval_header"] = {"test": {"full": dict(variant, f1=f1)}, "val": {"full": variant}}
        run["eval_foul"]["test"] = dict(foul, leaderboard_value=lb)
        run["eval_kd"] = _kd_eval(fusion=fusion, student=0.6042, teacher=0.7396)
        runs[str(seed)] = run
    (root / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    spread = {"seeds": [42, 43, 44], "varied": ["train.header.seed"], "runs": runs, "machine": "test"}
    (root / "benchmarks" / "results" / "seed_spread.json").write_text(json.dumps(spread))


def _readme(root: Path, *names: str) -> Path:
    body = ["# Title", "", "Some prose with no numbers.", ""]
    for name in names:
        body += [f"<!-- table:{name} -->", "old", f"<!-- /table:{name} -->", ""]
    path = root / "README.md"
    path.write_text("\n".join(body))
    return path


def test_results_table_rounds_and_formats(tmp_path):
    _small_run(tmp_path)
    r = render_table("results", load_sources(tmp_path))
    assert r.missing == ()
    lines = r.text.splitlines()
    assert lines[0] == "| task | metric | val | test | val, 3 seeds: mean (min–max) | test, 3 seeds: mean (min–max) |"
    rows = {tuple(cell.strip() for cell in line.strip("|").split("|")[:4]) for line in lines}
    assert ("header clip classifier", "AUROC", "0.896", "0.924") in rows  # 3 decimals for 0-1 metrics
    assert ("header clip classifier", "F1", "0.167", "0.167") in rows
    assert ("header pre-filter", "frames kept", "2.3%", "2.3%") in rows  # a share shown as a percentage, 1 decimal
    assert ("header pre-filter", "event recall", "0.990", "0.990") in rows
    assert ("header detection, full pipeline", "average-mAP", "0.897", "0.897") in rows
    assert (
        "| header detection, full pipeline | F1 at ±0.5 s | 0.930 | 0.930 | 0.930 (0.930–0.930) | 0.877 (0.800–0.930) |" in lines
    )
    assert "| multi-view foul | leaderboard value (%) | 27.5 | 27.5 | 27.5 (27.5–27.5) | 26.8 (23.0–30.0) |" in lines
    assert (
        "| person actions (AVA layout) | frame-mAP (official rules) | 0.282 | 0.282 | 0.282 (0.282–0.282) | 0.282 (0.282–0.282) |"
        in lines
    )


def test_results_table_has_the_recognition_and_kd_rows(tmp_path):
    _small_run(tmp_path)
    r = render_table("results", load_sources(tmp_path))
    assert r.missing == ()
    lines = r.text.splitlines()
    assert "| clip recognition (UCF101 layout) | top-1 | 0.542 | 0.604 | 0.542 (0.542–0.542) | 0.604 (0.604–0.604) |" in lines
    assert (
        "| distillation fusion (kd) | fusion top-1 (student + converters) | 0.650 | 0.650 | 0.650 (0.620–0.680) "
        "| 0.650 (0.620–0.680) |" in lines
    )
    assert (
        "| distillation fusion (kd) | student alone top-1 | 0.604 | 0.604 | 0.604 (0.604–0.604) | 0.604 (0.604–0.604) |" in lines
    )
    # the teacher row is named from eval_kd's teachers; the gain is signed
    assert any(
        line.startswith("| distillation fusion (kd) | teacher alone top-1 (`i3d`, upper reference) | 0.740 |") for line in lines
    )
    assert "| distillation fusion (kd) | fusion gain over student (top-1) | +0.046 | +0.046 |" in " ".join(lines)
    seeds = render_table("seed_spread", load_sources(tmp_path))
    assert seeds.missing == ()
    assert "| distillation fusion (kd) | fusion top-1 (student + converters) | 0.650 | 0.620 | 0.680 |" in seeds.text.splitlines()


def test_kd_results_table_rows_converters_and_spread(tmp_path):
    _small_run(tmp_path)
    r = render_table("kd_results", load_sources(tmp_path))
    assert r.missing == ()
    lines = r.text.splitlines()
    assert lines[0].startswith("| row | val top-1 | test top-1 | val top-5 | test top-5 |")
    assert lines[2] == (
        "| fusion: student + converters + head (runs without teachers) | 0.650 | 0.650 | 1.000 | 1.000 | 0.611 | 0.611 "
        "| 0.650 (0.620–0.680) |"
    )
    assert lines[3].startswith("| student alone | 0.604 | 0.604 |")
    assert lines[4].startswith("| teacher alone: `i3d` (upper reference) | 0.740 | 0.740 |")
    assert lines[5] == "| fusion gain over student (top-1) | +0.046 | +0.046 |  |  |  |  | +0.046 (+0.016–+0.076) |"
    assert "| `i3d` | 0.410 | 0.812 | 0.387 | 0.812 | 31 | 51 | 0.387 (0.387–0.387) |" in lines
    assert "(clips: val 96, test 96; 3 classes;" in r.text


def test_kd_results_without_reference_heads_has_the_fusion_row_only(tmp_path):
    _write_metrics(tmp_path, eval_kd=_kd_eval(fusion=0.65, student=0.6, teacher=0.7, references=False))
    r = render_table("kd_results", load_sources(tmp_path))
    body = [line for line in r.text.split("\n\n")[0].splitlines()[2:]]
    assert len(body) == 1 and body[0].startswith("| fusion: student + converters + head (runs without teachers) | 0.650 |")
    assert "metrics/train_kd.json is missing" in r.missing and not any("student" in m for m in r.missing)


def test_recognition_per_class_table(tmp_path):
    per_class = {"Header": 1.0, "Kick": None, "Tackle": 0.5}  # Kick has no clips in this split
    _write_metrics(tmp_path, eval_recognition={"val": _recognition_split(0.5, per_class), "test": _recognition_split(0.6042)})
    r = render_table("recognition_per_class", load_sources(tmp_path))
    assert r.missing == ()
    lines = r.text.splitlines()
    assert lines[0] == "| class | val accuracy | test accuracy |"
    assert lines[2:5] == ["| Header | 1.000 | 1.000 |", f"| Kick | {MISSING} | 0.333 |", "| Tackle | 0.500 | 0.500 |"]
    assert "| **top-1** | 0.500 | 0.604 |" in lines and "| clips | 96 | 96 |" in lines
    assert "metrics/eval_recognition.json is missing" in render_table("recognition_per_class", {}).missing


def test_seed_spread_table_lists_every_seed(tmp_path):
    _small_run(tmp_path)
    r = render_table("seed_spread", load_sources(tmp_path))
    assert r.missing == ()
    assert r.text.splitlines()[0] == "| task | metric | seed 42 | seed 43 | seed 44 |"
    assert "| multi-view foul | leaderboard value (%) | 27.5 | 23.0 | 30.0 |" in r.text.splitlines()


def test_a_seed_run_without_a_metric_leaves_the_spread_missing(tmp_path):
    _small_run(tmp_path)
    path = tmp_path / "benchmarks" / "results" / "seed_spread.json"
    data = json.loads(path.read_text())
    del data["runs"]["43"]["eval_foul"]
    path.write_text(json.dumps(data))
    r = render_table("results", load_sources(tmp_path))
    assert "benchmarks/results/seed_spread.json has no runs.43.eval_foul" in r.missing
    assert "| multi-view foul | leaderboard value (%) | 27.5 | 27.5 | — | — |" in r.text.splitlines()


def test_missing_expected_key_renders_dash_and_is_reported(tmp_path):
    _small_run(tmp_path)
    data = json.loads((tmp_path / "metrics" / "train_header.json").read_text())
    del data["test"]["auroc"]
    (tmp_path / "metrics" / "train_header.json").write_text(json.dumps(data))
    r = render_table("results", load_sources(tmp_path))
    assert (
        f"| header clip classifier | AUROC | 0.896 | {MISSING} | 0.896 (0.896–0.896) | 0.924 (0.924–0.924) |"
        in r.text.splitlines()
    )
    assert r.missing == ("metrics/train_header.json has no test.auroc",)


def test_missing_optional_values_are_not_reported(tmp_path):
    # no synthesize.json (real data), no dense CNN pass: the tables show "—" and expect nothing of them
    _write_metrics(tmp_path, export_probs={"frames": 54000, "cnn_windows": 1109, "kept_fraction": 0.0204})
    sources = load_sources(tmp_path)
    world = render_table("synthetic_world", sources)
    assert world.missing == () and f"| matches | {MISSING} |" in world.text
    export = render_table("header_export", sources)
    assert export.missing == ()
    assert export.text.splitlines()[-1] == f"| 54,000 | 1,109 | 2.0% | {MISSING} |"


def test_absent_metrics_file_is_reported_by_name(tmp_path):
    r = render_table("foul_results", load_sources(tmp_path))
    assert "metrics/eval_foul.json is missing" in r.missing
    assert r.text.count(MISSING) == 12


def test_tasks_tables_follow_the_metrics_files(tmp_path):
    _write_metrics(
        tmp_path,
        cache_foul={"clips": 503, "sources": 2012, "skipped_samples": 0, "clip_shape": [4, 16, 64, 64, 3], "bytes": 395654808},
        cache_header={"clips": 714, "sources": 12, "skipped_samples": 0, "clip_shape": [16, 64, 64, 3], "bytes": 140490576},
    )
    lines = render_table("caches", load_sources(tmp_path)).text.splitlines()
    assert lines[2] == "| `header` | 714 | 12 | 0 | 16 x 64 x 64 x 3 | 140 MB |"  # built-in order, header first
    assert lines[3] == "| `foul` | 503 | 2,012 | 0 | 4 x 16 x 64 x 64 x 3 | 396 MB |"
    assert len(lines) == 4


def test_without_files_the_tables_name_the_files_the_pipeline_makes(tmp_path):
    missing = render_table("train_runs", load_sources(tmp_path)).missing
    assert [m for m in missing if m.endswith("is missing")] == [
        "metrics/train_header.json is missing",
        "metrics/train_foul.json is missing",
    ]
    missing = render_table("splits", load_sources(tmp_path)).missing
    assert "metrics/split_recognition.json is missing" in missing
    assert "metrics/split_kd.json is missing" not in missing  # kd reads recognition's cache and splits


def test_nan_is_shown_as_nan(tmp_path):
    _small_run(tmp_path)
    data = json.loads((tmp_path / "metrics" / "eval_foul.json").read_text().replace("18.6458", "NaN"))
    (tmp_path / "metrics" / "eval_foul.json").write_text(json.dumps(data))
    text = render_table("foul_results", load_sources(tmp_path)).text
    assert "| val | 79 | NaN | 36.4 | 27.5 | 22.8 | 38.0 |" in text.splitlines()


def test_write_then_check_agrees_and_check_detects_a_changed_number(tmp_path):
    _small_run(tmp_path)
    readme = _readme(tmp_path, "results", "foul_results")
    (tmp_path / "docs" / "tasks").mkdir(parents=True)
    page = tmp_path / "docs" / "tasks" / "header.md"
    page.write_text("# Header\n\n<!-- table:header_ablation -->\n<!-- /table:header_ablation -->\n\nAfter.\n")
    assert doc_files(tmp_path) == [readme, page]

    report = check_docs(tmp_path)
    assert sorted(report.problems) == sorted(
        [
            "README.md: table results differs from the metrics files (run `replaylab docs --write`)",
            "README.md: table foul_results differs from the metrics files (run `replaylab docs --write`)",
            "docs/tasks/header.md: table header_ablation differs from the metrics files (run `replaylab docs --write`)",
        ]
    )
    written = write_docs(tmp_path)
    assert written.problems == [] and len(written.changed) == 3
    text = readme.read_text()
    assert text.startswith(
        "# Title\n\nSome prose with no numbers.\n\n<!-- table:results -->\n| task | metric | val | test | val, 3"
    )
    assert "old" not in text and "| val | 79 | 18.6 | 36.4 | 27.5 | 22.8 | 38.0 |" in text
    assert page.read_text().endswith("<!-- /table:header_ablation -->\n\nAfter.\n")
    assert check_docs(tmp_path).problems == []
    assert write_docs(tmp_path).changed == []  # idempotent

    data = json.loads((tmp_path / "metrics" / "eval_foul.json").read_text())
    data["test"]["leaderboard_value"] = 31.04
    (tmp_path / "metrics" / "eval_foul.json").write_text(json.dumps(data))
    assert check_docs(tmp_path).problems == [
        "README.md: table results differs from the metrics files (run `replaylab docs --write`)",
        "README.md: table foul_results differs from the metrics files (run `replaylab docs --write`)",
    ]
    write_docs(tmp_path)
    assert "| multi-view foul | leaderboard value (%) | 27.5 | 31.0 | 27.5 (27.5–27.5) | 26.8 (23.0–30.0) |" in readme.read_text()


def test_check_reports_hand_edits_inside_a_block(tmp_path):
    _small_run(tmp_path)
    readme = _readme(tmp_path, "results")
    write_docs(tmp_path)
    readme.write_text(readme.read_text().replace("0.924", "0.950"))
    assert check_docs(tmp_path).problems == [
        "README.md: table results differs from the metrics files (run `replaylab docs --write`)"
    ]


def test_unknown_table_and_unterminated_marker(tmp_path):
    _small_run(tmp_path)
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "a.md"  # a good file is not rewritten while another one is broken
    page.write_text("<!-- table:results -->\n<!-- /table:results -->\n")
    readme = _readme(tmp_path, "no_such_table")
    assert check_docs(tmp_path).problems[0].startswith("README.md:5: unknown table 'no_such_table'; known: ")
    with pytest.raises(DocTablesError, match="unknown table 'no_such_table'"):
        write_docs(tmp_path)
    readme.write_text("x\n<!-- table:results -->\n| a |\n")
    with pytest.raises(DocTablesError, match=r"README.md:2: <!-- table:results --> has no <!-- /table:results --> line"):
        write_docs(tmp_path)
    assert readme.read_text() == "x\n<!-- table:results -->\n| a |\n"  # nothing written
    assert page.read_text() == "<!-- table:results -->\n<!-- /table:results -->\n"
    assert check_docs(tmp_path).problems[0] == "README.md:2: <!-- table:results --> has no <!-- /table:results --> line"


def test_nested_markers_are_an_error():
    doc = "<!-- table:a -->\n<!-- table:b -->\n<!-- /table:b -->\n<!-- /table:a -->\n"
    with pytest.raises(DocTablesError, match="doc.md:1: table a is not closed before table b starts"):
        find_blocks(doc, "doc.md")


def test_markers_in_prose_are_not_blocks():
    doc = "Tables sit between `<!-- table:NAME -->` and `<!-- /table:NAME -->` lines.\n<!-- table:x -->\n<!-- /table:x -->\n"
    assert [(b.name, b.line) for b in find_blocks(doc)] == [("x", 2)]


def test_splice_replaces_only_named_blocks():
    doc = "a\n<!-- table:x -->\nold x\n<!-- /table:x -->\nb\n<!-- table:y -->\nold y\n<!-- /table:y -->\nc\n"
    out = splice(doc, {"y": "| new |"})
    assert out == "a\n<!-- table:x -->\nold x\n<!-- /table:x -->\nb\n<!-- table:y -->\n| new |\n<!-- /table:y -->\nc\n"
    assert [b.name for b in find_blocks(out)] == ["x", "y"]


def test_bad_json_names_the_file(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "train_header.json").write_text("{not json")
    with pytest.raises(DocTablesError, match=r"train_header.json: not a JSON file"):
        load_sources(tmp_path)


def test_benchmark_results_are_sources(tmp_path):
    bench = tmp_path / "benchmarks" / "results"
    bench.mkdir(parents=True)
    rows = [{"backbone": "compact3d", "parameters": 442338, "in_memory_clips_per_s": 59.63, "loader_clips_per_s": 50.99,
             "loader_share": 0.1449}]  # fmt: skip
    (bench / "train_throughput_workers0.json").write_text(json.dumps({"machine": "m", "input": [16, 64, 64], "batch": 8,
                                                                      "loader_workers": 0, "rows": rows}))  # fmt: skip
    r = render_table("bench_train_workers0", load_sources(tmp_path))
    assert r.missing == ()
    assert "| `compact3d` | 0.44 M | 59.6 | 51.0 | 14.5% |" in r.text.splitlines()


def test_feature_mode_benchmark_table(tmp_path):
    bench = tmp_path / "benchmarks" / "results"
    bench.mkdir(parents=True)
    result = {"machine": "m", "backbone": "compact3d", "input": [16, 112, 112], "cache_input": [16, 64, 64], "train_samples": 64,
              "val_samples": 16, "batch": 16, "epochs": 3, "featurize_s": 10.3, "speedup_epoch": 200.7, "speedup_train": 710.0,
              "video": {"epoch_s": 8.831, "train_clips_per_s": 9.3}, "features": {"epoch_s": 0.044, "train_clips_per_s": 6602.9}}  # fmt: skip
    (bench / "feature_mode.json").write_text(json.dumps(result))
    r = render_table("bench_feature_mode", load_sources(tmp_path))
    assert r.missing == ()
    assert "| features (head on stored pooled vectors) | 0.044 | 6,602.9 |" in r.text.splitlines()
    assert "16 x 112 x 112 from the 16 x 64 x 64 header cache" in r.text and "speed-up per epoch 200.7x" in r.text


def test_every_table_renders_without_sources():
    for name in TABLES:
        r = render_table(name, {})
        assert r.text.startswith("|"), name


def test_repository_docs_agree_with_metrics():
    """README.md and docs/**/*.md hold exactly the tables metrics/*.json and benchmarks/results/*.json give."""
    report = check_docs(REPO)
    assert report.problems == [], "\n".join(report.problems) + "\nrun: replaylab docs --write"
    readme_blocks = [b.name for b in find_blocks((REPO / "README.md").read_text(encoding="utf-8"))]
    assert "results" in readme_blocks


def test_pretrained_vs_scratch_puts_the_baseline_next_to_the_run(tmp_path):
    _small_run(tmp_path)
    run = {n: json.loads((tmp_path / "metrics" / f"{n}.json").read_text()) for n in ("train_header", "eval_header", "eval_foul")}
    run["eval_foul"]["test"]["leaderboard_value"] = 23.69
    run["eval_header"]["test"]["cnn"] = {"f1": 0.4}
    baseline = {"rev": "139c3450fe0123", "metrics": run}
    (tmp_path / "benchmarks" / "results" / "baseline_from_scratch.json").write_text(json.dumps(baseline))
    r = render_table("pretrained_vs_scratch", load_sources(tmp_path))
    lines = r.text.splitlines()
    assert "| foul: leaderboard value, test (%) | 23.7 | 27.5 | 26.8 (23.0–30.0) |" in lines
    assert "(from scratch: the committed run of `139c3450fe`" in r.text
    # the run itself has no dense CNN pass: reported missing, the baseline's value still shown
    assert lines[6].startswith("| header: CNN alone (dense), test F1 | 0.400 | — |")
    assert "metrics/eval_header.json has no test.cnn" in r.missing


def test_kd_modes_benchmark_table(tmp_path):
    bench = tmp_path / "benchmarks" / "results"
    bench.mkdir(parents=True)
    cost = {
        "student": {"role": "student", "input": [8, 64, 64], "gflops_per_clip": 2.23, "ms_per_clip": 32.9},
        "i3d": {"role": "teacher", "input": [16, 112, 112], "gflops_per_clip": 13.66, "ms_per_clip": 232.4},
    }
    result = {"machine": "m", "student": "student", "batch": 16, "cache_clips": 168, "threads": 1, "cache_input": [16, 72, 72],
              "load_average_start": [3.69, 3.7, 3.3], "ratio_features_over_video": 172.9,
              "modes": {"video": {"iterations_per_s": 1.774, "clips_per_s": 28.39},
                        "features": {"iterations_per_s": 306.8, "clips_per_s": 4908.7}},
              "cost_per_clip": cost, "teacher_over_student_gflops": {"i3d": 6.13},
              "kd_inference": {"gflops_per_clip": 2.233, "ms_per_clip": 31.1}}  # fmt: skip
    (bench / "kd_modes.json").write_text(json.dumps(result))
    r = render_table("bench_kd_modes", load_sources(tmp_path))
    assert r.missing == ()
    lines = r.text.splitlines()
    assert "| video fusion training | 1.8 | 28.4 | — | — | — |" in lines
    assert "| `i3d` (teacher) forward | — | — | 16 x 112 x 112 | 13.7 | 232.4 |" in lines
    assert "features mode 172.9x video mode in iterations/s" in r.text and "`i3d` 6.1x" in r.text
    del result["kd_inference"]
    (bench / "kd_modes.json").write_text(json.dumps(result))
    assert render_table("bench_kd_modes", load_sources(tmp_path)).missing == (
        "benchmarks/results/kd_modes.json has no kd_inference",
    )
