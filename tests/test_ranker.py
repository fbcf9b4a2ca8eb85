"""The ranker (naslib_petridish.ranker): cell features, feature sources, models,
self-training, its predictor (fit / query / save / load) and its presets."""
import json

import numpy as np
import pytest
from scipy.stats import kendalltau

from naslib_petridish.cells import Cell
from naslib_petridish.errors import ConfigError, NotFittedError, OutputExistsError, UsageError
from naslib_petridish.inner import MotifResult
from naslib_petridish.spaces import nb101_features as F
from naslib_petridish.ranker.config import RankerConfig, resolve_ranker_config
from naslib_petridish.ranker.predictor import RankerPredictor
from naslib_petridish.ranker.sources import curve_features
from naslib_petridish.runner import MotifRunner

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
    x, names = curve_features([r])
    row = dict(zip(names, x[0]))
    assert row["dish_loss_e1"] == 2.3 and row["dish_acc_e3"] == 0.5
    assert row["dish_tse"] == pytest.approx(-(2.3 + 2.0 + 1.5) / 3)
    assert row["dish_loss_drop"] == pytest.approx(0.8)


def _accuracy_of(cells):
    """A synthetic target the free features explain: depth and conv3x3 count help."""
    f, names = F.free_features(cells)
    col = {n: f[:, i] for i, n in enumerate(names)}
    return 0.8 + 0.02 * col["depth"] + 0.01 * col["n_conv3x3"] - 0.01 * col["n_maxpool"]


def _curves(cells):
    """Made-up learning curves (by hash) for the ``dish`` source, instead of motifs."""
    return {c.hash: MotifResult(hash=c.hash, losses=[2.3 - 0.1 * k - 0.001 * i for k in range(3)],
                                accs=[0.1 * k for k in range(3)], max_acc=0.2, score=0.0,
                                grad=None, train_seconds=0.1) for i, c in enumerate(cells)}


def ranker(features, models=("trees",), seed=1, curves=None, **kw):
    r = RankerPredictor(config=RankerConfig(features=list(features), models=list(models),
                                            seed=seed, **kw))
    if curves is not None and "dish" in features:
        r.source("dish").preload(curves)
    return r


def fit_query(r, train, y, test):
    r.fit(train, y)
    return r.query(test)


def test_trees_learn_a_ranking_and_answer_in_accuracy_units(table):
    cells = [table.cell(i) for i in range(300)]
    y = _accuracy_of(cells)
    p = fit_query(ranker(["free", "path"]), cells[:200], y[:200], cells[200:])
    assert kendalltau(p, y[200:]).statistic > 0.7
    assert y[:200].min() <= p.min() and p.max() <= y[:200].max()  # training quantiles
    again = fit_query(ranker(["free", "path"]), cells[:200], y[:200], cells[200:])
    assert np.array_equal(p, again)  # same seed, same model
    # a model that cannot see the features the target uses does worse
    blind = fit_query(ranker(["encoding"]), cells[:200], y[:200], cells[200:])
    assert kendalltau(blind, y[200:]).statistic < kendalltau(p, y[200:]).statistic


def test_isomorphs_change_nothing_on_nb101(table):
    """NB101 cells have no copies in the space's tables: ``isomorphs`` is a no-op there."""
    cells = [table.cell(i) for i in range(150)]
    y = _accuracy_of(cells)
    plain = fit_query(ranker(["free", "path"]), cells[:100], y[:100], cells[100:])
    iso = fit_query(ranker(["free", "path"], isomorphs=8), cells[:100], y[:100], cells[100:])
    assert np.array_equal(plain, iso)
    with pytest.raises(ConfigError, match="isomorphs"):
        RankerConfig(isomorphs=-1)


def test_self_trained_isomorphs_preset_is_the_measured_variant():
    """NB201.md measures ``cell-features-self-trained-isomorphs`` under the name of the
    self-trained preset with ``isomorphs=8, isomorphs_graph=1``: they must stay one config."""
    from naslib_petridish.ranker.config import resolve_ranker_config as resolve

    a = resolve("cell-features-self-trained-isomorphs").to_dict()
    b = resolve("cell-features-self-trained", overrides=["isomorphs=8",
                                                         "isomorphs_graph=1"]).to_dict()
    a.pop("preset"), b.pop("preset")
    assert a == b


