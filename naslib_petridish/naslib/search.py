"""Search driven by the dish through NASLib's optimizers and ``Trainer``.

The decisions (parent choice, refits, query counting, the incumbent, the best
candidates of a surrogate batch) live in plain functions and two mixins that do
not import NASLib, so they are tested without it; the NASLib subclasses built by
:func:`optimizer_classes` only add NASLib's base classes and its model container.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..cells import as_cell
from ..errors import ConfigError, InvalidCellError, UsageError
from .compat import import_naslib
from .dataset import make_dataset_api, open_table
from .evaluation import load_naslib_config
from .predictors import PETRIDISH_PRESETS, get_predictor


# -- decisions -------------------------------------------------------------------------------
def fitness(member) -> float:
    """What evolution ranks a member by: its true accuracy where the benchmark was
    queried for it, else the dish's prediction."""
    true = getattr(member, "true_accuracy", None)
    return float(member.accuracy if true is None else true)


def select_parent(sample: Sequence[Any]):
    """The tournament winner: the fittest member of ``sample`` (first one on ties)."""
    return max(sample, key=fitness)


def refit_due(epoch: int, population_size: int, refit_every: int) -> bool:
    """Whether the dish is refitted after ``epoch``: every ``refit_every``-th child."""
    return (refit_every > 0 and epoch >= population_size
            and (epoch - population_size + 1) % refit_every == 0)


def refit_candidate(population: Sequence[Any]):
    """The member with the best prediction among those not yet evaluated on the
    benchmark, or None when every member has its true accuracy."""
    pending = [m for m in population if getattr(m, "true_accuracy", None) is None]
    return max(pending, key=lambda m: m.predicted_accuracy) if pending else None


def best_evaluated(evaluated: Sequence[tuple[Any, float]]):
    """The incumbent: the architecture with the best TRUE accuracy among ``evaluated``
    ``(arch, true accuracy)`` pairs (first one on ties).  Predictions never count."""
    if not evaluated:
        raise UsageError("no architecture has been evaluated on the benchmark yet")
    return max(evaluated, key=lambda e: e[1])[0]


def top_k_by_prediction(candidates: Sequence[Any], predictions, k: int) -> list:
    """The ``k`` candidates with the highest predictions, in ascending order of
    prediction (NASLib's Bananas/Npenas ``pop()`` the best one first)."""
    preds = np.asarray(predictions, dtype=np.float64).reshape(-1)
    if len(preds) != len(candidates):
        raise UsageError(f"{len(preds)} predictions for {len(candidates)} candidates")
    if k <= 0:
        return []
    order = np.argsort(preds, kind="stable")
    return [candidates[i] for i in order[-k:]]


def cell_key(arch) -> Any:
    """The NB101 hash of an architecture (so that isomorphic cells are one), or the
    object itself where it cannot be read as a cell."""
    try:
        return as_cell(arch).hash
    except InvalidCellError:
        return id(arch)


