"""Cell features (naslib_petridish.features) and the boosted calibration
(naslib_petridish.surrogate, ``calibration: boosted``)."""
import numpy as np
import pytest
from scipy.stats import kendalltau

from naslib_petridish import features as F
from naslib_petridish.cells import Cell
from naslib_petridish.config import PetriDishConfig
from naslib_petridish.errors import ConfigError
from naslib_petridish.inner import MotifResult
from naslib_petridish.surrogate import feature_matrix, fit_boosted, predict_boosted

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"

# input -> conv3 -> maxpool -> output, input -> conv1 -> output, input -> output
CELL = Cell([[0, 1, 0, 1, 1],
             [0, 0, 1, 0, 0],
             [0, 0, 0, 0, 1],
             [0, 0, 0, 0, 1],
             [0, 0, 0, 0, 0]], ["input", C3, MP, C1, "output"])


def test_path_encoding_counts_paths_by_operations():
    x, names = F.path_encoding([CELL])
    assert x.shape == (1, 364) and len(names) == 364
    got = {names[i]: x[0, i] for i in np.flatnonzero(x[0])}
    assert got == {"path_skip": 1, "path_conv3x3-maxpool3x3": 1, "path_conv1x1": 1}


def test_encoding_moves_the_output_to_vertex_6():
    x, names = F.encoding([CELL])
    row = dict(zip(names, x[0]))
    assert x.shape == (1, 21 + 15)
    assert row["adj_06"] == 1 and row["adj_04"] == 0  # input -> output
    assert row["adj_26"] == 1 and row["adj_36"] == 1 and row["adj_12"] == 1
    assert row["op1_conv3x3"] == 1 and row["op2_maxpool3x3"] == 1 and row["op3_conv1x1"] == 1
    assert row["op4_conv3x3"] == row["op4_maxpool3x3"] == 0  # padding vertices: no op
    assert sum(x[0, :21]) == CELL.matrix.sum()


def test_free_features_of_a_known_cell():
    x, names = F.free_features([CELL])
    row = dict(zip(names, x[0]))
    assert row["vertices"] == 5 and row["edges"] == 6 and row["depth"] == 2
    assert (row["n_conv3x3"], row["n_conv1x1"], row["n_maxpool"]) == (1, 1, 1)
    assert row["n_paths"] == 3 and row["input_output_edge"] == 1
    assert row["output_in_degree"] == 3 and row["input_out_degree"] == 3
    assert row["maxpool_into_output"] == 1 and row["conv3x3_into_output"] == 0
    assert row["shortest_path"] == 0 and row["paths_without_conv"] == 1
    assert row["longest_path_convs"] == 1 and row["min_convs_on_a_path"] == 0
    assert 4 < row["log10_params"] < 8


def test_dish_features_are_the_learning_curve():
    r = MotifResult(hash="x", losses=[2.3, 2.0, 1.5], accs=[0.1, 0.3, 0.5], max_acc=0.5,
                    score=-1.93, grad=None, train_seconds=0.1)
    x, names = F.dish_features([r])
    row = dict(zip(names, x[0]))
    assert row["dish_loss_e1"] == 2.3 and row["dish_acc_e3"] == 0.5
    assert row["dish_tse"] == pytest.approx(-(2.3 + 2.0 + 1.5) / 3)
    assert row["dish_loss_drop"] == pytest.approx(0.8)


def _accuracy_of(cells):
    """A synthetic target the free features explain: depth and conv3x3 count help."""
    f, names = F.free_features(cells)
    col = {n: f[:, i] for i, n in enumerate(names)}
    return 0.8 + 0.02 * col["depth"] + 0.01 * col["n_conv3x3"] - 0.01 * col["n_maxpool"]


def test_boosted_learns_a_ranking_and_answers_in_accuracy_units(table):
    cells = [table.cell(i) for i in range(300)]
    y = _accuracy_of(cells)
    m = fit_boosted(["free", "path"], cells[:200], y[:200], seed=1)
    p = predict_boosted(m, cells[200:])
    assert kendalltau(p, y[200:]).statistic > 0.7
    assert y[:200].min() <= p.min() and p.max() <= y[:200].max()  # training quantiles
    again = predict_boosted(fit_boosted(["free", "path"], cells[:200], y[:200], seed=1),
                            cells[200:])
    assert np.array_equal(p, again)  # same seed, same model
    # a model that cannot see the features the target uses does worse
    blind = predict_boosted(fit_boosted(["encoding"], cells[:200], y[:200], seed=1),
                            cells[200:])
    assert kendalltau(blind, y[200:]).statistic < kendalltau(p, y[200:]).statistic


