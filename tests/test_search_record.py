"""The committed record of benchmarks/search_comparison.py (NASLib-free)."""
from dataclasses import asdict

import numpy as np
import pytest

from benchmarks import search_comparison as sc


def _record(method="re", budget=150, seed=0):
    m = sc.BY_NAME[method]
    ys = [None, 0.90, 0.90, 0.91, 0.91, 0.91, 0.93, 0.93]
    n = len(ys)
    return {"method": method, "budget": budget, "seed": seed, "method_settings": asdict(m),
            "search_config": {"population_size": sc.POPULATION, "sample_size": sc.SAMPLE},
            "errors_json": "/tmp/x/errors.json", "best_true_test_accuracy": 0.93,
            "trajectory": {"ground_truth_queries": list(range(10, 10 * n + 1, 10)),
                           "simulated_seconds": [100.0 * i for i in range(n)],
                           "best_true_test_accuracy": ys, "note": "kept"}}


def test_compact_keeps_the_step_function():
    rec = _record()
    small = sc.compact(rec)
    assert "errors_json" not in small
    assert small["trajectory"]["best_true_test_accuracy"] == [None, 0.90, 0.91, 0.93, 0.93]
    assert small["trajectory"]["note"] == "kept"
    grid = np.arange(0, 100, 3)
    assert np.array_equal(sc.curves([rec], "ground_truth_queries", grid),
                          sc.curves([small], "ground_truth_queries", grid), equal_nan=True)
    # seconds to 0.01 s, float32 accuracies read back exactly, the time model as its formula
    acc32 = float(np.float32(0.9412059))
    rec["trajectory"]["best_true_test_accuracy"][-1] = acc32
    rec["trajectory"]["simulated_seconds"][-1] = 231638.2913968392
    rec["cost"] = {"simulated_seconds": 231638.2913968392, "time_model": {
        "model": "log t ~ a + b log params", "coef": {"1": 0.1}, "fit_cells": 24000,
        "held_out_median_abs_rel_error": 0.115}}
    small = sc.compact(rec)
    assert np.float32(small["trajectory"]["best_true_test_accuracy"][-1]) == np.float32(acc32)
    assert small["trajectory"]["simulated_seconds"][-1] == 231638.29
    assert small["cost"] == {"simulated_seconds": 231638.29, "time_model": {
        "model": "log t ~ a + b log params", "held_out_median_abs_rel_error": 0.115}}
    assert sc.compact(small) == small
    assert "label" not in small["method_settings"] and sc.current(small)


def test_stale_settings_are_not_reused(tmp_path):
    ok = _record(seed=0)
    stale = _record(seed=1)
    stale["method_settings"] = {**stale["method_settings"], "refit_every": 7}
    wrong_pop = _record(seed=2)
    wrong_pop["search_config"]["population_size"] = 5
    assert sc.current(ok) and not sc.current(stale) and not sc.current(wrong_pop)
    relabelled = _record(seed=3)
    relabelled["method_settings"] = {**relabelled["method_settings"], "label": "old words"}
    assert sc.current(relabelled)  # a label is presentation, not a setting
    results = tmp_path / "results"
    results.mkdir()
    import json
    (results / sc.COMMITTED).write_text(
        "\n".join(json.dumps(sc.compact(r)) for r in (ok, stale, wrong_pop)) + "\n")
    local = _record(seed=0)
    local["best_true_test_accuracy"] = 0.94
    sc.harness.save_json(sc.result_path(tmp_path / "work", "re", 150, 0), local)
    got = sc.all_results(tmp_path / "work", results)
    assert [(r["seed"], r["best_true_test_accuracy"]) for r in got] == [(0, 0.94)]
    # the record keeps every committed run: a report must not drop the stale ones
    kept = sc.all_results(tmp_path / "work", results, stale=True)
    assert sorted((r["seed"], r["best_true_test_accuracy"]) for r in kept) == [
        (0, 0.94), (1, 0.93), (2, 0.93)]


