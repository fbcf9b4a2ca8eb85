"""No impossible accuracy is accepted: training targets and ground-truth files."""
import logging

import numpy as np
import pytest

from naslib_petridish.contract import training_targets
from naslib_petridish.errors import GroundTruthError, InvalidAccuracyError
from naslib_petridish.ranker.predictor import RankerPredictor, distinct_cells

from .nb201_helpers import synthetic_nb201


@pytest.mark.parametrize("y, first, why", [
    ([0.9, float("inf"), 0.8], 1, "not a number"),
    ([0.9, float("nan"), 0.8], 1, "not a number"),
    ([0.9, -0.2, 0.8], 1, "negative"),
    ([90, 150, 80], 1, "above 100"),
    ([0.9, 0.91, 93.5, 0.88], 2, "mixed scales"),
])
def test_impossible_training_accuracies_are_refused_naming_the_first(y, first, why):
    with pytest.raises(InvalidAccuracyError, match=why) as e:
        training_targets(y, len(y))
    assert f"#{first} " in str(e.value) and "\n" not in str(e.value)


def test_percent_sets_with_chance_level_cells_and_fractions_pass():
    # CIFAR-100 at chance is 1.0 %, ImageNet16-120 0.83 %: a percent set may hold them
    y = training_targets([73.5, 1.0, 0.83, 70.1, 68.2], 5)
    assert y.dtype == np.float64 and y[1] == 1.0
    assert training_targets([0.9, 0.0, 1.0], 3).tolist() == [0.9, 0.0, 1.0]


def test_the_ranker_refuses_them_and_averages_repeated_cells(table, caplog):
    cells = table.cells(range(40))
    y = table.metric(np.arange(40), "test")
    r = RankerPredictor(preset="cell-features-boosted", table=table, graph_members=1)
    with pytest.raises(InvalidAccuracyError, match="#3 "):
        r.fit(cells, np.r_[y[:3], np.inf, y[4:]])
    with pytest.raises(InvalidAccuracyError, match="mixed scales"):
        r.fit(cells, np.r_[y[:39], 93.0])
    # one cell six times: counted once; same accuracy -> exactly that value, silently
    dup_cells, dup_y = distinct_cells(cells[:5] + [cells[0]] * 5, np.r_[y[:5], [y[0]] * 5])
    assert len(dup_cells) == 5 and dup_y[[c.hash for c in dup_cells].index(cells[0].hash)] \
        == y[0]
    with caplog.at_level(logging.WARNING, logger="naslib_petridish"):
        _, dy = distinct_cells([cells[0], cells[0]], np.array([0.5, 0.7]))
    assert dy.tolist() == [pytest.approx(0.6)] and "mean of its accuracies" in caplog.text


def test_ground_truth_files_must_hold_fractions():
    f = synthetic_nb201(datasets=("cifar10",), n=50)
    arrays = f.arrays()
    arrays["test_acc"] = arrays["test_acc"] * 100
    from naslib_petridish.spaces.nb201.table import NB201File
    with pytest.raises(GroundTruthError, match="not a fraction"):
        NB201File(arrays, source="x")