def test_too_few_cells_fit_a_params_line(table):
    cells = [table.cell(i) for i in range(5)]
    lp = F.free_features(cells)[0][:, 0]
    r = ranker(["free"])
    r.fit(cells, 0.1 * lp + 0.2)
    assert "fallback" in r.fitted and "line" in r.describe()
    assert np.allclose(r.query(cells), 0.1 * lp + 0.2)


def test_ranker_config_is_checked():
    for bad in ("dish", [], ["dish", "flops"], None):
        with pytest.raises(ConfigError, match="'features'"):
            RankerConfig(features=bad)
    with pytest.raises(ConfigError, match="'models'"):
        RankerConfig(models=["forest"])
    with pytest.raises(ConfigError, match="graph_members"):
        RankerConfig(models=["graph"], graph_members=0)
    with pytest.raises(ConfigError, match="add 'graph'"):
        RankerConfig(models=["trees"], self_training=100)
    with pytest.raises(ConfigError, match="non-negative integer"):
        RankerConfig(self_training=-1)
    with pytest.raises(ConfigError, match="'dish' section: .*inner_epochs"):
        RankerConfig(features=["dish"], dish={"inner_epochs": 0})
    with pytest.raises(ConfigError, match="may not set"):
        RankerConfig(features=["dish"], dish={"seed": 3})
    with pytest.raises(ConfigError, match="unknown ranker config field"):
        RankerConfig.from_dict({"calibration": "boosted"})


def test_dish_curve_ranker_end_to_end(table, tmp_path):
    """fit -> query -> save -> load -> query with real motifs on a tiny untrained dish:
    one motif per distinct cell, the same predictions after loading."""
    cfg = resolve_ranker_config("dish-curve-boosted", overrides=dict(
        dish={"inner_epochs": 2, "dish_size": 40}, workers=1, graph_members=1))
    train, test = [table.cell(i) for i in range(40)], [table.cell(i) for i in range(40, 60)]
    y = np.array([table.query(c).test_accuracy for c in train])
    p = RankerPredictor(config=cfg, table=table)
    started = MotifRunner.motifs_started
    p.fit(train + train[:5], np.concatenate([y, y[:5]]))  # repeated cells train once
    assert MotifRunner.motifs_started - started == 40 == p.motifs_trained
    assert p.fitted["n"] == 40 and any(f.startswith("dish_") for f in p.fitted["features"])
    q = p.query(test)
    assert MotifRunner.motifs_started - started == 60
    assert len(p.last_results) == 20 and p.last_results[0].hash == test[0].hash
    assert q.dtype == np.float64 and len(q) == 20 and np.ptp(q) > 0
    p.save(tmp_path / "d")
    with pytest.raises(OutputExistsError):
        p.save(tmp_path / "d")
    p.close()
    again = RankerPredictor.load(tmp_path / "d", table=table)
    try:
        assert np.array_equal(again.query(test), q)
    finally:
        again.close()


def test_cell_features_boosted_trains_no_motif(table, tmp_path):
    train, test = [table.cell(i) for i in range(60)], [table.cell(i) for i in range(60, 90)]
    y = np.array([table.query(c).test_accuracy for c in train])
    started = MotifRunner.motifs_started
    p = RankerPredictor(preset="cell-features-boosted", table=table, graph_members=1,
                        out_dir=tmp_path / "run")
    assert not p.trains_motifs
    p.fit(train, y)
    q = p.query(test)
    assert MotifRunner.motifs_started == started  # no motif, not even for a log
    assert p.motifs_trained == 0 and p.last_results is None and p.fitted["n"] == 60
    assert not any(f.startswith("dish_") for f in p.fitted["features"])
    yt = np.array([table.query(c).test_accuracy for c in test])
    assert kendalltau(q, yt).statistic > 0.3  # the synthetic accuracies follow log params
    # a finished fit is reused, refused with other settings, replaced only with force
    files = {f.name for f in (tmp_path / "run").iterdir()}
    assert files >= {"ranker.json", "config.yaml", "train_set.json"}
    again = RankerPredictor(preset="cell-features-boosted", table=table, graph_members=1,
                            out_dir=tmp_path / "run", resume=True)
    again.fit(train, y)
    assert again.fit_start == "reused" and np.array_equal(again.query(test), q)
    with pytest.raises(OutputExistsError):
        RankerPredictor(preset="cell-features-boosted", graph_members=1,
                        out_dir=tmp_path / "run").fit(train, y)
    with pytest.raises(Exception, match="other settings"):
        RankerPredictor(preset="cell-features-boosted", graph_members=2,
                        out_dir=tmp_path / "run", resume=True).fit(train, y)