def test_runs_made_before_a_settings_field_existed_are_current():
    """A field added to Method later (refit_predictor, default True) is read as its default
    in older records: those runs did exactly that."""
    old = _record("re-cfb-refit")
    del old["method_settings"]["refit_predictor"]
    old["search_config"] = {}
    assert sc.current(old)
    fixed = _record("re-cfb-fixed")  # refit_predictor False: an old record is not this
    del fixed["method_settings"]["refit_predictor"]
    fixed["search_config"] = {}
    assert not sc.current(fixed)


def _summary_row(budget, method, label, acc, seeds=10):
    return {"budget": budget, "method": method, "label": label, "seeds": seeds,
            "acc": [acc, 0.001], "regret": [0.95 - acc, 0.001], "gt_min": 135,
            "gt_max": 150, "sim_s": [2.5e5, 1e4]}


def test_search_part_of_comparison_md_is_replaced_not_appended(tmp_path):
    """COMPARISON.md's search part: written between its markers; a second report
    replaces it and keeps what the predictor comparison wrote around it."""
    import json

    (tmp_path / "search_b150_queries.png").write_bytes(b"")
    data = {"best_test_accuracy": 0.95,
            "summary": [_summary_row(150, "re", "RE (reference)", 0.9402)]}
    (tmp_path / "search_comparison.json").write_text(json.dumps(data))
    md = tmp_path / "COMPARISON.md"
    md.write_text("# Predictor comparison\n\nprotocol tables\n")
    sc.refresh_comparison_md(tmp_path)
    first = md.read_text()
    assert first.startswith("# Predictor comparison\n\nprotocol tables\n")
    assert "| 150 | RE (reference) | 10 | 94.02 ± 0.10 | 0.98 ± 0.10 |  |  | 135-150 |" in first
    assert "`search_b150_queries.png`" in first
    data["summary"].append(_summary_row(300, "rs", "random search", 0.9385))
    (tmp_path / "search_comparison.json").write_text(json.dumps(data))
    md.write_text(first + "\n## Notes after it\n")
    sc.refresh_comparison_md(tmp_path)
    second = md.read_text()
    assert second.count(sc.SECTION_BEGIN) == 1 and second.count("RE (reference)") == 1
    assert "| 300 | random search | 10 | 93.85" in second
    assert second.rstrip().endswith("## Notes after it")


def test_versus_re_is_welch_t_test_on_final_accuracy():
    """The 'vs RE' column: mean difference and Welch's p (SciPy), per budget; none for RE
    itself or with a single seed."""
    from scipy import stats

    a, b = [0.940, 0.942, 0.944, 0.941], [0.938, 0.939, 0.937, 0.941, 0.936]
    d, p = sc.versus(a, b)
    assert np.isclose(d, np.mean(a) - np.mean(b))
    assert np.isclose(p, stats.ttest_ind(a, b, equal_var=False).pvalue) and 0 < p < 0.05
    assert sc.versus([0.94], b) is None

    def run(method, budget, seed, acc):
        r = _record(method, budget, seed)
        r.update(best_true_test_accuracy=acc, ground_truth_queries=budget,
                 distinct_cells_queried=budget, predictor_queries=0, refits=0, epochs=budget,
                 wall_seconds=1.0, cost={"train_seconds": 1.0, "simulated_seconds": 1.0,
                                         "predictor": {"fit_seconds": 0.0,
                                                       "query_seconds": 0.0}})
        return r

    runs = ([run("re", 150, s, x) for s, x in enumerate(b)]
            + [run("rs", 150, s, x) for s, x in enumerate(a)]
            + [run("rs", 300, 0, 0.95)])
    runs += [run("re-params-fixed", 150, s, x - 0.001) for s, x in enumerate(a)]
    rows = {(r["budget"], r["method"]): r for r in sc.summarize(runs, 0.9466)}
    assert rows[(150, "re")]["vs_re"] is None
    assert np.allclose(rows[(150, "rs")]["vs_re"][:2], (d, p))
    assert rows[(300, "rs")]["vs_re"] is None  # no RE at that budget
    # q: Benjamini-Hochberg over the methods compared with RE at the budget (SciPy)
    ps = [rows[(150, m)]["vs_re"][1] for m in ("rs", "re-params-fixed")]
    q = stats.false_discovery_control(ps, method="bh")
    assert [rows[(150, m)]["vs_re"][2] for m in ("rs", "re-params-fixed")] == pytest.approx(q)
    assert max(q) == pytest.approx(max(ps)) and min(q) > min(ps)
    text = sc._vs(rows[(150, "rs")]["vs_re"])
    assert text.startswith("+0.35 (p 0.0") and ", q 0.0" in text
    assert sc._vs((0.0022, 0.004)) == "+0.22 (p 0.004)"
    # 'vs control': against the same optimizer with the constant predictor, none for plain
    # runs and the control itself
    assert rows[(150, "re-params-fixed")]["vs_control"] is None  # no control run yet
    runs += [run("re-mean-fixed", 150, s, x) for s, x in enumerate(b)]
    rows = {(r["budget"], r["method"]): r for r in sc.summarize(runs, 0.9466)}
    assert rows[(150, "re")]["vs_control"] is None and rows[(150, "rs")]["vs_control"] is None
    assert rows[(150, "re-mean-fixed")]["vs_control"] is None
    d2, p2 = sc.versus([x - 0.001 for x in a], b)
    assert np.allclose(rows[(150, "re-params-fixed")]["vs_control"], (d2, p2, p2))

    # seeds past the planned ones: their own rows, each part against RE on the same seeds
    more = sc.more_seeds(runs + [run("rs", 150, 7, 0.95), run("re", 150, 7, 0.94)], 5, 0.9466)
    assert [(m["part"], m["seeds"], m["n"]) for m in more] == [
        ("planned", "0-3", 4), ("extra", "7-7", 1), ("all", "0-7", 5)]
    assert all(m["method"] == "rs" for m in more)
    assert np.allclose(more[0]["vs_re"], (d, p)) and more[1]["vs_re"] is None


