"""Real-NASLib tests (skipped where NASLib is not importable, as in CI) and the
message users get without it.

To run them: clone github automl/NASLib (branch Develop), put it on sys.path and
install its requirements with numpy<2.4 and scikit-learn<1.6 (README, "Use with NASLib").
"""
import json
import subprocess
import sys
import textwrap

import pytest

from naslib_petridish.cli import main
from naslib_petridish.naslib import NASLibNotAvailable, import_naslib

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
def test_naslib_evaluate(predictor, table_path, tmp_path):
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
    assert main(["naslib-evaluate", "--config-file", str(cfg), "--nb101", table_path]) == 0
    errors = json.loads((tmp_path / "run" / "cifar10" / "predictors" / predictor / "3"
                         / "errors.json").read_text())
    assert errors[0]["predictor"] == predictor and errors[0]["ground_truth_metric"] == "test"
    assert [r["train_size"] for r in errors[1:]] == [6, 9]
    for r in errors[1:]:
        assert len(r["full_testpred"]) == 8 and r["kendalltau"] == r["kendalltau"]  # not NaN


@needs_naslib
@pytest.mark.parametrize("optimizer", ["re", "bananas"])
def test_naslib_search(optimizer, table_path, tmp_path):
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
          epochs: 10
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
    assert main(["naslib-search", "--config-file", str(cfg), "--nb101", table_path]) == 0
    out = tmp_path / "search" / "cifar10" / "nas_predictors" / "nasbench101"
    summary = json.loads((out / f"{optimizer}-petridish" / "0" / "petridish_search.json").read_text())
    assert 0.5 < summary["best_true_test_accuracy"] < 1
    assert summary["ground_truth_queries"] >= 6 and summary["predictor_queries"] > 0
    errors = json.loads((out / f"{optimizer}-petridish" / "0" / "errors.json").read_text())
    assert len(errors[1]["valid_acc"]) == 10  # the Trainer's per-epoch true accuracy
