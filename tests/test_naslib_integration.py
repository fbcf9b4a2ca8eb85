"""Real-NASLib tests (skipped where NASLib is not importable, as in CI) and the
message users get without it.

To run them: clone github automl/NASLib (branch Develop), put it on sys.path and
install its requirements with numpy<2.4 and scikit-learn<1.6 (README, "Use with NASLib").
They use the real NB101 table (fixture ``real_table_path``): on the small synthetic
table NASLib's random sampler would hardly ever draw a cell that is in it.
"""
import json
import textwrap

import pytest

from naslib_petridish.cli import main
from naslib_petridish.errors import ConfigError
from naslib_petridish.naslib import NASLibNotAvailable, get_predictor, import_naslib

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
@pytest.mark.parametrize("predictor", ["petridish", "xgb"])
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
        petridish_refit_every: 3
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


@needs_naslib
def test_unknown_predictor_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown predictor 'no-such'.*petridish.*xgb"):
        get_predictor("no-such")