def _full_row(budget, method, wall):
    m = sc.BY_NAME[method]
    return {**_summary_row(budget, method, m.label, 0.94), "distinct": [140, 1],
            "predictor_queries": [0, 0], "refits": [0, 0], "train_s": [1e5, 1],
            "pred_s": [0, 0], "wall_s": [wall, 1]}


def test_progress_table_counts_what_is_left_and_names_the_cut_curves():
    rows = [_full_row(150, "re", 1.0), _full_row(300, "re", 1.0),
            _full_row(150, "re-quick-fixed", 100.0), _full_row(150, "re-quick-refit", 300.0)]
    rows[3]["seeds"] = 2
    md = sc.markdown(rows, 0.95, "abc", [], 10, [], {"model": "m"}, 10, "repeat 0")
    table = md[md.index("## Cost per run and progress"):]
    line = {ln.split(" | ")[0][2:]: ln for ln in table.splitlines() if ln.startswith("| ")}
    assert line["RE (true accuracy, reference)"].endswith("| 20/20 | 0.0 |")
    # 10 seeds at 300 left, guessed from 150: 100 s x 2^1.5 x 10
    assert line[sc.BY_NAME["re-quick-fixed"].label].endswith(
        f"| 10/20 | ~{10 * 100 * 2 ** 1.5 / 3600:.1f} |")
    for name in sc.NOT_RUN:
        assert line[sc.BY_NAME[name].label].endswith("| not run (below) |")
    missing = table[table.index("not complete yet:"):].split("\n")[0]
    assert "re-quick-fixed @ 300: 0/10" in missing and "quick-refit" not in missing
    assert "Not run: `re-quick-refit`, `bananas-quick`, `npenas-quick`. Why: each refit" in table
    assert "More seeds" not in md
    more = [{"budget": 300, "label": "X", "part": "extra", "seeds": "10-19", "n": 10,
             "acc": [0.9425, 0.0015], "vs_re": [0.002, 0.03]}]
    md = sc.markdown(rows, 0.95, "abc", [], 10, [], {"model": "m"}, 10, "repeat 0", more)
    assert "use seeds 0-9 of every curve" in md
    assert "| 300 | X | 10-19 (extra) | 10 | 94.25 ± 0.15 | +0.20 (p 0.03) |  |" in md
