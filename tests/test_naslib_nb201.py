"""NASLib's nasbench201 space served from our NB201 table: naslib-evaluate and naslib-search
(skipped where NASLib is not importable, as in CI; the dataset API itself is tested
NASLib-free below)."""
import json
import textwrap

import numpy as np
import pytest

from naslib_petridish.cli import main
from naslib_petridish.naslib import NASLibNotAvailable, import_naslib
from naslib_petridish.naslib.dataset201 import TableNB201Data, naslib_key

from .nb201_helpers import synthetic_nb201

try:
    import_naslib()
    HAVE_NASLIB, WHY = True, ""
except NASLibNotAvailable as exc:
    HAVE_NASLIB, WHY = False, f"NASLib not importable: {exc.args[0]}"
needs_naslib = pytest.mark.skipif(not HAVE_NASLIB, reason=WHY or "NASLib missing")

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" \
       "skip_connect~2|"


@pytest.fixture(scope="module")
def nb201_file():
    return synthetic_nb201(datasets=("cifar10", "cifar100"), seed=5)


@pytest.fixture(scope="module")
def nb201_path(tmp_path_factory, nb201_file):
    p = tmp_path_factory.mktemp("nl201") / "nb201_table.npz"
    nb201_file.save(p)
    return str(p)


def test_dataset_api_answers_naslibs_reads(nb201_file):
    """What NasBench201SearchSpace.query reads: [arch][key][name][epoch] in percent,
    cifar10 under 'cifar10-valid', cost_info; val or test as the API's metric says."""
    row = nb201_file._row[ARCH]
    for metric, arr in (("val", nb201_file.val_acc), ("test", nb201_file.test_acc)):
        api = TableNB201Data(nb201_file, metric)
        rec = api[ARCH]
        assert set(rec) == {"cifar10-valid", "cifar100"} and naslib_key("cifar100") == "cifar100"
        assert rec["cifar10-valid"]["eval_acc1es"][-1] == pytest.approx(100 * arr[row, 1, 0])
        assert rec["cifar100"]["eval_acc1es"][11] == pytest.approx(100 * arr[row, 0, 1])
        assert np.isnan(rec["cifar100"]["eval_acc1es"][50])
    cost = rec["cifar10-valid"]["cost_info"]
    assert cost["params"] == pytest.approx(1.0e-6 * __import__(
        "naslib_petridish.spaces.nb201.network", fromlist=["x"]).count_parameters(
        nb201_file._cells[row], "full"))
    assert len(api) == 15625 and ARCH in set(api)
    with pytest.raises(KeyError):
        api["|none~0|"]


@needs_naslib
def test_naslib_op_indices_are_ours():
    """NASLib's own conversion and our cell agree on the op-index tuple."""
    from naslib.search_spaces.nasbench201.conversions import (convert_op_indices_to_str,
                                                              convert_str_to_op_indices)

    from naslib_petridish.spaces.nb201.cell import all_cells, as_cell
    for c in all_cells()[::97]:
        assert convert_str_to_op_indices(c.arch) == c.naslib_tuple()
        assert convert_op_indices_to_str(c.naslib_tuple()) == c.arch
        assert as_cell(c.naslib_tuple()).arch == c.arch


@needs_naslib
@pytest.mark.parametrize("predictor, protocol", [("ranker-cell-features-boosted", "uniform"),
                                                 ("xgb", "naslib"), ("params", "distinct"),
                                                 ("petridish-quick", "uniform")])
def test_naslib_evaluate_on_nb201(predictor, protocol, nb201_path, nb201_file, tmp_path,
                                  capsys):
    cfg = tmp_path / "pe.yaml"
    cfg.write_text(textwrap.dedent(f"""
        experiment_type: vary_train_size
        search_space: nasbench201
        dataset: cifar100
        predictor: {predictor}
        uniform_random: 1
        test_size: 30
        train_size_list: [12, 24]
        fidelity_single: 5
        fidelity_list: [5]
        out_dir: {tmp_path / 'run'}
        max_hpo_time: 0
        hparams_from_file: False
        seed: 3
        petridish:
          dish_size: 40
          inner_epochs: 1
          outer_epochs: 1
          outer_batch: 3
          calibration_size: 3
          workers: 1
        ranker:
          graph_members: 1
        """))
    assert main(["naslib-evaluate", "--config-file", str(cfg), "--nb201", nb201_path,
                 "--protocol", protocol]) == 0
    assert "distinct test cells of 30" in capsys.readouterr().out
    rows = json.loads((tmp_path / "run" / "cifar100" / "predictors" / predictor / "3"
                       / "errors.json").read_text())
    assert rows[0]["ground_truth_metric"] == "val" and rows[0]["ground_truth_target"] == "test"
    assert [r["train_size"] for r in rows[1:]] == [12, 24]
    t = nb201_file.dataset("cifar100")
    for r in rows[1:]:
        assert len(r["full_testpred"]) == 30 and np.isfinite(r["kendalltau"])
        if protocol != "naslib":
            assert r["train_in_test"] == 0 and r["test_distinct"] == 30
    # scored against the test accuracy: every true value is a test accuracy of the table
    truth = np.asarray(rows[1]["full_ytest"]) / 100
    tests = set(np.round(t.test_acc[:, 1].astype(np.float64), 5))
    assert all(round(v, 5) in tests for v in truth)


@needs_naslib
@pytest.mark.parametrize("optimizer, predictor", [
    ("re", "none"), ("rs", "none"), ("ls", "none"), ("bananas", "xgb"),
    ("npenas", "ranker-cell-features-boosted"),
    ("guided", "params"), ("re", "mean")])
