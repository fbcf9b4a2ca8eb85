"""NASLib-free tests of the NASLib glue: the ground truth as NASLib's dataset API
(``TableNASBench``) and the decisions of the dish-driven optimizers (the mixins of
``naslib_petridish.naslib.search``), driven with small fakes of NASLib's
architectures, search space and optimizer base classes."""
import collections
import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from naslib_petridish.cells import Cell, random_cell
from naslib_petridish.errors import PetriDishError, UnknownCellError, UsageError
from naslib_petridish.naslib import NASLibNotAvailable, import_naslib
from naslib_petridish.naslib.dataset import (CellOutOfDomainError, TableNASBench,
                                             default_metric, out_of_domain_error)
from naslib_petridish.errors import ConfigError, GroundTruthError
from naslib_petridish import search_cost as cost_mod
from naslib_petridish.search_cost import (EpochRecord, LogParamsTimeModel, PredictorClock,
                                          TimedPredictor, incumbent_indices, search_record,
                                          table_train_times)
from naslib_petridish.naslib.search import (NASLIB_SURROGATES, DishEnsemble,
                                            DishSurrogateMixin, EpochLogMixin,
                                            PlainQueriesMixin, PredictorFitnessEvolutionMixin,
                                            SearchMethod, TimedEnsembleMixin,
                                            best_evaluated, epochs_for_budget, refit_due,
                                            search_method, search_summary, select_parent,
                                            top_k_by_prediction, valid_predictors)
from naslib_petridish.tables import NB101Table
from tests.test_naslib_contract import NB101Arch

QUERY_KEYS = {"module_adjacency", "module_operations", "trainable_parameters", "training_time",
              "train_accuracy", "validation_accuracy", "test_accuracy"}


def _rows(table):
    """A row with validation accuracy and one without (the fixture has both kinds)."""
    has_val = table.has_metric("val", 108)
    return int(np.flatnonzero(has_val)[0]), int(np.flatnonzero(~has_val)[0])


def _cell_not_in(table, seed=0) -> Cell:
    rng = np.random.default_rng(seed)
    while True:
        c = random_cell(rng)
        if c not in table:
            return c


# -- TableNASBench ---------------------------------------------------------------------------
def test_is_valid_means_the_metric_exists(table):
    archs = [NB101Arch(table.cell(r)) for r in range(len(table))]
    val, test = TableNASBench(table, "val"), TableNASBench(table, "test")
    valid_val = np.array([val.is_valid(a) for a in archs])
    assert valid_val.sum() == 360
    assert np.array_equal(valid_val, table.has_metric("val", 108))
    assert all(test.is_valid(a) for a in archs)
    assert val.valid_epochs == {4, 12, 36, 108} and test.valid_epochs == {108}


def test_cells_outside_the_table_are_invalid_and_out_of_domain(table):
    nb = TableNASBench(table, "test")
    stranger = NB101Arch(_cell_not_in(table))
    disconnected = {"matrix": np.zeros((7, 7), dtype=int), "ops": ["input"] + ["conv3x3-bn-relu"]
                    * 5 + ["output"]}
    for spec in (stranger, disconnected):
        assert not nb.is_valid(spec)
        for call in (nb.query, nb.get_metrics_from_spec):
            with pytest.raises(CellOutOfDomainError, match="not in the NB101 ground truth") as e:
                call(spec)
            assert isinstance(e.value, (UnknownCellError, PetriDishError, KeyError))
    assert nb.queries == 0
    with pytest.raises(UnknownCellError):
        nb.get_metrics_from_hash(_cell_not_in(table).hash)


def test_out_of_domain_error_is_naslibs_where_naslib_is_importable():
    cls = out_of_domain_error()
    assert issubclass(cls, CellOutOfDomainError)
    try:
        nl = import_naslib()
    except NASLibNotAvailable:
        assert cls is CellOutOfDomainError
    else:  # NASLib's own code catches its OutOfDomainError
        assert issubclass(cls, nl.nb101_api.OutOfDomainError)


def test_query_reads_the_chosen_metric(table):
    r_val, r_test_only = _rows(table)
    cell = table.cell(r_val)
    q = table.query(r_val)
    val_nb, test_nb = TableNASBench(table, "val"), TableNASBench(table, "test")
    for spec in (NB101Arch(cell), {"matrix": cell.matrix, "ops": list(cell.ops)}):
        out = val_nb.query(spec)
        assert set(out) == QUERY_KEYS
        assert out["validation_accuracy"] == pytest.approx(table.metric(r_val, "val"))
        assert out["test_accuracy"] == pytest.approx(table.metric(r_val, "test"))
        assert out["validation_accuracy"] != out["test_accuracy"]
        assert out["training_time"] == pytest.approx(q.training_time) and out["training_time"] > 0
        assert out["trainable_parameters"] == int(table.params[r_val]) > 0
        assert np.array_equal(out["module_adjacency"], cell.matrix)
        assert out["module_operations"] == list(cell.ops)
        assert np.isnan(out["train_accuracy"])  # NB101 tables here carry no train accuracy
    assert val_nb.queries == 2
    # metric "test": NASLib's validation queries read the test accuracy
    out = test_nb.query(NB101Arch(cell))
    assert out["validation_accuracy"] == out["test_accuracy"] == pytest.approx(q.test_accuracy)
    out = test_nb.query(NB101Arch(table.cell(r_test_only)))
    assert out["validation_accuracy"] == pytest.approx(table.metric(r_test_only, "test"))
    assert np.isnan(out["training_time"])  # the fixture has no time for test-only cells
    # earlier epoch budgets
    out = val_nb.query(NB101Arch(cell), epochs=4)
    assert out["validation_accuracy"] == pytest.approx(table.metric(r_val, "val", epochs=4))
    assert out["validation_accuracy"] < table.metric(r_val, "val")


