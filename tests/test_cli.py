import json
import subprocess
import sys

import pytest

from naslib_petridish.cli import main


def test_info_prints_summary(table_path, capsys):
    assert main(["-q", "info", "--nb101", table_path]) == 0
    out = capsys.readouterr().out
    assert "600 cells" in out and "val_acc    @108 epochs: cells per repeat [0, 0, 360]" in out
    assert "test_acc   @108 epochs: cells per repeat [600, 0, 0]" in out


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["info", "--nb101", str(tmp_path / "nope.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not found" in err
    assert main(["convert", str(tmp_path / "a.pkl"), str(tmp_path / "b.txt")]) == 2
    assert "must end in .npz" in capsys.readouterr().err


def test_console_script_installed():
    """The ``naslib-petridish`` entry point that ``pip install`` writes beside this Python
    (not ``python -m``, which works without any install)."""
    import os

    script = os.path.join(os.path.dirname(sys.executable), "naslib-petridish")
    assert os.access(script, os.X_OK), f"no console script at {script}: pip install -e ."
    r = subprocess.run([script, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("naslib-petridish ")


TINY_SET = ["--set", "dish_size=40", "--set", "inner_epochs=2", "--set", "outer_epochs=2",
            "--set", "outer_batch=3", "--set", "calibration_size=3", "--workers", "1"]


def test_fit_then_query_from_the_saved_dish_alone(table_path, table, tmp_path, capsys,
                                                  monkeypatch):
    run = tmp_path / "run"
    assert main(["-q", "fit", "--nb101", table_path, "--preset", "quick", "--out", str(run),
                 "--train-size", "6", "--seed", "1"] + TINY_SET) == 0
    assert "dish written" in capsys.readouterr().out
    for f in ("dish.pt", "config.yaml", "log.jsonl", "train_set.json"):
        assert (run / f).exists(), f
    assert not (run / "checkpoint.pt").exists()
    # refuses to overwrite
    assert main(["-q", "fit", "--nb101", table_path, "--preset", "quick", "--out", str(run),
                 "--train-size", "6"] + TINY_SET) == 2
    assert "--resume" in capsys.readouterr().err
    # query needs no ground truth when cells are given as dicts
    monkeypatch.delenv("NASLIB_PETRIDISH_NB101", raising=False)
    monkeypatch.setenv("NASLIB_PETRIDISH_CACHE", str(tmp_path / "nocache"))
    archs = tmp_path / "archs.json"
    cells = [table.cell(r).to_dict() for r in (10, 20, 30)]
    archs.write_text(json.dumps(cells))
    out = tmp_path / "pred.json"
    assert main(["-q", "query", "--dish", str(run), "--archs", str(archs), "--out", str(out)]) == 0
    preds = json.loads(out.read_text())
    assert len(preds) == 3 and all(isinstance(p["prediction"], float) for p in preds)
    assert [p["hash"] for p in preds] == [table.hashes[r] for r in (10, 20, 30)]
    assert main(["-q", "query", "--dish", str(run), "--archs", str(archs), "--out", str(out)]) == 2
    # hashes without ground truth: one clear line
    archs.write_text(json.dumps([table.hashes[10]]))
    assert main(["-q", "query", "--dish", str(run), "--archs", str(archs)]) == 2
    assert "no NAS-Bench-101 ground truth found" in capsys.readouterr().err
    assert main(["plot", str(run)]) == 0
    assert (run / "outer_kendall.png").exists() and (run / "inner_curves.png").exists()


def test_evaluate_end_to_end(table_path, tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["-q", "evaluate", "--nb101", table_path, "--preset", "quick", "--out", str(out),
                 "--train-size", "6", "--test-size", "8", "--no-plot"] + TINY_SET) == 0
    text = capsys.readouterr().out
    assert "petridish" in text and "params (baseline)" in text
    m = json.loads((out / "metrics.json").read_text())
    for k in ("petridish", "baseline_params", "baseline_random"):
        assert set(m[k]) >= {"kendall_tau", "spearman", "pearson"}
    assert m["test_size"] == 8 and m["train_size"] == 6 and m["fit_seconds"] > 0
    assert m["query_seconds_per_arch"] > 0 and m["config"]["inner_epochs"] == 2
    preds = json.loads((out / "predictions.json").read_text())
    assert len(preds) == 8


@pytest.mark.parametrize("preset", ["cell-features-boosted", "dish-curve-boosted"])
def test_evaluate_with_the_ranker_presets(preset, table_path, tmp_path, capsys):
    """The ranker presets through evaluate: their metrics are the ranker's (not labelled
    petridish), with the model's description and no trees in metrics.json."""
    out = tmp_path / "ev"
    assert main(["-q", "evaluate", "--nb101", table_path, "--preset", preset, "--out",
                 str(out), "--train-size", "30", "--test-size", "10", "--no-plot",
                 "--set", "dish.dish_size=40", "--set", "dish.inner_epochs=1", "--set",
                 "graph_members=1", "--set", "workers=1"]) == 0
    text = capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert m["predictor"] == "ranker" and "petridish" not in m and "calibration" not in m
    assert "LightGBM" in m["model"]["description"]
    assert "booster" not in json.dumps(m)  # the trees stay in ranker.json
    assert m["ranker"]["kendall_tau"] == m["ranker"]["kendall_tau"]  # defined
    assert "ranker" in text and "raw score" not in text
    assert (out / "ranker.json").exists() and not (out / "dish.pt").exists()
    assert len(json.loads((out / "predictions.json").read_text())) == 10
    # resumed: the finished fit and the answered queries are reused
    assert main(["-q", "evaluate", "--nb101", table_path, "--preset", preset, "--out",
                 str(out), "--train-size", "30", "--test-size", "10", "--no-plot",
                 "--set", "dish.dish_size=40", "--set", "dish.inner_epochs=1", "--set",
                 "graph_members=1", "--set", "workers=1", "--resume"]) == 0
    assert json.loads((out / "metrics.json").read_text())["ranker"] == m["ranker"]


def test_fit_and_query_a_ranker(table_path, table, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["-q", "fit", "--nb101", table_path, "--preset", "cell-features-boosted",
                 "--out", str(run), "--train-size", "20", "--set", "graph_members=1",
                 "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "ranker written" in out and "0 motifs trained" in out and "slope" not in out
    archs = tmp_path / "archs.json"
    archs.write_text(json.dumps([table.cell(r).to_dict() for r in (10, 20, 30)]))
    assert main(["-q", "query", "--dish", str(run), "--archs", str(archs), "--output",
                 str(tmp_path / "p.json")]) == 0
    preds = json.loads((tmp_path / "p.json").read_text())
    assert [p["score"] for p in preds] == [None] * 3
    assert all(isinstance(p["prediction"], float) for p in preds)


@pytest.mark.parametrize("argv,needle", [
    (["fit", "--preset", "nope", "--out", "X"], "unknown preset 'nope'"),
    (["fit", "--preset", "quick", "--set", "inner_epochs=-1", "--out", "X"], "positive integer"),
    (["fit", "--preset", "quick", "--train-size", "4000", "--out", "X"],
     "only 360 cells with val_acc"),
    (["query", "--dish", "nowhere", "--archs", "a.json"], "architecture file not found"),
])
def test_cli_errors_are_one_line(argv, needle, table_path, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["-q"] + argv + (["--nb101", table_path] if argv[0] == "fit" else [])) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and err.count("\n") == 0


def test_query_rejects_malformed_cells(tmp_path, capsys):
    from naslib_petridish.config import PetriDishConfig
    from naslib_petridish.dish import Dish
    Dish.create(PetriDishConfig(dish_size=40, inner_epochs=1)).save(tmp_path / "dish.pt")
    archs = tmp_path / "a.json"
    archs.write_text(json.dumps([{"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"]},
                                 {"matrix": [[0, 1], [1, 0]], "ops": ["input", "output"]}]))
    assert main(["-q", "query", "--dish", str(tmp_path), "--archs", str(archs)]) == 2
    err = capsys.readouterr().err
    assert "architecture #1" in err and "upper triangular" in err


def test_evaluate_resume_reuses_a_finished_fit(table_path, tmp_path, capsys):
    """fit, then evaluate --resume on the same directory: the dish is not refitted and the
    test set is disjoint from the fit's training pool."""
    run = tmp_path / "run"
    args = ["--nb101", table_path, "--preset", "quick", "--out", str(run), "--train-size", "6",
            "--seed", "2"] + TINY_SET
    assert main(["-q", "fit"] + args) == 0
    before = (run / "dish.pt").stat().st_mtime_ns
    assert main(["-q", "evaluate", "--resume", "--test-size", "5", "--no-plot"] + args) == 0
    assert (run / "dish.pt").stat().st_mtime_ns == before
    train = set(json.loads((run / "train_set.json").read_text())["hashes"])
    test = {p["hash"] for p in json.loads((run / "predictions.json").read_text())}
    assert len(test) == 5 and not train & test


def test_evaluate_query_resumes_after_an_interruption(table, tmp_path):
    """An interrupted held-out query continues where it stopped: answers of the same dish
    are reused (even after a line cut short), the rest is queried, the result is whole."""
    import shutil

    from naslib_petridish.evaluate import QUERY_PROGRESS, run_evaluation
    from tests.helpers import tiny

    cfg = tiny(outer_epochs=2, seed=4)
    a, b = tmp_path / "a", tmp_path / "b"
    res_a = run_evaluation(table, cfg, 7, a, progress=False, query_chunk=3)
    lines = (a / QUERY_PROGRESS).read_text().splitlines()
    assert len(lines) == 8 and "dish" in json.loads(lines[0])
    preds_a = json.loads((a / "predictions.json").read_text())

    def interrupted(header=None):
        shutil.rmtree(b, ignore_errors=True)
        shutil.copytree(a, b)
        for f in ("metrics.json", "predictions.json"):
            (b / f).unlink()
        head, *recs = lines
        first = json.loads(recs[0])
        first["score"] = 0.123456  # marks an answer that must be reused, not recomputed
        kept = [header or head, json.dumps(first), recs[1], recs[2]]
        (b / QUERY_PROGRESS).write_text("\n".join(kept) + "\n" + recs[3][:20])  # cut short
        return first["hash"]

    marked = interrupted()
    res_b = run_evaluation(table, cfg, 7, b, resume=True, progress=False, query_chunk=3)
    preds_b = json.loads((b / "predictions.json").read_text())
    assert [p["hash"] for p in preds_b] == [p["hash"] for p in preds_a]
    for pa, pb in zip(preds_a, preds_b):
        assert pb["score"] == (0.123456 if pa["hash"] == marked else pa["score"])
    after = (b / QUERY_PROGRESS).read_text().splitlines()
    assert len(after) == 8 and all(json.loads(line) for line in after)
    assert res_b["query_seconds_per_arch"] > 0
    assert res_b["baseline_params"] == res_a["baseline_params"]
    # answers from another dish are not reused
    marked = interrupted(header=json.dumps({"dish": "another dish"}))
    run_evaluation(table, cfg, 7, b, resume=True, progress=False, query_chunk=3)
    preds_c = json.loads((b / "predictions.json").read_text())
    assert [p["score"] for p in preds_c] == [p["score"] for p in preds_a]
