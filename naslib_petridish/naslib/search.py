"""Search through NASLib's optimizers and ``Trainer``: plain (NASLib's regularized
evolution and random search on the true accuracy, Bananas/Npenas with NASLib's own
predictors) or driven by the dish.

The decisions (parent choice, refits, query counting, the incumbent, the best
candidates of a surrogate batch, which optimizer/predictor pairs exist, the epochs
that give a budget of ground-truth queries) live in plain functions and mixins that
do not import NASLib, so they are tested without it; the NASLib subclasses built by
:func:`optimizer_classes` / :func:`naslib_optimizer` only add NASLib's base classes and
its model container.  Every optimizer run here keeps its own record of the benchmark
answers it got (``evaluated``) and of its counts after every epoch (``epoch_log``),
from which :func:`run_search` writes the incumbent trajectory and the simulated cost
(:mod:`naslib_petridish.naslib.cost`); NASLib's history, which may hold predictions,
is never read for that.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..cells import as_cell
from ..errors import ConfigError, InvalidCellError, UsageError
from ..tables import NB101Table
from .compat import import_naslib
from .cost import (EpochRecord, LogParamsTimeModel, PredictorClock, TimedPredictor,
                   TrainTimeModel, search_record)
from .dataset import make_dataset_api, open_table
from .evaluation import load_naslib_config
from .predictors import PETRIDISH_PRESETS, get_predictor

OPTIMIZERS = ("re", "rs", "bananas", "npenas")
#: the ``search.predictor_type`` values NASLib's Bananas/Npenas ensemble can build on
#: NB101 (naslib/predictors/ensemble.py; its omni_* types need zero-cost data loaders)
NASLIB_SURROGATES = ("bananas", "bayes_lin_reg", "bohamiann", "bonas", "dngo", "gcn", "gp",
                     "gpwl", "lgb", "mlp", "nao", "ngb", "rf", "seminas", "sparse_gp",
                     "var_sparse_gp", "xgb")
#: what else regularized evolution takes as its children's fitness (the dish's schedule:
#: :class:`DishEvolutionMixin`): NASLib's predictors, and as controls for the dish the
#: parameter count and the training set's mean accuracy (no information)
RE_FITNESS = ("mean", "params") + NASLIB_SURROGATES
#: what Bananas/Npenas take as their (single) surrogate besides the dish: the control
#: without information (the k "best" candidates are then a random k)
SURROGATE_CONTROLS = ("mean",)
#: search-config keys copied into the summary
SEARCH_KEYS = ("epochs", "population_size", "sample_size", "num_init", "k", "num_candidates",
               "num_ensemble", "acq_fn_type", "acq_fn_optimization", "num_arches_to_mutate",
               "max_mutations", "predictor_type", "fidelity")


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
    best = refit_candidates(population, 1)
    return best[0] if best else None


def refit_candidates(population: Sequence[Any], n: int) -> list:
    """Up to ``n`` members not yet evaluated on the benchmark, best prediction first
    (stable: the older member first on ties)."""
    pending = [m for m in population if getattr(m, "true_accuracy", None) is None]
    return sorted(pending, key=lambda m: -m.predicted_accuracy)[:max(0, n)]


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
    ``refit_batch`` (default 1) population members with the best predictions that
    have not been evaluated on the benchmark yet are evaluated (one ground-truth query
    each), their true accuracies replace their predictions, they join the training set
    and the dish is fitted again, once, on the whole training set.  With
    ``refit_predictor`` False (config ``petridish_refit_predictor: false``) a refit
    evaluates the members the same way but leaves the dish as it was fitted on the
    initial population: the same queries, no learning from them (the control for what
    refitting buys).  ``fits`` counts the dish's fits, the first included.  Where every
    member is already evaluated nothing happens.  ``refits`` counts the refits done, so
    ``ground_truth_queries`` <= ``population_size`` + ``refits`` * ``refit_batch``
    (a batch larger than the unevaluated members evaluates those only).  A larger batch
    buys the same ground-truth budget with fewer dish fits.  A member picked for a
    refit whose cell has been evaluated since it was scored (e.g. an isomorphic member
    earlier in the same batch) gets that true accuracy without a query and the next
    best-predicted member takes its place (``refit_repeats`` counts them).

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

    def setup_dish(self, predictor, refit_every: int = 0, refit_batch: int = 1,
                   refit_predictor: bool = True) -> None:
        self.predictor = predictor
        self.refit_every = int(refit_every)
        self.refit_batch = int(refit_batch)
        self.refit_predictor = bool(refit_predictor)
        self.fits = 0
        self.ground_truth_queries = 0
        self.predictor_queries = 0
        self.refits = 0
        self.known_cell_hits = 0
        self.refit_repeats = 0
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
        self.fits += 1

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
        done = 0
        for member in refit_candidates(self.population, len(self.population)):
            if done == self.refit_batch:
                break
            known = self._true_by_cell.get(cell_key(member.arch))
            if known is not None:  # isomorphic to a cell evaluated since it was scored
                self.refit_repeats += 1
                member.true_accuracy = member.accuracy = known
                continue
            self._evaluate(member)
            done += 1
        if not done:
            return False
        if self.refit_predictor:
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
    query.  ``evaluated`` lists ``(arch, true accuracy)`` of every benchmark query of
    ``_set_scores`` (NASLib's ``random_sampling`` acquisition also looks up the
    candidates' accuracies and never uses them: not counted).  Goes before NASLib's
    optimizer in the bases; the host calls :meth:`setup_dish` in its ``__init__``.
    """

    def setup_dish(self, predictor) -> None:
        self.predictor = predictor
        self.ground_truth_queries = 0
        self.predictor_queries = 0
        self.dish_fits = 0
        self.evaluated: list[tuple[Any, float]] = []
        self._ensemble: DishEnsemble | None = None

    @property
    def refits(self) -> int:
        return max(0, self.dish_fits - 1)

    @property
    def fits(self) -> int:
        return self.dish_fits

    def _count_fit(self) -> None:
        self.dish_fits += 1

    def _set_scores(self, model):
        out = super()._set_scores(model)  # NASLib's _set_scores queries the benchmark
        self.ground_truth_queries += 1
        self.evaluated.append((model.arch, float(model.accuracy)))
        return out

    def _get_ensemble(self) -> DishEnsemble:
        self._ensemble = DishEnsemble(self.predictor, on_fit=self._count_fit)
        return self._ensemble

    def _get_best_candidates(self, candidates, acq_fn):
        # one batched (parallel) query instead of one motif per acq_fn call
        preds = self._ensemble.predict([m.arch for m in candidates])
        self.predictor_queries += len(candidates)
        return top_k_by_prediction(candidates, preds, self.k)


