"""NAS-Bench-201 as a search space: cells, canonical form, table, features, ranker, commands."""
import json
from pathlib import Path

import numpy as np
import pytest

from naslib_petridish.cli import main
from naslib_petridish.errors import ConfigError, GroundTruthError, InvalidCellError, UsageError
from naslib_petridish.spaces import as_cells, get_space, infer_space, open_table, space_of
from naslib_petridish.spaces.nb201 import cell as C
from naslib_petridish.spaces.nb201.features import free_features, graph, path_encoding
from naslib_petridish.spaces.nb201.table import NB201File

from .nb201_helpers import synthetic_nb201

SHARED = Path(__file__).resolve().parents[2] / "shared/data/nb201/nb201_table.npz"
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" \
       "skip_connect~2|"


@pytest.fixture(scope="module")
def nb201_file():
    return synthetic_nb201()


@pytest.fixture(scope="module")
def nb201_path(tmp_path_factory, nb201_file):
    p = tmp_path_factory.mktemp("nb201") / "nb201_table.npz"
    nb201_file.save(p)
    return str(p)


@pytest.fixture(scope="module")
def imagenet_only_path(tmp_path_factory):
    """A table whose only data set is not in ../shared (the checks of other data sets)."""
    p = tmp_path_factory.mktemp("nb201in") / "nb201_in.npz"
    synthetic_nb201(datasets=("ImageNet16-120",), seed=3).save(p)
    return str(p)


# -- the cell ------------------------------------------------------------------------------
def test_cell_forms_round_trip():
    c = C.as_cell(ARCH)
    assert c.arch == ARCH and c.ops[0] == "nor_conv_3x3" and c.edge(2, 3) == "skip_connect"
    # NASLib's conversions.convert_str_to_op_indices(ARCH): its op order, its edge order
    assert c.naslib_tuple() == (2, 2, 0, 4, 2, 0)
    assert C.as_cell(c.naslib_tuple()) == c and C.as_cell(c.naslib_tuple()).arch == ARCH
    assert C.as_cell({"arch": ARCH}).arch == ARCH and C.as_cell({"ops": list(c.ops)}).arch == ARCH

    class NASLibGraph:  # NASLib's NB201 graph answers get_op_indices()
        def get_op_indices(self):
            return list(c.naslib_tuple())

    assert C.as_cell(NASLibGraph()).arch == ARCH
    assert C.NASLIB_OPS != C.OPS  # NASLib's index order is not the official one
    assert c.space == "nb201" and space_of([c]).name == "nb201"


@pytest.mark.parametrize("bad, why", [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", "node groups"),
    ("|conv~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|", "unknown op"),
    ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "should read"),
    ("nor_conv_3x3~0+x+y", "not enclosed"),
])
def test_malformed_architecture_strings_are_one_line_errors(bad, why):
    with pytest.raises(InvalidCellError, match=why) as e:
        C.as_cell(bad)
    assert "\n" not in str(e.value) and "expected '|op~0|+" in str(e.value)


def test_index_needs_the_table(nb201_file):
    with pytest.raises(InvalidCellError, match="needs the NB201 table"):
        C.as_cell(5)
    t = nb201_file.dataset("cifar10")
    assert C.as_cell(5, t).arch == t.hashes[5]


def test_canonical_form_merges_isomorphic_cells():
    cells = C.all_cells()
    assert len(cells) == 15625 and len({c.key for c in cells}) == 6466
    a = C.Cell(["nor_conv_3x3", "none", "none", "none", "skip_connect", "none"])
    b = C.Cell(["nor_conv_3x3", "nor_conv_1x1", "none", "none", "skip_connect", "none"])
    assert a == b and a.hash != b.hash  # 0->2 feeds a node that reaches nothing... via none
    zero = C.Cell(["nor_conv_3x3"] * 3 + ["none"] * 3)
    assert zero.key == "#+#+#" and not zero.active_edges()


def test_copies_are_every_cell_of_the_function_the_cell_first():
    cells = C.all_cells()
    groups = {}
    for c in cells:
        groups.setdefault(c.key, []).append(c.hash)
    sp = get_space("nb201")
    for c in cells[::97]:
        cp = sp.copies(c)
        assert cp[0].hash == c.hash and {x.key for x in cp} == {c.key}
        assert sorted(x.hash for x in cp) == sorted(groups[c.key])
    assert max(len(g) for g in groups.values()) == 275
    assert sum(len(g) > 1 for g in groups.values()) == 1350
    nb101 = get_space("nb101")
    one = nb101.random_cell(0)
    assert nb101.copies(one) == [one]  # NB101's tables hold one cell per function


