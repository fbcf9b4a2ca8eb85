"""Predictor-guided search (naslib_petridish.guided) on the synthetic table: the query
accounting, budgets, the incumbent, seeds, resume, and one-line errors."""
import json

import numpy as np
import pytest

from naslib_petridish.cli import main
from naslib_petridish.errors import ConfigError, UsageError
from naslib_petridish.guided import GuidedConfig, GuidedSearch, Oracle, run_guided
from naslib_petridish.tables import NB101Table


class SpyTable(NB101Table):
    """The synthetic table, noting every row whose accuracy anything reads."""

    def __init__(self, table):
        super().__init__(table.arrays(), table.source)
        self.read: list[int] = []

    def metric(self, xs, *a, **kw):
        rows = np.atleast_1d(np.asarray(xs)).tolist() if not isinstance(xs, str) else [xs]
        self.read += [int(r) for r in rows]
        return super().metric(xs, *a, **kw)


def small(**kw):
    return GuidedConfig(**{"budget": 47, "init": 10, "batch": 8, "pool": 100, "seed": 0, **kw})


def search(table, tmp_path, name="params", **kw):
    return run_guided(table, name, small(**kw), tmp_path / f"run-{name}-{kw.get('seed', 0)}")


def test_every_accuracy_read_is_a_counted_query_and_the_budget_is_exact(table, tmp_path):
    spy = SpyTable(table)
    s = search(spy, tmp_path, "params", mutations=2, top_k=3)
    rows = [spy.index(q["hash"]) for q in s["queries"]]
    assert s["ground_truth_queries"] == len(rows) == 47  # 10 + 8 x 4 + 5: exact
    assert sorted(spy.read) == sorted(rows)  # nothing else was read, each once
    assert len(set(rows)) == 47  # never a cell twice
    best = max(s["queries"], key=lambda q: q["accuracy"])
    assert s["best_hash"] == best["hash"]
    assert s["best_test_accuracy"] == float(table.metric([table.index(best["hash"])], "test")[0])
    assert s["incumbent"][-1] == s["best_test_accuracy"] and len(s["incumbent"]) == 47
    assert [r["proposed"] for r in s["rounds"]] == [8, 8, 8, 8, 5]
    assert all(r["candidates"] >= 100 for r in s["rounds"])  # the pool and the mutants
    assert s["config"]["search"]["budget"] == 47 and s["config"]["predictor"] == "params"


def test_the_predictor_steers_the_queries(table, tmp_path):
    """On the synthetic table accuracy follows the parameter count: the params predictor
    queries cells better than the uniform initial ones; the constant one does not."""
    guided = search(table, tmp_path, "params", budget=40)
    control = search(table, tmp_path, "mean", budget=40)
    acc = lambda s: np.array([q["accuracy"] for q in s["queries"]])  # noqa: E731
    assert acc(guided)[10:].mean() > acc(guided)[:10].mean() + 0.005
    assert acc(guided)[10:].mean() > acc(control)[10:].mean()
    assert [q["hash"] for q in guided["queries"][:10]] == \
        [q["hash"] for q in control["queries"][:10]]  # the same initial cells


def test_same_seed_same_queries_other_seed_other_queries(table, tmp_path):
    a = search(table, tmp_path / "a", "mean", seed=3)
    b = search(table, tmp_path / "b", "mean", seed=3)
    c = search(table, tmp_path / "c", "mean", seed=4)
    assert a["queries"] == b["queries"] and a["queries"] != c["queries"]


def test_an_interrupted_search_resumes_to_the_same_queries(table, tmp_path):
    from naslib_petridish import controls

    class Stop(Exception):
        pass

    calls = {"n": 0}
    real = controls.TableParams.fit

    def fit_then_stop(self, *a, **kw):  # the third fit is interrupted
        calls["n"] += 1
        if calls["n"] == 3:
            raise Stop
        return real(self, *a, **kw)

    cfg = small()
    whole = run_guided(table, "params", cfg, tmp_path / "whole")
    controls.TableParams.fit = fit_then_stop
    try:
        with pytest.raises(Stop):
            run_guided(table, "params", cfg, tmp_path / "cut")
    finally:
        controls.TableParams.fit = real
    ck = json.loads((tmp_path / "cut" / "checkpoint.json").read_text())
    assert len(ck["state"]["rows"]) == 26  # 10 initial + 2 rounds of 8
    again = run_guided(table, "params", cfg, tmp_path / "cut", resume=True)
    assert again["queries"] == whole["queries"]
    assert not (tmp_path / "cut" / "checkpoint.json").exists()
    with pytest.raises(Exception, match="exists"):
        run_guided(table, "params", cfg, tmp_path / "cut")  # never overwritten silently