# -- regularized evolution ---------------------------------------------------------------------
class DishEvolutionMixin:
    """Regularized evolution whose fitness is the dish's prediction.

    The first ``population_size`` architectures are evaluated on the benchmark
    (their true accuracies are the ground-truth budget) and the dish is fitted on
    them.  Every later child is scored by the dish only, unless the same cell was
    already evaluated, in which case its known true accuracy is used (NASLib's
    mutation often gives a cell isomorphic to its parent; ``known_cell_hits`` counts
    those children, so children = ``predictor_queries`` + ``known_cell_hits``).  Parents are
    the fittest of ``sample_size`` random members (true accuracy where known, else
    prediction).

    A refit, with ``refit_every`` = N > 0, happens after every N-th child: the
    population member with the best prediction that has not been evaluated on the
    benchmark yet is evaluated (one ground-truth query), its true accuracy replaces
    its prediction, it joins the training set and the dish is fitted again on the
    whole training set.  Where every member is already evaluated nothing happens.
    ``refits`` counts the refits done.

    Every member records ``true_accuracy`` (None until evaluated on the benchmark)
    and ``predicted_accuracy`` (None if never predicted); ``accuracy`` is what
    NASLib's history sees.  ``evaluated`` lists ``(arch, true accuracy)`` for every
    benchmark query, and :meth:`get_final_architecture` (the incumbent NASLib's
    Trainer reports every epoch) is the best of those: a prediction is never
    reported as an accuracy.

    The host class provides NASLib's ``RegularizedEvolution`` attributes
    (``population``, ``population_size``, ``sample_size``, ``search_space``,
    ``dataset_api``, ``performance_metric``, ``dataset``), ``_update_history`` and
    ``_new_member`` (an empty object to hang ``arch`` and the accuracies on), and
    calls :meth:`setup_dish` in its ``__init__``.
    """

    def setup_dish(self, predictor, refit_every: int = 0) -> None:
        self.predictor = predictor
        self.refit_every = int(refit_every)
        self.ground_truth_queries = 0
        self.predictor_queries = 0
        self.refits = 0
        self.known_cell_hits = 0
        self.train_x: list = []
        self.train_y: list[float] = []
        self.evaluated: list[tuple[Any, float]] = []
        self._true_by_cell: dict[Any, float] = {}

    # NASLib's search-space protocol; fakes implement the same calls in tests
    def _new_member(self):
        raise NotImplementedError

    def _sample_arch(self):
        arch = self.search_space.clone()
        arch.sample_random_architecture(dataset_api=self.dataset_api)
        return arch

    def _mutate_arch(self, parent_arch):
        arch = self.search_space.clone()
        arch.mutate(parent_arch, dataset_api=self.dataset_api)
        return arch

    def _query_true(self, arch) -> float:
        return float(arch.query(self.performance_metric, self.dataset,
                                dataset_api=self.dataset_api))

    def _evaluate(self, member) -> float:
        """Ask the benchmark for ``member``'s true accuracy and add it to the training set."""
        acc = self._query_true(member.arch)
        self.ground_truth_queries += 1
        member.true_accuracy = member.accuracy = acc
        self.evaluated.append((member.arch, acc))
        self._true_by_cell[cell_key(member.arch)] = acc
        self.train_x.append(member.arch)
        self.train_y.append(acc)
        return acc

    def _score(self, member) -> None:
        """A child's fitness: the known true accuracy of its cell, else the dish's."""
        known = self._true_by_cell.get(cell_key(member.arch))
        if known is not None:
            self.known_cell_hits += 1
            member.true_accuracy = member.accuracy = known
            return
        pred = float(np.asarray(self.predictor.query([member.arch])).reshape(-1)[0])
        self.predictor_queries += 1
        member.predicted_accuracy = member.accuracy = pred

    def _fit(self) -> None:
        self.predictor.fit(list(self.train_x), list(self.train_y))

    def _member(self, arch):
        member = self._new_member()
        member.arch = arch
        member.true_accuracy = None
        member.predicted_accuracy = None
        return member

    def new_epoch(self, epoch: int) -> None:
        if epoch < self.population_size:
            member = self._member(self._sample_arch())
            self._evaluate(member)
            self.population.append(member)
            self._update_history(member)
            if epoch == self.population_size - 1:
                self._fit()
            return
        population = list(self.population)
        # index draws: np.random.choice would try to turn members into an array
        sample = [population[np.random.randint(len(population))]
                  for _ in range(self.sample_size)]
        child = self._member(self._mutate_arch(select_parent(sample).arch))
        self._score(child)
        self.population.append(child)
        self._update_history(child)
        if refit_due(epoch, self.population_size, self.refit_every):
            self.refit()

    def refit(self) -> bool:
        """One refit (see the class docstring); False where there was nothing to evaluate."""
        member = refit_candidate(self.population)
        if member is None:
            return False
        self._evaluate(member)
        self._fit()
        self.refits += 1
        return True

    def get_final_architecture(self):
        return best_evaluated(self.evaluated)


# -- Bananas / Npenas with the dish as surrogate ----------------------------------------------
class DishEnsemble:
    """What Bananas/Npenas expect of their ensemble: ``fit``, ``query`` and the
    pre-computation hook.  One dish, so the acquisition reduces to exploitation of
    its predictions (candidates are predicted in one parallel batch)."""

    def __init__(self, predictor, on_fit: Callable[[], None] | None = None):
        self.predictor = predictor
        self.on_fit = on_fit

    def set_pre_computations(self, **kw) -> None:
        pass

    def fit(self, xtrain, ytrain, train_info=None):
        out = self.predictor.fit(xtrain, ytrain)
        if self.on_fit is not None:
            self.on_fit()
        return out

    def predict(self, archs) -> np.ndarray:
        return np.asarray(self.predictor.query(archs), dtype=np.float64).reshape(-1)

    def query(self, xtest, info=None) -> np.ndarray:
        return self.predict(xtest)[None, :]


class DishSurrogateMixin:
    """Bananas/Npenas with the dish as their surrogate model.

    NASLib fits a fresh ensemble whenever its batch of ``k`` chosen candidates is
    used up; here that ensemble is the dish (:class:`DishEnsemble`), refitted on all
    architectures evaluated so far (``refits`` counts the fits after the first).
    The batch is the ``k`` candidates with the best predictions, from one batched
    query.  Goes before NASLib's optimizer in the bases; the host calls
    :meth:`setup_dish` in its ``__init__``.
    """

    def setup_dish(self, predictor) -> None:
        self.predictor = predictor
        self.ground_truth_queries = 0
        self.predictor_queries = 0
        self.dish_fits = 0
        self._ensemble: DishEnsemble | None = None

    @property
    def refits(self) -> int:
        return max(0, self.dish_fits - 1)

    def _count_fit(self) -> None:
        self.dish_fits += 1

    def _set_scores(self, model):
        self.ground_truth_queries += 1  # NASLib's _set_scores queries the benchmark
        return super()._set_scores(model)

    def _get_ensemble(self) -> DishEnsemble:
        self._ensemble = DishEnsemble(self.predictor, on_fit=self._count_fit)
        return self._ensemble

    def _get_best_candidates(self, candidates, acq_fn):
        # one batched (parallel) query instead of one motif per acq_fn call
        preds = self._ensemble.predict([m.arch for m in candidates])
        self.predictor_queries += len(candidates)
        return top_k_by_prediction(candidates, preds, self.k)


