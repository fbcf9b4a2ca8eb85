"""Run and summary: :func:`run_search` through NASLib's ``Trainer``, ``petridish_search.json``.

Plain runs (NASLib's regularized evolution and random search on the true accuracy,
Bananas/Npenas with NASLib's own predictors) or driven by a predictor (the dish, a
control, or one of NASLib's predictors as RE's fitness).  The rest of a search lives in
modules that import one way, each without NASLib at import time:
:mod:`.search_rules` (decisions: parent choice, refits, the incumbent, a surrogate's
batch) <- :mod:`.search_methods` (which optimizer/predictor pairs exist, the epochs of a
budget) <- :mod:`.search_optimizers` (the mixins on NASLib's optimizers and their
factories) <- this module, which re-exports their public names.  Every optimizer keeps
its own record of the benchmark answers it got (``evaluated``) and of its counts after
every epoch (``epoch_log``), from which :func:`search_summary` writes the incumbent
trajectory and the simulated cost (:mod:`naslib_petridish.search_cost`); NASLib's
history, which may hold predictions, is never read for that.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ..spaces import as_cell
from ..tables import NB101Table
from .compat import import_naslib
from ..search_cost import (LogParamsTimeModel, NoTimeModel, TimedPredictor, TrainTimeModel,
                           search_record)
from .dataset import api_metric, make_dataset_api, open_table
from .evaluation import load_naslib_config, naslib_search_space, space_of_config
from .predictors import get_predictor
from .search_methods import (NASLIB_SURROGATES, OPTIMIZERS, RE_FITNESS, SURROGATE_CONTROLS,
                             SearchMethod, epochs_for_budget, search_method, valid_predictors)
from .search_optimizers import (DishEnsemble, DishSurrogateMixin, EpochLogMixin,
                                PlainQueriesMixin, PredictorFitnessEvolutionMixin,
                                TimedEnsembleMixin, naslib_optimizer, optimizer_classes,
                                plain_optimizer_class)
from .search_rules import (best_evaluated, cell_key, fitness, refit_candidates, refit_due,
                           select_parent, top_k_by_prediction)


__all__ = [
    "OPTIMIZERS", "NASLIB_SURROGATES", "RE_FITNESS", "SURROGATE_CONTROLS", "SEARCH_KEYS",
    "fitness", "select_parent", "refit_due", "refit_candidates", "best_evaluated",
    "top_k_by_prediction", "cell_key",
    "SearchMethod", "valid_predictors", "search_method", "epochs_for_budget",
    "PredictorFitnessEvolutionMixin", "DishEnsemble",
    "DishSurrogateMixin", "PlainQueriesMixin", "TimedEnsembleMixin", "EpochLogMixin",
    "optimizer_classes", "plain_optimizer_class", "naslib_optimizer",
    "run_search", "search_summary",
]

#: search-config keys copied into the summary
SEARCH_KEYS = ("epochs", "population_size", "sample_size", "num_init", "k", "num_candidates",
               "num_ensemble", "acq_fn_type", "acq_fn_optimization", "num_arches_to_mutate",
               "max_mutations", "predictor_type", "fidelity")


def _finite_or_none(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _method_config(cfg, method: SearchMethod) -> None:
    """Write the method's choices where NASLib's optimizers read them."""
    if method.optimizer in ("bananas", "npenas") and not method.guided:
        cfg.search.predictor_type = method.predictor
    cfg.optimizer = method.optimizer
    cfg.predictor = method.predictor


class _NASLibLog:
    """NASLib's logger for one run: its handlers are removed (and files closed) on exit,
    so that many runs in one process do not pile up handlers; ``stdout=False`` keeps
    NASLib's per-epoch lines out of the console (they still go to ``log.log``)."""

    def __init__(self, path: str, stdout: bool = True):
        self.path, self.stdout = path, stdout

    def __enter__(self):
        nl = import_naslib()
        logger = logging.getLogger("naslib")
        before = list(logger.handlers)
        nl.utils.setup_logger(self.path)
        self.added = [h for h in logger.handlers if h not in before]
        if not self.stdout:
            for h in self.added:
                if type(h) is logging.StreamHandler:
                    h.setLevel(logging.WARNING)
        return self

    def __exit__(self, *exc):
        logger = logging.getLogger("naslib")
        for h in self.added:
            logger.removeHandler(h)
            h.close()
        return False


