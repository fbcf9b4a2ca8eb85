"""Real-NASLib tests (skipped where NASLib is not importable, as in CI) and the
message users get without it.

To run them: clone github automl/NASLib (branch Develop), put it on sys.path and
install its requirements with numpy<2.4 and scikit-learn<1.6 (docs/naslib.md).
They use the real NB101 table (fixture ``real_table_path``): on the small synthetic
table NASLib's random sampler would hardly ever draw a cell that is in it.
"""
import json
import textwrap

import numpy as np
import pytest

from naslib_petridish.cli import main
from naslib_petridish.errors import ConfigError
from naslib_petridish.naslib import (NASLibNotAvailable, get_predictor, import_naslib,
                                     predictor_names)

try:
    import_naslib()
    HAVE_NASLIB, WHY = True, ""
except NASLibNotAvailable as exc:
    HAVE_NASLIB, WHY = False, f"NASLib not importable: {exc.args[0]}"

needs_naslib = pytest.mark.skipif(not HAVE_NASLIB, reason=WHY or "NASLib missing")

PETRIDISH = """
petridish:
  dish_size: 40
  inner_epochs: 2
  outer_epochs: 2
  outer_batch: 3
  calibration_size: 3
  workers: 1
ranker:
  graph_members: 1
  workers: 1
  dish: {dish_size: 40, inner_epochs: 2}
"""


