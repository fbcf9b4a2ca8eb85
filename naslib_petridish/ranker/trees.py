"""Gradient-boosted trees (LightGBM) fitted on the ranks of the training accuracies.

The trees learn the *rank* of each training accuracy (scaled to [0, 1]), not the accuracy:
a few cells of NB101 fail to train (accuracy ~10 %), and on raw accuracies a squared loss
spends its capacity on them (Kendall tau 0.65 -> 0.43 at 100 training cells with LightGBM,
benchmarks/results/RANKING.md).  The ranker maps the mean rank of its models back to
accuracies through the training accuracies' quantiles (:mod:`.predictor`).
"""
from __future__ import annotations

import numpy as np

from ..errors import OptionalDependencyError

#: LightGBM's settings (chosen on development splits, benchmarks/ranking_features.py)
LGB_PARAMS = {"objective": "regression", "learning_rate": 0.03, "num_leaves": 7,
              "min_data_in_leaf": 5, "bagging_fraction": 0.8, "bagging_freq": 1,
              "feature_fraction": 0.6, "lambda_l2": 0.0, "num_threads": 1,
              "deterministic": True, "force_row_wise": True, "verbosity": -1}
NUM_TREES = 1000


def train_trees(X: np.ndarray, names: list[str], target: np.ndarray, seed: int,
                weight: np.ndarray | None = None):
    """A LightGBM booster of :data:`NUM_TREES` trees on ``X`` -> ``target`` (seeded;
    ``weight``: one per row, or None for equal weights)."""
    lgb = lightgbm()
    params = {**LGB_PARAMS, "seed": int(seed), "min_data_in_leaf": min(5, len(target) // 2)}
    return lgb.train(params, lgb.Dataset(X, target, weight=weight, feature_name=_safe(names),
                                         params={"verbosity": -1}),
                     num_boost_round=NUM_TREES)


def lightgbm():
    """The ``lightgbm`` module, or a one-line error naming the fix."""
    try:
        import lightgbm as lgb
    except ImportError as exc:  # a dependency, but an install may have skipped it
        raise OptionalDependencyError("the ranker's trees need LightGBM (a dependency of "
                                      "naslib-petridish): pip install 'lightgbm>=4'") from exc
    return lgb


def _safe(names: list[str]) -> list[str]:
    """LightGBM refuses some characters in feature names."""
    return [n.replace("-", "_").replace(" ", "_") for n in names]