def test_isomorphs_fit_on_copies_and_score_a_function_once(nb201_file):
    """With ``isomorphs: k`` the fit sees each training cell's copies (no new label) and
    every copy of a function of at most k cells gets the same prediction; without it the
    copies' raw encodings differ and so do their predictions."""
    from naslib_petridish.ranker.predictor import RankerPredictor

    t = nb201_file.dataset("cifar10")
    tr = t.sample(60, 0, metric="val")
    sp = get_space("nb201")
    small = [c for c in C.all_cells()[::7] if 2 <= len(sp.copies(c)) <= 4][:40]
    group = [x for c in small for x in sp.copies(c)]
    fits = {}
    for k in (0, 4):
        r = RankerPredictor(preset="cell-features-trees", table=t, seed=0, isomorphs=k)
        r.fit(t.cells(tr), t.metric(tr, "val"))
        fits[k] = r
        p = r.query(group)
        by_key = {}
        for c, v in zip(group, p):
            by_key.setdefault(c.key, set()).add(round(float(v), 12))
        spread = sum(len(v) > 1 for v in by_key.values())
        assert (spread == 0) if k else (spread > 10)
    n_copies = sum(min(4, len(sp.copies(c))) for c in t.cells(tr))
    assert fits[4].fitted["isomorph_cells"] == n_copies > 60
    assert fits[4].fitted["n"] == 60 and len(fits[4].fitted["quantiles"]) == 60
    assert "isomorph_cells" not in fits[0].fitted


def test_isomorphs_graph_trains_the_networks_on_fewer_copies(nb201_file):
    """``isomorphs_graph: 1``: the trees fit every copy, the graph networks (and the
    self-training students' fine-tuning) only the training cells themselves, and every
    model is still scored over the copies (a function's copies predict alike)."""
    from naslib_petridish.ranker.predictor import RankerPredictor

    t = nb201_file.dataset("cifar10")
    tr = t.sample(40, 1, metric="val")
    sp = get_space("nb201")
    group = [x for c in C.all_cells()[::11] if 2 <= len(sp.copies(c)) <= 4
             for x in sp.copies(c)][:60]
    base = dict(table=t, seed=0, features=["free"], models=["trees", "graph"],
                graph_members=1, isomorphs=4)
    seen = {}
    for kg, st in ((0, 0), (1, 0), (1, 300)):
        r = RankerPredictor(isomorphs_graph=kg, self_training=st, **base)
        r.fit(t.cells(tr), t.metric(tr, "val"))
        graph = next(m for m in r._models if m.name == "graph")
        seen[kg, st] = len(graph.model["train_scores"])
        p = r.query(group)
        by_key = {}
        for c, v in zip(group, p):
            by_key.setdefault(c.key, set()).add(round(float(v), 12))
        assert all(len(v) == 1 for v in by_key.values())
    n_copies = sum(min(4, len(sp.copies(c))) for c in t.cells(tr))
    assert seen == {(0, 0): n_copies, (1, 0): 40, (1, 300): 40} and n_copies > 40
    assert r.fitted["isomorph_graph_cells"] == 40 and r.fitted["isomorph_cells"] == n_copies
    with pytest.raises(ConfigError, match="isomorphs_graph"):
        RankerPredictor(isomorphs_graph=-1, table=t)


@pytest.mark.skipif(not SHARED.exists(), reason="../shared NB201 table not present")
def test_canonical_form_matches_nats_bench_on_every_cell():
    z = dict(np.load(SHARED))
    for i in range(len(z["arch"])):
        c = C.as_cell(str(z["arch"][i]))
        assert c.key == z["unique"][i] and c.codes == tuple(z["ops"][i])


