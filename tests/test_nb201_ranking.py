"""benchmarks/nb201_ranking.py's ceiling: what a predictor of the validation accuracy can
reach, on a synthetic NB201 table whose answers are known by construction."""
from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau

from benchmarks.nb201_ranking import ceiling_of
from naslib_petridish.spaces.nb201.cell import OPS
from naslib_petridish.spaces.nb201.table import NB201File
from tests.nb201_helpers import synthetic_nb201


def _function_noise_table(n: int = 3000) -> NB201File:
    """Every cell's accuracy = its function's value (shared by isomorphic copies: mostly its
    convolutions, learnable) plus independent noise, large in the validation accuracy, small
    in the test accuracy."""
    a = synthetic_nb201(datasets=("cifar10",), n=n).arrays()
    _, inv = np.unique(a["unique"], return_inverse=True)
    rng = np.random.default_rng(1)
    conv = np.isin(a["ops"], [OPS.index("nor_conv_1x1"), OPS.index("nor_conv_3x3")]).sum(1)
    per_function = np.bincount(inv, conv) / np.bincount(inv)  # learnable from the cell
    g = (0.4 + 0.08 * per_function + rng.normal(0, 0.02, inv.max() + 1))[inv]
    shape = a["val_acc"].shape
    a["val_acc"] = np.clip(g[:, None, None] + rng.normal(0, 0.05, shape), 0, 1).astype(np.float32)
    a["test_acc"] = np.clip(g[:, None, None] + rng.normal(0, 0.005, shape), 0, 1).astype(np.float32)
    return NB201File(a, source="<function + noise>")


def test_ceiling_rows_mean_what_they_say():
    t = _function_noise_table().dataset("cifar10")
    r = ceiling_of(t, trial=0)
    val, test = t.metric(np.arange(len(t)), "val"), t.metric(np.arange(len(t)), "test")
    assert r["val"] == kendalltau(val, test).statistic
    assert r["cells"] == len(t) and r["trees_cv_train_cells"] == 2400
    _, count = np.unique(np.asarray(t.keys), return_counts=True)
    assert r["functions"] == len(count) and r["cells_with_copies"] == int(count[count > 1].sum())
    # averaging the validation noise over copies helps; the test accuracy, less noisy,
    # predicts itself across copies better than the validation accuracy does
    assert r["function_mean_val"] > r["val"] + 0.01
    assert r["copies_test"] > r["copies_val"] + 0.05
    # the trees see only other functions' cells: well above chance, below the noise ceiling
    assert 0.2 < r["trees_cv"] < r["copies_test"]


def test_ceiling_folds_vary_with_the_trial_only():
    t = synthetic_nb201(datasets=("cifar10",), n=1500).dataset("cifar10")
    a, b, c = ceiling_of(t, 0), ceiling_of(t, 0), ceiling_of(t, 1)
    assert a == {**b, "trees_cv_seconds": a["trees_cv_seconds"]}
    assert a["trees_cv"] != c["trees_cv"] and a["val"] == c["val"]
