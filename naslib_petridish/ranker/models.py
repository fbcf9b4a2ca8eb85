"""Models of the ranker: each ranks cells on the training cells' [0, 1] rank scale.

A model is a class with a ``name``, built from the :class:`~.config.RankerConfig`:
``fit(cells, X, names, y, seed)`` learns from the training cells (in hash order), their
feature matrix and accuracies; ``rank(cells, X)`` places cells on the scale of the training
cells' ranks (0 = worst training cell, 1 = best); ``state()`` / ``from_state`` persist it as
plain JSON values.  The ranker averages the ranks of ``config.models``.  Two ship:

* ``trees`` - LightGBM on the feature matrix, fitted on the training accuracies' ranks;
* ``graph`` - ``graph_members`` graph networks over the cell graphs (no feature matrix),
  trained with a pairwise ranking loss; the one model that self-training replaces.

A new model is one class::

    from naslib_petridish.ranker.models import RankModel, register_model

    @register_model
    class ParamsLine(RankModel):
        name = "params-line"

        def fit(self, cells, X, names, y, seed):   # needs the `free` source
            self.col = names.index("log10_params")
            self.ref = np.sort(X[:, self.col]).tolist()

        def rank(self, cells, X):
            return np.interp(X[:, self.col], self.ref, np.linspace(0, 1, len(self.ref)))
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import rankdata

from ..cells import Cell

#: name -> model class
MODELS: dict[str, type["RankModel"]] = {}


def register_model(cls: type["RankModel"]) -> type["RankModel"]:
    """Class decorator: make ``cls`` available as ``models: [cls.name]``."""
    MODELS[cls.name] = cls
    return cls


def rank_target(y: np.ndarray) -> np.ndarray:
    """The training accuracies' ranks scaled to [0, 1] (what the trees learn)."""
    return (rankdata(y) - 1) / (len(y) - 1)


class RankModel:
    """One model of the ranker (see the module docstring for the contract)."""

    name = ""

    def __init__(self, config):
        self.config = config
        self.names: list[str] = []

    def fit(self, cells: Sequence[Cell], X: np.ndarray, names: list[str], y: np.ndarray,
            seed: int) -> None:
        raise NotImplementedError

    def rank(self, cells: Sequence[Cell], X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def state(self) -> dict:
        """What ``from_state`` needs (plain JSON values)."""
        return {k: v for k, v in vars(self).items() if k != "config" and not k.startswith("_")}

    @classmethod
    def from_state(cls, config, state: dict) -> "RankModel":
        m = cls(config)
        vars(m).update(state)
        return m

    def describe(self) -> str:
        return self.name


@register_model
class Trees(RankModel):
    """Gradient-boosted trees (LightGBM) on the feature matrix."""

    name = "trees"

    def fit(self, cells, X, names, y, seed):
        self.learn(X, names, rank_target(y), seed)

    def learn(self, X, names, target, seed, weight=None) -> None:
        """Fit the trees on ``X`` -> ``target`` (ranks in [0, 1]; ``weight`` per row): what
        ``fit`` does with the training ranks, and self-training with pseudo-ranks."""
        from .trees import train_trees

        booster = train_trees(X, names, target, seed, weight)
        gain = booster.feature_importance("gain")
        top = np.argsort(gain)[::-1][:10]
        self.names = list(names)
        self.booster = booster.model_to_string()
        self.importance = {names[i]: float(gain[i]) for i in top if gain[i] > 0}
        self._booster = booster  # the trained one (self-training's teacher uses it)
        self._loaded = None

    def rank(self, cells, X):
        from .trees import lightgbm

        if getattr(self, "_loaded", None) is None:
            self._loaded = lightgbm().Booster(model_str=self.booster)
        return np.clip(self._loaded.predict(X, num_threads=1), 0.0, 1.0)

    def describe(self) -> str:
        return f"LightGBM on {len(self.names)} features"


@register_model
class GraphNetworks(RankModel):
    """``graph_members`` graph networks (:mod:`.graph`) on the cell graphs."""

    name = "graph"

    def fit(self, cells, X, names, y, seed, warm: dict | None = None):
        """``warm`` (a warm refit's state, see ``RankerConfig.warm_start``): start from its
        ``graph`` weights for ``WARM_EPOCHS``, and leave the new weights there."""
        from .graph import EPOCHS, WARM_EPOCHS, fit_graph_ranker

        init = None if warm is None else warm.get("graph")
        self.model = fit_graph_ranker(cells, y, self.config.graph_members, seed=seed,
                                      epochs=EPOCHS if init is None else WARM_EPOCHS,
                                      init=init, layers=self.config.graph_layers,
                                      attention=self.config.graph_attention)

    def rank(self, cells, X):
        from .graph import graph_quantiles

        return graph_quantiles(self.model, cells)

    def scores(self, cells) -> np.ndarray:
        """The members' mean raw score of each cell."""
        from .graph import graph_scores

        return graph_scores(self.model, cells)

    def describe(self) -> str:
        return f"{len(self.model['members'])} graph networks"