def test_predictions_do_not_depend_on_the_order_of_the_training_cells(table):
    cells = [table.cell(i) for i in range(120)]
    y = _accuracy_of(cells)
    perm = np.random.default_rng(0).permutation(100)
    a = fit_query(ranker(["free"], seed=2), cells[:100], y[:100], cells[100:])
    b = fit_query(ranker(["free"], seed=2), [cells[i] for i in perm], y[:100][perm],
                  cells[100:])
    assert np.array_equal(a, b)


def test_graph_networks_learn_a_ranking_and_are_stored_as_plain_lists(table):
    from naslib_petridish.ranker.graph import fit_graph_ranker, graph_quantiles, graph_scores

    cells = [table.cell(i) for i in range(160)]
    y = _accuracy_of(cells)
    g = fit_graph_ranker(cells[:120], y[:120], members=2, seed=0, epochs=150)
    json.dumps(g)  # the weights go into ranker.json and survive JSON
    s = graph_scores(g, cells[120:])
    assert kendalltau(s, y[120:]).statistic > 0.4
    q = graph_quantiles(g, cells[120:])
    assert q.min() >= 0 and q.max() <= 1
    assert np.allclose(graph_quantiles(g, cells[120:121]), q[:1], atol=1e-6)  # batch-free
    again = fit_graph_ranker(cells[:120], y[:120], members=2, seed=0, epochs=150)
    assert np.array_equal(graph_scores(again, cells[120:]), s)  # same seed, same networks


def test_trees_and_graph_networks_average_their_ranks(table):
    cells = [table.cell(i) for i in range(160)]
    y = _accuracy_of(cells)
    trees = ranker(["free"])
    both = ranker(["free"], models=["trees", "graph"], graph_members=1)
    pt, p = fit_query(trees, cells[:120], y[:120], cells[120:]), \
        fit_query(both, cells[:120], y[:120], cells[120:])
    assert both.model("trees").booster == trees.model("trees").booster  # the same trees
    assert not np.array_equal(p, pt)
    assert kendalltau(p, y[120:]).statistic > 0.5
    q = np.asarray(both.fitted["quantiles"])
    r = 0.5 * (both.model("trees").rank(cells[120:], F.free_features(cells[120:])[0])
               + both.model("graph").rank(cells[120:], None))
    assert np.array_equal(p, np.interp(r, np.linspace(0, 1, len(q)), q))
    with pytest.raises(UsageError, match="no fitted 'graph'"):
        trees.model("graph")


def test_pretrained_networks_learn_the_teachers_order(table):
    from naslib_petridish.ranker.graph import fit_graph_ranker, graph_scores, pretrain_states

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
    from naslib_petridish.ranker.self_training import unlabelled_cells

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
    cur = _curves(cells)
    kw = dict(models=["trees", "graph"], graph_members=1, curves=cur)
    plain, st = ranker(families, **kw), ranker(families, self_training=300, **kw)
    plain.fit(cells[:120], y[:120])
    p = fit_query(st, cells[:120], y[:120], cells[120:])
    assert st.model("trees").booster == plain.model("trees").booster  # the same final trees
    assert st.model("graph").model["members"] != plain.model("graph").model["members"]
    info = st.fitted["self_training"]
    assert info["unlabelled"] == 300 and info["finetune_epochs"] == \
        st.model("graph").model["epochs"]
    assert ("trees on free" in info["teacher"]) and "dish" not in info["teacher"]
    assert kendalltau(p, y[120:]).statistic > 0.5
    again = fit_query(ranker(families, self_training=300, **kw), cells[:120], y[:120],
                      cells[120:])
    assert np.array_equal(again, p)