def test_sampling_mutation_neighbours():
    rng = np.random.default_rng(0)
    c = C.random_cell(rng)
    nb = C.neighbours(c)
    assert len(nb) == 24 and len({n.arch for n in nb}) == 24 and c.arch not in {n.arch for n in nb}
    for _ in range(20):
        m = C.mutate(c, rng)
        assert sum(a != b for a, b in zip(m.ops, c.ops)) == 1
    sp = get_space("nb201")
    assert sp.random_cell(np.random.default_rng(1)).arch == C.random_cell(1).arch


# -- the table -----------------------------------------------------------------------------
def test_table_by_data_set_name(nb201_path, imagenet_only_path):
    f = NB201File.load(nb201_path)
    assert f.datasets == ["cifar10", "cifar100"]
    t = f.dataset("cifar100")
    assert len(t) == 15625 and t.space == "nb201" and t.dataset == "cifar100"
    i = 17
    assert t.metric(i, "val") == pytest.approx(float(f.val_acc[i, 1, 1]))
    assert t.metric(i, "test", 12) == pytest.approx(float(f.test_acc[i, 0, 1]))
    assert t.index(t.hashes[i]) == i and t.cell(i).arch == t.hashes[i]
    with pytest.raises(UsageError, match="not in .*: it has cifar10, cifar100"):
        f.dataset("ImageNet16-120")
    with pytest.raises(GroundTruthError, match="one of \\(12, 200\\)"):
        t.metric(i, "val", 108)
    g = open_table(nb201=imagenet_only_path)
    assert g.dataset == "ImageNet16-120" and g.num_classes == 120
    assert infer_space(imagenet_only_path) == "nb201"


def test_sample_is_distinct_by_function_and_disjoint(nb201_file):
    t = nb201_file.dataset("cifar10")
    train = t.sample(300, 0, metric="val")
    test = t.sample(1000, 1, metric="val", exclude=train)
    keys_tr, keys_te = set(t.keys[train]), set(t.keys[test])
    assert len(keys_tr) == 300 and len(keys_te) == 1000 and not keys_tr & keys_te
    with pytest.raises(GroundTruthError, match="only 6466 distinct"):
        t.sample(7000, 0)


def test_params_match_nb201s_published_counts(nb201_file):
    t = nb201_file.dataset("cifar10")
    assert t.params.min() == 73306 and t.params.max() == 1531546  # 0.073306 / 1.531546 MB
    assert nb201_file.dataset("cifar100").params.min() == 79156


# -- features and graph form --------------------------------------------------------------
def test_features_and_graph_form():
    cells = [C.as_cell(ARCH), C.Cell(["none"] * 6)]
    X, names = free_features(cells)
    assert X.shape == (2, len(names)) and np.isfinite(X).all()
    f = dict(zip(names, X[0]))
    assert f["n_conv3x3"] == 3 and f["n_paths"] == 4 and f["output_reachable"] == 1
    assert dict(zip(names, X[1]))["output_reachable"] == 0
    P, pnames = path_encoding(cells)
    assert P.shape == (2, 84) and P[0].sum() == 4 and P[1].sum() == 0
    assert P[0, pnames.index("path_skip_connect")] == 1
    a, h = graph(cells)
    assert a.shape == (2, 8, 8) and h.shape == (2, 8, 7)
    assert (h.sum(-1) == 1).all() and np.array_equal(np.triu(a[0], 1), a[0])
    # edge 0->1 (vertex 1) feeds the edges leaving node 1: 1->2 (vertex 3) and 1->3 (vertex 5)
    assert a[0, 1, 3] == a[0, 1, 5] == 1 and a[0, 1].sum() == 2
    sp = get_space("nb201")
    assert sp.encoding(cells)[0].shape == (2, 30)


# -- the ranker ----------------------------------------------------------------------------
def test_ranker_on_nb201_learns_the_order(nb201_file, tmp_path):
    from naslib_petridish.correlation import kendall
    from naslib_petridish.factory import load_fitted
    from naslib_petridish.ranker.predictor import RankerPredictor

    t = nb201_file.dataset("cifar10")
    tr = t.sample(120, 0, metric="val")
    te = t.sample(300, 1, metric="val", exclude=tr)
    p = RankerPredictor(preset="cell-features-self-trained", table=t, graph_members=1,
                        self_training=300, out_dir=tmp_path / "r")
    assert p.config.space == "nb201" and p.config.metric_epochs == 200
    p.fit(t.cells(tr), t.metric(tr, "val"))
    y = p.query([t.hashes[r] for r in te])  # architecture strings
    tau = kendall(y, t.metric(te, "test"))
    tau = tau[0] if isinstance(tau, tuple) else tau
    assert tau > 0.5
    q = load_fitted(tmp_path / "r")
    np.testing.assert_allclose(q.query(t.cells(te)), y)
    with pytest.raises(InvalidCellError, match="architecture #0"):
        p.query(["|bad|"])