@pytest.mark.skipif(HAVE_NASLIB, reason="NASLib is importable here")
def test_commands_say_naslib_is_needed(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("predictor: petridish\n")
    for cmd in ("naslib-evaluate", "naslib-search"):
        assert main([cmd, "--config-file", str(cfg)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0
        assert "NASLib is needed" in err and "automl/NASLib" in err and "sys.path" in err


@needs_naslib
@pytest.mark.parametrize("predictor", ["petridish", "ranker-dish-curve-boosted",
                                       "petridish-cell-features-boosted", "xgb"])
def test_naslib_evaluate(predictor, real_table_path, tmp_path):
    cfg = tmp_path / "predictor_config.yaml"
    cfg.write_text(textwrap.dedent(f"""
        experiment_type: vary_train_size
        search_space: nasbench101
        dataset: cifar10
        predictor: {predictor}
        uniform_random: 1
        test_size: 8
        train_size_single: 6
        train_size_list: [6, 9]
        fidelity_single: 5
        fidelity_list: [5]
        out_dir: {tmp_path / 'run'}
        max_hpo_time: 0
        hparams_from_file: False
        seed: 3
        """) + PETRIDISH)
    assert main(["naslib-evaluate", "--config-file", str(cfg), "--nb101", real_table_path]) == 0
    errors = json.loads((tmp_path / "run" / "cifar10" / "predictors" / predictor / "3"
                         / "errors.json").read_text())
    assert errors[0]["predictor"] == predictor and errors[0]["ground_truth_metric"] == "test"
    assert [r["train_size"] for r in errors[1:]] == [6, 9]
    for r in errors[1:]:
        assert len(r["full_testpred"]) == 8 and r["kendalltau"] == r["kendalltau"]  # not NaN


@needs_naslib
def test_naslib_evaluate_sampling_protocols(real_table_path, tmp_path, capsys):
    """--protocol: NASLib's own sampler repeats small cells and lets training cells be
    test cells; 'distinct' and 'uniform' do not, 'uniform' draws the comparison
    benchmark's split (protocol c); the protocol is part of the run (--resume with another
    is refused)."""
    from naslib_petridish.protocols import split_uniform
    from naslib_petridish.tables import NB101Table

    def run(protocol, *extra):
        cfg = tmp_path / f"{protocol}.yaml"
        cfg.write_text(textwrap.dedent(f"""
            experiment_type: vary_train_size
            search_space: nasbench101
            dataset: cifar10
            predictor: xgb
            uniform_random: 1
            test_size: 60
            train_size_list: [20, 40]
            out_dir: {tmp_path / protocol}
            max_hpo_time: 0
            seed: 2
            """))
        code = main(["naslib-evaluate", "--config-file", str(cfg), "--nb101", real_table_path,
                     "--metric", "test", "--protocol", protocol, *extra])
        path = tmp_path / protocol / "cifar10" / "predictors" / "xgb" / "2"
        return code, path

    for protocol in ("naslib", "distinct", "uniform"):
        code, path = run(protocol)
        assert code == 0
        out = capsys.readouterr().out
        assert f"protocol {protocol}:" in out and "distinct test cells" in out
        rows = json.loads((path / "errors.json").read_text())
        assert rows[0]["sampling_protocol"] == protocol
        assert [r["train_size"] for r in rows[1:]] == [20, 40]
        if protocol == "naslib":
            assert rows[1]["test_distinct"] < 60  # NASLib repeats small cells
            continue
        for r in rows[1:]:
            assert (r["test_distinct"], r["train_distinct"], r["train_in_test"]) == (
                60, r["train_size"], 0)
    table = NB101Table.load(real_table_path)
    want = split_uniform(table, 60, 40, seed=2, metric="test")
    import hashlib
    line = json.loads((path / "evaluated_sizes.jsonl").read_text().splitlines()[1])
    assert line["data"] == hashlib.sha1(json.dumps(
        [[x["hash"] for x in want["train"]], [x["hash"] for x in want["test"]]]
    ).encode()).hexdigest()
    (path / "errors.json").unlink()
    cfg = tmp_path / "uniform.yaml"
    code = main(["naslib-evaluate", "--config-file", str(cfg), "--nb101", real_table_path,
                 "--metric", "test", "--protocol", "distinct", "--resume"])
    assert code == 2 and "another config" in capsys.readouterr().err


@needs_naslib
def test_naslib_evaluate_keeps_finished_sizes_and_resumes_a_killed_dish(
        real_table_path, tmp_path, capsys):
    """NASLib writes errors.json only at the end: each finished size is kept, an earlier
    run is never overwritten without --force, and --resume continues a dish fit killed
    after its first outer epoch to the same predictions as the uninterrupted run."""
    import yaml

    from naslib_petridish.config import PetriDishConfig
    from naslib_petridish.outer import fit_dish
    from naslib_petridish.tables import NB101Table

    cfg = tmp_path / "predictor_config.yaml"
    cfg.write_text(textwrap.dedent(f"""
        experiment_type: vary_train_size
        search_space: nasbench101
        dataset: cifar10
        predictor: petridish
        uniform_random: 1
        test_size: 8
        train_size_list: [6, 9]
        fidelity_single: 5
        out_dir: {tmp_path / 'run'}
        max_hpo_time: 0
        seed: 3
        """) + PETRIDISH.replace("outer_epochs: 2", "outer_epochs: 3"))
    cmd = ["naslib-evaluate", "--config-file", str(cfg), "--nb101", real_table_path]
    save = tmp_path / "run" / "cifar10" / "predictors" / "petridish" / "3"
    assert main(cmd) == 0
    first = json.loads((save / "errors.json").read_text())
    kept = (save / "evaluated_sizes.jsonl").read_text().splitlines()
    assert [json.loads(x)["key"] for x in kept] == ["n6-f5", "n9-f5"]
    capsys.readouterr()
    assert main(cmd) == 2  # an earlier run is there
    assert "--resume" in capsys.readouterr().err
    # kill the fit of size 9 after its first outer epoch: its dish is generated again up to
    # there, its line is dropped
    run9 = save / "dish_runs" / "n9-f5"
    dish_cfg = PetriDishConfig.from_dict(yaml.safe_load((run9 / "config.yaml").read_text()))
    train = json.loads((run9 / "train_set.json").read_text())
    table = NB101Table.load(real_table_path)
    cells = [table.cell(table.index(h)) for h in train["hashes"]]
    for f in run9.iterdir():
        f.unlink()
    fit_dish(dish_cfg, cells, train["accuracies"], out_dir=run9, progress=False, stop_after=1)
    (save / "evaluated_sizes.jsonl").write_text(kept[0] + "\n")
    (save / "errors.json").unlink()
    assert main(cmd + ["--resume"]) == 0
    again = json.loads((save / "errors.json").read_text())
    assert again[2]["petridish_fit_start"] == "resumed at epoch 1"
    for a, b in zip(first[1:], again[1:]):
        assert a["train_size"] == b["train_size"] and a["full_testpred"] == b["full_testpred"]
    assert main(cmd + ["--force"]) == 0
    assert json.loads((save / "errors.json").read_text())[1]["petridish_fit_start"] == "new"


@needs_naslib
@pytest.mark.parametrize("optimizer, epochs", [("re", 16), ("bananas", 10)])
def test_naslib_search(optimizer, epochs, real_table_path, tmp_path):
    cfg = tmp_path / "search.yaml"
    cfg.write_text(textwrap.dedent(f"""
        seed: 0
        optimizer: {optimizer}
        predictor: petridish
        search_space: nasbench101
        dataset: cifar10
        out_dir: {tmp_path / 'search'}
        {"petridish_refit_every: 3" if optimizer == "re" else ""}
        search:
          epochs: {epochs}
          population_size: 6
          sample_size: 3
          checkpoint_freq: 1000
          num_init: 6
          k: 2
          num_candidates: 4
          num_arches_to_mutate: 2
          max_mutations: 1
          acq_fn_optimization: mutation
          num_ensemble: 1
        """) + PETRIDISH)
    assert main(["naslib-search", "--config-file", str(cfg), "--nb101", real_table_path]) == 0
    out = tmp_path / "search" / "cifar10" / "nas_predictors" / "nasbench101"
    run = out / f"{optimizer}-petridish" / "0"
    summary = json.loads((run / "petridish_search.json").read_text())
    assert 0.5 < summary["best_true_test_accuracy"] < 1
    if optimizer == "re":
        # 6 benchmark queries for the population, one per refit (after every 3rd child);
        # each of the 10 children is predicted or (NASLib's mutations often give isomorphic
        # cells) a cell evaluated before, whose true accuracy is reused
        assert summary["ground_truth_queries"] == 6 + summary["refits"]
        assert summary["predictor_queries"] + summary["known_cell_hits"] == 10
        assert summary["predictor_queries"] > 0 and 1 <= summary["refits"] <= 3
    else:
        # 6 initial + 4 chosen from 2 batches of k=2, each batch a dish fit on a 4-candidate query
        assert summary["ground_truth_queries"] == 10 and summary["refits"] == 1
        assert summary["predictor_queries"] == 8
    errors = json.loads((run / "errors.json").read_text())
    incumbent = errors[1]["valid_acc"]  # the Trainer's per-epoch true accuracy of the incumbent
    assert len(incumbent) == epochs
    # the incumbent is the best truly evaluated cell: it never gets worse, and it is the answer
    # (metric "test": NASLib's validation queries read the test accuracy, in percent)
    assert all(b >= a for a, b in zip(incumbent, incumbent[1:]))
    assert incumbent[-1] == pytest.approx(100 * summary["best_true_test_accuracy"])


SEARCH = """
seed: {seed}
optimizer: {optimizer}
predictor: {predictor}
search_space: nasbench101
dataset: cifar10
out_dir: {out}
{extra}
search:
  epochs: {epochs}
  population_size: 5
  sample_size: 3
  checkpoint_freq: 1000
  num_init: 4
  k: 2
  num_candidates: 4
  num_arches_to_mutate: 2
  max_mutations: 1
  acq_fn_optimization: {candidates}
  num_ensemble: 1
"""


def _search(tmp_path, real_table_path, optimizer, predictor, epochs, extra="", seed=1,
            candidates="mutation"):
    cfg = tmp_path / "search.yaml"
    cfg.write_text(SEARCH.format(seed=seed, optimizer=optimizer, predictor=predictor,
                                 out=tmp_path / "s", extra=extra, epochs=epochs,
                                 candidates=candidates) + PETRIDISH)
    assert main(["naslib-search", "--config-file", str(cfg), "--nb101", real_table_path,
                 "--metric", "test"]) == 0
    run = (tmp_path / "s" / "cifar10" / "nas_predictors" / "nasbench101"
           / f"{optimizer}-{predictor}" / str(seed))
    return (json.loads((run / "petridish_search.json").read_text()),
            json.loads((run / "errors.json").read_text()))


def _check_trajectory(summary, errors, epochs):
    """The per-epoch record: true test accuracies of the incumbent (never worse), the
    same incumbent as NASLib's Trainer reports, and the cost adding up."""
    tr = summary["trajectory"]
    assert tr["epoch"] == list(range(epochs))
    acc = tr["best_true_test_accuracy"]
    assert all(0.5 < a < 1 for a in acc) and all(b >= a for a, b in zip(acc, acc[1:]))
    assert acc[-1] == pytest.approx(summary["best_true_test_accuracy"])
    # metric "test": the Trainer's per-epoch incumbent accuracy is the test accuracy in %
    assert [a * 100 for a in acc] == pytest.approx(errors[1]["valid_acc"], abs=1e-6)
    assert tr["ground_truth_queries"][-1] == summary["ground_truth_queries"]
    cost = summary["cost"]
    assert cost["queries_with_real_time"] + cost["queries_with_estimated_time"] \
        == summary["ground_truth_queries"]
    assert cost["train_seconds"] > 0 and tr["train_seconds"][-1] == cost["train_seconds"]
    pred = cost["predictor"]
    assert cost["simulated_seconds"] == pytest.approx(
        cost["train_seconds"] + pred["fit_seconds"] + pred["query_seconds"])
    assert pred["architectures_predicted"] == summary["predictor_queries"]


@needs_naslib
@pytest.mark.parametrize("optimizer", ["re", "rs"])
def test_plain_search_on_the_true_accuracy(optimizer, real_table_path, tmp_path):
    summary, errors = _search(tmp_path, real_table_path, optimizer, "none", 12)
    assert summary["optimizer"] == optimizer and summary["predictor"] == "none"
    assert summary["ground_truth_queries"] == 12  # one benchmark query per epoch
    assert summary["trajectory"]["ground_truth_queries"] == list(range(1, 13))
    assert summary["predictor_queries"] == summary["refits"] == 0
    assert summary["cost"]["predictor"]["fits"] == 0
    _check_trajectory(summary, errors, 12)


@needs_naslib
@pytest.mark.parametrize("optimizer, predictor, candidates", [
    ("bananas", "bananas", "random_sampling"), ("npenas", "xgb", "mutation"),
    ("bananas", "petridish", "random_sampling"), ("npenas", "mean", "mutation")])
def test_naslib_surrogate_search(optimizer, predictor, candidates, real_table_path, tmp_path):
    """NASLib's random candidates have their true accuracy looked up and unused: those
    lookups are not ground-truth queries."""
    summary, errors = _search(tmp_path, real_table_path, optimizer, predictor, 8,
                              candidates=candidates)
    assert summary["search_config"]["acq_fn_optimization"] == candidates
    if predictor not in ("petridish", "mean"):  # NASLib's own ensemble
        assert summary["search_config"]["predictor_type"] == predictor
    # 4 initial + 2 batches of k=2, each batch one fit of NASLib's ensemble on 4 candidates
    assert summary["ground_truth_queries"] == 8 and summary["refits"] == 1
    assert summary["cost"]["predictor"]["fits"] == 2
    assert summary["predictor_queries"] == 8
    _check_trajectory(summary, errors, 8)


@needs_naslib
def test_dish_evolution_with_refit_batches(real_table_path, tmp_path):
    from naslib_petridish.naslib.search import SearchMethod, epochs_for_budget

    method = SearchMethod("re", "petridish-quick", refit_every=3, refit_batch=2)
    epochs = epochs_for_budget(method, 9, population_size=5)  # 5 + 2 refits x 2
    assert epochs == 11
    summary, errors = _search(tmp_path, real_table_path, "re", "petridish-quick", epochs,
                              extra="petridish_refit_every: 3\npetridish_refit_batch: 2")
    assert summary["ground_truth_queries"] <= 9 and summary["refits"] <= 2
    assert summary["ground_truth_queries"] == 5 + 2 * summary["refits"]
    assert summary["predictor_queries"] + summary["known_cell_hits"] == 6
    assert summary["cost"]["predictor"]["fits"] == 1 + summary["refits"]
    _check_trajectory(summary, errors, epochs)


@needs_naslib
def test_dish_evolution_fitted_once(real_table_path, tmp_path):
    """petridish_refit_predictor: false: the refits' queries happen, the dish is fitted
    once (on the initial population)."""
    summary, errors = _search(tmp_path, real_table_path, "re", "petridish-quick", 11,
                              extra="petridish_refit_every: 3\npetridish_refit_batch: 2\n"
                              "petridish_refit_predictor: false")
    assert summary["petridish_refit_predictor"] is False
    assert summary["refits"] >= 1 and summary["ground_truth_queries"] == 5 + 2 * summary["refits"]
    assert summary["fits"] == summary["cost"]["predictor"]["fits"] == 1
    _check_trajectory(summary, errors, 11)


@needs_naslib
@pytest.mark.parametrize("predictor, refit", [("params", "false"), ("mean", "true"),
                                              ("xgb", "true")])
def test_evolution_with_a_predictor_as_fitness(predictor, refit, real_table_path, tmp_path):
    """RE with the parameter count (read from the table) or a NASLib predictor scoring the
    children, on the dish's schedule: the same counts, and the answer a true accuracy."""
    summary, errors = _search(tmp_path, real_table_path, "re", predictor, 11,
                              extra="petridish_refit_every: 3\npetridish_refit_batch: 2\n"
                              f"petridish_refit_predictor: {refit}")
    assert summary["predictor"] == predictor
    assert summary["refits"] >= 1 and summary["ground_truth_queries"] == 5 + 2 * summary["refits"]
    assert summary["predictor_queries"] + summary["known_cell_hits"] == 6
    assert summary["fits"] == (1 if refit == "false" else 1 + summary["refits"])
    _check_trajectory(summary, errors, 11)
    # the answer is the best true accuracy among the evaluated cells, never a prediction
    # (the log parameter count, 13-17, would otherwise win)
    assert 0.5 < summary["best_true_test_accuracy"] < 1


@needs_naslib
def test_training_mean_predictor_says_nothing():
    from naslib_petridish.cells import random_cell

    cells = [random_cell(s) for s in range(6)]
    p = get_predictor("mean")
    p.fit(cells[:3], [0.9, 0.8, 0.94])
    q = p.query(cells[3:])
    assert np.allclose(q, np.mean([0.9, 0.8, 0.94]), rtol=0, atol=1e-9)
    assert len(set(q)) == 3  # the jitter breaks ties: a top-k of them is a random k
    # one definition with guided search's control: the jitter is a function of seed and cell
    np.testing.assert_array_equal(p.query(cells[3:][::-1])[::-1], q)
    assert "mean" in predictor_names()


@needs_naslib
@pytest.mark.parametrize("optimizer, predictor, words", [
    ("darts", "none", "optimizer must be one of re, rs, ls, bananas, npenas"),
    ("rs", "xgb", "predictor 'xgb' does not go with optimizer rs; valid: none"),
    ("bananas", "no-such", "valid: petridish"),
])
def test_search_config_errors(optimizer, predictor, words, real_table_path, tmp_path, capsys):
    cfg = tmp_path / "search.yaml"
    cfg.write_text(SEARCH.format(seed=0, optimizer=optimizer, predictor=predictor,
                                 out=tmp_path / "s", extra="", epochs=3, candidates="mutation"))
    assert main(["naslib-search", "--config-file", str(cfg), "--nb101", real_table_path]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and words in err


@needs_naslib
def test_unknown_predictor_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown predictor 'no-such'.*petridish.*xgb"):
        get_predictor("no-such")


@needs_naslib
@pytest.mark.parametrize("predictor", ["params", "ranker-cell-features-boosted", "xgb",
                                       "bananas", "gcn"])
def test_guided_search_in_naslib_makes_the_commands_queries(predictor, real_table_path,
                                                            tmp_path):
    """optimizer: guided through NASLib's Trainer and ``naslib-petridish search`` share the
    algorithm: the same settings and seed query the same cells in the same order."""
    from naslib_petridish.guided import GuidedConfig, run_guided
    from naslib_petridish.naslib import open_table

    extra = ("ranker:\n  graph_members: 1\n" if predictor.startswith("ranker") else "")
    cfg = tmp_path / "search.yaml"
    cfg.write_text(SEARCH.format(seed=2, optimizer="guided", predictor=predictor,
                                 out=tmp_path / "s", extra=extra, epochs=25,
                                 candidates="mutation")
                   + "  guided_init: 10\n  guided_batch: 5\n  guided_pool: 300\n"
                   + "  guided_mutations: 2\n  guided_top_k: 3\n")
    assert main(["naslib-search", "--config-file", str(cfg), "--nb101", real_table_path,
                 "--metric", "test"]) == 0
    run = tmp_path / "s" / "cifar10" / "nas_predictors" / "nasbench101" / f"guided-{predictor}"
    summary = json.loads((run / "2" / "petridish_search.json").read_text())
    errors = json.loads((run / "2" / "errors.json").read_text())
    _check_trajectory(summary, errors, 25)
    assert summary["ground_truth_queries"] == 25
    name = predictor.replace("ranker-", "")
    options = {"graph_members": 1} if predictor.startswith("ranker") else None
    alone = run_guided(open_table(real_table_path), name,
                       GuidedConfig(budget=25, init=10, batch=5, pool=300, mutations=2,
                                    top_k=3, seed=2), tmp_path / "alone", options=options)
    assert alone["best_hash"] == summary["best_hash"]
    assert alone["best_test_accuracy"] == pytest.approx(summary["best_true_test_accuracy"])
    assert alone["incumbent"] == pytest.approx(summary["trajectory"]["best_true_test_accuracy"])


@needs_naslib
def test_an_ensemble_of_naslib_drives_the_guided_command(real_table_path, tmp_path):
    """NASLib's bananas answers one row of scores per ensemble member: the loop ranks by
    their mean (as NASLib's evaluator does), and the same seed makes the same queries."""
    from naslib_petridish.guided import GuidedConfig, run_guided
    from naslib_petridish.naslib import open_table

    table = open_table(real_table_path)
    cfg = GuidedConfig(budget=25, init=10, batch=5, pool=300, seed=2)
    a, b = (run_guided(table, "bananas", cfg, tmp_path / d) for d in ("a", "b"))
    assert a["ground_truth_queries"] == 25 and len(a["rounds"]) == 3
    assert all(r["candidates"] == 300 for r in a["rounds"])
    assert a["queries"] == b["queries"]