def test_co_training_refits_the_trees_each_round_and_keeps_round_one_as_before(table):
    cells = [table.cell(i) for i in range(160)]
    y = _accuracy_of(cells)
    kw = dict(models=["trees", "graph"], graph_members=1, self_training=300)
    one = ranker(["free", "path"], **kw)
    p1 = fit_query(one, cells[:120], y[:120], cells[120:])
    # rounds and co-trained trees: the trees change, the round is recorded, same seed same model
    co = ranker(["free", "path"], self_training_rounds=2, self_training_trees=0.5, **kw)
    p2 = fit_query(co, cells[:120], y[:120], cells[120:])
    info = co.fitted["self_training"]
    assert info["rounds"] == 2 and info["tree_weight"] == 0.5
    assert co.model("trees").booster != one.model("trees").booster
    assert co.model("graph").model["members"] != one.model("graph").model["members"]
    assert kendalltau(p2, y[120:]).statistic > 0.5 and not np.array_equal(p1, p2)
    again = ranker(["free", "path"], self_training_rounds=2, self_training_trees=0.5, **kw)
    assert np.array_equal(fit_query(again, cells[:120], y[:120], cells[120:]), p2)
    # a co-trained ranker saves and loads to the same predictions
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        co.save(d)
        assert np.array_equal(RankerPredictor.load(d).query(cells[120:]), p2)


def test_model_weights_weigh_the_models_ranks(table):
    cells = [table.cell(i) for i in range(160)]
    y = _accuracy_of(cells)
    alone = fit_query(ranker(["free", "path"]), cells[:120], y[:120], cells[120:])
    kw = dict(models=["trees", "graph"], graph_members=1)
    equal = fit_query(ranker(["free", "path"], **kw), cells[:120], y[:120], cells[120:])
    # a graph network that weighs almost nothing leaves the trees' order
    light = fit_query(ranker(["free", "path"], model_weights={"graph": 1e-6}, **kw),
                      cells[:120], y[:120], cells[120:])
    assert kendalltau(light, alone).statistic > 0.99
    assert kendalltau(equal, alone).statistic < kendalltau(light, alone).statistic
    for bad in ({"forest": 1}, {"graph": 0}, {"graph": "2"}, [1, 2]):
        with pytest.raises(ConfigError, match="'model_weights' must map models of 'models'"):
            RankerConfig(models=["trees", "graph"], model_weights=bad)


def test_graph_layers_set_the_depth_of_every_graph_network(table, tmp_path):
    cells = [table.cell(i) for i in range(100)]
    y = _accuracy_of(cells)
    r = ranker(["free"], models=["graph"], graph_members=1, graph_layers=5, self_training=200)
    p = fit_query(r, cells[:70], y[:70], cells[70:])
    model = r.model("graph").model
    assert model["layers"] == 5  # the self-trained students too
    assert sum(k.startswith("layers.") and k.endswith(".0.weight")
               for k in model["members"][0]) == 5
    r.save(tmp_path)
    assert np.array_equal(RankerPredictor.load(tmp_path).query(cells[70:]), p)
    with pytest.raises(ConfigError, match="'graph_layers' must be a positive integer"):
        RankerConfig(graph_layers=0)


def test_path_mask_blocks_exactly_the_pairs_on_no_common_path():
    import torch
    from naslib_petridish.ranker.graph import graph_tensors, path_mask

    a, _ = graph_tensors([CELL])
    m = path_mask(a)[0].numpy()
    # CELL padded to 7 vertices, output moved to vertex 6: 0 input, 1 conv3, 2 maxpool,
    # 3 conv1, 4-5 padding; paths 0-1-2-6, 0-3-6, 0-6
    real = [0, 1, 2, 3, 6]
    assert not m[0, real].any() and not m[6, real].any()  # input, output: a path with all
    assert m[1, 3] and m[3, 1] and m[2, 3]  # the two branches do not
    assert not m[1, 2] and not m[2, 1]
    assert m[4, 0] and not m[4, 4]  # padding: itself only
    assert torch.equal(path_mask(a), path_mask(a).transpose(1, 2))