def run_search(config_file: str, nb101: str | None = None, metric: str | None = None,
               out_dir: str | None = None, *, table: NB101Table | None = None,
               time_model: TrainTimeModel | None = None, log_stdout: bool = True,
               nb201: str | None = None, space: str | None = None,
               dataset: str | None = None) -> dict:
    """Run a search (``optimizer: re | rs | bananas | npenas`` with ``predictor: none``, a
    dish preset or a NASLib surrogate, see :func:`search_method`) through NASLib's
    Trainer; writes ``petridish_search.json`` beside NASLib's ``errors.json`` and returns it.

    ``table`` (an already loaded ground truth) replaces ``nb101``; ``time_model`` (default
    :class:`LogParamsTimeModel` of the table) gives the NB101 training time of the cells.
    The config's ``search_space`` (``nasbench101``, ``nasbench201``; or ``space``) and
    ``dataset`` choose the space and the data set (NB201: ``nb201``, else the usual
    lookup); on NB201 the queries read ``metric`` (default validation accuracy), the
    incumbent is the best queried cell by it, and its test accuracy is reported."""
    nl = import_naslib()
    cfg = load_naslib_config(config_file, "nas_predictor", space, dataset)
    if out_dir:
        cfg.out_dir = out_dir
    method = search_method(cfg)
    _method_config(cfg, method)
    cfg.save = (f"{cfg.out_dir}/{cfg.dataset}/nas_predictors/{cfg.search_space}/"
                f"{method.optimizer}-{method.predictor}/{cfg.seed}")
    table = table if table is not None else open_table(nb101, space_of_config(cfg), nb201,
                                                       cfg.dataset)
    api = make_dataset_api(table, metric)
    if time_model is None:
        time_model = LogParamsTimeModel(table) if table.space == "nb101" else NoTimeModel()
    # the Trainer checkpoints into these (NASLib's runner makes them)
    for sub in ("search", "eval"):
        Path(cfg.save, sub).mkdir(parents=True, exist_ok=True)
    with _NASLibLog(cfg.save + "/log.log", stdout=log_stdout):
        nl.utils.set_seed(cfg.seed)
        predictor = None
        if method.optimizer == "guided":  # a predictor on the package's cells
            from ..factory import search_options, search_predictor
            from .predictors import PRESET_PREDICTORS
            section = "ranker" if method.predictor.startswith("ranker-") else "petridish"
            options = search_options(PRESET_PREDICTORS.get(method.predictor, method.predictor),
                                     cfg.get(section, {}) or {})
            predictor = TimedPredictor(search_predictor(
                method.predictor, table, int(cfg.seed), options))
        elif method.guided:
            built = get_predictor(method.predictor, cfg, table=table)
            built.set_ss_type(cfg.search_space)
            predictor = TimedPredictor(built)
        optimizer = naslib_optimizer(method, cfg, predictor, table=table,
                                     metric=api_metric(api))
        # the spec only, no torch network per architecture: nothing here trains them, and
        # NASLib would build one for every sampled and mutated cell (seconds per candidate
        # batch, ~15 MB each in the Trainer's final checkpoint of the history)
        space = naslib_search_space(nl, cfg, spec_only=True)
        optimizer.adapt_search_space(space, dataset_api=api)
        t0 = time.perf_counter()
        trainer = nl.Trainer(optimizer, cfg, lightweight_output=True)
        try:
            trainer.search(resume_from="", summary_writer=None, report_incumbent=True)
        finally:
            if predictor is not None and hasattr(predictor, "close"):  # the dish's workers
                predictor.close()
        seconds = time.perf_counter() - t0
    summary = search_summary(optimizer, method, cfg, table, api_metric(api),
                             time_model, seconds)
    (Path(cfg.save) / "petridish_search.json").write_text(json.dumps(summary, indent=1))
    return summary


def search_summary(optimizer, method: SearchMethod, cfg, table: NB101Table, metric: str,
                   time_model: TrainTimeModel, seconds: float) -> dict:
    """What ``petridish_search.json`` holds: the optimizer's answer with its TRUE
    accuracies, its counts, the per-epoch incumbent (true test accuracy) with the
    ground-truth queries so far, and the simulated cost.  No prediction appears."""
    sp = getattr(table, "space", "nb101")
    cell = as_cell(optimizer.get_final_architecture(), sp)
    if sp == "nb101":
        q = table.query(cell)
        val, test = q.validation_accuracy, q.test_accuracy
    else:
        val, test = (table.metric(cell, m, strict=False) for m in ("val", "test"))
    rows = [table.index(as_cell(arch, sp)) for arch, _ in optimizer.evaluated]
    record = search_record(rows, [acc for _, acc in optimizer.evaluated],
                           optimizer.epoch_log, table, time_model)
    clock = optimizer.clock
    search = cfg.search
    return {
        "optimizer": method.optimizer, "predictor": method.predictor,
        "epochs": int(search.epochs), "seed": int(cfg.seed),
        "petridish_refit_every": method.refit_every,
        "petridish_refit_batch": method.refit_batch,
        "petridish_refit_predictor": method.refit_predictor,
        "search_config": {k: search[k] for k in SEARCH_KEYS if k in search},
        "ground_truth": {"source": table.source, "metric": metric,
                         **({} if sp == "nb101" else {"space": sp, "dataset": table.dataset})},
        "best_hash": cell.hash, "best_cell": cell.to_dict(),
        # null where the source lacks the value (e.g. validation accuracy in the shared table)
        "best_true_validation_accuracy": _finite_or_none(val),
        "best_true_test_accuracy": _finite_or_none(test),
        "ground_truth_queries": int(optimizer.ground_truth_queries),
        "distinct_cells_queried": record.pop("distinct_cells_queried"),
        "predictor_queries": int(optimizer.predictor_queries),
        "refits": int(optimizer.refits),
        # the predictor's fits, the first included (the dish's RE: refits + 1 unless
        # petridish_refit_predictor is false)
        "fits": int(optimizer.fits),
        # dish re: children whose cell was evaluated before (their true accuracy was reused)
        "known_cell_hits": int(getattr(optimizer, "known_cell_hits", 0)),
        # dish re: refit picks whose cell had been evaluated meanwhile (no query)
        "refit_repeats": int(getattr(optimizer, "refit_repeats", 0)),
        "search_seconds": seconds,
        "cost": {
            "train_seconds": record.pop("train_seconds"),
            "queries_with_real_time": record.pop("queries_with_real_time"),
            "queries_with_estimated_time": record.pop("queries_with_estimated_time"),
            "time_model": time_model.describe(),
            "predictor": clock.as_dict(),
            "simulated_seconds": (record["trajectory"]["simulated_seconds"] or [0.0])[-1],
        },
        "trajectory": record["trajectory"],
        "errors_json": str(Path(cfg.save) / "errors.json"),
    }