def test_metrics_from_hash_layout(table):
    r_val, r_test_only = _rows(table)
    nb = TableNASBench(table, "val")
    h = str(table.hashes[r_val])
    fixed, computed = nb.get_metrics_from_hash(h)
    assert set(fixed) == {"module_adjacency", "module_operations", "trainable_parameters"}
    assert fixed["trainable_parameters"] == int(table.params[r_val])
    assert sorted(computed) == [4, 12, 36, 108]
    for ep, reps in computed.items():
        assert isinstance(reps, list) and reps
        for rep in reps:
            assert set(rep) == {"final_validation_accuracy", "final_test_accuracy",
                                "final_training_time"}
    # the fixture: validation in repeat 2 at every budget, test in repeat 0 at 108 only
    assert len(computed[4]) == 1 and len(computed[108]) == 2
    vals = [rep["final_validation_accuracy"] for rep in computed[108]]
    assert np.nanmax(vals) == pytest.approx(table.metric(r_val, "val"))
    assert computed[4][0]["final_validation_accuracy"] == pytest.approx(
        table.metric(r_val, "val", epochs=4))
    by_spec = nb.get_metrics_from_spec(NB101Arch(table.cell(r_val)))[1]
    assert json.dumps(by_spec) == json.dumps(computed)  # NaN-safe equality
    # metric "test": the validation entries are the test accuracy; test-only cell: one repeat
    _, computed = TableNASBench(table, "test").get_metrics_from_hash(str(table.hashes[r_test_only]))
    assert list(computed) == [108] and len(computed[108]) == 1
    rep = computed[108][0]
    assert rep["final_validation_accuracy"] == rep["final_test_accuracy"] == pytest.approx(
        table.metric(r_test_only, "test"))


def test_hash_iterator_yields_the_cells_with_the_metric(table):
    hashes = TableNASBench(table, "val").hash_iterator()
    assert len(hashes) == 360 and len(set(hashes)) == 360
    assert set(hashes) == {str(h) for h in table.hashes[table.has_metric("val", 108)]}
    assert TableNASBench(table, "test").hash_iterator() == [str(h) for h in table.hashes]


def test_default_metric(table):
    assert default_metric(table) == "test"  # validation accuracy for 360 of 600 cells
    arrays = {k: np.array(v, copy=True) for k, v in table.arrays().items()}
    arrays["val_acc"][:, 3, 0] = 0.9
    assert default_metric(NB101Table(arrays)) == "val"


