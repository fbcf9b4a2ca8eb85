"""Predictor-guided search: fit on every queried cell, rank candidates, query the best new.

The loop of Wen et al.'s Neural Predictor and WeakNAS (Wu et al. 2021), NASLib-free:

1. query ``init`` cells drawn uniformly from the space (the cells of the ground-truth
   table that have the metric);
2. each round: fit the predictor on every queried cell and its accuracy; score the
   round's candidates - ``pool`` cells drawn uniformly from the space (0: every cell of the
   space), plus ``mutations`` mutants of each of the ``top_k`` best queried cells (local
   search around the incumbents, as WeakNAS samples around its top cells); query the
   ``batch`` best-scored candidates not queried yet (ties in the order drawn);
3. stop when ``budget`` ground-truth queries are spent.

A cell's structure is free, only its accuracy costs a query: accuracies are read through
:class:`Oracle` alone, which counts every query, so the predictor and the candidate choice
never see an accuracy that was not queried, and the incumbent is the best truly queried
cell.  :class:`GuidedSearch` is the algorithm as ``propose`` / ``tell``, which both the
command (:func:`run_guided`) and NASLib's optimizer (``naslib.guided_optimizer``) drive, so
that the same seed makes the same queries in both.  Every random draw comes from the run's
seeded streams; a run checkpoints after every round and resumes from there.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import __version__, rundir, seeds
from .errors import ConfigError, OutputExistsError, UsageError
from .factory import search_predictor
from .spaces import FINAL_EPOCHS, get_space
from .tables import NB101Table

SUMMARY, CHECKPOINT = "summary.json", "checkpoint.json"


@dataclass
class GuidedConfig:
    #: ground-truth queries in all (the initial cells included)
    budget: int = 150
    #: cells drawn uniformly and queried before the predictor is first fitted
    init: int = 20
    #: cells queried per round (after each fit)
    batch: int = 10
    #: uniform candidates per round (0: every cell of the space)
    pool: int = 20000
    #: mutants of each of the top_k best queried cells added to the candidates per round
    mutations: int = 0
    top_k: int = 10
    metric: str = "test"
    #: None: the final epoch budget of the table's space (108 on NB101, 200 on NB201)
    metric_epochs: Any = None
    seed: int = 0

    def __post_init__(self):
        for n in ("budget", "init", "batch"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"'{n}' must be a positive integer, got {v!r}")
        for n in ("pool", "mutations", "top_k", "seed"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ConfigError(f"'{n}' must be a non-negative integer, got {v!r}")
        if self.init > self.budget:
            raise ConfigError(f"'init' ({self.init}) exceeds the budget ({self.budget}): the "
                              "initial cells are ground-truth queries too")
        if str(self.metric).lower() not in ("val", "test"):
            raise ConfigError(f"metric must be 'val' or 'test', got '{self.metric}'")
        self.metric = str(self.metric).lower()

    def to_dict(self) -> dict:
        return {k: (int(v) if isinstance(v, np.integer) else v)
                for k, v in dataclasses.asdict(self).items()}


class Oracle:
    """The only way to an accuracy: each call is one ground-truth query, counted."""

    def __init__(self, table: NB101Table, metric: str, epochs: int = 108):
        self.table, self.metric, self.epochs = table, metric, epochs
        self.rows: list[int] = []

    def __call__(self, row: int) -> float:
        self.rows.append(int(row))
        return float(self.table.metric([int(row)], self.metric, self.epochs)[0])


class GuidedSearch:
    """The algorithm of the module docstring over the rows of ``table``: ``propose()``
    gives the rows to query next (the initial cells first; then it fits the predictor and
    ranks a round's candidates), ``tell(row, accuracy)`` records an answer."""

    def __init__(self, table: NB101Table, predictor: Any, config: GuidedConfig):
        self.table, self.predictor, self.cfg = table, predictor, config
        if config.metric_epochs is None:
            config.metric_epochs = FINAL_EPOCHS[table.space]
        self.mutate = get_space(table.space).mutate
        self.space = np.flatnonzero(table.has_metric(config.metric, config.metric_epochs))
        if config.budget > len(self.space):
            raise UsageError(f"budget {config.budget} exceeds the {len(self.space)} cells of "
                             f"the space (cells with {config.metric} accuracy)")
        if config.pool > len(self.space):
            raise UsageError(f"a candidate pool of {config.pool} cells is larger than the "
                             f"space ({len(self.space)} cells with {config.metric} accuracy); "
                             "use --pool 0 for every cell")
        self._in_space = np.zeros(len(table), dtype=bool)
        self._in_space[self.space] = True
        self.init_rng = seeds.rng(config.seed, seeds.GUIDED_INIT)
        self.pool_rng = seeds.rng(config.seed, seeds.GUIDED_POOL)
        self.rows: list[int] = []          # queried, in order
        self.accs: list[float] = []
        self.rounds: list[dict] = []       # per fit: what was proposed, the seconds
        self.fit_seconds = self.query_seconds = 0.0
        self.predicted = 0

    # -- the loop ---------------------------------------------------------------------
    @property
    def remaining(self) -> int:
        return self.cfg.budget - len(self.rows)

    def propose(self) -> list[int]:
        """The rows to query next, at most ``remaining`` (empty when the budget is spent)."""
        if self.remaining <= 0:
            return []
        if not self.rows:
            rows = self.table.sample(self.cfg.init, self.init_rng, metric=self.cfg.metric,
                                     epochs=self.cfg.metric_epochs)
            return [int(r) for r in self.init_rng.permutation(rows)]
        cand = self._candidates()
        cells = self.table.cells(cand)
        t0 = time.perf_counter()
        self.predictor.fit(self.table.cells(self.rows), np.asarray(self.accs, np.float64))
        t1 = time.perf_counter()
        scores = np.asarray(self.predictor.query(cells), np.float64).reshape(-1)
        t2 = time.perf_counter()
        if len(scores) != len(cand):
            raise UsageError(f"the predictor returned {len(scores)} scores for {len(cand)} "
                             "candidates")
        self.fit_seconds += t1 - t0
        self.query_seconds += t2 - t1
        self.predicted += len(cand)
        order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
        take = [int(cand[i]) for i in order[:min(self.cfg.batch, self.remaining)]]
        self.rounds.append({"after_queries": len(self.rows), "candidates": int(len(cand)),
                            "fit_seconds": round(t1 - t0, 3),
                            "query_seconds": round(t2 - t1, 3), "proposed": len(take)})
        return take

    def tell(self, row: int, accuracy: float) -> None:
        if self.remaining <= 0:
            raise UsageError(f"the budget of {self.cfg.budget} queries is spent")
        self.rows.append(int(row))
        self.accs.append(float(accuracy))

    def _candidates(self) -> np.ndarray:
        """This round's candidate rows, none of them queried: the pool (uniform over the
        space) and the mutants of the best queried cells, in the order drawn."""
        queried = np.asarray(self.rows, np.int64)
        if self.cfg.pool:
            pool = self.table.sample(self.cfg.pool, self.pool_rng, metric=self.cfg.metric,
                                     epochs=self.cfg.metric_epochs, exclude=queried)
            pool = self.pool_rng.permutation(pool)
        else:
            mask = self._in_space.copy()
            mask[queried] = False
            pool = np.flatnonzero(mask)
        extra = []
        if self.cfg.mutations:
            best = np.argsort(-np.asarray(self.accs), kind="stable")[:self.cfg.top_k]
            seen = set(self.rows) | set(pool.tolist())
            for i in best:
                parent = self.table.cell(self.rows[i])
                for _ in range(self.cfg.mutations):
                    h = self.mutate(parent, self.pool_rng).hash
                    if h not in self.table:  # a table of part of the space
                        continue
                    r = self.table.index(h)
                    if self._in_space[r] and r not in seen:
                        seen.add(r)
                        extra.append(r)
        return np.concatenate([pool, np.asarray(extra, np.int64)]).astype(np.int64)

    # -- results and state --------------------------------------------------------------
    def best(self) -> tuple[int, float]:
        """The best truly queried row and its accuracy."""
        i = int(np.argmax(self.accs))
        return self.rows[i], self.accs[i]

    def state(self) -> dict:
        return {"rows": self.rows, "accs": self.accs, "rounds": self.rounds,
                "fit_seconds": self.fit_seconds, "query_seconds": self.query_seconds,
                "predicted": self.predicted,
                "init_rng": self.init_rng.bit_generator.state,
                "pool_rng": self.pool_rng.bit_generator.state}

    def load_state(self, st: dict) -> None:
        self.rows, self.accs = [int(r) for r in st["rows"]], [float(a) for a in st["accs"]]
        self.rounds = list(st["rounds"])
        self.fit_seconds, self.query_seconds = st["fit_seconds"], st["query_seconds"]
        self.predicted = st["predicted"]
        self.init_rng.bit_generator.state = st["init_rng"]
        self.pool_rng.bit_generator.state = st["pool_rng"]


# -- the command --------------------------------------------------------------------------
def run_guided(table: NB101Table, predictor_name: str, cfg: GuidedConfig,
               out_dir: str | os.PathLike, options: dict | None = None, resume: bool = False,
               force: bool = False, progress: bool = False) -> dict:
    """Run the search, checkpointed after every round in ``out_dir``, and write
    ``summary.json`` (the best truly queried cell, every query in order, the config)."""
    with rundir.hold(out_dir) as out:
        if (out / SUMMARY).exists() and not force:
            if resume:
                return json.loads((out / SUMMARY).read_text())
            raise OutputExistsError(f"{out / SUMMARY} exists; pass --force to replace it")
        if cfg.metric_epochs is None:
            cfg.metric_epochs = FINAL_EPOCHS[table.space]
        config = {"predictor": predictor_name, "predictor_options": options or {},
                  "search": cfg.to_dict(), "ground_truth": str(table.source)}
        if table.space != "nb101":  # NB101's records keep their layout
            config.update(space=table.space, dataset=table.dataset)
        pred = search_predictor(predictor_name, table, cfg.seed, options)
        search = GuidedSearch(table, pred, cfg)
        oracle = Oracle(table, cfg.metric, cfg.metric_epochs)
        t_start, before = time.perf_counter(), 0.0
        if resume and (out / CHECKPOINT).exists():
            ck = json.loads((out / CHECKPOINT).read_text())
            if ck["config"] != config:
                raise UsageError(f"{out} holds a search with other settings; use another --out "
                                 "or --force")
            search.load_state(ck["state"])
            oracle.rows = list(search.rows)  # answered before the interruption
            before = ck["wall_seconds"]
        try:
            while True:
                rows = search.propose()
                if not rows:
                    break
                for r in rows:
                    search.tell(r, oracle(r))
                rundir.write_atomic(out / CHECKPOINT, json.dumps({
                    "config": config, "state": search.state(),
                    "wall_seconds": before + time.perf_counter() - t_start}))
                if progress:
                    print(f"{len(search.rows)}/{cfg.budget} queries, best "
                          f"{max(search.accs):.4f}", flush=True)
        finally:
            close = getattr(pred, "close", None)
            if close is not None:
                close()
        summary = _summary(table, search, oracle, config,
                           before + time.perf_counter() - t_start)
        rundir.write_atomic(out / SUMMARY, json.dumps(summary, indent=1))
        (out / CHECKPOINT).unlink(missing_ok=True)
    return summary


def _train_seconds(table, rows) -> dict:
    """The NB101 training time of the queried cells (the table's where it has one, else the
    estimate of ``search_cost.CellFeaturesTimeModel``), or why there is none."""
    from .errors import GroundTruthError

    if table.space != "nb101":
        return {"time_model": f"none: training times are NB101's only, not {table.space}'s"}
    from .search_cost import CellFeaturesTimeModel

    try:
        model = CellFeaturesTimeModel(table)
    except GroundTruthError as exc:
        return {"time_model": f"none: {exc}"}
    s, real = model.seconds(rows)
    return {"nb101_train_seconds": [round(float(x), 2) for x in s],
            "nb101_train_seconds_real": int(real.sum()),
            "time_model": model.describe()["model"]}


def _summary(table, search: GuidedSearch, oracle: Oracle, config: dict, wall: float) -> dict:
    from .evaluate import machine_description

    row, acc = search.best()
    accs = np.asarray(search.accs)
    cfg = search.cfg
    return {
        "package_version": __version__, "machine": machine_description(),
        "config": config, "metric": cfg.metric, "best_accuracy": acc,
        # the incumbent (the best queried cell by the search's metric) and its test accuracy:
        # the search's own answer when it searched on test accuracy; else read for the
        # report only, after the search - never the best test accuracy among the queries
        "best_test_accuracy": acc if cfg.metric == "test" else float(
            table.metric([row], "test", cfg.metric_epochs)[0]),
        "best_hash": str(table.hashes[row]), "best_cell": table.cell(row).to_dict(),
        "ground_truth_queries": len(oracle.rows), "distinct_cells_queried": len(set(search.rows)),
        "queries": [{"hash": str(table.hashes[r]), "accuracy": a} for r, a in
                    zip(search.rows, search.accs)],
        "incumbent": np.maximum.accumulate(accs).tolist(),
        "rounds": search.rounds, "predictor_fit_seconds": search.fit_seconds,
        "predictor_query_seconds": search.query_seconds,
        "architectures_predicted": search.predicted, "wall_seconds": wall,
        **_train_seconds(table, search.rows)}


def read_options(pairs: Sequence[str]) -> dict:
    """``key=value`` pairs of predictor options (YAML values)."""
    from .fields import parse_override

    return dict(parse_override(p) for p in pairs)


__all__ = ["GuidedConfig", "GuidedSearch", "Oracle", "run_guided",
           "SUMMARY", "CHECKPOINT"]
