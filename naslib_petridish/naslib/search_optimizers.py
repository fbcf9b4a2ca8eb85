"""NASLib optimizer classes: mixins that record and steer NASLib's optimizers, and factories.

The mixins (:class:`PredictorFitnessEvolutionMixin`, :class:`DishSurrogateMixin` with
:class:`DishEnsemble`, :class:`PlainQueriesMixin`, :class:`TimedEnsembleMixin`,
:class:`EpochLogMixin`) do not import NASLib: they take their decisions from
:mod:`.search_rules` and are tested on fakes of NASLib's base classes.  The factories
(:func:`optimizer_classes`, :func:`plain_optimizer_class`, :func:`naslib_optimizer`)
import NASLib on first use and put the mixins on its optimizers.  Every optimizer keeps
its own record of the benchmark answers it got (``evaluated``) and of its counts after
every epoch (``epoch_log``).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .compat import import_naslib
from ..search_cost import EpochRecord, PredictorClock, TimedPredictor
from .search_methods import SearchMethod
from .search_rules import (best_evaluated, cell_key, refit_candidates, refit_due, select_parent,
                           top_k_by_prediction)


# -- regularized evolution ---------------------------------------------------------------------
class PredictorFitnessEvolutionMixin:
    """Regularized evolution with a predictor's score as the children's fitness: a dish
    preset, ``params``, ``mean`` or one of NASLib's predictors (the "dish" below).

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


# -- NASLib classes ----------------------------------------------------------------------------
def optimizer_classes() -> tuple[type, type, type]:
    """``(PetriDishRegularizedEvolution, PetriDishBananas, PetriDishNpenas)``: the
    mixins on NASLib's optimizers (built on first use, as NASLib is imported lazily)."""
    nl = import_naslib()
    import torch

    class PetriDishRegularizedEvolution(EpochLogMixin, PredictorFitnessEvolutionMixin,
                                        nl.RegularizedEvolution):
        __doc__ = PredictorFitnessEvolutionMixin.__doc__

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


class RestartQueriesMixin:
    """NASLib's LocalSearch, unchanged, with its restart queries recorded too.

    When it reaches a local optimum it queries a new random cell and restarts from it
    without calling ``_update_history`` (naslib/optimizers/discrete/ls/optimizer.py):
    :class:`PlainQueriesMixin` would miss that query.  An epoch is a restart where
    ``new_epoch`` leaves ``chosen`` a new model with its neighbourhood just built; that
    model is recorded as a query (NASLib's own history is left as NASLib keeps it)."""

    def new_epoch(self, epoch: int):
        before = self.chosen
        restart = (epoch >= self.num_init and len(self.nbhd) == 0 and self.chosen is not None
                   and self.best_arch.accuracy <= self.chosen.accuracy)
        super().new_epoch(epoch)
        if restart and self.chosen is not before:
            self.ground_truth_queries += 1
            self.evaluated.append((self.chosen.arch, float(self.chosen.accuracy)))


def plain_optimizer_class(name: str) -> type:
    """NASLib's own ``re``/``rs``/``ls``/``bananas``/``npenas`` with
    :class:`PlainQueriesMixin` and :class:`EpochLogMixin` (Bananas/Npenas also
    :class:`TimedEnsembleMixin`, local search :class:`RestartQueriesMixin`)."""
    import_naslib()
    from naslib.optimizers import (Bananas, LocalSearch, Npenas, RandomSearch,
                                   RegularizedEvolution)

    base = {"re": RegularizedEvolution, "rs": RandomSearch, "ls": LocalSearch,
            "bananas": Bananas, "npenas": Npenas}[name]
    mixins = (EpochLogMixin, PlainQueriesMixin) + (
        (TimedEnsembleMixin,) if name in ("bananas", "npenas") else ()) + (
        (RestartQueriesMixin,) if name == "ls" else ())

    def __init__(self, config):
        base.__init__(self, config)
        clock = PredictorClock()
        self.setup_plain(clock)
        self.setup_log(clock)

    return type(f"Recorded{base.__name__}", mixins + (base,),
                {"__init__": __init__, "__doc__": PlainQueriesMixin.__doc__})


def guided_optimizer_class() -> type:
    """``GuidedSearchOptimizer``: :class:`naslib_petridish.guided.GuidedSearch` as a NASLib
    optimizer.  Each epoch queries one cell through NASLib (the next of the round the
    algorithm proposed; at a round's end it fits the predictor and proposes the next), so
    ``search.epochs`` is the budget and the queries are those of ``naslib-petridish search``
    with the same settings and seed."""
    import_naslib()
    import torch
    from naslib.optimizers import RandomSearch

    from ..guided import GuidedConfig, GuidedSearch
    from .evaluation import arch_spec

    class GuidedEpochs(RandomSearch):
        """One ground-truth query per epoch, from the rounds the algorithm proposes."""

        def new_epoch(self, epoch: int):
            if not self._pending:
                self._pending = self.algorithm.propose()
            if not self._pending:  # the budget is spent: NASLib runs more epochs
                return
            row = self._pending.pop(0)
            model = torch.nn.Module()
            model.arch = self.search_space.clone()
            model.arch.set_spec(arch_spec(self.table, str(self.table.hashes[row])),
                                dataset_api=self.dataset_api)
            model.accuracy = model.arch.query(self.performance_metric, self.dataset,
                                              epoch=self.fidelity, dataset_api=self.dataset_api)
            # NASLib answers in percent (its NB101 query multiplies by 100); the algorithm
            # takes fractions, exactly as the command's Oracle reads them (the table holds
            # float32).  Told in percent, predictors that are not scale-free (the bananas
            # MLP: L1 loss + an L1 penalty on its output layer) made other queries.
            self.algorithm.tell(row, float(np.float32(float(model.accuracy) / 100.0)))
            self.sampled_archs.append(model)
            self._update_history(model)

    class GuidedSearchOptimizer(EpochLogMixin, PlainQueriesMixin, GuidedEpochs):
        def __init__(self, config, predictor, table, metric: str):
            RandomSearch.__init__(self, config)
            s = config.search
            self.guided_config = GuidedConfig(
                budget=int(s.epochs), init=int(s.get("guided_init", 20)),
                batch=int(s.get("guided_batch", 10)),
                pool=int(s.get("guided_pool", 20000 if table.space == "nb101" else 0)),
                mutations=int(s.get("guided_mutations", 0)),
                top_k=int(s.get("guided_top_k", 10)), metric=metric, seed=int(config.seed))
            self.table, self.predictor = table, predictor
            self.algorithm = GuidedSearch(table, predictor, self.guided_config)
            self._pending: list[int] = []
            clock = getattr(predictor, "clock", PredictorClock())
            self.setup_plain(clock)
            self.setup_log(clock)

    return GuidedSearchOptimizer


def naslib_optimizer(method: SearchMethod, config, predictor=None, table=None,
                     metric: str = "val"):
    """The optimizer of ``method`` on ``config``; ``predictor``: the dish (wrapped in
    :class:`TimedPredictor`) for the dish's methods, else None."""
    if not method.guided:
        return plain_optimizer_class(method.optimizer)(config)
    if method.optimizer == "guided":
        return guided_optimizer_class()(config, predictor, table, metric)
    RE, BananasDish, NpenasDish = optimizer_classes()
    if method.optimizer == "re":
        return RE(config, predictor, refit_every=method.refit_every,
                  refit_batch=method.refit_batch, refit_predictor=method.refit_predictor)
    return (BananasDish if method.optimizer == "bananas" else NpenasDish)(config, predictor)