def test_graph_attention_networks_train_save_and_load(table, tmp_path):
    cells = [table.cell(i) for i in range(100)]
    y = _accuracy_of(cells)
    r = ranker(["free"], models=["graph"], graph_members=1, graph_layers=2,
               graph_attention=True, self_training=200)
    p = fit_query(r, cells[:70], y[:70], cells[70:])
    model = r.model("graph").model
    assert model["attention"] is True  # the self-trained students too
    assert sum(k.startswith("att.") and k.endswith("in_proj_weight")
               for k in model["members"][0]) == 2
    assert kendalltau(p, y[70:]).statistic > 0.3
    r.save(tmp_path)
    assert np.array_equal(RankerPredictor.load(tmp_path).query(cells[70:]), p)
    again = ranker(["free"], models=["graph"], graph_members=1, graph_layers=2,
                   graph_attention=True, self_training=200)
    assert np.array_equal(fit_query(again, cells[:70], y[:70], cells[70:]), p)
    plain = ranker(["free"], models=["graph"], graph_members=1, graph_layers=2,
                   self_training=200)
    assert not np.array_equal(fit_query(plain, cells[:70], y[:70], cells[70:]), p)
    with pytest.raises(ConfigError, match="'graph_attention' must be true or false"):
        RankerConfig(graph_attention="yes")


def test_co_training_needs_trees_self_training_and_no_motif_features():
    with pytest.raises(ConfigError, match="'self_training_rounds' must be a positive"):
        RankerConfig(self_training=100, self_training_rounds=0)
    with pytest.raises(ConfigError, match="'self_training_trees' must be a non-negative"):
        RankerConfig(self_training=100, self_training_trees=-1)
    with pytest.raises(ConfigError, match="needs 'trees' in 'models' and 'self_training'"):
        RankerConfig(self_training_trees=0.5)
    with pytest.raises(ConfigError, match="drop 'dish'"):
        RankerConfig(features=["dish", "free"], self_training=100, self_training_trees=0.5)


def test_a_registered_source_and_model_are_usable_by_name(table):
    from naslib_petridish.ranker.models import MODELS, RankModel, register_model
    from naslib_petridish.ranker.sources import SOURCES, FeatureSource, register_source

    @register_source
    class Vertices(FeatureSource):
        name = "test-vertices"

        def columns(self, cells):
            return np.array([[len(c.ops)] for c in cells], float), ["vertices"]

    @register_model
    class MoreVerticesBetter(RankModel):
        name = "test-more-vertices"

        def fit(self, cells, X, names, y, seed):
            self.ref = np.sort(X[:, 0]).tolist()

        def rank(self, cells, X):
            return np.interp(X[:, 0], self.ref, np.linspace(0, 1, len(self.ref)))

    try:
        cells = [table.cell(i) for i in range(50)]
        r = ranker(["test-vertices"], models=["test-more-vertices"])
        q = fit_query(r, cells[:40], _accuracy_of(cells[:40]), cells[40:])
        v = np.array([len(c.ops) for c in cells[40:]])
        assert kendalltau(q, v).statistic > 0.9  # the prediction follows the vertex count
        again = RankerPredictor()
        again.config = r.config
        again._restore(json.loads(json.dumps(r._payload())))
        assert np.array_equal(again.query(cells[40:]), q)
    finally:
        SOURCES.pop("test-vertices")
        MODELS.pop("test-more-vertices")


def test_query_before_fit_and_bad_inputs_are_one_line_errors(table):
    r = ranker(["free"])
    with pytest.raises(NotFittedError, match="call fit"):
        r.query([CELL])
    with pytest.raises(UsageError, match="2 architectures but 1 accuracies"):
        r.fit([CELL, CELL], [0.9])
    with pytest.raises(UsageError, match="no 'dish' source"):
        r.source("dish")
    with pytest.raises(Exception, match="ranker file not found"):
        RankerPredictor.load("/nonexistent/dir")


