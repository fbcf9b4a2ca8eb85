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
    for name in ("__init__", "single_evaluate"):
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
