"""NASLib-free test of the contract NASLib relies on.

Drives SyntheticPetriDishPredictor through the exact call sequence and types
of NASLib's (Develop branch) ``PredictorEvaluator.evaluate``/``single_evaluate``,
its ``Ensemble`` wrapper (deep copies, ``fit`` with positional ``train_info``,
``query`` stacked with ``np.array``) and its JSON log, with architecture objects
shaped like ``NasBench101SearchSpace`` (``get_spec()`` with a 7x7 padded matrix,
``get_hash()`` returning NASLib's tuple) and accuracies in percent.
"""
import copy
import json

import numpy as np
import pytest
from scipy import stats

from naslib_petridish.cells import CONV3X3, to_naslib_tuple
from naslib_petridish.predictor import SyntheticPetriDishPredictor

TINY = dict(motif="C", dish_size=40, inner_epochs=2, outer_epochs=2, outer_batch=3,
            calibration_size=3, workers=1)


class NB101Arch:
    """What NASLib's NasBench101SearchSpace exposes to a predictor."""

    def __init__(self, cell):
        n = cell.num_vertices
        m = np.zeros((7, 7), dtype="int8")
        ops = list(cell.ops[:-1]) + [CONV3X3] * (7 - n) + ["output"]
        m[:n - 1, :n - 1] = cell.matrix[:n - 1, :n - 1]
        m[:n - 1, 6] = cell.matrix[:n - 1, n - 1]  # convert_to_cell moves output to vertex 6
        self.spec = {"matrix": m, "ops": ops}
        self._cell = cell

    def get_spec(self):
        return self.spec

    def get_hash(self):
        return to_naslib_tuple(self._cell)


def test_predictor_evaluator_call_sequence(table):
    rows = table.sample(14, rng=9, metric="val")
    archs = [NB101Arch(table.cell(r)) for r in rows]
    acc = list(table.metric(rows, "val") * 100)  # NASLib: percent
    xtrain, ytrain, xtest, ytest = archs[:8], acc[:8], archs[8:], acc[8:]
    train_info, test_info = [{} for _ in xtrain], [{} for _ in xtest]

    predictor = SyntheticPetriDishPredictor(config=TINY)
    predictor.set_ss_type("nasbench101")                      # adapt_search_space
    reqs = predictor.get_data_reqs()                            # get_full_arch_info
    assert reqs["requires_partial_lc"] is False and reqs["unlabeled"] is False
    assert reqs["requires_hyperparameters"] is False and reqs["unlabeled_factor"] == 0
    predictor.pre_process()                                     # evaluate()
    predictor.pre_compute(xtrain, xtest, None)
    results = []
    for train_size in (6, 8):                                   # vary_train_size
        predictor.reset_hyperparams()                           # single_evaluate
        assert not predictor.get_hpo_wrapper()                  # no cross-validation
        predictor.fit(xtrain[:train_size], ytrain[:train_size], train_info[:train_size])
        hyperparams = predictor.get_hyperparams()
        test_pred = predictor.query(xtest, test_info)
        assert isinstance(test_pred, np.ndarray) and test_pred.dtype == np.float64
        assert test_pred.shape == (len(xtest),) and np.all(np.isfinite(test_pred))
        res = {"kendalltau": stats.kendalltau(ytest, test_pred)[0],
               "pearson": np.abs(np.corrcoef(ytest, test_pred)[1, 0]),
               "full_ytest": list(np.array(ytest)), "full_testpred": list(np.array(test_pred)),
               "train_size": train_size}
        if hyperparams:
            res.update({"hp_" + k: v for k, v in hyperparams.items()})
        # NASLib's metrics must be computable: distinct predictions, finite correlations
        assert len(set(test_pred.tolist())) > 1
        assert -1 <= res["kendalltau"] <= 1 and 0 <= res["pearson"] <= 1
        results.append(res)
    back = json.loads(json.dumps(results))  # _log_to_json: float32 would fail here
    assert [r["train_size"] for r in back] == [6, 8]
    assert back[1]["full_testpred"] == pytest.approx(list(test_pred))
    predictor.close()