def test_importing_the_glue_does_not_import_naslib():
    code = ("import sys, naslib_petridish.naslib as g, naslib_petridish.naslib.search, "
            "naslib_petridish.naslib.search_rules, naslib_petridish.naslib.search_methods, "
            "naslib_petridish.naslib.search_optimizers; "
            "print(any(m == 'naslib' or m.startswith('naslib.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- fakes of NASLib's search space and a predictor --------------------------------------------
class FakeSpace:
    """NASLib's NasBench101SearchSpace as an optimizer uses it: ``clone()`` gives an
    empty architecture that samples or mutates into the next cell of ``rows``."""

    def __init__(self, table, rows):
        self.table = table
        self.rows = list(rows)
        self.parents: list = []

    def clone(self):
        return FakeArch(self)

    def next_cell(self) -> Cell:
        return self.table.cell(self.rows.pop(0))


class FakeArch:
    def __init__(self, space, cell=None):
        self.space = space
        self.cell = cell

    def get_spec(self):
        return NB101Arch(self.cell).get_spec()

    def sample_random_architecture(self, dataset_api=None):
        self.cell = self.space.next_cell()

    def mutate(self, parent, dataset_api=None):
        self.space.parents.append(parent)
        self.cell = self.space.next_cell()

    def query(self, metric, dataset, dataset_api=None):
        return self.space.table.metric(self.cell, "test") * 100  # NASLib: percent


def true_acc(arch) -> float:
    return arch.space.table.metric(arch.cell, "test") * 100


class FakePredictor:
    """Predicts ``scores[hash]``, else the true accuracy + ``offset``; records fits."""

    def __init__(self, offset=0.0, scores=None):
        self.offset = offset
        self.scores = dict(scores or {})
        self.fits: list[tuple[list[str], list[float]]] = []

    def fit(self, xtrain, ytrain, train_info=None):
        self.fits.append(([a.cell.hash for a in xtrain], [float(y) for y in ytrain]))

    def query(self, xtest, info=None):
        return np.array([self.scores.get(a.cell.hash, true_acc(a) + self.offset)
                         for a in xtest], dtype=np.float64)


class FakeRE(PredictorFitnessEvolutionMixin):
    """The attributes and hooks of NASLib's RegularizedEvolution the mixin relies on."""

    def __init__(self, space, predictor, population_size=3, sample_size=2, refit_every=0,
                 refit_batch=1, refit_predictor=True):
        self.population_size, self.sample_size = population_size, sample_size
        self.population = collections.deque(maxlen=population_size)
        self.history: list = []
        self.search_space, self.dataset_api = space, None
        self.performance_metric, self.dataset = "val_acc", "cifar10"
        self.setup_dish(predictor, refit_every, refit_batch, refit_predictor)

    def _new_member(self):
        return SimpleNamespace()

    def _update_history(self, member):
        self.history.append(member)

    def run(self, epochs, start=0):
        for e in range(start, start + epochs):
            self.new_epoch(e)
        return self


def _by_test_acc(table, n, seed=1):
    """``n`` distinct rows, sorted from the worst to the best test accuracy."""
    rows = table.sample(n, rng=seed)
    return [int(r) for r in rows[np.argsort(table.metric(rows, "test"))]]


# -- regularized evolution -------------------------------------------------------------------
def test_initial_population_is_evaluated_then_children_are_predicted(table):
    rows = table.sample(10, rng=2)
    pred = FakePredictor(offset=-1.0)
    opt = FakeRE(FakeSpace(table, rows), pred, population_size=4).run(4)
    assert opt.ground_truth_queries == 4 and opt.predictor_queries == 0
    assert len(pred.fits) == 1
    hashes, ys = pred.fits[0]
    assert hashes == [str(table.hashes[r]) for r in rows[:4]]
    assert ys == pytest.approx(list(table.metric(rows[:4], "test") * 100))
    opt.run(6, start=4)
    assert opt.ground_truth_queries == 4 and opt.predictor_queries == 6 and opt.refits == 0
    assert opt.known_cell_hits == 0
    assert len(pred.fits) == 1
    children = opt.history[4:]
    assert all(c.true_accuracy is None for c in children)
    assert [c.predicted_accuracy for c in children] == pytest.approx(
        [true_acc(c.arch) - 1.0 for c in children])
    assert list(opt.population) == children[-4:]
    assert len(opt.evaluated) == 4


def test_incumbent_is_the_best_true_accuracy_not_a_prediction(table):
    """Issue 24: the maximum over a history mixing true and predicted accuracies
    made an over-predicted cell the incumbent."""
    worst, *_ = rows = _by_test_acc(table, 6)
    # initial population: rows[1:4]; the child is the worst cell, predicted at 99.9
    space = FakeSpace(table, rows[1:4] + [worst])
    opt = FakeRE(space, FakePredictor(scores={str(table.hashes[worst]): 99.9}),
                 population_size=3).run(4)
    child = opt.history[-1]
    assert child.arch.cell.hash == table.hashes[worst]
    assert child.predicted_accuracy == 99.9 and child.true_accuracy is None
    assert max(opt.history, key=lambda m: m.accuracy) is child  # what NASLib's RE would report
    incumbent = opt.get_final_architecture()
    assert incumbent.cell.hash == table.hashes[rows[3]]  # best of the evaluated rows[1:4]
    assert true_acc(incumbent) == max(acc for _, acc in opt.evaluated)
    assert all(m.true_accuracy is not None for m in opt.history[:3])


def test_refit_evaluates_the_best_predicted_unevaluated_member(table):
    rows = _by_test_acc(table, 7)
    # initial population: the four best cells; children rows[0], rows[1], predicted below
    # every true accuracy, so at the refit the fittest member is an evaluated one (the
    # refit used to be skipped then)
    preds = {str(table.hashes[rows[0]]): 70.0, str(table.hashes[rows[1]]): 80.0}
    pred = FakePredictor(scores=preds)
    opt = FakeRE(FakeSpace(table, rows[3:] + rows[:3]), pred, population_size=4,
                 refit_every=2).run(6)
    assert opt.refits == 1 and opt.ground_truth_queries == 5 and opt.predictor_queries == 2
    refitted = opt.population[-1]
    assert refitted.arch.cell.hash == table.hashes[rows[1]]
    assert refitted.true_accuracy == pytest.approx(true_acc(refitted.arch))
    assert refitted.accuracy == refitted.true_accuracy != 80.0
    assert refitted.predicted_accuracy == 80.0
    assert opt.population[-2].true_accuracy is None  # rows[0]: predicted lower, not evaluated
    assert len(pred.fits) == 2
    hashes, ys = pred.fits[1]
    assert hashes == [str(table.hashes[r]) for r in rows[3:]] + [str(table.hashes[rows[1]])]
    assert ys[-1] == pytest.approx(true_acc(refitted.arch))  # the TRUE accuracy, not 80
    assert opt.evaluated[-1][0] is refitted.arch
    # the incumbent stays the best evaluated cell (the refitted one is worse)
    assert opt.get_final_architecture().cell.hash == table.hashes[rows[6]]


def test_refit_can_find_a_new_incumbent(table):
    rows = _by_test_acc(table, 5)
    # initial population: the three worst; the child (the best cell) is predicted low,
    # the refit evaluates it anyway (the only unevaluated member) and it becomes the answer
    opt = FakeRE(FakeSpace(table, rows[:3] + [rows[4]]),
                 FakePredictor(scores={str(table.hashes[rows[4]]): 1.0}),
                 population_size=3, refit_every=1).run(4)
    assert opt.refits == 1 and opt.ground_truth_queries == 4
    assert opt.get_final_architecture().cell.hash == table.hashes[rows[4]]


def test_no_refit_without_an_unevaluated_member(table):
    rows = _by_test_acc(table, 2)
    # the children are cells evaluated already: their true accuracy is known and used,
    # without asking the dish or the benchmark
    pred = FakePredictor()
    opt = FakeRE(FakeSpace(table, rows + rows), pred, population_size=2,
                 refit_every=1).run(4)
    assert opt.refits == 0 and opt.ground_truth_queries == 2 and opt.predictor_queries == 0
    assert opt.known_cell_hits == 2
    assert len(pred.fits) == 1
    assert all(m.true_accuracy == pytest.approx(true_acc(m.arch)) for m in opt.population)
    assert not opt.refit()


def test_parent_is_the_fittest_of_the_sample(table):
    a = SimpleNamespace(true_accuracy=85.0, predicted_accuracy=None, accuracy=85.0)
    b = SimpleNamespace(true_accuracy=None, predicted_accuracy=90.0, accuracy=90.0)
    c = SimpleNamespace(true_accuracy=80.0, predicted_accuracy=95.0, accuracy=80.0)
    assert select_parent([a, b, c]) is b  # c's true accuracy overrides its prediction
    assert select_parent([a, c]) is a
    # in the loop: with a sample much larger than the population the fittest is drawn
    rows = _by_test_acc(table, 5)
    space = FakeSpace(table, rows)
    state = np.random.get_state()  # NASLib's RE draws from numpy's global generator
    try:
        np.random.seed(0)
        FakeRE(space, FakePredictor(), population_size=4, sample_size=40).run(5)
    finally:
        np.random.set_state(state)
    assert space.parents[0].cell.hash == table.hashes[rows[3]]


def test_refit_schedule():
    assert [e for e in range(12) if refit_due(e, 3, 2)] == [4, 6, 8, 10]
    assert [e for e in range(6) if refit_due(e, 3, 1)] == [3, 4, 5]
    assert not any(refit_due(e, 3, 0) for e in range(20))


def test_best_evaluated():
    assert best_evaluated([("a", 90.0), ("b", 93.0), ("c", 93.0), ("d", 91.0)]) == "b"
    with pytest.raises(UsageError):
        best_evaluated([])


# -- Bananas / Npenas ------------------------------------------------------------------------
def test_top_k_by_prediction():
    cands = list("abcde")
    chosen = top_k_by_prediction(cands, [0.3, 0.9, 0.1, 0.5, 0.7], 3)
    assert chosen == ["d", "e", "b"] and chosen.pop() == "b"  # NASLib pops the best first
    assert top_k_by_prediction(cands, np.arange(5.0), 9) == cands
    assert top_k_by_prediction(cands, np.arange(5.0), 0) == []
    with pytest.raises(UsageError):
        top_k_by_prediction(cands, [1.0, 2.0], 1)


class FakeBananas:
    """The parts of NASLib's Bananas/Npenas the surrogate mixin overrides or calls."""

    def __init__(self, k):
        self.k = k
        self.train_data: list = []

    def _set_scores(self, model):
        model.accuracy = model.arch.query("val_acc", "cifar10")
        self.train_data.append(model)


class DishBananas(DishSurrogateMixin, FakeBananas):
    def __init__(self, predictor, k):
        super().__init__(k)
        self.setup_dish(predictor)


def test_surrogate_counts_queries_and_picks_the_best_predicted(table):
    rows = table.sample(11, rng=5)
    space = FakeSpace(table, rows)
    pred = FakePredictor(offset=-2.0)
    opt = DishBananas(pred, k=2)
    for _ in range(3):  # num_init
        m = SimpleNamespace(arch=space.clone())
        m.arch.sample_random_architecture()
        opt._set_scores(m)
    assert opt.ground_truth_queries == 3 and opt.refits == 0
    for round_ in range(2):  # NASLib's new_epoch: a fresh ensemble per batch
        ensemble = opt._get_ensemble()
        ensemble.fit([m.arch for m in opt.train_data], [m.accuracy for m in opt.train_data])
        cands = [SimpleNamespace(arch=FakeArch(space, space.next_cell())) for _ in range(4)]
        batch = opt._get_best_candidates(cands, acq_fn=None)
        ranked = sorted(cands, key=lambda m: true_acc(m.arch))
        assert batch == ranked[-2:]
        while batch:
            opt._set_scores(batch.pop())
        assert ensemble.query([c.arch for c in cands]).shape == (1, 4)
    assert opt.train_data[-1].arch is ranked[-2].arch  # popped after the best
    assert opt.ground_truth_queries == 7 and opt.predictor_queries == 8
    assert opt.dish_fits == 2 and opt.refits == 1 and len(pred.fits) == 2
    assert pred.fits[1][1] == pytest.approx([true_acc(m.arch) for m in opt.train_data[:5]])


def test_dish_ensemble_shapes():
    calls = []
    pred = SimpleNamespace(query=lambda xs: np.arange(len(xs), dtype=np.float32),
                           fit=lambda x, y: calls.append(len(x)))
    ens = DishEnsemble(pred, on_fit=lambda: calls.append("fitted"))
    ens.set_pre_computations(unlabeled=[1, 2])
    ens.fit([1, 2], [0.5, 0.6], None)
    assert calls == [2, "fitted"]
    q = ens.query([1, 2, 3])
    assert q.shape == (1, 3) and q.dtype == np.float64
    json.dumps(ens.predict([1, 2]).tolist())


# -- which optimizer with which predictor --------------------------------------------------
def test_search_method_accepts_the_documented_pairs():
    assert search_method({"optimizer": "re"}) == SearchMethod("re", "none")
    assert search_method({"optimizer": "re", "predictor": "none"}) == SearchMethod("re", "none")
    assert search_method({"optimizer": "rs"}) == SearchMethod("rs", "none")
    m = search_method({"optimizer": "re", "predictor": "petridish-quick",
                       "petridish_refit_every": 5, "petridish_refit_batch": 3})
    assert m == SearchMethod("re", "petridish-quick", 5, 3) and m.dish
    assert m.refit_predictor
    m = search_method({"optimizer": "re", "predictor": "petridish-quick",
                       "petridish_refit_every": 5, "petridish_refit_predictor": False})
    assert m == SearchMethod("re", "petridish-quick", 5, 1, False)
    for opt in ("bananas", "npenas"):
        assert search_method({"optimizer": opt, "predictor": "xgb"}) == SearchMethod(opt, "xgb")
        assert search_method({"optimizer": opt, "predictor": "petridish"}).dish
        # without `predictor`: NASLib's own key, as NASLib's runner reads it
        assert search_method({"optimizer": opt, "search": {"predictor_type": "gcn"}}) \
            == SearchMethod(opt, "gcn")
    assert set(NASLIB_SURROGATES) < set(valid_predictors("bananas"))
    assert valid_predictors("rs") == ["none"]
    # NASLib's local search, plain: the true accuracy only, one query per epoch
    assert search_method({"optimizer": "ls"}) == SearchMethod("ls", "none")
    assert valid_predictors("ls") == ["none"] and not SearchMethod("ls").guided
    assert epochs_for_budget(SearchMethod("ls"), 37) == 37
    # RE takes the parameter count or a NASLib predictor as its children's fitness, with
    # the dish's schedule of refits; Bananas/Npenas do not take the parameter count
    m = search_method({"optimizer": "re", "predictor": "params", "petridish_refit_every": 4,
                       "petridish_refit_predictor": False})
    assert m == SearchMethod("re", "params", 4, 1, False) and m.guided and not m.dish
    assert search_method({"optimizer": "re", "predictor": "xgb"}).guided
    assert not SearchMethod("re", "none").guided and not SearchMethod("bananas", "xgb").guided
    # the control without information also drives Bananas/Npenas, in place of the dish
    assert search_method({"optimizer": "npenas", "predictor": "mean"}).guided
    assert "mean" in valid_predictors("bananas") and "mean" in valid_predictors("npenas")
    assert SearchMethod("bananas", "petridish").guided
    assert "params" not in valid_predictors("bananas")
    assert epochs_for_budget(SearchMethod("re", "params", 4, 2), 11, population_size=5) == 17
    assert epochs_for_budget(SearchMethod("re", "none"), 11, population_size=5) == 11


@pytest.mark.parametrize("cfg, words", [
    ({"optimizer": "darts"}, ["optimizer must be one of re, rs, ls, bananas, npenas",
                              "'darts'"]),
    ({"optimizer": "ls", "predictor": "xgb"}, ["'xgb'", "ls", "valid: none"]),
    ({"optimizer": "rs", "predictor": "xgb"}, ["'xgb'", "rs", "valid: none"]),
    ({"optimizer": "re", "predictor": "synflow"}, ["'synflow'", "valid: none, petridish",
                                                   "params", "xgb"]),
    ({"optimizer": "bananas", "predictor": "params"}, ["'params'", "valid: petridish"]),
    ({"optimizer": "bananas", "predictor": "none"}, ["'none'", "valid: petridish", "xgb"]),
    ({"optimizer": "npenas", "predictor": "omni_ngb"}, ["'omni_ngb'", "gcn"]),
    ({"optimizer": "bananas", "predictor": "xgb", "petridish_refit_every": 2},
     ["petridish_refit_every applies to optimizer re"]),
    ({"optimizer": "re", "predictor": "petridish", "petridish_refit_batch": 2},
     ["petridish_refit_batch needs", "petridish_refit_every > 0"]),
    ({"optimizer": "re", "predictor": "petridish", "petridish_refit_predictor": False},
     ["petridish_refit_predictor: false needs", "petridish_refit_every > 0"]),
    ({"optimizer": "re", "predictor": "petridish", "petridish_refit_every": 3,
      "petridish_refit_predictor": "no"}, ["petridish_refit_predictor must be true or false"]),
    ({"optimizer": "re", "predictor": "petridish", "petridish_refit_every": -1},
     ["petridish_refit_every must be an integer >= 0"]),
    ({"optimizer": "re", "predictor": "petridish", "petridish_refit_every": "often"},
     ["petridish_refit_every must be an integer"]),
])
def test_search_method_errors_are_one_line_and_name_the_choices(cfg, words):
    with pytest.raises(ConfigError) as e:
        search_method(cfg)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


def test_epochs_for_budget():
    re_dish = SearchMethod("re", "petridish", refit_every=3, refit_batch=2)
    for m in (SearchMethod("re"), SearchMethod("rs"), SearchMethod("bananas", "xgb"),
              SearchMethod("npenas", "petridish")):
        assert epochs_for_budget(m, 150, population_size=30, num_init=10) == 150
    # population + refit_every children per refit of refit_batch queries
    assert epochs_for_budget(re_dish, 10, population_size=4) == 4 + 3 * 3
    assert epochs_for_budget(re_dish, 11, population_size=4) == 4 + 3 * 3  # 11 - 4 = 2*3 + 1
    no_refit = SearchMethod("re", "petridish")
    assert epochs_for_budget(no_refit, 20, population_size=20, children=7) == 27
    with pytest.raises(ConfigError, match="population_size must be the budget"):
        epochs_for_budget(no_refit, 20, population_size=10)
    with pytest.raises(ConfigError, match="num_init 20 exceeds"):
        epochs_for_budget(SearchMethod("bananas", "gp"), 10, num_init=20)
    with pytest.raises(ConfigError, match="within 1..10"):
        epochs_for_budget(re_dish, 10, population_size=11)


def test_the_budget_epochs_give_the_budget_of_queries(table):
    budget, pop = 10, 4
    m = SearchMethod("re", "petridish", refit_every=3, refit_batch=2)
    epochs = epochs_for_budget(m, budget, population_size=pop)
    opt = FakeRE(FakeSpace(table, table.sample(epochs, rng=11)), FakePredictor(offset=-1.0),
                 population_size=pop, refit_every=3, refit_batch=2)
    opt.run(epochs)
    assert opt.ground_truth_queries == budget and opt.refits == 3


# -- refits in batches -----------------------------------------------------------------------
def test_refit_batch_evaluates_the_best_predicted_members_and_fits_once(table):
    rows = _by_test_acc(table, 7)
    preds = {str(table.hashes[r]): p for r, p in zip(rows[:3], (70.0, 90.0, 80.0))}
    pred = FakePredictor(scores=preds)
    opt = FakeRE(FakeSpace(table, rows[3:] + rows[:3]), pred, population_size=4,
                 refit_every=3, refit_batch=2)
    opt.run(7)
    assert opt.refits == 1 and opt.ground_truth_queries == 6 and len(pred.fits) == 2
    # the two best predictions (90, 80), best first; the 70 one stays predicted
    assert [str(a.cell.hash) for a, _ in opt.evaluated[4:]] == [str(table.hashes[rows[1]]),
                                                                str(table.hashes[rows[2]])]
    assert opt.population[-3].true_accuracy is None
    assert pred.fits[1][1][-2:] == pytest.approx([true_acc(a) for a, _ in opt.evaluated[4:]])


def test_refit_without_predictor_evaluates_the_same_members_and_never_refits(table):
    rows = _by_test_acc(table, 7)
    preds = {str(table.hashes[r]): p for r, p in zip(rows[:3], (70.0, 90.0, 80.0))}
    runs = {}
    for again in (True, False):
        pred = FakePredictor(scores=preds)
        opt = FakeRE(FakeSpace(table, rows[3:] + rows[:3]), pred, population_size=4,
                     refit_every=3, refit_batch=2, refit_predictor=again)
        opt.run(7)
        runs[again] = (opt, pred)
    (fit_opt, fit_pred), (keep_opt, keep_pred) = runs[True], runs[False]
    # the same refit: the same two members evaluated, the same queries
    assert [str(a.cell.hash) for a, _ in keep_opt.evaluated] == \
        [str(a.cell.hash) for a, _ in fit_opt.evaluated]
    assert keep_opt.refits == fit_opt.refits == 1
    assert keep_opt.ground_truth_queries == fit_opt.ground_truth_queries == 6
    # but the dish keeps its first fit, on the initial population only
    assert len(keep_pred.fits) == keep_opt.fits == 1 and len(keep_pred.fits[0][1]) == 4
    assert len(fit_pred.fits) == fit_opt.fits == 2


# -- per-epoch records and the summary ----------------------------------------------------------
class LoggedFakeRE(EpochLogMixin, FakeRE):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.setup_log(PredictorClock())


class FakePlainRE:
    """NASLib's plain RE as far as the recording mixins see it: one benchmark query per
    epoch, then ``_update_history``."""

    def __init__(self, space):
        self.space, self.history = space, []

    def new_epoch(self, epoch):
        m = SimpleNamespace(arch=FakeArch(self.space, self.space.next_cell()))
        m.accuracy = m.arch.query("val_acc", "cifar10")
        self._update_history(m)

    def _update_history(self, child):
        self.history.append(child)

    def get_final_architecture(self):
        return max(self.history, key=lambda m: m.accuracy).arch


class RecordedPlainRE(EpochLogMixin, PlainQueriesMixin, FakePlainRE):
    def __init__(self, space):
        super().__init__(space)
        clock = PredictorClock()
        self.setup_plain(clock)
        self.setup_log(clock)


def test_plain_optimizer_records_each_benchmark_answer(table):
    rows = table.sample(6, rng=4)
    opt = RecordedPlainRE(FakeSpace(table, rows))
    for e in range(6):
        opt.new_epoch(e)
    assert opt.ground_truth_queries == 6 and len(opt.history) == 6
    assert [a.cell.hash for a, _ in opt.evaluated] == [str(h) for h in table.hashes[rows]]
    assert [acc for _, acc in opt.evaluated] == pytest.approx(
        list(table.metric(rows, "test") * 100))
    assert [r.ground_truth_queries for r in opt.epoch_log] == [1, 2, 3, 4, 5, 6]
    assert opt.predictor_queries == 0 and opt.refits == 0
    assert all(r.predictor_seconds == 0 for r in opt.epoch_log)


class FakeEnsemble:
    def __init__(self):
        self.pre = None

    def fit(self, x, y, info=None):
        return [0.0]

    def query(self, xs, info=None):
        return np.zeros((3, len(xs)))

    def set_pre_computations(self, **kw):
        self.pre = kw


class FakeNASLibBananas(FakeBananas):
    def _get_ensemble(self):
        return FakeEnsemble()


class RecordedBananas(EpochLogMixin, PlainQueriesMixin, TimedEnsembleMixin, FakeNASLibBananas):
    def __init__(self, k):
        super().__init__(k)
        clock = PredictorClock()
        self.setup_plain(clock)
        self.setup_log(clock)

    def _set_scores(self, model):  # NASLib's: query, then _update_history
        model.accuracy = model.arch.query("val_acc", "cifar10")
        self.train_data.append(model)
        self._update_history(model)

    def _update_history(self, child):
        pass


def test_naslib_ensemble_is_timed_without_changing_it(monkeypatch):
    ticks = iter(range(100))
    monkeypatch.setattr(cost_mod.time, "perf_counter", lambda: float(next(ticks)))
    opt = RecordedBananas(k=2)
    for _ in range(2):
        ens = opt._get_ensemble()
        assert isinstance(ens, TimedPredictor) and isinstance(ens.inner, FakeEnsemble)
        ens.set_pre_computations(unlabeled=[1])  # passed through to NASLib's ensemble
        assert ens.inner.pre == {"unlabeled": [1]}
        assert ens.fit([1, 2], [0.5, 0.6]) == [0.0]
        for _ in range(3):  # NASLib's acquisition: one architecture per call
            assert ens.query(["arch"]).shape == (3, 1)
    c = opt.clock
    assert (c.fits, c.queried) == (2, 6) and opt.predictor_queries == 6 and opt.refits == 1
    assert c.fit_seconds == 2.0 and c.query_seconds == 6.0 and c.seconds == 8.0


def test_surrogate_records_its_benchmark_answers(table):
    rows = table.sample(3, rng=6)
    space = FakeSpace(table, rows)
    opt = DishBananas(FakePredictor(), k=1)
    for _ in rows:
        m = SimpleNamespace(arch=space.clone())
        m.arch.sample_random_architecture()
        opt._set_scores(m)
    assert [acc for _, acc in opt.evaluated] == pytest.approx(
        list(table.metric(rows, "test") * 100))


def test_incumbent_indices():
    acc = [90.0, 93.0, 91.0, 93.0, 95.0]
    assert incumbent_indices(acc, [0, 1, 1, 3, 4, 5]) == [None, 0, 0, 1, 1, 4]
    with pytest.raises(GroundTruthError):
        incumbent_indices(acc, [2, 1])
    with pytest.raises(GroundTruthError):
        incumbent_indices(acc, [6])


def test_time_model_uses_the_table_and_estimates_the_rest(table):
    model = LogParamsTimeModel(table)
    times = table_train_times(table)
    known = np.isfinite(times)
    assert known.sum() == 360  # the fixture has a time where it has validation accuracy
    b, a = np.polyfit(np.log(table.params[known]), np.log(times[known]), 1)
    assert (model.a, model.b) == pytest.approx((a, b))
    rows = np.array([np.flatnonzero(known)[0], np.flatnonzero(~known)[0]])
    secs, real = model.seconds(rows)
    assert real.tolist() == [True, False]
    assert secs[0] == pytest.approx(table.query(int(rows[0])).training_time)
    assert secs[1] == pytest.approx(np.exp(a + b * np.log(table.params[rows[1]])))
    d = model.describe()
    assert d["cells_with_real_time"] == 360 and "log(params)" in d["model"]
    json.dumps(d)


class FixedTimes:
    """A time model: 100 s per row, 'real' for even rows."""

    def seconds(self, rows):
        rows = np.asarray(rows)
        return np.full(len(rows), 100.0), rows % 2 == 0

    def describe(self):
        return {"model": "fixed"}


def test_search_record_accounts_true_accuracy_and_cost(table):
    rows = _by_test_acc(table, 4)
    order = [rows[1], rows[0], rows[3], rows[2]]  # best found at the 3rd query
    search_acc = list(table.metric(order, "test") * 100)
    epochs = [EpochRecord(0, 1, 0, 0.0), EpochRecord(1, 2, 0, 0.5), EpochRecord(2, 2, 5, 2.0),
              EpochRecord(3, 4, 5, 3.0)]
    rec = search_record(order, search_acc, epochs, table, FixedTimes())
    tr = rec["trajectory"]
    assert tr["ground_truth_queries"] == [1, 2, 2, 4]
    best = table.metric(order, "test")
    assert tr["best_true_test_accuracy"] == pytest.approx([best[0], best[0], best[0], best[2]])
    assert tr["train_seconds"] == [100.0, 200.0, 200.0, 400.0]
    assert tr["simulated_seconds"] == [100.0, 200.5, 202.0, 403.0]
    assert rec["train_seconds"] == 400.0 and rec["distinct_cells_queried"] == 4
    assert rec["queries_with_real_time"] + rec["queries_with_estimated_time"] == 4


class Cfg(dict):
    __getattr__ = dict.__getitem__


def test_summary_never_reports_a_prediction(table, tmp_path):
    """An over-predicted child (99.9) must not appear anywhere in the summary: the
    incumbent and the trajectory are true test accuracies (fractions)."""
    worst, *_ = rows = _by_test_acc(table, 6)
    space = FakeSpace(table, rows[1:4] + [worst, rows[4]])
    pred = TimedPredictor(FakePredictor(scores={str(table.hashes[worst]): 99.9}))
    opt = LoggedFakeRE(space, pred, population_size=3, refit_every=2)
    opt.clock = pred.clock
    opt.run(5)
    assert any(m.predicted_accuracy == 99.9 for m in opt.history)
    cfg = Cfg(search=Cfg(epochs=5, population_size=3), seed=0, save=str(tmp_path))
    s = search_summary(opt, SearchMethod("re", "petridish", 2), cfg, table, "test",
                       FixedTimes(), 1.0)
    text = json.dumps(s)
    assert "99.9" not in text
    tr = s["trajectory"]
    assert tr["ground_truth_queries"] == [1, 2, 3, 3, 4]
    assert all(0 < a < 1 for a in tr["best_true_test_accuracy"])
    assert all(b >= a for a, b in zip(tr["best_true_test_accuracy"],
                                      tr["best_true_test_accuracy"][1:]))
    assert tr["best_true_test_accuracy"][-1] == pytest.approx(s["best_true_test_accuracy"])
    assert s["ground_truth_queries"] == 4 and s["refits"] == 1 and s["predictor_queries"] == 2
    assert s["cost"]["train_seconds"] == 400.0
    assert s["cost"]["predictor"]["fits"] == 2
    assert s["cost"]["predictor"]["architectures_predicted"] == 2
    assert s["cost"]["simulated_seconds"] == pytest.approx(400.0 + pred.clock.seconds)


def test_search_comparison_configs_are_valid_and_within_budget(tmp_path):
    """Every run of benchmarks/search_comparison.py: a config run_search accepts, whose
    epochs give at most the budget of ground-truth queries."""
    import yaml

    from benchmarks import search_comparison as sc

    for m in sc.METHODS:
        for budget in sc.BUDGETS:
            cfg = yaml.safe_load(sc.method_config(m, budget, 3, tmp_path))
            method = search_method(cfg)
            assert (method.optimizer, method.predictor) == (m.optimizer, m.predictor)
            assert method.refit_predictor == m.refit_predictor
            s = cfg["search"]
            pop = s["population_size"]
            assert s["epochs"] == epochs_for_budget(method, budget, pop, s["num_init"])
            if method.guided and method.optimizer == "re":
                children = s["epochs"] - pop
                refits = children // method.refit_every if method.refit_every else 0
                assert pop + refits * method.refit_batch == budget  # exactly the budget
            assert cfg["seed"] == 3 and (cfg.get("petridish", {}).get("workers") == 1
                                         or not method.dish)
    jobs = sc.plan(sc.METHODS, [150, 300], [0, 1])
    assert len(jobs) == len(set(jobs)) == len(sc.METHODS) * 2 * 2
    cheap = [m.name for m in sc.METHODS if m.tier == 0]
    assert cheap == ["re", "rs", "re-params-fixed", "re-mean-fixed", "npenas-mean"]
    n = len(cheap) * 2 * 2
    assert [j[0].tier for j in jobs[:n]] == [0] * n  # RE, RS and the control first
    assert jobs[n] == (sc.BY_NAME["bananas"], 150, 0)  # then one run of each other method
    # the curves cut for cost: out of the groups, still runnable by name
    everything = sc.expand_methods(["all"])
    assert set(sc.NOT_RUN) <= set(sc.BY_NAME) and not set(sc.NOT_RUN) & set(everything)
    assert len(everything) == len(sc.METHODS) - len(sc.NOT_RUN)
    assert sc.expand_methods(["re-quick-refit"]) == ["re-quick-refit"]


def test_refit_does_not_query_a_cell_twice(table):
    """Two unevaluated members with the same cell: a refit batch queries it once, the
    other member gets its true accuracy and the next best-predicted member is queried."""
    rows = _by_test_acc(table, 5)
    dup, other = rows[1], rows[0]
    preds = {str(table.hashes[dup]): 95.0, str(table.hashes[other]): 90.0}
    opt = FakeRE(FakeSpace(table, rows[2:] + [dup, dup, other]), FakePredictor(scores=preds),
                 population_size=3, refit_every=3, refit_batch=2)
    opt.run(6)
    assert opt.refits == 1 and opt.refit_repeats == 1
    assert opt.ground_truth_queries == 5  # 3 + dup once + other
    assert [str(a.cell.hash) for a, _ in opt.evaluated[3:]] == [str(table.hashes[dup]),
                                                                str(table.hashes[other])]
    assert all(m.true_accuracy == pytest.approx(true_acc(m.arch)) for m in opt.population)
