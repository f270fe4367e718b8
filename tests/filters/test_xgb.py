import numpy as np
import pytest

import replaylab.filters.xgb as X


def test_grouped_folds_put_each_match_in_exactly_one_fold():
    groups = [f"m{i}" for i in range(7)] * 3  # repeated names (one per frame) are one group
    folds = X.grouped_folds(groups, 3, seed=1)
    assert sorted(folds) == sorted(set(groups)) and set(folds.values()) == {0, 1, 2}
    assert sorted(np.bincount(list(folds.values())).tolist()) == [2, 2, 3]
    assert folds == X.grouped_folds(list(reversed(groups)), 3, seed=1)  # order of the input does not matter
    assert set(X.grouped_folds(["a", "b", "c"], 5, seed=0).values()) == {0, 1, 2}  # at most one fold per match
    with pytest.raises(ValueError, match="at least 2 groups"):
        X.grouped_folds(["a", "a"], 2, seed=0)
    with pytest.raises(ValueError, match="one of each per row"):
        X.grouped_folds(["a", "b"], 2, seed=0, labels=[0])


def test_grouped_folds_are_sklearn_stratified_group_kfold_and_seeded():
    from sklearn.model_selection import StratifiedGroupKFold

    rng = np.random.default_rng(0)
    sizes = rng.integers(50, 150, 12)
    groups = np.repeat([f"m{i:02d}" for i in range(12)], sizes)
    labels = (rng.random(len(groups)) < np.repeat(rng.uniform(0.01, 0.3, 12), sizes)).astype(int)  # uneven header rates
    folds = X.grouped_folds(groups, 4, seed=5, labels=labels)
    ref = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=5).split(groups[:, None], labels, groups)
    assert sorted(sorted(g for g, f in folds.items() if f == k) for k in range(4)) == sorted(
        sorted(set(groups[test])) for _, test in ref
    )
    perm = rng.permutation(len(groups))
    assert X.grouped_folds(groups[perm], 4, seed=5, labels=labels[perm]) == folds  # row order does not matter
    assert X.grouped_folds(groups, 4, seed=5, labels=labels) == folds  # deterministic
    # sklearn's shuffle orders groups of equal class spread only (here: every group, unstratified)
    plain = X.grouped_folds(groups, 4, seed=5)
    assert any(X.grouped_folds(groups, 4, seed=s) != plain for s in range(6, 10))
    # 8 matches of 100 frames, 4 with headers: stratified, every fold gets one match with headers
    g8 = np.repeat([f"m{i}" for i in range(8)], 100)
    y8 = np.zeros(800, int)
    for i in (0, 1, 2, 3):
        y8[i * 100 : i * 100 + 10] = 1
    for seed in range(5):
        f8 = X.grouped_folds(g8, 4, seed=seed, labels=y8)
        assert sorted(f8[f"m{i}"] for i in range(4)) == [0, 1, 2, 3]
    # too few positives to stratify (1 < 4 folds in every class): grouped folds all the same
    assert set(X.grouped_folds(["a", "b", "c", "d"], 4, seed=0, labels=[1, 0, 0, 0]).values()) == {0, 1, 2, 3}


def test_sample_rows_keeps_every_positive_and_draws_negatives():
    y = np.zeros(1000, np.int8)
    y[[10, 20, 30, 40]] = 1
    rng = np.random.default_rng(0)
    idx = X.sample_rows(y, 5.0, rng)
    assert {10, 20, 30, 40} <= set(idx.tolist()) and idx.shape[0] == 4 + 20 and len(set(idx.tolist())) == 24
    hard = np.zeros(1000, bool)
    hard[500:510] = True
    idx = X.sample_rows(y, 5.0, rng, priority=hard, priority_share=0.5)
    assert np.isin(np.arange(500, 510), idx).all()  # 10 of the 20 negatives come from the hard pool
    assert X.sample_rows(y, 0.0, rng).shape[0] == 1000
    assert X.sample_rows(y, 10_000.0, rng).shape[0] == 1000


def _data(n_groups=4, n=300, seed=0):
    rng = np.random.default_rng(seed)
    data = {}
    for g in range(n_groups):
        feats = rng.normal(size=(n, 3))
        y = (feats[:, 1] + 0.3 * rng.normal(size=n) > 1.0).astype(np.int8)
        feats[:, 0] = g  # column 0 names the group, so the training rows can be traced
        data[f"g{g}"] = (feats, y)
    return data


def test_cross_validation_never_trains_on_the_held_out_match(monkeypatch):
    data = _data()
    folds = X.grouped_folds(list(data), 2, seed=3)
    seen = []
    real = X.train_booster

    def spy(Xtr, ytr, cfg, names):
        seen.append(set(np.unique(Xtr[:, 0]).astype(int).tolist()))
        return real(Xtr, ytr, cfg, names)

    monkeypatch.setattr(X, "train_booster", spy)
    cfg = X.XgbConfig(n_estimators=20)
    oof = X.cross_validate(
        data, folds, cfg=cfg, feature_names=["g", "a", "b"], select=lambda g, y, r: X.sample_rows(y, 0, r), seed=0
    )
    assert sorted(oof) == sorted(data) and all(oof[g].shape == (300,) for g in data)
    for k, used in enumerate(seen):
        held = {int(g[1:]) for g, f in folds.items() if f == k}
        assert used and not (used & held), f"fold {k} trained on held-out matches {used & held}"
        assert used | held == {0, 1, 2, 3}


def test_training_is_deterministic_and_round_trips_through_ubj(tmp_path):
    feats, y = _data(1)["g0"]
    cfg = X.XgbConfig(n_estimators=30, seed=5)
    a = X.train_booster(feats, y, cfg, ["g", "a", "b"])
    b = X.train_booster(feats, y, cfg, ["g", "a", "b"])
    pa = X.predict(a, feats)
    np.testing.assert_array_equal(pa, X.predict(b, feats))
    X.save_booster(a, tmp_path / "m.ubj")
    np.testing.assert_array_equal(X.predict(X.load_booster(tmp_path / "m.ubj"), feats), pa)
    with pytest.raises(ValueError, match="never pickle"):
        X.save_booster(a, tmp_path / "m.pkl")
    (tmp_path / "bad.ubj").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable XGBoost model"):
        X.load_booster(tmp_path / "bad.ubj")
    with pytest.raises(FileNotFoundError):
        X.load_booster(tmp_path / "absent.ubj")


def test_one_class_cannot_train():
    with pytest.raises(ValueError, match="both classes"):
        X.train_booster(np.zeros((5, 2)), np.zeros(5), X.XgbConfig(n_estimators=2), ["a", "b"])


def test_gain_importance_lists_every_feature():
    feats, y = _data(1)["g0"]
    booster = X.train_booster(feats, y, X.XgbConfig(n_estimators=30), ["g", "a", "b"])
    imp = X.gain_importance(booster, ["g", "a", "b"])
    assert next(n for n, _ in imp) == "a" and {n for n, _ in imp} == {"g", "a", "b"}
    assert dict(imp)["g"] == 0.0  # a constant column is never split on