def test_ensemble_wrapper_usage(table):
    """Bananas/Npenas wrap surrogates in Ensemble: deepcopy, fit, stacked query."""
    rows = table.sample(9, rng=4, metric="val")
    archs = [NB101Arch(table.cell(r)) for r in rows]
    acc = table.metric(rows, "val") * 100
    proto = SyntheticPetriDishPredictor(config=TINY)
    members = [copy.deepcopy(proto) for _ in range(2)]
    for m in members:
        m.set_hyperparams(None)
        m.fit(archs[:6], acc[:6], None)
    preds = np.array([m.query(archs[6:], None) for m in members])
    assert preds.shape == (2, 3) and preds.dtype == np.float64
    assert np.array_equal(preds[0], preds[1])  # same config + seed -> same dish
    assert proto.set_random_hyperparams() is None
    proto.set_pre_computations(unlabeled=None)
    for m in members:
        m.close()


class FakePredictorEvaluator:
    """The part of NASLib's ``PredictorEvaluator`` (Develop, defaults/predictor_evaluator.py)
    that ``naslib.evaluation``'s resumable subclass relies on: ``__init__(predictor,
    config)``, ``self.results`` starting with the config, and ``single_evaluate(train_data,
    test_data, fidelity)`` that fits, queries and appends one results dict with
    ``fit_time``. ``test_fake_matches_naslib`` checks the signatures where NASLib is
    importable."""

    def __init__(self, predictor, config=None):
        self.predictor, self.config, self.results = predictor, config, [config]
        self.calls = 0
        self.search_space = self.dataset_api = None  # set by adapt_search_space in NASLib

    def get_full_arch_info(self, arch):
        """(accuracy, train time, info) of one architecture, through its query()."""
        return arch.query("VAL_ACCURACY", "cifar10", self.dataset_api), 1.0, {}

    def load_dataset(self, load_labeled=False, data_size=10, arch_hash_map={}):
        """NASLib's: ``data_size`` draws of the search space's sampler, repeats kept."""
        data = [[], [], [], []]
        while len(data[0]) < data_size:
            arch = self.search_space.clone()
            arch.sample_random_architecture(dataset_api=self.dataset_api)
            arch_hash_map[arch.get_hash()] = True
            acc, t, info = self.get_full_arch_info(arch)
            for part, v in zip(data, (arch, acc, info, t)):
                part.append(v)
        return data, arch_hash_map

    def evaluate(self):
        """NASLib's order (uniform_random, vary_train_size): the test set, then the
        largest training set, then each size a prefix of it."""
        test, hash_map = self.load_dataset(data_size=self.config.test_size)
        train, _ = self.load_dataset(data_size=self.config.train_size_list[-1],
                                     arch_hash_map=hash_map)
        for n in self.config.train_size_list:
            self.single_evaluate([d[:n] for d in train], test, fidelity=-1)

    def single_evaluate(self, train_data, test_data, fidelity):
        import time
        xtrain, ytrain, train_info, _ = train_data
        xtest, ytest, test_info, _ = test_data
        self.calls += 1
        self.predictor.reset_hyperparams()
        t0 = time.time()
        self.predictor.fit(xtrain, ytrain, train_info)
        t1 = time.time()
        pred = self.predictor.query(xtest, test_info)
        self.results.append({"kendalltau": stats.kendalltau(ytest, pred)[0],
                             "train_size": len(xtrain), "fit_time": t1 - t0,
                             "full_testpred": pred})


def test_fake_matches_naslib():
    import inspect
    try:
        from naslib_petridish.naslib.compat import import_naslib
        nl = import_naslib()
    except Exception:
        pytest.skip("NASLib is not importable (the fake is checked where it is)")
    real = nl.PredictorEvaluator
    for name in ("__init__", "single_evaluate", "load_dataset", "get_full_arch_info",
                 "evaluate"):
        want = list(inspect.signature(getattr(FakePredictorEvaluator, name)).parameters)
        got = list(inspect.signature(getattr(real, name)).parameters)
        assert got[:len(want)] == want, name


