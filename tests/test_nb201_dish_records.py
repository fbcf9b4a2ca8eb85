"""benchmarks/nb201_dish.py's records: what ``run`` leaves in its folders becomes the
committed rows, and the report pairs each trained dish with its untrained control trial by
trial (real tiny fits on a synthetic NB201 table)."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks import harness
from benchmarks.nb201_dish import markdown, read_rows, summarize
from naslib_petridish.evaluate import run_evaluation
from tests.helpers import tiny
from tests.nb201_helpers import synthetic_nb201


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    table = synthetic_nb201(datasets=("cifar10",), n=400).dataset("cifar10")
    w = tmp_path_factory.mktemp("nb201d")
    for trial in (0, 1):
        for recipe, lr in (("quick", 1e-2), ("quick-untrained", 0.0)):
            cfg = tiny(space="nb201", dataset="cifar10", metric="val", metric_epochs=200,
                       outer_epochs=2, outer_lr=lr, seed=trial)
            run_evaluation(table, cfg, 12, w / "cifar10" / recipe / f"t{trial}",
                           progress=False, target="test")
    return w


def test_run_folders_become_rows_and_pairs(work, tmp_path):
    rows = read_rows([work])
    assert [(r["recipe"], r["trial"]) for r in rows] == [
        ("quick", 0), ("quick", 1), ("quick-untrained", 0), ("quick-untrained", 1)]
    by = {(r["recipe"], r["trial"]): r for r in rows}
    # the trained dish logs its training motifs' Kendall per outer epoch; the control none
    assert all(len(by["quick", t]["outer"]) == 2 for t in (0, 1))
    assert all(by["quick-untrained", t]["outer"] is None for t in (0, 1))
    assert all(-1 <= r["kendall"] <= 1 and r["config"]["seed"] == r["trial"] for r in rows)
    s = summarize(rows)["cifar10"]
    pair = s["pairs"]["quick - quick-untrained"]
    assert pair["values"] == [by["quick", t]["kendall"] - by["quick-untrained", t]["kendall"]
                              for t in (0, 1)]
    assert pair["ci95"][0] < pair["mean"] < pair["ci95"][1]
    assert s["recipes"]["quick"]["mean"] == pytest.approx(
        np.mean([by["quick", t]["kendall"] for t in (0, 1)]))
    assert list(s["outer"]) == ["quick"] and len(s["outer"]["quick"]) == 2
    # the committed rows file read with the folders: a run counted once, the folder's
    # record kept where both hold it
    path = harness.write_jsonl(tmp_path / "rows.jsonl",
                               [{**r, "kendall": 0.5} for r in rows[:3]])
    merged = read_rows([path, work])
    assert merged == rows
    assert read_rows([path])[0]["kendall"] == 0.5


def test_a_pair_of_one_trial_has_no_interval(work):
    """One finished trial gives a paired difference but no t-interval: the report says so
    instead of printing nan."""
    rows = [r for r in read_rows([work]) if r["trial"] == 0]
    md = markdown(summarize(rows))
    line = next(x for x in md.splitlines() if x.startswith("| quick - quick-untrained"))
    assert "n/a (one trial)" in line and "nan" not in md
    two = markdown(summarize(read_rows([work])))
    assert "n/a" not in two and "nan" not in two