# -- plain NASLib optimizers: their own benchmark answers and predictor time ------------------
class PlainQueriesMixin:
    """NASLib's RegularizedEvolution, RandomSearch, Bananas and Npenas, unchanged, with a
    record of their benchmark answers.

    Each of them calls ``_update_history(model)`` exactly once per benchmark query,
    with the accuracy the benchmark returned (RE and RS: one per epoch; Bananas/Npenas:
    in ``_set_scores``), so that call is where ``evaluated`` (``(arch, true accuracy)``)
    and ``ground_truth_queries`` are taken.  (Bananas' ``random_sampling`` acquisition
    also looks up its candidates' accuracies and never uses them: not counted.)
    ``predictor_queries`` and ``refits`` (fits after the first) come from ``clock``, which
    :class:`TimedEnsembleMixin` fills; they stay 0 for RE and RS.  Goes before NASLib's
    optimizer in the bases; the host calls :meth:`setup_plain` in its ``__init__``.
    """

    def setup_plain(self, clock: PredictorClock | None = None) -> None:
        self.clock = clock if clock is not None else PredictorClock()
        self.ground_truth_queries = 0
        self.evaluated: list[tuple[Any, float]] = []

    @property
    def predictor_queries(self) -> int:
        return self.clock.queried

    @property
    def refits(self) -> int:
        return max(0, self.clock.fits - 1)

    @property
    def fits(self) -> int:
        return self.clock.fits

    def _update_history(self, child):
        self.ground_truth_queries += 1
        self.evaluated.append((child.arch, float(child.accuracy)))
        return super()._update_history(child)


class TimedEnsembleMixin:
    """Bananas/Npenas with NASLib's own ensemble, timed: every fresh ensemble NASLib
    builds is wrapped in :class:`TimedPredictor` on the optimizer's ``clock`` (its fit
    and every acquisition query count; NASLib's code and decisions are unchanged)."""

    def _get_ensemble(self):
        return TimedPredictor(super()._get_ensemble(), self.clock)