def test_resumable_evaluator_keeps_finished_sizes_without_naslib(table, tmp_path):
    """Each finished size is a line of evaluated_sizes.jsonl; a resumed run reuses it
    without fitting again (the result is NASLib's, unchanged), refuses other
    architectures or another config, and an earlier run is kept unless forced."""
    from types import SimpleNamespace

    from naslib_petridish.errors import OutputExistsError, RunDirError
    from naslib_petridish.naslib import evaluation as ev

    rows = table.sample(16, rng=3, metric="val")
    archs = [NB101Arch(table.cell(r)) for r in rows]
    acc = list(table.metric(rows, "val") * 100)
    test = (archs[10:], acc[10:], [None] * 6, None)
    cfg = SimpleNamespace(save=str(tmp_path / "save"))
    Evaluator = ev._resumable_evaluator(SimpleNamespace(PredictorEvaluator=FakePredictorEvaluator))

    def run(resume=False, force=False, digest="cfg-1", sizes=(6, 10)):
        done = ev._earlier_sizes(tmp_path / "save", digest, resume, force)
        pred = SyntheticPetriDishPredictor(config=TINY)
        e = Evaluator(pred, config=cfg)
        e.done, e.run_digest = done, digest
        for n in sizes:
            e.single_evaluate((archs[:n], acc[:n], [None] * n, None), test, -1)
        pred.close()
        return e, pred

    first, pred = run(sizes=(6,))                  # "killed" after its first size
    assert first.calls == 1 and pred.generates_dish and pred.fit_start == "new"
    assert pred.out_dir == tmp_path / "save" / ev.DISH_RUNS / "n6-f-1"  # checkpointed there
    lines = (tmp_path / "save" / ev.EVALUATED).read_text().splitlines()
    assert [json.loads(s)["key"] for s in lines] == ["n6-f-1"]

    with pytest.raises(OutputExistsError, match="--resume"):
        run()                                       # an earlier run is never overwritten
    with pytest.raises(RunDirError, match="another config"):
        run(resume=True, digest="cfg-2")

    (tmp_path / "save" / ev.EVALUATED).write_text("\n".join(lines) + '\n{"key": "n1')  # cut
    resumed, _ = run(resume=True)
    assert resumed.calls == 1                       # size 6 reused, only size 10 fitted
    assert resumed.results[1]["full_testpred"] == pytest.approx(
        list(first.results[1]["full_testpred"]))
    assert [r["train_size"] for r in resumed.results[1:]] == [6, 10]

    other = (archs[1:11], acc[1:11], [None] * 10, None)
    e = Evaluator(SyntheticPetriDishPredictor(config=TINY), config=cfg)
    e.done, e.run_digest = ev._earlier_sizes(tmp_path / "save", "cfg-1", True, False), "cfg-1"
    with pytest.raises(RunDirError, match="other architectures"):
        e.single_evaluate(other, test, -1)          # n10 recorded with archs[:10]

    forced, _ = run(force=True, sizes=(6,))
    assert forced.calls == 1 and not (tmp_path / "save" / ev.DISH_RUNS / "n10-f-1").exists()


class FakeNB101Space:
    """What NASLib's ``NasBench101SearchSpace`` offers ``load_dataset``: ``clone()``,
    ``sample_random_architecture`` (here: a row of a small pool, with repeats, as NASLib's
    random matrices repeat small cells), ``set_spec(hash, dataset_api)``, ``get_spec()``,
    ``get_hash()`` and ``query``."""

    def __init__(self, table, pool, rng):
        self.table, self.pool, self.rng, self.arch = table, pool, rng, None

    def clone(self):
        return FakeNB101Space(self.table, self.pool, self.rng)

    def sample_random_architecture(self, dataset_api=None):
        self.arch = NB101Arch(self.table.cell(int(self.rng.choice(self.pool))))

    def set_spec(self, spec, dataset_api=None):
        assert isinstance(spec, str) and dataset_api is not None
        self.arch = NB101Arch(self.table.cell(spec))

    def get_spec(self):
        return self.arch.get_spec()

    def get_hash(self):
        return self.arch.get_hash()

    def query(self, metric, dataset, dataset_api):
        from naslib_petridish.cells import as_cell
        return 100 * float(self.table.metric(self.table.indices([as_cell(self).hash]),
                                             "val")[0])


