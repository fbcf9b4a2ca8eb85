"""A model from cell features to accuracy, fitted on the training architectures.

Used by ``calibration: boosted``: instead of a line through the dish score, gradient-boosted
trees (LightGBM) learn the accuracy from what each motif showed on the dish (its learning
curve, :func:`~naslib_petridish.features.dish_features`) beside the cell's free features,
path encoding and adjacency encoding (``calibration_features``).  The trees are fitted on
the *rank* of each training accuracy (scaled to [0, 1]): a few cells of NB101 fail to
train (accuracy ~10 %), and on raw accuracies a squared loss spends its capacity on them
(Kendall tau 0.65 -> 0.43 at 100 training cells with LightGBM, benchmarks/results/RANKING.md).
Predictions are mapped back to accuracies through the training accuracies' quantiles, so
they are monotone in the trees' output and in the units of the training targets.

Self-training (``calibration_self_training: N``): the graph networks are replaced by
students that first learn the order the fitted model (trees and graph networks, as a
teacher) gives to ``N`` unlabelled cells drawn at random (NASLib's sampler, seeded by the run
seed, none of the training cells), then are fine-tuned on the training cells.  The
unlabelled cells have no dish features (a motif per cell would cost minutes), so with
``dish`` among the families the teacher's trees are a second booster without them.  At 100
training cells this lifts the graph networks from Kendall 0.610 to 0.642 and the whole
model from 0.659 to 0.671; above 400 cells it adds almost nothing (RANKING.md).

The fitted model is a plain dict (LightGBM's text model and the quantiles), stored in the
dish file with the rest of the calibration.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import rankdata

from . import features as F
from .cells import Cell
from .errors import ConfigError, OptionalDependencyError

#: LightGBM's settings (chosen on development splits, benchmarks/ranking_features.py)
LGB_PARAMS = {"objective": "regression", "learning_rate": 0.03, "num_leaves": 7,
              "min_data_in_leaf": 5, "bagging_fraction": 0.8, "bagging_freq": 1,
              "feature_fraction": 0.6, "lambda_l2": 0.0, "num_threads": 1,
              "deterministic": True, "force_row_wise": True, "verbosity": -1}
NUM_TREES = 1000
#: below this many training cells the trees have nothing to split: a line through the
#: log parameter count is fitted instead (and said so in the calibration)
MIN_CELLS = 8


def feature_matrix(families: Sequence[str], cells: Sequence[Cell], results=None
                   ) -> tuple[np.ndarray, list[str]]:
    """The columns of ``families`` (see :data:`features.FAMILIES`) for ``cells``;
    ``results`` (one MotifResult per cell) is needed for ``dish``."""
    blocks, names = [], []
    for fam in families:
        if fam == "encoding":
            x, n = F.encoding(cells)
        elif fam == "path":
            x, n = F.path_encoding(cells)
        elif fam == "free":
            x, n = F.free_features(cells)
        elif fam == "dish":
            if results is None:
                raise ValueError("the dish features need the motifs' training results")
            x, n = F.dish_features(results)
        else:
            raise ConfigError(f"unknown feature family '{fam}'; available: "
                              f"{', '.join(F.FAMILIES)}")
        blocks.append(x)
        names += n
    return np.column_stack(blocks) if blocks else np.zeros((len(cells), 0)), names


def fit_boosted(families: Sequence[str], cells: Sequence[Cell], accs: Sequence[float],
                results=None, seed: int = 0, graph_members: int = 0,
                self_training: int = 0) -> dict:
    """The trees (and ``graph_members`` graph networks, whose position among the training
    cells is averaged with the trees' predicted rank) fitted on ``cells``; with
    ``self_training`` = N > 0 the graph networks are self-trained on N unlabelled cells."""
    if self_training and not graph_members:
        raise ConfigError("self-training trains graph networks: set "
                          "'calibration_graph_members' > 0 or 'calibration_self_training' 0")
    _lightgbm()  # a missing LightGBM is a clear error before any work
    # rows in hash order: the trees' bagging draws rows by position, so the model would
    # otherwise depend on the order the training architectures were given in
    order = sorted(range(len(cells)), key=lambda i: cells[i].hash)
    cells = [cells[i] for i in order]
    results = None if results is None else [results[i] for i in order]
    y = np.asarray(accs, np.float64)[order]
    X, names = feature_matrix(families, cells, results)
    q = np.sort(y)
    model: dict = {"kind": "boosted", "families": list(families), "features": names,
                   "quantiles": q.tolist(), "n": int(len(y))}
    if len(y) < MIN_CELLS:
        lp = F.free_features(cells)[0][:, 0]
        coef = (np.polyfit(lp, y, 1) if len(y) >= 2 and np.ptp(lp) > 0
                else np.array([0.0, float(y.mean()) if len(y) else 0.0]))
        model.update(booster=None, fallback=[float(coef[0]), float(coef[1])])
        return model
    target = (rankdata(y) - 1) / (len(y) - 1)
    booster = _train_trees(X, names, target, seed)
    gain = booster.feature_importance("gain")
    top = np.argsort(gain)[::-1][:10]
    model.update(booster=booster.model_to_string(),
                 importance={names[i]: float(gain[i]) for i in top if gain[i] > 0})
    if graph_members:
        from .graph_ranker import fit_graph_ranker
        model["graph"] = fit_graph_ranker(cells, y, graph_members, seed=seed)
        if self_training:
            model["graph"], model["self_training"] = _self_train(
                model, booster, cells, y, target, seed, graph_members, self_training)
    return model


def _train_trees(X: np.ndarray, names: list[str], target: np.ndarray, seed: int):
    lgb = _lightgbm()
    params = {**LGB_PARAMS, "seed": int(seed), "min_data_in_leaf": min(5, len(target) // 2)}
    return lgb.train(params, lgb.Dataset(X, target, feature_name=_safe(names),
                                         params={"verbosity": -1}),
                     num_boost_round=NUM_TREES)


def unlabelled_cells(n: int, exclude: set[str], seed: int) -> list[Cell]:
    """``n`` distinct random cells (NASLib's sampler), none of them in ``exclude``; the
    same for the same seed."""
    from .cells import random_cell
    from .seeds import UNLABELLED, rng

    r = rng(seed, UNLABELLED)
    out: dict[str, Cell] = {}
    while len(out) < n:
        c = random_cell(r)
        if c.hash not in exclude:
            out.setdefault(c.hash, c)
    return list(out.values())


def _self_train(model: dict, booster, cells: list[Cell], y: np.ndarray, target: np.ndarray,
                seed: int, members: int, n_unlabelled: int) -> tuple[dict, dict]:
    """Students: graph networks pretrained on the teacher's order of unlabelled cells,
    then fine-tuned on the training cells.  Returns their model and the settings."""
    import time

    from .graph_ranker import (FINETUNE_EPOCHS, PRETRAIN_EPOCHS, fit_graph_ranker,
                               graph_scores, pretrain_states)

    t0 = time.perf_counter()
    pool = unlabelled_cells(n_unlabelled, {c.hash for c in cells}, seed)
    fams = [f for f in model["families"] if f != "dish"]
    parts = [rankdata(graph_scores(model["graph"], pool))]
    if fams:
        if fams != model["families"]:  # the unlabelled cells have no dish features
            booster = _train_trees(*feature_matrix(fams, cells), target=target, seed=seed)
        parts.append(rankdata(booster.predict(feature_matrix(fams, pool)[0], num_threads=1)))
    teacher = np.mean(parts, axis=0)
    init = pretrain_states(pool, teacher, members, seed=seed)
    students = fit_graph_ranker(cells, y, members, seed=seed, epochs=FINETUNE_EPOCHS,
                                init=init)
    info = {"unlabelled": int(n_unlabelled), "sampler": "random_cell (NASLib's)",
            "teacher": ("trees on " + "+".join(fams) + " + " if fams else "")
            + f"{members} graph networks", "pretrain_epochs": PRETRAIN_EPOCHS,
            "finetune_epochs": FINETUNE_EPOCHS,
            "seconds": round(time.perf_counter() - t0, 2)}
    return students, info


def predict_boosted(model: dict, cells: Sequence[Cell], results=None) -> np.ndarray:
    q = np.asarray(model["quantiles"], np.float64)
    if model.get("booster") is None:
        a, b = model["fallback"]
        return a * F.free_features(cells)[0][:, 0] + b
    lgb = _lightgbm()
    X, _ = feature_matrix(model["families"], cells, results)
    r = np.clip(lgb.Booster(model_str=model["booster"]).predict(X, num_threads=1), 0.0, 1.0)
    if model.get("graph"):  # both on the training cells' rank scale: their mean
        from .graph_ranker import graph_quantiles
        r = 0.5 * (r + graph_quantiles(model["graph"], cells))
    # back to accuracy units: the training accuracies' quantile at the predicted rank
    return np.interp(r, np.linspace(0.0, 1.0, len(q)), q)


def _lightgbm():
    try:
        import lightgbm
    except ImportError as exc:  # a dependency, but an install may have skipped it
        raise OptionalDependencyError("calibration: boosted needs LightGBM (a dependency of "
                                      "naslib-petridish): pip install 'lightgbm>=4'") from exc
    return lightgbm


def _safe(names: list[str]) -> list[str]:
    """LightGBM refuses some characters in feature names."""
    return [n.replace("-", "_").replace(" ", "_") for n in names]


def describe(model: dict) -> str:
    if model.get("booster") is None:
        return f"log-params line (only {model['n']} training cells)"
    graph = (f" + {len(model['graph']['members'])} graph networks" if model.get("graph")
             else "")
    if model.get("self_training"):
        graph += f" (self-trained on {model['self_training']['unlabelled']} unlabelled cells)"
    return (f"LightGBM on {len(model['features'])} features "
            f"({'+'.join(model['families'])}){graph}, {model['n']} cells")
