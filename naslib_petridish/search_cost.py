"""Simulated cost of a search: the NB101 training time of every architecture whose true
accuracy was asked for, plus the measured seconds of the predictor.

NB101 ships a 108-epoch training time (TPU v2 seconds) with every cell, but the shared
table has it for the 30,001 cells that also have validation accuracy only.  Where the
time is missing it is estimated: by :class:`LogParamsTimeModel` (log time on log
parameter count; ``run_search``'s default) or by :class:`CellFeaturesTimeModel` (log time
on the parameter count and the cell's operations, edges, depth and vertices; the model of
the benchmarks' predictor and search comparisons, with its held-out error).  Any object
with the same ``seconds(rows)`` / ``describe()`` pair can replace them.  Nothing here
imports NASLib.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from .errors import GroundTruthError
from .tables import NB101Table, epoch_index


class TrainTimeModel(Protocol):
    """What the cost accounting needs of a time model."""

    def seconds(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """(108-epoch training seconds, whether each is the table's own value) per row."""

    def describe(self) -> dict:
        """A JSON-able description (written into the search summary)."""


class NoTimeModel:
    """No training times (NB201's files have none): every query costs 0 s, said so."""

    def seconds(self, rows) -> tuple[np.ndarray, np.ndarray]:
        n = len(np.asarray(rows))
        return np.zeros(n), np.zeros(n, bool)

    def describe(self) -> dict:
        return {"model": "none: the ground truth has no training times (simulated seconds "
                         "are the predictor's alone)", "cells_with_real_time": 0}


def table_train_times(table: NB101Table) -> np.ndarray:
    """The 108-epoch training time of every row: the mean over the repeats the table
    has, NaN where it has none."""
    t = table.train_time[:, epoch_index(108), :].astype(np.float64)
    t[~(t > 0)] = np.nan  # a zero or negative time is a missing one
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        return np.nanmean(t, axis=1)


class LogParamsTimeModel:
    """The table's 108-epoch training time where it exists, else
    ``exp(a + b * log(params))`` with ``a, b`` from least squares of log(time) on
    log(parameter count) over the rows that have a time.  (Parameter count is what most
    of the training time follows; the estimate is only needed for the cells the shared
    table has no time for.)"""

    def __init__(self, table: NB101Table):
        self.times = table_train_times(table)
        self.known = np.isfinite(self.times)
        self.log_params = np.log(np.maximum(table.params.astype(np.float64), 1.0))
        if self.known.sum() < 2:
            raise GroundTruthError(f"{table.source}: fewer than two cells have a 108-epoch "
                                   "training time; cannot estimate the others")
        x, y = self.log_params[self.known], np.log(self.times[self.known])
        design = np.column_stack([np.ones_like(x), x])
        (self.a, self.b), *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ np.array([self.a, self.b])
        self.r2_log = float(1 - resid.var() / y.var()) if y.var() > 0 else float("nan")

    def estimate(self, rows) -> np.ndarray:
        """The least-squares estimate (ignoring the table's own times)."""
        return np.exp(self.a + self.b * self.log_params[np.asarray(rows, dtype=np.int64)])

    def seconds(self, rows) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64)
        real = self.known[rows]
        return np.where(real, self.times[rows], self.estimate(rows)), real

    def describe(self) -> dict:
        return {"model": f"log(train seconds) ~ {self.a:+.4g} {self.b:+.4g}*log(params)",
                "cells_with_real_time": int(self.known.sum()), "r2_log": self.r2_log}


CELL_FEATURES = ("1", "log params", "#conv3x3", "#conv1x1", "#maxpool3x3", "#edges", "depth",
                 "#vertices")