class EpochLogMixin:
    """After each of the optimizer's epochs, its own counts (``ground_truth_queries``,
    ``predictor_queries``, ``clock.seconds``) go into ``epoch_log``; goes first in the
    bases, the host calls :meth:`setup_log` after the optimizer's own setup."""

    def setup_log(self, clock: PredictorClock) -> None:
        self.clock = clock
        self.epoch_log: list[EpochRecord] = []

    def new_epoch(self, epoch: int) -> None:
        super().new_epoch(epoch)
        self.epoch_log.append(EpochRecord(int(epoch), int(self.ground_truth_queries),
                                          int(self.predictor_queries), self.clock.seconds))


# -- which optimizer with which predictor, and the budget -------------------------------------
@dataclass(frozen=True)
class SearchMethod:
    """An optimizer and its predictor: ``"none"`` (plain: RE and RS on the true
    accuracy), a dish preset (``petridish*``), a NASLib ``search.predictor_type``
    (Bananas/Npenas' own ensemble), or for RE any of :data:`RE_FITNESS` (the predictor
    scores the children, as the dish does: :class:`DishEvolutionMixin`)."""

    optimizer: str
    predictor: str = "none"
    refit_every: int = 0
    refit_batch: int = 1
    #: whether a refit fits the dish again (False: it only evaluates the best-predicted)
    refit_predictor: bool = True

    @property
    def dish(self) -> bool:
        return self.predictor in PETRIDISH_PRESETS

    @property
    def guided(self) -> bool:
        """Whether a predictor we build drives the optimizer (the dish's RE, Bananas or
        Npenas, or RE with any predictor as fitness), rather than NASLib's own code."""
        return (self.dish or self.predictor in SURROGATE_CONTROLS
                or (self.optimizer == "re" and self.predictor != "none"))


def valid_predictors(optimizer: str) -> list[str]:
    """The predictor names ``optimizer`` takes."""
    dish = sorted(PETRIDISH_PRESETS)
    return {"re": ["none"] + dish + list(RE_FITNESS), "rs": ["none"],
            "bananas": dish + list(SURROGATE_CONTROLS) + list(NASLIB_SURROGATES),
            "npenas": dish + list(SURROGATE_CONTROLS) + list(NASLIB_SURROGATES)}[optimizer]