def test_boosted_with_too_few_cells_fits_a_params_line(table):
    cells = [table.cell(i) for i in range(5)]
    lp = F.free_features(cells)[0][:, 0]
    m = fit_boosted(["free"], cells, 0.1 * lp + 0.2, seed=0)
    assert m["booster"] is None
    assert np.allclose(predict_boosted(m, cells), 0.1 * lp + 0.2)


def test_boosted_needs_results_for_dish_features(table):
    cells = [table.cell(i) for i in range(3)]
    with pytest.raises(ValueError, match="training results"):
        feature_matrix(["dish"], cells)


@pytest.mark.parametrize("bad", ["dish", [], ["dish", "flops"], None])
def test_calibration_features_are_checked(bad):
    with pytest.raises(ConfigError, match="calibration_features"):
        PetriDishConfig(calibration="boosted", calibration_features=bad)


def test_dish_curve_boosted_predictor_end_to_end(table, tmp_path):
    """fit -> query -> save -> load -> query on a tiny dish: the boosted map is stored
    with the dish and gives the same predictions after loading."""
    from naslib_petridish.config import resolve_config
    from naslib_petridish.predictor import SyntheticPetriDishPredictor

    cfg = resolve_config("dish-curve-boosted", overrides=dict(
        inner_epochs=2, dish_size=40, workers=1))
    assert cfg.calibration == "boosted" and cfg.outer_lr == 0.0
    train, test = [table.cell(i) for i in range(40)], [table.cell(i) for i in range(40, 60)]
    y = np.array([table.query(c).test_accuracy for c in train])
    p = SyntheticPetriDishPredictor(config=cfg, table=table, progress=False)
    p.fit(train, y)
    cal = p.dish.calibration
    assert cal["kind"] == "boosted" and cal["model"]["n"] == 40
    assert any(f.startswith("dish_") for f in cal["model"]["features"])
    q = p.query(test)
    assert q.dtype == np.float64 and len(q) == 20 and np.ptp(q) > 0
    p.save(tmp_path / "d")
    p.close()
    again = SyntheticPetriDishPredictor.load(tmp_path / "d", table=table)
    try:
        assert np.array_equal(again.query(test), q)
    finally:
        again.close()


def test_boosted_does_not_depend_on_the_order_of_the_training_cells(table):
    cells = [table.cell(i) for i in range(120)]
    y = _accuracy_of(cells)
    perm = np.random.default_rng(0).permutation(100)
    a = predict_boosted(fit_boosted(["free"], cells[:100], y[:100], seed=2), cells[100:])
    b = predict_boosted(fit_boosted(["free"], [cells[i] for i in perm], y[:100][perm], seed=2),
                        cells[100:])
    assert np.array_equal(a, b)


def test_cell_features_boosted_trains_no_motif(table):
    from naslib_petridish.predictor import SyntheticPetriDishPredictor

    train, test = [table.cell(i) for i in range(60)], [table.cell(i) for i in range(60, 90)]
    y = np.array([table.query(c).test_accuracy for c in train])
    p = SyntheticPetriDishPredictor(preset="cell-features-boosted", table=table, workers=1,
                                    progress=False, dish_size=40, inner_epochs=1)
    try:
        assert not p.trains_motifs
        p.fit(train, y)
        q = p.query(test)
    finally:
        p.close()
    assert p.last_results is None and p.dish.calibration["model"]["n"] == 60
    assert not any(f.startswith("dish_") for f in p.dish.calibration["model"]["features"])
    yt = np.array([table.query(c).test_accuracy for c in test])
    assert kendalltau(q, yt).statistic > 0.3  # the synthetic accuracies follow log params


def test_graph_networks_learn_a_ranking_and_are_stored_as_plain_lists(table):
    import json

    from naslib_petridish.graph_ranker import fit_graph_ranker, graph_quantiles, graph_scores

    cells = [table.cell(i) for i in range(160)]
    y = _accuracy_of(cells)
    g = fit_graph_ranker(cells[:120], y[:120], members=2, seed=0, epochs=150)
    json.dumps(g)  # the weights go into the dish file and survive JSON
    s = graph_scores(g, cells[120:])
    assert kendalltau(s, y[120:]).statistic > 0.4
    q = graph_quantiles(g, cells[120:])
    assert q.min() >= 0 and q.max() <= 1
    assert np.allclose(graph_quantiles(g, cells[120:121]), q[:1], atol=1e-6)  # batch-free
    again = fit_graph_ranker(cells[:120], y[:120], members=2, seed=0, epochs=150)
    assert np.array_equal(graph_scores(again, cells[120:]), s)  # same seed, same networks


