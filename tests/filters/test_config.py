from replaylab import params as P
from replaylab.features.tracking import FeatureConfig
from replaylab.filters.config import post_config, pre_config
from replaylab.filters.post import PostFilterConfig
from replaylab.filters.pre import PreFilterConfig
from replaylab.params.filters import PostXgbParams, PreXgbParams


def test_defaults_map_onto_the_library_defaults():
    pre = pre_config(PreXgbParams(), seed=0)
    assert pre == PreFilterConfig(seed=0)
    assert pre.features == FeatureConfig()
    assert post_config(PostXgbParams(), seed=0) == PostFilterConfig(seed=0)


def test_seed_falls_back_to_the_top_level_seed_and_reaches_xgboost():
    pre = pre_config(PreXgbParams(seed=9), seed=1)
    assert pre.seed == 9 and pre.xgb.seed == 9
    assert pre_config(PreXgbParams(), seed=4).xgb.seed == 4


def test_the_shipped_params_yaml_sections(tmp_path):
    params = P.load(None)
    pre = pre_config(params.pre_xgb, seed=params.seed)
    assert pre.target_recall == 0.98 and pre.label_tolerance == 2 and pre.features.head_height_m == 1.75
    post = post_config(params.post_xgb, seed=params.seed)
    assert (
        post.half_window == 15
        and post.columns == ("cnn_prob", "pre_xgb_prob", "ensemble_prob")
        and post.active_column == "cnn_prob"
    )
