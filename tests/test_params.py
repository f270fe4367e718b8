from pathlib import Path

import pytest

from replaylab import params as P

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(text)
    return p


def test_repository_params_validate_and_match_schema_defaults_where_documented():
    params = P.load(None, REPO / "params.yaml")
    assert params.seed == 42
    assert params.synthesize.matches.count >= 1
    assert P.load("synthesize", REPO / "params.yaml").fps == 25.0


def test_scientific_notation_reads_as_float(tmp_path):
    p = write(tmp_path, "synthesize:\n  look:\n    noise_std: 1e-4\n")
    assert P.read_yaml(p)["synthesize"]["look"]["noise_std"] == pytest.approx(1e-4)
    assert P.load("synthesize", p).look.noise_std == pytest.approx(1e-4)


def test_unknown_key_names_its_path(tmp_path):
    p = write(tmp_path, "synthesize:\n  matches:\n    cuont: 3\n")
    with pytest.raises(P.ParamsError, match=r"synthesize\.matches\.cuont: unknown key"):
        P.load("synthesize", p)


def test_unknown_top_level_section_fails(tmp_path):
    with pytest.raises(P.ParamsError, match=r"trian: unknown key"):
        P.load(None, write(tmp_path, "trian: {}\n"))


def test_wrong_type_names_its_path(tmp_path):
    p = write(tmp_path, "synthesize:\n  matches:\n    count: three\n")
    with pytest.raises(P.ParamsError, match=r"synthesize\.matches\.count: .*integer.*'three'"):
        P.load("synthesize", p)


def test_string_number_is_not_silently_coerced(tmp_path):
    with pytest.raises(P.ParamsError, match=r"synthesize\.fps"):
        P.load("synthesize", write(tmp_path, "synthesize:\n  fps: '25'\n"))


def test_out_of_range_names_its_path(tmp_path):
    p = write(tmp_path, "synthesize:\n  tracking:\n    ball_z_missing: 1.5\n")
    with pytest.raises(P.ParamsError, match=r"synthesize\.tracking\.ball_z_missing: Input should be less than 1"):
        P.load("synthesize", p)


def test_cross_field_rules(tmp_path):
    with pytest.raises(P.ParamsError, match=r"synthesize\.fouls.*contact_frame"):
        P.load(None, write(tmp_path, "synthesize:\n  fouls: {clip_frames: 20, contact_frame: 18}\n"))
    with pytest.raises(P.ParamsError, match=r"test_groups"):
        P.load(None, write(tmp_path, "synthesize:\n  recognition: {groups: 2, test_groups: 2}\n"))
    with pytest.raises(P.ParamsError, match=r"even|multiple of 2"):
        P.load(None, write(tmp_path, "synthesize:\n  matches: {width: 481}\n"))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(P.ParamsError, match="file not found"):
        P.load(None, tmp_path / "nope.yaml")
    with pytest.raises(P.ParamsError, match="not valid YAML"):
        P.load(None, write(tmp_path, "synthesize: [unclosed\n"))
    with pytest.raises(P.ParamsError, match="no section 'evaluate_everything'"):
        P.load("evaluate_everything", write(tmp_path, "seed: 1\n"))


def test_env_var_selects_file(tmp_path, monkeypatch):
    monkeypatch.setenv(P.PARAMS_ENV, str(write(tmp_path, "seed: 5\n")))
    assert P.load("seed") == 5


def test_filter_sections_reject_bad_values(tmp_path):
    with pytest.raises(P.ParamsError, match=r"pre_xgb\.features\.head_hieght_m: unknown key"):
        P.load(None, write(tmp_path, "pre_xgb:\n  features: {head_hieght_m: 1.8}\n"))
    with pytest.raises(P.ParamsError, match=r"pre_xgb\.target_recall: Input should be less than or equal to 1"):
        P.load(None, write(tmp_path, "pre_xgb: {target_recall: 1.5}\n"))
    with pytest.raises(P.ParamsError, match=r"post_xgb.*active_column 'cnn_prob' must be one of columns"):
        P.load(None, write(tmp_path, "post_xgb: {columns: [pre_xgb_prob]}\n"))
    with pytest.raises(P.ParamsError, match=r"post_xgb\.train_splits\.0"):
        P.load(None, write(tmp_path, "post_xgb: {train_splits: [training]}\n"))
    assert P.load("post_xgb", write(tmp_path, "post_xgb: {columns: [pre_xgb_prob], active_column: null}\n")).active_column is None


def test_featurize_and_features_input_sections():
    p = P.validate({})
    assert p.featurize.out_dir == "data/features" and [m.key for m in p.featurize.header.models] == ["compact3d"]
    assert p.featurize.foul.dtype == "float16" and p.train.header.input == "video" and p.train.foul.features_model is None
    ok = P.validate({"featurize": {"foul": {"models": [{"key": "i3d", "backbone": "i3d", "size": [112, 112]}]}},
                     "train": {"foul": {"input": "features", "features_model": "i3d"}}})  # fmt: skip
    assert ok.featurize.foul.models[0].size == [112, 112] and ok.train.foul.input == "features"
    two = [{"key": "a"}, {"key": "a", "backbone": "csn26"}]
    with pytest.raises(P.ParamsError, match=r"featurize\.header: .*models: every key must be unique, a repeats"):
        P.validate({"featurize": {"header": {"models": two}}})
    with pytest.raises(P.ParamsError, match=r"featurize\.header\.models\.0\.endpoint: unknown key"):
        P.validate({"featurize": {"header": {"models": [{"key": "a", "endpoint": "Mixed_4f"}]}}})
    with pytest.raises(P.ParamsError, match=r"train\.header\.input: "):
        P.validate({"train": {"header": {"input": "clips"}}})