class ParamsPredictor:
    """A predictor as NASLib calls it (log parameter count): the protocol is the subject."""

    def __init__(self, table):
        self.table = table

    def reset_hyperparams(self):
        pass

    def fit(self, xtrain, ytrain, info=None):
        pass

    def query(self, xtest, info=None):
        from naslib_petridish.cells import as_cell
        return np.log(self.table.params[self.table.indices([as_cell(x).hash for x in xtest])])


@pytest.mark.parametrize("protocol", ["naslib", "distinct", "uniform"])
def test_sampling_protocols_without_naslib(protocol, table, tmp_path):
    """`naslib-evaluate --protocol`: NASLib's sampler repeats cells and overlaps training
    with test; 'distinct' removes both; 'uniform' draws the split of
    protocols.split_uniform (the comparison benchmark's protocol c) among the cells that
    have the metric. Each size's result records what it saw."""
    import hashlib
    from types import SimpleNamespace

    from naslib_petridish.cells import as_cell
    from naslib_petridish.naslib import evaluation as ev
    from naslib_petridish.protocols import split_uniform

    pool = np.flatnonzero(table.has_metric("val", 108))[:60]  # small: repeats are frequent
    cfg = SimpleNamespace(save=str(tmp_path / protocol), test_size=20, seed=5,
                          train_size_list=[8, 16], train_size_single=100,
                          experiment_type="vary_train_size", sampling_protocol=protocol)
    Evaluator = ev._resumable_evaluator(SimpleNamespace(PredictorEvaluator=FakePredictorEvaluator))
    e = Evaluator(ParamsPredictor(table), config=cfg)
    (tmp_path / protocol).mkdir()  # NASLib makes it (its logger)
    e.done, e.run_digest, e.table = {}, "cfg", table
    e.search_space = FakeNB101Space(table, pool, np.random.default_rng(0))
    e.dataset_api = {"nb101_data": SimpleNamespace(metric="val")}
    seen = []
    orig = e.single_evaluate

    def spy(train_data, test_data, fidelity):
        seen.append(([as_cell(x).hash for x in train_data[0]],
                     [as_cell(x).hash for x in test_data[0]]))
        return orig(train_data, test_data, fidelity)
    e.single_evaluate = spy
    e.evaluate()
    res = e.results[1:]
    assert [r["train_size"] for r in res] == [8, 16]
    assert all(r["sampling_protocol"] == protocol for r in res)
    for r, (train_h, test_h) in zip(res, seen):  # what each result says is what it saw
        assert r["test_distinct"] == len(set(test_h))
        assert r["train_distinct"] == len(set(train_h))
        assert r["train_in_test"] == sum(h in set(test_h) for h in train_h)
    if protocol == "naslib":  # NASLib's sampler as is
        assert res[0]["test_distinct"] < 20 and res[1]["train_in_test"] > 0
        return
    for r in res:
        assert r["test_distinct"] == 20 and r["train_distinct"] == r["train_size"]
        assert r["train_in_test"] == 0
    all_h = set(seen[1][0]) | set(seen[1][1])
    if protocol == "distinct":  # NASLib's sampler: its cells only
        assert all_h <= set(table.hashes[pool].tolist())
        return
    want = split_uniform(table, 20, 16, seed=5, metric="val")
    assert seen[1] == ([x["hash"] for x in want["train"]], [x["hash"] for x in want["test"]])
    assert seen[0][0] == seen[1][0][:8]  # sizes are prefixes
    assert all(table.has_metric("val", 108)[table.indices(sorted(all_h))])
    line = json.loads((tmp_path / protocol / ev.EVALUATED).read_text().splitlines()[1])
    assert line["data"] == hashlib.sha1(json.dumps(list(seen[1])).encode()).hexdigest()
    assert line["result"]["train_in_test"] == 0