# -- NASLib classes ----------------------------------------------------------------------------
def optimizer_classes() -> tuple[type, type, type]:
    """``(PetriDishRegularizedEvolution, PetriDishBananas, PetriDishNpenas)``: the
    mixins on NASLib's optimizers (built on first use, as NASLib is imported lazily)."""
    nl = import_naslib()
    import torch

    class PetriDishRegularizedEvolution(DishEvolutionMixin, nl.RegularizedEvolution):
        __doc__ = DishEvolutionMixin.__doc__

        def __init__(self, config, predictor, refit_every: int = 0):
            super().__init__(config)
            self.setup_dish(predictor, refit_every)

        def _new_member(self):
            return torch.nn.Module()  # NASLib keeps its history in a ModuleList

    def surrogate(base):
        class WithDish(DishSurrogateMixin, base):
            __doc__ = DishSurrogateMixin.__doc__

            def __init__(self, config, predictor, **kw):
                super().__init__(config, **kw)
                self.setup_dish(predictor)

        WithDish.__name__ = WithDish.__qualname__ = f"PetriDish{base.__name__}"
        return WithDish

    return PetriDishRegularizedEvolution, surrogate(nl.Bananas), surrogate(nl.Npenas)


def _finite_or_none(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def run_search(config_file: str, nb101: str | None = None, metric: str | None = None,
               out_dir: str | None = None) -> dict:
    """Run ``optimizer: re | bananas | npenas`` with the dish through NASLib's Trainer;
    writes ``petridish_search.json`` beside NASLib's ``errors.json`` and returns it."""
    nl = import_naslib()
    cfg = load_naslib_config(config_file, "nas_predictor")
    if out_dir:
        cfg.out_dir = out_dir
    opt_name = str(cfg.get("optimizer", "re"))
    pred_name = str(cfg.get("predictor", "petridish"))
    cfg.save = (f"{cfg.out_dir}/{cfg.dataset}/nas_predictors/nasbench101/"
                f"{opt_name}-{pred_name}/{cfg.seed}")
    if pred_name not in PETRIDISH_PRESETS:
        raise ConfigError(f"predictor must be one of {sorted(PETRIDISH_PRESETS)}, "
                          f"got '{pred_name}'")
    if opt_name not in ("re", "bananas", "npenas"):
        raise ConfigError(f"optimizer must be re, bananas or npenas, got '{opt_name}'")
    table = open_table(nb101)
    api = make_dataset_api(table, metric)
    # the Trainer checkpoints into these (NASLib's runner makes them)
    for sub in ("search", "eval"):
        Path(cfg.save, sub).mkdir(parents=True, exist_ok=True)
    nl.utils.setup_logger(cfg.save + "/log.log")
    nl.utils.set_seed(cfg.seed)
    predictor = get_predictor(pred_name, cfg, table=table)
    predictor.set_ss_type("nasbench101")
    RE, BananasDish, NpenasDish = optimizer_classes()
    if opt_name == "re":
        optimizer = RE(cfg, predictor, refit_every=int(cfg.get("petridish_refit_every", 0)))
    else:
        optimizer = (BananasDish if opt_name == "bananas" else NpenasDish)(cfg, predictor)
    optimizer.adapt_search_space(nl.NasBench101SearchSpace(), dataset_api=api)
    t0 = time.perf_counter()
    trainer = nl.Trainer(optimizer, cfg, lightweight_output=True)
    try:
        trainer.search(resume_from="", summary_writer=None, report_incumbent=True)
    finally:
        predictor.close()
    cell = as_cell(optimizer.get_final_architecture())
    q = table.query(cell)
    summary = {
        "optimizer": opt_name, "predictor": pred_name, "epochs": int(cfg.search.epochs),
        "seed": int(cfg.seed), "ground_truth": {"source": table.source,
                                                "metric": api["nb101_data"].metric},
        "best_hash": cell.hash, "best_cell": cell.to_dict(),
        # null where the source lacks the value (e.g. validation accuracy in the shared table)
        "best_true_validation_accuracy": _finite_or_none(q.validation_accuracy),
        "best_true_test_accuracy": _finite_or_none(q.test_accuracy),
        "ground_truth_queries": int(optimizer.ground_truth_queries),
        "predictor_queries": int(optimizer.predictor_queries),
        "refits": int(optimizer.refits),
        # re: children whose cell was evaluated before (their true accuracy was reused)
        "known_cell_hits": int(getattr(optimizer, "known_cell_hits", 0)),
        "search_seconds": time.perf_counter() - t0,
        "errors_json": str(Path(cfg.save) / "errors.json"),
    }
    (Path(cfg.save) / "petridish_search.json").write_text(json.dumps(summary, indent=2))
    return summary