def test_naslib_search_on_nb201(optimizer, predictor, nb201_path, nb201_file, tmp_path,
                                capsys):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(textwrap.dedent(f"""
        seed: 1
        optimizer: {optimizer}
        predictor: {predictor}
        search_space: nasbench201
        dataset: cifar10
        out_dir: {tmp_path / 's'}
        search:
          epochs: 20
          population_size: 6
          sample_size: 3
          checkpoint_freq: 1000
          num_init: 6
          k: 3
          num_candidates: 6
          num_arches_to_mutate: 2
          max_mutations: 1
          acq_fn_optimization: mutation
          num_ensemble: 1
          guided_init: 6
          guided_batch: 4
        """))
    assert main(["naslib-search", "--config-file", str(cfg), "--nb201", nb201_path]) == 0
    # after NASLib's own log, three lines of ours: the trajectory is in the files
    ours = capsys.readouterr().out.strip().splitlines()[-3:]
    assert "best true test accuracy" in ours[0] and "petridish_search.json" in ours[2]
    run = (tmp_path / "s" / "cifar10" / "nas_predictors" / "nasbench201"
           / f"{optimizer}-{predictor}" / "1")
    s = json.loads((run / "petridish_search.json").read_text())
    t = nb201_file.dataset("cifar10")
    assert s["ground_truth"]["metric"] == "val" and s["ground_truth"]["space"] == "nb201"
    # the answer is the best queried cell by validation accuracy, reported by its test accuracy
    assert s["best_true_validation_accuracy"] == pytest.approx(t.metric(s["best_hash"], "val"))
    assert s["best_true_test_accuracy"] == pytest.approx(t.metric(s["best_hash"], "test"))
    acc = s["trajectory"]["best_true_test_accuracy"]
    assert acc[-1] == pytest.approx(s["best_true_test_accuracy"])


@needs_naslib
@pytest.mark.parametrize("optimizer", ["re", "ls"])
def test_spec_only_space_searches_as_naslibs_own(optimizer, nb201_file, tmp_path,
                                                 monkeypatch):
    """The search's NB201 space copies no network (``spec_only_nb201``): the same draws and
    answers as NASLib's own space, whose ``clone`` deep-copies one; every query counted
    (local search's restarts included)."""
    from types import SimpleNamespace

    import naslib_petridish.naslib.search as search_module
    from naslib_petridish.naslib import run_search
    from naslib_petridish.naslib.evaluation import naslib_search_space

    cfg = tmp_path / "s.yaml"
    cfg.write_text(textwrap.dedent(f"""
        seed: 3
        optimizer: {optimizer}
        search_space: nasbench201
        dataset: cifar10
        out_dir: {tmp_path / 's'}
        search:
          epochs: 60
          population_size: 6
          sample_size: 3
          checkpoint_freq: 1000
          num_init: 4
        """))
    t = nb201_file.dataset("cifar10")
    light = run_search(str(cfg), table=t, log_stdout=False)

    def naslibs_own(nl, c, spec_only=False):
        space = naslib_search_space(nl, c)  # NASLib's class: clone deep-copies
        space.instantiate_model = False
        return space

    monkeypatch.setattr(search_module, "naslib_search_space", naslibs_own)
    own = run_search(str(cfg), table=t, log_stdout=False, out_dir=str(tmp_path / "o"))
    assert light["trajectory"] == own["trajectory"]
    assert light["best_hash"] == own["best_hash"]
    assert light["ground_truth_queries"] == 60 == own["ground_truth_queries"]
    sp = naslib_search_space(import_naslib(), SimpleNamespace(
        search_space="nasbench201", dataset="cifar10"), spec_only=True)
    assert type(sp).__name__ == "SpecOnlyNasBench201" and sp.instantiate_model is False
    a = sp.clone()
    a.sample_random_architecture()
    b = a.clone()
    b.mutate(a)
    assert a.get_hash() != b.get_hash() and sp.op_indices is None  # copies are independent


@needs_naslib
@pytest.mark.parametrize("protocol", ["naslib", "distinct"])
def test_spec_only_evaluator_draws_as_naslibs_own(protocol, nb201_path, tmp_path,
                                                  monkeypatch):
    """naslib-evaluate on NB201 builds no network per architecture (``spec_only_nb201``):
    NASLib's sampler draws the same test and training cells, and the scores are the same,
    as with NASLib's own space, whose ``clone`` deep-copies one."""
    import naslib_petridish.naslib.evaluation as ev
    from naslib_petridish.naslib.evaluation import run_predictor_evaluation

    cfg = tmp_path / "pe.yaml"
    cfg.write_text(textwrap.dedent("""
        experiment_type: vary_train_size
        search_space: nasbench201
        dataset: cifar10
        predictor: xgb
        uniform_random: 1
        test_size: 15
        train_size_list: [10, 20]
        fidelity_single: 5
        fidelity_list: [5]
        max_hpo_time: 0
        hparams_from_file: False
        seed: 2
        """))
    runs, original = {}, ev.naslib_search_space
    for name, space in (("light", original),
                        ("own", lambda nl, c, spec_only=False: original(nl, c))):
        monkeypatch.setattr(ev, "naslib_search_space", space)
        path = run_predictor_evaluation(str(cfg), nb201=str(nb201_path), protocol=protocol,
                                        out_dir=str(tmp_path / name))
        runs[name] = json.loads(path.read_text())[1:]
    for a, b in zip(runs["light"], runs["own"]):
        assert a["full_ytest"] == b["full_ytest"] and a["train_size"] == b["train_size"]
        assert a["kendalltau"] == pytest.approx(b["kendalltau"])