def _int_option(cfg: Mapping, key: str, default: int, minimum: int) -> int:
    raw = cfg.get(key, default)
    try:
        value = int(raw)
        if isinstance(raw, bool) or value != float(raw):
            raise ValueError(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {raw!r}")
    return value


def search_method(cfg: Mapping) -> SearchMethod:
    """The :class:`SearchMethod` of a search config (``optimizer``, ``predictor``,
    ``search.predictor_type``, ``petridish_refit_every``, ``petridish_refit_batch``,
    ``petridish_refit_predictor``), or a
    one-line :class:`ConfigError` naming the valid choices.

    ``predictor`` absent: plain for ``re``/``rs``, NASLib's ``search.predictor_type`` for
    Bananas/Npenas (as NASLib's own runner does); ``none`` is plain."""
    opt = str(cfg.get("optimizer", "re")).lower()
    if opt not in OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got '{opt}'")
    raw = cfg.get("predictor")
    if raw is None and opt in ("bananas", "npenas"):
        raw = (cfg.get("search") or {}).get("predictor_type")
    pred = "none" if raw is None or str(raw).lower() in ("none", "") else str(raw)
    valid = valid_predictors(opt)
    if pred not in valid:
        raise ConfigError(f"predictor '{pred}' does not go with optimizer {opt}; "
                          f"valid: {', '.join(valid)}")
    every = _int_option(cfg, "petridish_refit_every", 0, 0)
    batch = _int_option(cfg, "petridish_refit_batch", 1, 1)
    guided_re = opt == "re" and pred != "none"
    if every and not guided_re:
        raise ConfigError(f"petridish_refit_every applies to optimizer re with a predictor, "
                          f"not {opt} with {pred}")
    if batch != 1 and not (guided_re and every):
        raise ConfigError("petridish_refit_batch needs optimizer re, a predictor and "
                          "petridish_refit_every > 0")
    refit_predictor = cfg.get("petridish_refit_predictor", True)
    if not isinstance(refit_predictor, bool):
        raise ConfigError(f"petridish_refit_predictor must be true or false, "
                          f"got {refit_predictor!r}")
    if not refit_predictor and not (guided_re and every):
        raise ConfigError("petridish_refit_predictor: false needs optimizer re, a predictor "
                          "and petridish_refit_every > 0")
    return SearchMethod(opt, pred, every, batch, refit_predictor)


def epochs_for_budget(method: SearchMethod, budget: int, population_size: int = 0,
                      num_init: int = 0, children: int = 0) -> int:
    """The NASLib search epochs that give at most ``budget`` ground-truth queries.

    One query per epoch for RE/RS (plain) and Bananas/Npenas (any predictor): ``budget``
    epochs (Bananas/Npenas need ``num_init`` <= ``budget``).  The dish's RE queries its
    ``population_size`` first architectures and then ``refit_batch`` members per refit
    (one refit every ``refit_every`` children): ``population_size`` +
    ``refit_every`` * ((``budget`` - ``population_size``) // ``refit_batch``) epochs, the
    last one a refit.  Without refits it queries the population only, so
    ``population_size`` must be ``budget``; ``children`` sets how many children the dish
    scores after it (they cost predictor time and are never evaluated)."""
    if budget < 1:
        raise ConfigError(f"the budget of ground-truth queries must be >= 1, got {budget}")
    if method.optimizer in ("bananas", "npenas") and num_init > budget:
        raise ConfigError(f"num_init {num_init} exceeds the budget of {budget} queries")
    if not (method.optimizer == "re" and method.guided):
        return int(budget)
    if population_size < 1 or population_size > budget:
        raise ConfigError(f"population_size must be within 1..{budget}, got {population_size}")
    if method.refit_every == 0:
        if population_size != budget:
            raise ConfigError(f"without refits the dish's RE queries its population only: "
                              f"population_size must be the budget {budget}, "
                              f"got {population_size}")
        return int(budget + max(0, children))
    refits = (budget - population_size) // method.refit_batch
    return int(population_size + refits * method.refit_every)


# -- NASLib classes ----------------------------------------------------------------------------
def optimizer_classes() -> tuple[type, type, type]:
    """``(PetriDishRegularizedEvolution, PetriDishBananas, PetriDishNpenas)``: the
    mixins on NASLib's optimizers (built on first use, as NASLib is imported lazily)."""
    nl = import_naslib()
    import torch

    class PetriDishRegularizedEvolution(EpochLogMixin, DishEvolutionMixin,
                                        nl.RegularizedEvolution):
        __doc__ = DishEvolutionMixin.__doc__

        def __init__(self, config, predictor, refit_every: int = 0, refit_batch: int = 1,
                     clock: PredictorClock | None = None, refit_predictor: bool = True):
            super().__init__(config)
            self.setup_dish(predictor, refit_every, refit_batch, refit_predictor)
            self.setup_log(clock if clock is not None else getattr(predictor, "clock",
                                                                   PredictorClock()))

        def _new_member(self):
            return torch.nn.Module()  # NASLib keeps its history in a ModuleList

    def surrogate(base):
        class WithDish(EpochLogMixin, DishSurrogateMixin, base):
            __doc__ = DishSurrogateMixin.__doc__

            def __init__(self, config, predictor, clock: PredictorClock | None = None, **kw):
                super().__init__(config, **kw)
                self.setup_dish(predictor)
                self.setup_log(clock if clock is not None else getattr(predictor, "clock",
                                                                       PredictorClock()))

        WithDish.__name__ = WithDish.__qualname__ = f"PetriDish{base.__name__}"
        return WithDish

    return PetriDishRegularizedEvolution, surrogate(nl.Bananas), surrogate(nl.Npenas)


def plain_optimizer_class(name: str) -> type:
    """NASLib's own ``re``/``rs``/``bananas``/``npenas`` with :class:`PlainQueriesMixin`
    and :class:`EpochLogMixin` (Bananas/Npenas also :class:`TimedEnsembleMixin`)."""
    import_naslib()
    from naslib.optimizers import Bananas, Npenas, RandomSearch, RegularizedEvolution

    base = {"re": RegularizedEvolution, "rs": RandomSearch, "bananas": Bananas,
            "npenas": Npenas}[name]
    mixins = (EpochLogMixin, PlainQueriesMixin) + (
        (TimedEnsembleMixin,) if name in ("bananas", "npenas") else ())

    def __init__(self, config):
        base.__init__(self, config)
        clock = PredictorClock()
        self.setup_plain(clock)
        self.setup_log(clock)

    return type(f"Recorded{base.__name__}", mixins + (base,),
                {"__init__": __init__, "__doc__": PlainQueriesMixin.__doc__})


def naslib_optimizer(method: SearchMethod, config, predictor=None):
    """The optimizer of ``method`` on ``config``; ``predictor``: the dish (wrapped in
    :class:`TimedPredictor`) for the dish's methods, else None."""
    if not method.guided:
        return plain_optimizer_class(method.optimizer)(config)
    RE, BananasDish, NpenasDish = optimizer_classes()
    if method.optimizer == "re":
        return RE(config, predictor, refit_every=method.refit_every,
                  refit_batch=method.refit_batch, refit_predictor=method.refit_predictor)
    return (BananasDish if method.optimizer == "bananas" else NpenasDish)(config, predictor)


# -- run ---------------------------------------------------------------------------------------
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
               time_model: TrainTimeModel | None = None, log_stdout: bool = True) -> dict:
    """Run a search (``optimizer: re | rs | bananas | npenas`` with ``predictor: none``, a
    dish preset or a NASLib surrogate, see :func:`search_method`) through NASLib's
    Trainer; writes ``petridish_search.json`` beside NASLib's ``errors.json`` and returns it.

    ``table`` (an already loaded ground truth) replaces ``nb101``; ``time_model`` (default
    :class:`LogParamsTimeModel` of the table) gives the NB101 training time of the cells."""
    nl = import_naslib()
    cfg = load_naslib_config(config_file, "nas_predictor")
    if out_dir:
        cfg.out_dir = out_dir
    method = search_method(cfg)
    _method_config(cfg, method)
    cfg.save = (f"{cfg.out_dir}/{cfg.dataset}/nas_predictors/nasbench101/"
                f"{method.optimizer}-{method.predictor}/{cfg.seed}")
    table = table if table is not None else open_table(nb101)
    api = make_dataset_api(table, metric)
    time_model = time_model if time_model is not None else LogParamsTimeModel(table)
    # the Trainer checkpoints into these (NASLib's runner makes them)
    for sub in ("search", "eval"):
        Path(cfg.save, sub).mkdir(parents=True, exist_ok=True)
    with _NASLibLog(cfg.save + "/log.log", stdout=log_stdout):
        nl.utils.set_seed(cfg.seed)
        predictor = None
        if method.guided:
            built = get_predictor(method.predictor, cfg, table=table)
            built.set_ss_type("nasbench101")
            predictor = TimedPredictor(built)
        optimizer = naslib_optimizer(method, cfg, predictor)
        space = nl.NasBench101SearchSpace()
        # the spec only, no torch network per architecture: nothing here trains them, and
        # NASLib would build one for every sampled and mutated cell (seconds per candidate
        # batch, ~15 MB each in the Trainer's final checkpoint of the history)
        space.instantiate_model = False
        optimizer.adapt_search_space(space, dataset_api=api)
        t0 = time.perf_counter()
        trainer = nl.Trainer(optimizer, cfg, lightweight_output=True)
        try:
            trainer.search(resume_from="", summary_writer=None, report_incumbent=True)
        finally:
            if predictor is not None and hasattr(predictor, "close"):  # the dish's workers
                predictor.close()
        seconds = time.perf_counter() - t0
    summary = search_summary(optimizer, method, cfg, table, api["nb101_data"].metric,
                             time_model, seconds)
    (Path(cfg.save) / "petridish_search.json").write_text(json.dumps(summary, indent=1))
    return summary


def search_summary(optimizer, method: SearchMethod, cfg, table: NB101Table, metric: str,
                   time_model: TrainTimeModel, seconds: float) -> dict:
    """What ``petridish_search.json`` holds: the optimizer's answer with its TRUE
    accuracies, its counts, the per-epoch incumbent (true test accuracy) with the
    ground-truth queries so far, and the simulated cost.  No prediction appears."""
    cell = as_cell(optimizer.get_final_architecture())
    q = table.query(cell)
    rows = [table.index(as_cell(arch)) for arch, _ in optimizer.evaluated]
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
        "ground_truth": {"source": table.source, "metric": metric},
        "best_hash": cell.hash, "best_cell": cell.to_dict(),
        # null where the source lacks the value (e.g. validation accuracy in the shared table)
        "best_true_validation_accuracy": _finite_or_none(q.validation_accuracy),
        "best_true_test_accuracy": _finite_or_none(q.test_accuracy),
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
