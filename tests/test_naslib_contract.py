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