# -- the commands --------------------------------------------------------------------------
def test_info_on_a_data_set_not_in_shared(imagenet_only_path, capsys):
    assert main(["-q", "info", "--nb201", imagenet_only_path]) == 0
    out = capsys.readouterr().out
    assert "ImageNet16-120" in out and "15,625 cells" in out and "6,466" in out


@pytest.mark.parametrize("preset, extra", [
    ("cell-features-boosted", []),
    ("quick", ["--set", "dish_size=40", "--set", "inner_epochs=1", "--set", "outer_epochs=1",
               "--set", "outer_batch=3", "--set", "calibration_size=3", "--workers", "1"]),
])
def test_evaluate_on_nb201(preset, extra, imagenet_only_path, tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["-q", "evaluate", "--space", "nb201", "--nb201", imagenet_only_path,
                 "--dataset", "ImageNet16-120", "--preset", preset, "--train-size", "30",
                 "--test-size", "20", "--no-plot", "--out", str(out)] + extra) == 0
    m = json.loads((out / "metrics.json").read_text())
    label = m["predictor"]
    assert m["space"] == "nb201" and m["dataset"] == "ImageNet16-120"
    assert m["metric"] == "val" and m["target"] == "test" and m["metric_epochs"] == 200
    for k in (label, "baseline_params", "baseline_random"):
        assert np.isfinite(m[k]["kendall_tau"])
    assert "against_training_metric" in m
    preds = json.loads((out / "predictions.json").read_text())
    assert len(preds) == 20 and all(p["hash"].startswith("|") for p in preds)
    assert "learned from val accuracy, scored against test" in capsys.readouterr().out


