"""The two controls of every predictor comparison: the parameter count and no information.

* :class:`TableParams` - the full network's parameter count (log), read from the ground
  truth table: free, and on NB101 and NB201 already a fair ranker;
* :class:`TrainingMean` - every architecture gets the training set's mean accuracy: a
  predictor that knows nothing, the control of what a predictor adds to a search.

Both take cells of any space in any form the table's space converts (NASLib's graph
objects included), so guided search and NASLib's optimizers use these same classes
(``naslib.predictors`` only adds NASLib's ``Predictor`` base).
"""
from __future__ import annotations

import numpy as np

from . import seeds
from .spaces import as_cells

CONTROLS = ("params", "mean")


class TableParams:
    """log of the full network's parameter count, from ``table`` (no learning)."""

    method_type = "params"

    def __init__(self, table):
        self.table = table

    def fit(self, xtrain, ytrain, info=None):
        return None

    def query(self, xtest, info=None) -> np.ndarray:
        cells = as_cells(list(xtest), getattr(self.table, "space", "nb101"), self.table)
        rows = self.table.indices([c.hash for c in cells])
        return np.log(self.table.params[rows].astype(np.float64))


class TrainingMean:
    """The training set's mean accuracy plus a tie-breaking jitter below 1e-9 that is a
    function of the run seed and the cell (so a top-k of equal predictions is a random k,
    the same whatever the batch or the order of the query)."""

    method_type = "mean"

    def __init__(self, seed: int = 0, space: str = "nb101"):
        self.seed, self.space, self.mean = int(seed), space, float("nan")

    def fit(self, xtrain, ytrain, info=None):
        self.mean = float(np.mean(ytrain))

    def query(self, xtest, info=None) -> np.ndarray:
        cells = as_cells(list(xtest), self.space)
        jitter = [seeds.motif_seed(self.seed, seeds.hash_key(c.hash)) / 2.0 ** 63 * 1e-9
                  for c in cells]
        return self.mean + np.asarray(jitter)
