"""The paper's score -> accuracy maps, fitted at the end of a dish's fit.

The paper's loss ``1 - |r|`` rewards either sign of the relation between the
score ``z^`` and accuracy, so a fitted dish does not say whether a high score
means a good or a bad cell.  ``fit`` ends by re-training ``calibration_size``
distinct training architectures on the final dish and fitting a least-squares
map from their scores to their accuracies; predictions are then calibrated
accuracies (higher = better).

* ``linear``: ``acc ~ slope * z^ + intercept`` (scipy ``linregress``);
* ``linear_params``: ``acc ~ slope * z^ + params_slope * log10(params) + intercept``,
  a hybrid of the dish and the free parameter-count baseline (not the paper).

The learned ranking model (trees and graph networks on cell features, with the dish's
learning curve as one optional source) is :mod:`naslib_petridish.ranker`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats

from . import seeds
from .cells import Cell
from .config import CALIBRATIONS as KINDS
from .correlation import kendall
from .errors import ConfigError


def pick_cells(hashes: Sequence[str], size: int, seed: int) -> np.ndarray:
    """Indices of up to ``size`` distinct training architectures (by hash), drawn from
    the run's calibration stream."""
    _, first = np.unique(list(hashes), return_index=True)
    return seeds.rng(seed, seeds.CALIBRATION).permutation(np.sort(first))[:size]


def log_params(cells: Sequence[Cell]) -> np.ndarray:
    """log10 of the trainable parameter count of each cell's full network (its space's)."""
    from .spaces import space_of

    return space_of(list(cells)).log_params(cells)


def fit_calibration(kind: str, scores: Sequence[float], accs: Sequence[float],
                    cells: Sequence[Cell]) -> dict:
    """The score -> accuracy map of ``kind``, with its fit statistics (Pearson r and
    Kendall tau of score vs accuracy, ``n``).  Constant scores carry no information:
    the map then predicts the mean accuracy."""
    if kind not in KINDS:
        raise ConfigError(f"unknown calibration '{kind}'; available: {', '.join(KINDS)}")
    s, a = np.asarray(scores, float), np.asarray(accs, float)
    if len(s) >= 2 and np.ptp(s) > 0:
        lr = stats.linregress(s, a)
        slope, intercept, r = float(lr.slope), float(lr.intercept), float(lr.rvalue)
    else:
        slope, intercept, r = 0.0, float(a.mean()) if len(a) else 0.0, 0.0
    cal = {"kind": kind, "slope": slope, "intercept": intercept, "pearson_r": r,
           "kendall_tau": kendall(s, a)[0], "n": int(len(s)),
           "score_mean": float(s.mean()) if len(s) else math.nan}
    if kind == "linear_params":
        lp = log_params(cells)
        if len(s) >= 3 and np.ptp(s) > 0 and np.ptp(lp) > 0:
            coef = np.linalg.lstsq(np.column_stack([s, lp, np.ones(len(s))]), a, rcond=None)[0]
        else:  # degenerate: the z^-only fit with no parameter term
            coef = np.array([slope, 0.0, intercept])
        cal.update(slope=float(coef[0]), params_slope=float(coef[1]), intercept=float(coef[2]))
    return cal


def apply_calibration(cal: dict | None, scores: np.ndarray, cells: Sequence[Cell]
                      ) -> np.ndarray:
    """Predicted accuracies from raw scores (the raw scores when there is no map)."""
    s = np.asarray(scores, dtype=np.float64)
    if not cal:
        return s
    out = cal["slope"] * s + cal["intercept"]
    if cal.get("kind") == "linear_params":
        out = out + cal["params_slope"] * log_params(cells)
    return out.astype(np.float64)