def test_a_ranker_preset_drives_the_search(table, tmp_path):
    s = run_guided(table, "cell-features-boosted", small(budget=26),
                   tmp_path / "r", options={"graph_members": 1})
    assert s["ground_truth_queries"] == 26 and s["predictor_fit_seconds"] > 0
    assert s["architectures_predicted"] == 200


def test_search_continues_a_self_training_preset_from_the_last_round_unless_told_not_to():
    """search_options: the search's defaults over what the user set.  A self-training
    ranker preset refits every round, so the search warm-starts it (SEARCH.md measures
    it no worse than the cold fit); an explicit warm_start wins; every other predictor
    keeps exactly the options given."""
    from naslib_petridish.factory import search_options

    assert search_options("cell-features-self-trained") == {"warm_start": True}
    assert search_options("cell-features-self-trained", {"graph_members": 1}) == \
        {"graph_members": 1, "warm_start": True}
    assert search_options("cell-features-self-trained", {"warm_start": False}) == \
        {"warm_start": False}
    assert search_options("cell-features-self-trained", {"self_training": 0}) == \
        {"self_training": 0}
    for name in ("cell-features-boosted", "cell-features-trees", "quick", "params", "xgb"):
        assert search_options(name, {"seed": 3}) == {"seed": 3}
    assert search_options("cell-features-boosted", {"self_training": 50}) == \
        {"self_training": 50, "warm_start": True}


def test_the_search_command_records_the_warm_start_it_used(table_path, tmp_path):
    """`search --predictor cell-features-self-trained` runs warm-started and says so in
    its summary; --set warm_start=false is the cold fit, recorded as such."""
    common = ["-q", "search", "--nb101", table_path, "--predictor",
              "cell-features-self-trained", "--budget", "16", "--init", "10", "--batch", "3",
              "--pool", "40", "--set", "self_training=30", "--set", "graph_members=1"]
    for extra, warm in (([], True), (["--set", "warm_start=false"], False)):
        out = tmp_path / f"w{warm}"
        assert main(common + extra + ["--out", str(out)]) == 0
        s = json.loads((out / "summary.json").read_text())
        assert s["config"]["predictor_options"]["warm_start"] is warm
        assert s["ground_truth_queries"] == 16


def test_propose_and_tell_are_the_algorithm(table):
    """What the command and NASLib's optimizer share: propose gives at most what the
    budget leaves, tell counts, and the budget cannot be overspent."""
    from naslib_petridish.controls import TableParams

    s = GuidedSearch(table, TableParams(table), small(budget=12, init=10, batch=8))
    oracle = Oracle(table, "test")
    first = s.propose()
    assert len(first) == 10
    for r in first:
        s.tell(r, oracle(r))
    second = s.propose()
    assert len(second) == 2 and not set(second) & set(first)
    for r in second:
        s.tell(r, oracle(r))
    assert s.propose() == [] and len(oracle.rows) == 12
    with pytest.raises(UsageError, match="spent"):
        s.tell(second[0], 0.9)


@pytest.mark.parametrize("kw,needle", [
    ({"budget": 0}, "'budget' must be a positive integer"),
    ({"budget": 5, "init": 10}, "exceeds the budget"),
    ({"pool": -1}, "'pool' must be a non-negative integer"),
])
def test_bad_settings_are_config_errors(kw, needle):
    with pytest.raises(ConfigError, match=needle):
        small(**kw)


