"""XGBoost plumbing shared by the pre- and post-filter: folds grouped by match, negative sampling,
training, out-of-fold prediction, saving in XGBoost's own format (never pickle) and feature importance.

Training uses XGBoost's native API with the ``hist`` tree method on the CPU (the ``xgboost-cpu`` wheel);
with the same data, config and seed the model is the same, so the filters' metrics repeat exactly.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "XgbConfig", "cross_validate", "gain_importance", "grouped_folds", "load_booster", "predict", "sample_rows", "save_booster",
    "train_booster",
]  # fmt: skip


@dataclass(frozen=True)
class XgbConfig:
    n_estimators: int = 300
    max_depth: int = 4
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 1.0
    reg_lambda: float = 1.0
    threads: int = 1  # 0 = every core
    seed: int = 0

    def booster_params(self) -> dict:
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda,
            "nthread": self.threads if self.threads > 0 else (os.cpu_count() or 1),
            "seed": self.seed,
            "verbosity": 0,
        }

    def to_dict(self) -> dict:
        return asdict(self)


def _xgb():
    import xgboost

    return xgboost


def grouped_folds(
    groups: Sequence[str], n_folds: int, *, seed: int, labels: Sequence[int] | np.ndarray | None = None
) -> dict[str, int]:
    """group -> fold in ``0..k-1``: scikit-learn's ``StratifiedGroupKFold`` (shuffled with ``seed``) over the
    rows ``groups[i]`` (a match id per row) with their ``labels`` (0 / 1 per row; None: unstratified), so whole
    groups (matches) go to one fold and each fold's share of positives follows its share of the data as far
    as the groups allow. ``k = min(n_folds, number of groups)`` (at most one fold per match); a fold the
    assignment leaves empty is dropped and the rest are renumbered in order. Independent of the row order.
    scikit-learn places the groups with the most uneven class counts first; the seeded shuffle only orders
    groups of equal spread (with stratification the data, not the seed, decide most of the assignment)."""
    from sklearn.model_selection import StratifiedGroupKFold

    g = np.asarray(list(map(str, groups)))
    uniq = np.unique(g)
    if len(uniq) < 2:
        raise ValueError(f"grouped cross-validation needs at least 2 groups (matches), got {len(uniq)}: {uniq.tolist()}")
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    k = min(n_folds, len(uniq))
    y = np.zeros(len(g), np.int64) if labels is None else np.asarray(labels).astype(np.int64)
    if y.shape != g.shape:
        raise ValueError(f"grouped_folds: {len(g)} groups but {y.shape[0]} labels; need one of each per row")
    if np.all(np.bincount(y) < k):  # no class fills every fold: stratification is impossible, split by group only
        y = np.zeros_like(y)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    folds: dict[str, int] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "the least populated class has only n members"
        for _, test in splitter.split(np.zeros((len(g), 1)), y, g):
            if len(test):
                fold = len(set(folds.values()))
                folds.update(dict.fromkeys(np.unique(g[test]).tolist(), fold))
    return dict(sorted(folds.items()))


def sample_rows(labels: np.ndarray, neg_ratio: float, rng: np.random.Generator,
                priority: np.ndarray | None = None, priority_share: float = 0.0) -> np.ndarray:  # fmt: skip
    """Indices of every positive plus ``neg_ratio`` negatives per positive, drawn without replacement
    (all negatives when ``neg_ratio`` is 0 or there are fewer). With ``priority`` (a boolean mask) a
    ``priority_share`` of the negatives is drawn from the prioritised ones first (hard negatives)."""
    y = np.asarray(labels)
    pos = np.flatnonzero(y == 1)
    neg = np.flatnonzero(y == 0)
    want = neg.shape[0] if neg_ratio <= 0 else min(neg.shape[0], round(neg_ratio * max(pos.shape[0], 1)))
    if want >= neg.shape[0]:
        picked = neg
    elif priority is not None and priority_share > 0:
        hard = neg[np.asarray(priority)[neg]]
        n_hard = min(hard.shape[0], round(priority_share * want))
        hard_pick = rng.choice(hard, n_hard, replace=False) if n_hard else np.zeros(0, np.int64)
        rest = np.setdiff1d(neg, hard_pick, assume_unique=True)
        picked = np.concatenate([hard_pick, rng.choice(rest, want - n_hard, replace=False)])
    else:
        picked = rng.choice(neg, want, replace=False)
    return np.sort(np.concatenate([pos, picked]))


def train_booster(X: np.ndarray, y: np.ndarray, cfg: XgbConfig, feature_names: Sequence[str]):
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{X.shape[0]} rows but {y.shape[0]} labels")
    if not ((y == 0).any() and (y == 1).any()):
        raise ValueError(f"training needs both classes, got {int((y == 1).sum())} positives and {int((y == 0).sum())} negatives")
    xgb = _xgb()
    dtrain = xgb.DMatrix(np.ascontiguousarray(X, dtype=np.float32), label=y.astype(np.float32), feature_names=list(feature_names))
    return xgb.train(cfg.booster_params(), dtrain, num_boost_round=cfg.n_estimators)


def predict(booster, X: np.ndarray, *, feature_names: Sequence[str] | None = None) -> np.ndarray:
    xgb = _xgb()
    if X.shape[0] == 0:
        return np.zeros(0, np.float64)
    names = list(feature_names) if feature_names is not None else booster.feature_names
    d = xgb.DMatrix(np.ascontiguousarray(X, dtype=np.float32), feature_names=names)
    return booster.predict(d).astype(np.float64)


def cross_validate(
    data: Mapping[str, tuple[np.ndarray, np.ndarray]],
    folds: Mapping[str, int],
    *,
    cfg: XgbConfig,
    feature_names: Sequence[str],
    select: Callable[[str, np.ndarray, np.random.Generator], np.ndarray],
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, np.ndarray]:
    """Out-of-fold probabilities for every row of every group in ``folds``.

    ``data[group] = (X, y)``; ``select(group, y, rng)`` gives the training rows of a group (negative sampling).
    The model of fold ``k`` trains on the other folds' groups only and predicts every row of fold ``k``'s."""
    oof: dict[str, np.ndarray] = {}
    for k in sorted(set(folds.values())):
        train_groups = [g for g, f in sorted(folds.items()) if f != k]
        held = [g for g, f in sorted(folds.items()) if f == k]
        X, y = stack_rows(data, train_groups, select, np.random.default_rng([seed, k]))
        booster = train_booster(X, y, cfg, feature_names)
        for g in held:
            oof[g] = predict(booster, data[g][0], feature_names=feature_names)
        if progress:
            progress(f"fold {k}: trained on {len(train_groups)} matches ({X.shape[0]} rows), scored {len(held)}")
    return oof


def stack_rows(data, groups, select, rng) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for g in groups:
        X, y = data[g]
        idx = select(g, y, rng)
        xs.append(X[idx])
        ys.append(y[idx])
    return np.concatenate(xs), np.concatenate(ys)


def save_booster(booster, path: str | os.PathLike) -> None:
    """XGBoost's own format (``.ubj`` binary JSON or ``.json``), through ``Booster.save_model``."""
    p = Path(path)
    if p.suffix not in (".ubj", ".json"):
        raise ValueError(f"{p}: save XGBoost models as .ubj or .json (never pickle)")
    booster.save_model(str(p))


def load_booster(path: str | os.PathLike):
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: XGBoost model not found")
    booster = _xgb().Booster()
    try:
        booster.load_model(str(p))
    except Exception as e:  # xgboost raises its own XGBoostError for a corrupt file
        raise ValueError(f"{p}: not a readable XGBoost model: {e}") from e
    return booster


def gain_importance(booster, feature_names: Sequence[str]) -> list[tuple[str, float]]:
    """(feature, total gain) for every feature, highest first (0 for features no tree splits on)."""
    gains = booster.get_score(importance_type="total_gain")
    rows = [(n, float(gains.get(n, 0.0))) for n in feature_names]
    return sorted(rows, key=lambda r: (-r[1], r[0]))