@pytest.mark.parametrize("predictor", ["params", "mean", "cell-features-boosted"])
def test_search_on_nb201_reports_the_incumbents_test_accuracy(predictor, nb201_path, nb201_file,
                                                              tmp_path):
    out = tmp_path / "s"
    assert main(["-q", "search", "--nb201", nb201_path, "--dataset", "cifar100",
                 "--predictor", predictor, "--budget", "30", "--init", "10", "--batch", "10",
                 "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    t = nb201_file.dataset("cifar100")
    rows = [t.index(q["hash"]) for q in s["queries"]]
    val = t.metric(rows, "val")
    assert s["metric"] == "val" and s["config"]["space"] == "nb201"
    assert s["best_accuracy"] == pytest.approx(val.max())
    best = rows[int(np.argmax(val))]
    assert s["best_test_accuracy"] == pytest.approx(t.metric(best, "test"))
    assert len(set(rows)) == 30


def test_fit_and_query_on_nb201(nb201_path, tmp_path, capsys):
    run = tmp_path / "fit"
    assert main(["-q", "fit", "--nb201", nb201_path, "--preset", "cell-features-boosted",
                 "--train-size", "40", "--out", str(run)]) == 0
    assert "ranker written" in capsys.readouterr().out
    archs = tmp_path / "a.json"
    archs.write_text(json.dumps([ARCH, 3, {"arch": ARCH}]))
    assert main(["-q", "query", "--run", str(run), "--archs", str(archs), "--nb201",
                 nb201_path]) == 0
    preds = json.loads(capsys.readouterr().out)
    assert len(preds) == 3 and preds[0]["prediction"] == preds[2]["prediction"]


def test_bad_space_data_set_and_metric_are_one_line(nb201_path, tmp_path, capsys):
    for argv, why in (
            (["info", "--space", "darts"], "unknown search space 'darts'"),
            (["info", "--space", "nb201", "--nb201", str(tmp_path / "x.npz")], "not found"),
            (["evaluate", "--nb201", nb201_path, "--dataset", "imagenet", "--preset",
              "cell-features-boosted", "--out", str(tmp_path / "e")], "not in"),
            (["evaluate", "--nb201", nb201_path, "--preset", "cell-features-boosted", "--set",
              "metric_epochs=108", "--out", str(tmp_path / "e2")], "one of (12, 200)")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and why in err, err
    with pytest.raises(InvalidCellError):
        as_cells(["|nor_conv_3x3~0|"], "nb201")


def test_info_convert_and_evaluate_from_naslibs_pickle(tmp_path, capsys):
    """NASLib's nb201_<dataset>_full_training.pickle: info, convert to the compact table,
    and a command reads it directly; a crafted pickle is refused in one line."""
    import os
    import pickle

    from naslib_petridish.spaces.nb201.naslib_pickle import write_naslib_nb201

    rng = np.random.default_rng(0)
    cells = {c.arch: c for c in (C.random_cell(rng) for _ in range(200))}
    src = tmp_path / "nb201_cifar100_full_training.pickle"
    write_naslib_nb201(src, {a: {"cifar100": list(rng.uniform(20, 70, 200))} for a in cells})
    assert main(["-q", "info", "--nb201", str(src)]) == 0
    assert f"{len(cells):,} cells" in capsys.readouterr().out
    dst = tmp_path / "t.npz"
    assert main(["-q", "convert", str(src), str(dst)]) == 0
    f = NB201File.load(dst)
    assert f.datasets == ["cifar100"] and len(f.arch) == len(cells)
    assert main(["-q", "evaluate", "--nb201", str(src), "--preset", "cell-features-boosted",
                 "--train-size", "40", "--test-size", "30", "--no-plot",
                 "--out", str(tmp_path / "ev")]) == 0
    capsys.readouterr()

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    bad = tmp_path / "nb201_cifar10_full_training.pickle"
    bad.write_bytes(pickle.dumps({"x": Evil()}))
    assert main(["info", "--nb201", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "refused to unpickle" in err and err.count("\n") == 0
    assert not (tmp_path / "pwned").exists()


def test_dish_fit_and_query_on_nb201(nb201_path, tmp_path, capsys):
    run = tmp_path / "dish"
    assert main(["-q", "fit", "--nb201", nb201_path, "--dataset", "cifar100", "--preset",
                 "quick", "--train-size", "6", "--out", str(run), "--set", "dish_size=40",
                 "--set", "inner_epochs=1", "--set", "outer_epochs=1", "--set", "outer_batch=3",
                 "--set", "calibration_size=3", "--workers", "1"]) == 0
    assert "dish written" in capsys.readouterr().out
    cfg = (run / "config.yaml").read_text()
    assert "space: nb201" in cfg and "dataset: cifar100" in cfg and "motif: C" in cfg
    archs = tmp_path / "a.json"
    archs.write_text(json.dumps([ARCH, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]))
    assert main(["-q", "query", "--run", str(run), "--archs", str(archs)]) == 0
    preds = json.loads(capsys.readouterr().out)
    assert [p["hash"] for p in preds][0] == ARCH
    assert all(np.isfinite(p["prediction"]) and p["score"] is not None for p in preds)


def test_search_on_a_data_set_not_in_shared(imagenet_only_path, tmp_path):
    out = tmp_path / "s"
    assert main(["-q", "search", "--nb201", imagenet_only_path, "--predictor", "params",
                 "--budget", "15", "--init", "5", "--batch", "5", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["config"]["dataset"] == "ImageNet16-120" and s["ground_truth_queries"] == 15


def test_a_metric_the_file_lacks_is_one_line(tmp_path, capsys):
    f = synthetic_nb201(datasets=("cifar10",), seed=2)
    f.val_acc[:] = np.nan
    p = tmp_path / "noval.npz"
    f.save(p)
    assert main(["evaluate", "--nb201", str(p), "--preset", "cell-features-boosted",
                 "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "val_acc at 200 epochs" in err and "--metric" in err


def test_every_shipped_ranker_preset_applies_or_says_why(nb201_file):
    from naslib_petridish.errors import ConfigError
    from naslib_petridish.ranker import RankerPredictor, preset_names

    t = nb201_file.dataset("cifar10")
    for name in preset_names():  # the same names on every space
        assert RankerPredictor(preset=name, table=t).config.space == "nb201"
    with pytest.raises(ConfigError, match="'metadish' source trains NB101 motifs only"):
        RankerPredictor(preset="cell-features-boosted", table=t, features=["metadish", "free"])
