"""The main job (``naslib-petridish compare``): every predictor on the same split, the
baselines on the same held-out cells, one table, one figure, resume and clear errors."""
import json

import numpy as np
import pytest

from naslib_petridish.cli import main
from naslib_petridish.compare import format_compare, run_compare

DISH_SET = ["dish_size=40", "inner_epochs=1", "outer_epochs=1", "outer_batch=3",
            "calibration_size=3"]
RANKER_SET = ["self_training=60", "graph_members=1"]


def _args(table_path, out, *extra):
    args = ["-q", "compare", "--nb101", table_path, "--out", str(out), "--train-size", "12",
            "--test-size", "10", "--workers", "1"]
    for s in DISH_SET:
        args += ["--set-dish", s]
    for s in RANKER_SET:
        args += ["--set-ranker", s]
    return args + list(extra)


def test_compare_fits_every_predictor_on_one_split(table, table_path, tmp_path, capsys):
    out = tmp_path / "main"
    assert main(_args(table_path, out)) == 0
    text = capsys.readouterr().out
    for name in ("dish (quick)", "ranker (cell-features-self-trained)", "params (baseline)",
                 "random (baseline)", "Kendall tau: how well"):
        assert name in text
    res = json.loads((out / "compare.json").read_text())
    assert [r["role"] for r in res["rows"]] == ["dish", "ranker", "baseline", "baseline"]
    assert res["train_size"] == 12 and res["test_size"] == 10
    # the dish and the ranker were scored on the very cells of the record, and their
    # sub-runs' baselines are the record's baselines
    held = res["test_hashes"]
    for role in ("dish", "ranker"):
        preds = json.loads((out / role / "predictions.json").read_text())
        assert [p["hash"] for p in preds] == held
        m = json.loads((out / role / "metrics.json").read_text())
        assert m["baseline_params"]["kendall_tau"] == pytest.approx(
            res["rows"][2]["kendall_tau"])
        assert m["baseline_random"]["kendall_tau"] == pytest.approx(
            res["rows"][3]["kendall_tau"])
        assert m["train_size"] == 12
    truth = table.metric([table.index(h) for h in held], "test")
    assert np.allclose(res["truth"], truth)
    assert res["rows"][0]["fit_seconds"] > 0 and res["rows"][1]["query_ms_per_cell"] > 0
    assert res["configs"]["dish"]["inner_epochs"] == 1
    assert res["configs"]["ranker"]["self_training"] == 60
    assert (out / "compare.png").stat().st_size > 1000
    # a second run refuses to overwrite; --resume reuses both fits
    assert main(_args(table_path, out)) == 2
    assert "compare.json exists; pass --resume" in capsys.readouterr().err
    assert main(_args(table_path, out, "--resume", "--no-plot")) == 0
    again = json.loads((out / "compare.json").read_text())
    assert [r["kendall_tau"] for r in again["rows"]] == [r["kendall_tau"] for r in res["rows"]]
    assert [r["fit_seconds"] for r in again["rows"]] == [r["fit_seconds"] for r in res["rows"]]


def test_compare_on_nb201_and_without_the_dish(tmp_path):
    from tests.nb201_helpers import synthetic_nb201

    t = synthetic_nb201(("cifar10",), seed=3, n=400).dataset("cifar10")
    res = run_compare(t, tmp_path / "m", dish=None, ranker_set=RANKER_SET, train_size=30,
                      test_size=20, progress=False)
    # the ranker by default is the space's recommendation: on NB201 the copies' preset
    assert [r["name"] for r in res["rows"]] == [
        "ranker (cell-features-self-trained-isomorphs)", "params (baseline)",
        "random (baseline)"]
    assert res["configs"]["ranker"]["isomorphs"] == 8
    assert res["space"] == "nb201" and res["metric_epochs"] == 200
    assert res["rows"][0]["kendall_tau"] > res["rows"][2]["kendall_tau"]
    text = format_compare(res)
    assert "nb201 cifar10: 20 held-out cells" in text
    table = text.splitlines()[1:2 + len(res["rows"])]  # the header and one line a row
    assert len({len(line) for line in table}) == 1  # columns aligned, the long name too


def test_compare_bad_input_is_one_line(table_path, tmp_path, capsys):
    assert main(_args(table_path, tmp_path / "a", "--test-size", "1")) == 2
    assert "--test-size must be an integer of at least 3" in capsys.readouterr().err
    assert main(_args(table_path, tmp_path / "b", "--dish", "none", "--ranker", "none")) == 2
    assert "nothing to compare" in capsys.readouterr().err
    assert main(_args(table_path, tmp_path / "c", "--set-ranker", "graph_members=-1")) == 2
    assert "graph_members" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("x")
    assert main(_args(table_path, f)) == 2
    assert "is a file" in capsys.readouterr().err


def test_the_help_text_names_each_space_s_recommended_ranker():
    """The command line's default ranker is the space's ``recommended_ranker``; the parser
    names them in its help without importing the spaces: the two must agree."""
    from naslib_petridish import cli_parser
    from naslib_petridish.spaces import get_space

    assert get_space("nb101").recommended_ranker == cli_parser.DEFAULT_PRESET
    assert get_space("nb201").recommended_ranker == cli_parser.DEFAULT_PRESET_NB201