def test_boosted_with_graph_networks_averages_both(table):
    cells = [table.cell(i) for i in range(160)]
    y = _accuracy_of(cells)
    trees = fit_boosted(["free"], cells[:120], y[:120], seed=1)
    both = fit_boosted(["free"], cells[:120], y[:120], seed=1, graph_members=1)
    assert "graph" in both and "graph" not in trees
    assert both["booster"] == trees["booster"]  # the trees are the same
    p, pt = predict_boosted(both, cells[120:]), predict_boosted(trees, cells[120:])
    assert not np.array_equal(p, pt)
    assert kendalltau(p, y[120:]).statistic > 0.5


def test_pretrained_networks_learn_the_teachers_order(table):
    from naslib_petridish.graph_ranker import (fit_graph_ranker, graph_scores,
                                               pretrain_states)

    cells = [table.cell(i) for i in range(400)]
    teacher = _accuracy_of(cells)  # any scores: the students must reproduce their order
    states = pretrain_states(cells[:300], teacher[:300], members=1, seed=0, epochs=20,
                             batch=64)
    # fine-tuning for 0 epochs keeps the pretrained weights: they alone rank unseen cells
    g = fit_graph_ranker(cells[:1], teacher[:1], members=1, seed=0, epochs=0, init=states)
    assert kendalltau(graph_scores(g, cells[300:]), teacher[300:]).statistic > 0.4
    fresh = fit_graph_ranker(cells[:1], teacher[:1], members=1, seed=0, epochs=0)
    assert abs(kendalltau(graph_scores(fresh, cells[300:]), teacher[300:]).statistic) < 0.4
    with pytest.raises(ValueError, match="for 2 members"):
        fit_graph_ranker(cells[:10], teacher[:10], members=2, init=states)


def test_unlabelled_cells_are_distinct_seeded_and_exclude_the_training_cells():
    from naslib_petridish.surrogate import unlabelled_cells

    a = unlabelled_cells(200, set(), seed=3)
    assert len({c.hash for c in a}) == 200
    assert [c.hash for c in unlabelled_cells(200, set(), seed=3)] == [c.hash for c in a]
    assert [c.hash for c in unlabelled_cells(200, set(), seed=4)] != [c.hash for c in a]
    skip = {c.hash for c in a[:50]}
    assert not skip & {c.hash for c in unlabelled_cells(200, skip, seed=3)}


@pytest.mark.parametrize("families", [["free", "path"], ["dish", "free"]])
def test_self_training_replaces_the_graph_networks_and_is_reproducible(table, families):
    cells = [table.cell(i) for i in range(160)]
    y = _accuracy_of(cells)
    res = [MotifResult(hash=c.hash, losses=[2.3 - 0.1 * k - 0.001 * i for k in range(3)],
                       accs=[0.1 * k for k in range(3)], max_acc=0.2, score=0.0, grad=None,
                       train_seconds=0.1) for i, c in enumerate(cells)]
    plain = fit_boosted(families, cells[:120], y[:120], res[:120], seed=1, graph_members=1)
    st = fit_boosted(families, cells[:120], y[:120], res[:120], seed=1, graph_members=1,
                     self_training=300)
    assert st["booster"] == plain["booster"]  # the final trees are the same
    assert st["graph"]["members"] != plain["graph"]["members"]
    info = st["self_training"]
    assert info["unlabelled"] == 300 and info["finetune_epochs"] == st["graph"]["epochs"]
    assert ("trees on free" in info["teacher"]) and "dish" not in info["teacher"]
    p = predict_boosted(st, cells[120:], res[120:])
    assert kendalltau(p, y[120:]).statistic > 0.5
    again = fit_boosted(families, cells[:120], y[:120], res[:120], seed=1, graph_members=1,
                        self_training=300)
    assert np.array_equal(predict_boosted(again, cells[120:], res[120:]), p)


def test_self_training_needs_graph_networks(table):
    cells = [table.cell(i) for i in range(20)]
    with pytest.raises(ConfigError, match="calibration_graph_members"):
        fit_boosted(["free"], cells, _accuracy_of(cells), self_training=100)
    with pytest.raises(ConfigError, match="calibration_graph_members"):
        PetriDishConfig(calibration="boosted", calibration_self_training=100)
    with pytest.raises(ConfigError, match="non-negative integer"):
        PetriDishConfig(calibration="boosted", calibration_graph_members=1,
                        calibration_self_training=-1)