@pytest.mark.parametrize("argv,needle", [
    (["--budget", "0"], "'budget' must be a positive integer"),
    (["--predictor", "no-such"], "unknown predictor 'no-such'"),
    (["--pool", "100000"], "larger than the space"),
    (["--budget", "100000"], "exceeds the 600 cells"),
])
def test_cli_errors_are_one_line(argv, needle, table_path, tmp_path, capsys):
    base = ["-q", "search", "--nb101", table_path, "--out", str(tmp_path / "o")]
    if "--predictor" not in argv:
        argv = argv + ["--predictor", "params"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and err.count("\n") == 0, err


def test_cli_search_writes_its_summary(table_path, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["-q", "search", "--nb101", table_path, "--predictor", "params", "--budget",
                 "30", "--pool", "50", "--seed", "2", "--metric", "test", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert 0 < s["best_test_accuracy"] < 1 and len(s["queries"]) == 30
    assert s["config"]["search"]["seed"] == 2 and "best test accuracy" in capsys.readouterr().out
    assert main(["-q", "search", "--nb101", table_path, "--predictor", "params", "--budget",
                 "30", "--pool", "50", "--seed", "2", "--out", str(out)]) == 2  # no overwrite


def test_a_shorter_budget_is_a_prefix_of_a_longer_one(table, tmp_path):
    """The same seed draws the same cells whatever the budget (the budget only cuts the last
    round), so a 300-query run also gives its seed's 150-query curve: the search report
    relies on it (and checks it on the records)."""
    short = search(table, tmp_path / "a", "params", budget=42)
    long_ = search(table, tmp_path / "b", "params", budget=47)
    assert [q["hash"] for q in short["queries"]] == \
        [q["hash"] for q in long_["queries"]][:42]


def test_the_search_report_merges_budgets_and_refuses_a_run_that_is_no_prefix(tmp_path):
    from benchmarks import guided_search as gs

    def rec(budget, inc):
        return {"label": "x", "seed": 3, "budget": budget, "incumbent": inc,
                "train_seconds": [10.0 * (i + 1) for i in range(len(inc))],
                "rounds": [[2, 1.0, 0.5]]}

    (tmp_path / "guided_runs.jsonl").write_text(json.dumps(rec(3, [0.1, 0.2, 0.3])) + "\n")
    (tmp_path / "guided_runs_b300.jsonl").write_text(
        json.dumps(rec(4, [0.1, 0.2, 0.3, 0.4])) + "\n")
    runs = gs.read_all(tmp_path)
    assert runs["x"][3]["budget"] == 4  # the longer run stands for the seed
    # NB101 seconds of the queries so far + the predictor's round fitted after query 2
    assert gs.simulated_seconds(runs["x"][3]).tolist() == [10.0, 20.0, 31.5, 41.5]
    (tmp_path / "guided_runs_b300.jsonl").write_text(
        json.dumps(rec(4, [0.1, 0.25, 0.3, 0.4])) + "\n")
    with pytest.raises(SystemExit, match="not a prefix"):
        gs.read_all(tmp_path)


def test_further_reference_runs_are_recorded_once_and_survive_their_work_folder(tmp_path):
    """``refs`` runs live under WORK/refs (outside git); ``record_refs`` keeps them in a
    committed record of their own, never twice beside search_runs.jsonl, and the report's
    reference curves read committed, recorded and unrecorded runs alike."""
    import argparse

    from benchmarks import guided_search as gs
    from benchmarks import search_comparison as sc

    def rec(method, seed, ys):
        return {"method": method, "budget": 4, "seed": seed, "label": method,
                "trajectory": {"ground_truth_queries": list(range(1, len(ys) + 1)),
                               "best_true_test_accuracy": ys},
                "cost": {"wall": 1.234}}

    results, work = tmp_path / "results", tmp_path / "work"
    (results).mkdir()
    (results / sc.COMMITTED).write_text(json.dumps(rec("rs", 0, [0.1, 0.2, 0.2, 0.3])) + "\n")
    for r in (rec("rs", 0, [0.1, 0.2, 0.2, 0.3]), rec("rs", 10, [0.5, 0.5, 0.5, 0.6])):
        p = sc.result_path(work / "refs", r["method"], 4, r["seed"])
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(r))
    args = argparse.Namespace(results=results, work=work)
    assert gs.record_refs(args) == 1  # seed 0 is committed already
    written = [json.loads(x) for x in (results / gs.REFS_RECORD).read_text().splitlines()]
    assert [(r["method"], r["seed"]) for r in written] == [("rs", 10)]
    # compacted: the incumbent's unchanged steps are dropped, its step function is kept
    assert written[0]["trajectory"]["best_true_test_accuracy"] == [0.5, 0.6]
    for p in (work / "refs" / "results").glob("*.json"):
        p.unlink()  # a fresh machine: the work folder is gone, the record is not
    assert gs.record_refs(args) == 1
    runs = gs.reference_runs(args, 4)
    curve = sc.curves(runs[gs.ref_label("rs")], "ground_truth_queries", np.arange(1, 5))
    assert curve.tolist() == [[0.1, 0.2, 0.2, 0.3], [0.5, 0.5, 0.5, 0.6]]


def test_a_guided_curve_is_paired_with_the_reference_of_its_own_search_settings():
    from benchmarks import guided_search as gs

    runs = dict.fromkeys(["cell-features-boosted", "cell-features-boosted (pool 300)",
                          "params", "dish-curve-boosted (pool 300)", "xgb",
                          "gcn (pool 500)"])
    assert gs.paired_ref("dish-curve-boosted (pool 300)", runs) == \
        "cell-features-boosted (pool 300)"
    assert gs.paired_ref("cell-features-boosted (pool 300)", runs) == "cell-features-boosted"
    assert gs.paired_ref("xgb", runs) == gs.paired_ref("gcn (pool 500)", runs) == \
        "cell-features-boosted"
    assert gs.paired_ref("cell-features-boosted", runs) is None
    assert gs.paired_ref("params", runs) is None


def test_speed_report_times_side_by_side_and_pairs_regret_on_common_seeds(tmp_path, table,
                                                                          table_path):
    """``speed-report``: the warm-started preset's wall time against the reference's runs of
    the speed record only (run side by side), its accuracy paired against the cold fit on
    the seeds both have (cold runs from the budget's record) and against the reference."""
    from benchmarks import guided_search as gs

    best = float(np.nanmax(table.metric(np.arange(len(table)), "test")))
    warm = gs.label(gs.SPEED_PREDICTOR, gs.SEARCH, gs.WARM)
    cold = gs.label(gs.SPEED_PREDICTOR, gs.SEARCH)

    def rec(name, seed, acc, wall):
        return {"label": name, "seed": seed, "budget": 4, "incumbent": [acc - 0.01] * 3 + [acc],
                "wall_seconds": wall, "predictor_seconds": wall - 1, "machine": "m",
                "train_seconds": [1.0] * 4, "rounds": []}

    speed = [rec(gs.PAIRED_REF, s, best - 0.01, 100.0) for s in range(3)]
    speed += [rec(warm, s, best - 0.01 + 0.001 * s, 250.0 + 10 * s) for s in range(3)]
    (tmp_path / gs.SPEED_RECORD).write_text("".join(json.dumps(r) + "\n" for r in speed))
    # the budget's record: the warm runs (as `speed` writes them) and two cold seeds
    main = speed[3:] + [rec(cold, s, best - 0.01, 900.0) for s in (1, 2)]
    (tmp_path / gs.record_name(4)).write_text("".join(json.dumps(r) + "\n" for r in main))
    assert gs.main(["--results", str(tmp_path), "speed-report", "--budget", "4",
                    "--nb101", table_path]) == 0
    page = (tmp_path / "SEARCH.md").read_text()
    assert "ratio of the means 2.60x" in page  # (250 + 260 + 270) / 3 / 100
    assert "range 2.50-2.70x" in page
    # against the cold fit: seeds 1 and 2 only, +0.1 and +0.2 pp
    assert "the cold fit (from scratch every round), accuracy at 4 queries, paired over 2 " \
        "seeds (1-2): +0.150 pp" in page
    assert "paired over 3 seeds (0-2): +0.100 pp" in page  # against the reference
    assert f"| {cold} (cold, every run) (2 seeds) | 15.0 +- 0.0 |" in page