def cell_features(table: NB101Table, rows) -> np.ndarray:
    """:data:`CELL_FEATURES` per row: [1, log params, #conv3x3, #conv1x1, #maxpool,
    #edges, depth (longest input-output path), #vertices]."""
    rows = np.asarray(rows, dtype=np.int64)
    adj = table.adjacency[rows].astype(np.int64)
    ops = table.ops[rows]
    nv = table.num_vertices[rows].astype(np.int64)
    dist = np.full((len(rows), 7), -10**6, np.int64)
    dist[:, 0] = 0
    for j in range(1, 7):
        cand = np.where(adj[:, :j, j] > 0, dist[:, :j] + 1, -10**6)
        dist[:, j] = cand.max(axis=1)
    depth = dist[np.arange(len(rows)), nv - 1]
    return np.column_stack([np.ones(len(rows)), np.log(table.params[rows].astype(float)),
                            (ops == 0).sum(1), (ops == 1).sum(1), (ops == 2).sum(1),
                            adj.sum((1, 2)), depth, nv]).astype(float)


class CellFeaturesTimeModel:
    """NB101 108-epoch training time: the table's value (repeat 2) where it exists, else
    exp(least squares of log time on :func:`cell_features`), fitted on the cells with a
    time.  ``check`` holds its error on 20% of those cells held out of a first fit (split
    drawn with ``seed``)."""

    def __init__(self, table: NB101Table, seed: int = 0):
        from scipy import stats

        self.table = table
        e = list(table.epochs).index(108)
        t = table.train_time[:, e, 2]  # the only repeat the shared table has
        self.known = np.isfinite(t) & (t > 0)
        self.times = t
        rows = np.flatnonzero(self.known)
        if len(rows) < 2:
            raise GroundTruthError(f"{table.source}: fewer than two cells have a 108-epoch "
                                   "training time (repeat 2); cannot estimate the others")
        X, y = cell_features(table, rows), np.log(t[rows])
        perm = np.random.default_rng(seed).permutation(len(rows))
        cut = int(0.8 * len(rows))
        fit, held = perm[:cut], perm[cut:]
        c, *_ = np.linalg.lstsq(X[fit], y[fit], rcond=None)
        pred = X[held] @ c
        rel = np.abs(np.exp(pred) / np.exp(y[held]) - 1)
        self.check = {
            "fit_cells": int(len(fit)), "held_out_cells": int(len(held)),
            "held_out_median_abs_rel_error": float(np.median(rel)),
            "held_out_mean_abs_rel_error": float(rel.mean()),
            "held_out_r2_log": float(1 - np.sum((pred - y[held]) ** 2)
                                     / np.sum((y[held] - y[held].mean()) ** 2)),
            "held_out_kendall": float(stats.kendalltau(pred, y[held])[0]),
            "held_out_total_time_ratio": float(np.exp(pred).sum() / np.exp(y[held]).sum())}
        self.coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        self.features = list(CELL_FEATURES)

    def seconds(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, whether each is the table's real value) for table rows."""
        rows = np.asarray(rows, dtype=np.int64)
        real = self.known[rows]
        est = np.exp(cell_features(self.table, rows) @ self.coef)
        return np.where(real, self.times[rows], est), real

    def describe(self) -> dict:
        return {"model": "log(train seconds) ~ " + " + ".join(
                    f"{c:+.4g}*{f}" for c, f in zip(self.coef, self.features)),
                "coef": dict(zip(self.features, map(float, self.coef))),
                "cells_with_real_time": int(self.known.sum()), **self.check}


#: the time models by name (``benchmarks.search_comparison run --time-model``)
TIME_MODELS = {"cell-features": CellFeaturesTimeModel, "log-params": LogParamsTimeModel}


class PredictorClock:
    """Seconds and calls of a predictor's ``fit`` and ``query``, summed over a search."""

    def __init__(self) -> None:
        self.fit_seconds = 0.0
        self.query_seconds = 0.0
        self.fits = 0
        self.queried = 0  # architectures predicted

    @property
    def seconds(self) -> float:
        return self.fit_seconds + self.query_seconds

    def as_dict(self) -> dict:
        return {"fit_seconds": self.fit_seconds, "query_seconds": self.query_seconds,
                "fits": self.fits, "architectures_predicted": self.queried}


class TimedPredictor:
    """A predictor (or NASLib ensemble) whose ``fit`` and ``query`` are timed into a
    :class:`PredictorClock`; every other attribute is the wrapped object's, so NASLib's
    optimizers use it unchanged."""

    def __init__(self, inner: Any, clock: PredictorClock | None = None):
        self.inner = inner
        self.clock = clock if clock is not None else PredictorClock()

    def fit(self, xtrain, ytrain, *args, **kw):
        t0 = time.perf_counter()
        try:
            return self.inner.fit(xtrain, ytrain, *args, **kw)
        finally:
            self.clock.fit_seconds += time.perf_counter() - t0
            self.clock.fits += 1

    def query(self, xtest, *args, **kw):
        t0 = time.perf_counter()
        try:
            return self.inner.query(xtest, *args, **kw)
        finally:
            self.clock.query_seconds += time.perf_counter() - t0
            self.clock.queried += len(xtest)

    def __getattr__(self, name: str):
        # only reached for attributes this wrapper lacks; "inner" itself must exist
        # (copy/pickle probe attributes before __init__ has run)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


@dataclass
class EpochRecord:
    """The optimizer's own counts after one search epoch."""

    epoch: int
    ground_truth_queries: int
    predictor_queries: int
    predictor_seconds: float


def incumbent_indices(search_accuracies: Sequence[float], counts: Sequence[int]) -> list:
    """For each count ``c``: the index of the best of the first ``c`` benchmark answers
    (first one on ties, as ``max`` picks), or None for ``c == 0``."""
    acc = np.asarray(search_accuracies, dtype=np.float64)
    out: list = []
    best, upto = -1, 0
    for c in counts:
        c = int(c)
        if c < upto or c > len(acc):
            raise GroundTruthError(f"query counts must grow within 0..{len(acc)}, got {c} "
                                   f"after {upto}")
        for i in range(upto, c):
            if best < 0 or acc[i] > acc[best]:
                best = i
        upto = c
        out.append(best if c > 0 else None)
    return out


def _nullable(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def search_record(rows: Sequence[int], search_accuracies: Sequence[float],
                  epochs: Sequence[EpochRecord], table: NB101Table,
                  time_model: TrainTimeModel) -> dict:
    """The cost and per-epoch incumbent of a search, from its benchmark answers.

    ``rows``/``search_accuracies``: the table row and the accuracy the optimizer got for
    each ground-truth query, in order (the accuracy decides the incumbent, as the
    optimizer's does); ``epochs``: the optimizer's counts after each epoch.  The
    incumbent's accuracy is read from ``table`` (108-epoch TEST accuracy, a fraction):
    a prediction can never be one.  Simulated seconds = cumulative NB101 training time of
    the queried architectures (every query, as the optimizer counts them) + the
    predictor's measured seconds so far."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) != len(search_accuracies):
        raise GroundTruthError(f"{len(rows)} rows for {len(search_accuracies)} accuracies")
    secs, real = time_model.seconds(rows) if len(rows) else (np.zeros(0), np.zeros(0, bool))
    train_cum = np.concatenate([[0.0], np.cumsum(secs)])
    counts = [e.ground_truth_queries for e in epochs]
    inc = incumbent_indices(search_accuracies, counts)
    test = table.metric(rows, "test", strict=False) if len(rows) else np.zeros(0)
    return {
        "train_seconds": float(train_cum[-1]),
        "queries_with_real_time": int(np.sum(real)),
        "queries_with_estimated_time": int(len(rows) - np.sum(real)),
        "distinct_cells_queried": int(len(set(rows.tolist()))),
        "trajectory": {
            "epoch": [e.epoch for e in epochs],
            "ground_truth_queries": counts,
            "predictor_queries": [e.predictor_queries for e in epochs],
            "best_true_test_accuracy": [None if i is None else _nullable(test[i])
                                        for i in inc],
            "train_seconds": [float(train_cum[c]) for c in counts],
            "predictor_seconds": [float(e.predictor_seconds) for e in epochs],
            "simulated_seconds": [float(train_cum[c] + e.predictor_seconds)
                                  for c, e in zip(counts, epochs)],
        },
    }