def test_the_readme_example_of_a_new_source_and_model_runs(table):
    """The ten-line example of docs/ranker.md (moved there from README.md), as written."""
    import re
    from pathlib import Path

    from naslib_petridish.ranker.models import MODELS
    from naslib_petridish.ranker.sources import SOURCES

    page = (Path(__file__).resolve().parents[1] / "docs" / "ranker.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", page, re.S)
                 if "register_source" in b)
    ns: dict = {}
    try:
        exec(block, ns)
        pred = ns["pred"]
        cells = [table.cell(i) for i in range(80)]
        y = _accuracy_of(cells)
        q = fit_query(pred, cells[:60], y[:60], cells[60:])
        assert kendalltau(q, y[60:]).statistic > 0.5
        assert [m.name for m in pred._models] == ["ridge", "trees"]
    finally:
        SOURCES.pop("vertices", None)
        MODELS.pop("ridge", None)


def test_warm_start_continues_the_last_fit_and_leaves_the_first_fit_as_cold(table):
    """warm_start (search: a refit per round on a grown training set): the first fit is the
    cold fit; a refit continues the graph networks and the self-training students from the
    last fit's weights with fewer epochs, on the first fit's unlabelled cells less the
    cells trained on since; without warm_start a refit is a fresh cold fit."""
    from naslib_petridish.ranker import graph as G

    cells = [table.cell(i) for i in range(200)]
    y = _accuracy_of(cells)
    kw = dict(preset="cell-features-self-trained", table=table, self_training=150,
              graph_members=1)
    cold, warm = RankerPredictor(**kw), RankerPredictor(warm_start=True, **kw)
    assert np.array_equal(fit_query(cold, cells[:60], y[:60], cells[150:]),
                          fit_query(warm, cells[:60], y[:60], cells[150:]))
    assert warm.fitted["warm_start"] is False
    pool = [c.hash for c in warm._warm["pool"]]
    first = warm._warm["graph"]
    p = fit_query(warm, cells[:90], y[:90], cells[150:])
    info = warm.fitted["self_training"]
    assert warm.fitted["warm_start"] is True and info["warm_start"] is True
    assert info["pretrain_epochs"] == G.WARM_PRETRAIN_EPOCHS < G.PRETRAIN_EPOCHS
    assert warm._warm["graph"] != first  # the continued networks are the next start
    # the same unlabelled cells, less those now in the training set
    trained = {c.key for c in cells[:90]}
    assert [c.hash for c in warm._warm["pool"]] == pool
    assert info["unlabelled_used"] == 150 - sum(h in trained for h in
                                                [c.key for c in warm._warm["pool"]])
    assert kendalltau(p, y[150:]).statistic > 0.4
    # a cold refit on the grown set differs from the warm one and equals a fresh fit
    again = fit_query(cold, cells[:90], y[:90], cells[150:])
    assert not np.array_equal(again, p)
    fresh = fit_query(RankerPredictor(**kw), cells[:90], y[:90], cells[150:])
    assert np.array_equal(again, fresh)
    with pytest.raises(ConfigError, match="'warm_start' must be true or false"):
        RankerConfig(warm_start="yes")


def test_free_feature_rows_are_computed_once_and_equal_a_fresh_computation(table):
    from naslib_petridish.ranker.sources import SOURCES

    src = SOURCES["free"](RankerConfig())
    cells = [table.cell(i) for i in range(60)]
    ref, names = src._compute(cells)
    a, n1 = src.columns(cells[:20])
    b, n2 = src.columns(cells[::-1])  # 40 new rows, 20 looked up, in the order asked
    assert n1 == n2 == names and np.array_equal(a, ref[:20])
    assert np.array_equal(b, ref[::-1]) and len(src._index) == 60
    src.CACHE_ROWS = 60  # full: a new cell is computed, not kept
    c, _ = src.columns([table.cell(100), cells[5]])
    assert np.array_equal(c, np.vstack([src._compute([table.cell(100)])[0], ref[5:6]]))
    assert len(src._index) == 60
