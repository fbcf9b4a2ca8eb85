"""The splits of benchmarks/predictor_comparison.py and its training-time estimate
(naslib_petridish.search_cost; NASLib-free: the protocol logic runs on the synthetic table)."""
import numpy as np
import pytest

from benchmarks import predictor_comparison as pc
from naslib_petridish.search_cost import CellFeaturesTimeModel, cell_features


def test_uniform_split_is_distinct_disjoint_and_reproducible(table):
    s = pc.split_uniform(table, 50, 200, seed=3)
    te, tr = [x["hash"] for x in s["test"]], [x["hash"] for x in s["train"]]
    assert len(te) == 50 and len(tr) == 200
    assert len(set(te)) == 50 and len(set(tr)) == 200 and not set(te) & set(tr)
    assert all(h in table for h in te + tr)
    assert s == pc.split_uniform(table, 50, 200, seed=3)
    assert s != pc.split_uniform(table, 50, 200, seed=4)
    st = pc.split_stats(s)
    assert st["train_in_test"] == 0 and st["train_distinct"] == 200


def test_uniform_split_is_uniform_over_cells_and_prefixes(table):
    n = len(table)
    counts_test, counts_prefix = np.zeros(n), np.zeros(n)
    runs = 300
    for seed in range(runs):
        s = pc.split_uniform(table, 20, 60, seed=seed)
        counts_test[table.indices([x["hash"] for x in s["test"]])] += 1
        # a prefix (a smaller training size) must be uniform too: the order is random
        counts_prefix[table.indices([x["hash"] for x in s["train"][:20]])] += 1
    from scipy import stats
    for c in (counts_test, counts_prefix):
        expected = runs * 20 / n
        assert abs(c.mean() - expected) < 1e-9
        assert stats.chisquare(c).pvalue > 1e-3
    # the prefix is not biased towards small rows (hash order)
    rows = np.repeat(np.arange(n), counts_prefix.astype(int))
    assert abs(rows.mean() / (n - 1) - 0.5) < 0.03


def _fake_sampler(pool, seed):
    rng = np.random.default_rng(seed)
    return lambda: {"hash": str(pool[rng.integers(len(pool))]), "matrix": "0" * 49, "ops": []}


def test_sampler_split_without_duplicates(table):
    pool = table.hashes[:80]  # a small pool: duplicates are frequent
    s = pc.split_from_sampler(_fake_sampler(pool, 0), 20, 50, distinct=True)
    te, tr = [x["hash"] for x in s["test"]], [x["hash"] for x in s["train"]]
    assert len(set(te)) == 20 and len(set(tr)) == 50 and not set(te) & set(tr)
    assert s["draws"] > 70


def test_sampler_split_as_is_keeps_duplicates(table):
    pool = table.hashes[:30]
    s = pc.split_from_sampler(_fake_sampler(pool, 0), 20, 50, distinct=False)
    st = pc.split_stats(s)
    assert st["test"] == 20 and st["train"] == 50 and s["draws"] == 70
    assert st["train_distinct"] < 50 and st["train_in_test"] > 0


def test_sampler_split_gives_up(table):
    from naslib_petridish.errors import UsageError
    with pytest.raises(UsageError, match="too few distinct cells"):
        pc.split_from_sampler(_fake_sampler(table.hashes[:5], 0), 3, 5, distinct=True,
                              max_draws=1000)


def test_time_model_uses_real_times_and_estimates_others(table):
    tm = CellFeaturesTimeModel(table)
    known = np.flatnonzero(tm.known)
    unknown = np.flatnonzero(~tm.known)
    assert len(known) and len(unknown)
    secs, real = tm.seconds(np.r_[known[:5], unknown[:5]])
    assert real[:5].all() and not real[5:].any()
    assert np.allclose(secs[:5], table.train_time[known[:5], 3, 2])
    assert np.isfinite(secs).all() and (secs > 0).all()
    d = tm.describe()
    assert d["held_out_median_abs_rel_error"] < 0.5 and d["cells_with_real_time"] == len(known)


def test_cell_features_depth(table):
    rows = table.sample(30, rng=1)
    f = cell_features(table, rows)
    for r, feat in zip(rows, f):
        c = table.cell(int(r))
        n = c.num_vertices
        depth = [0] + [None] * (n - 1)
        for j in range(1, n):
            depth[j] = max(depth[i] + 1 for i in range(j) if c.matrix[i, j])
        assert feat[6] == depth[n - 1] and feat[7] == n
        assert feat[5] == c.matrix.sum()


def test_plan_order_and_zero_cost_once():
    jobs = pc.plan(["c", "b"], [14, 42], ["params", "xgb", "petridish-quick"], [0, 1])
    assert [j for j in jobs if j["predictor"] == "params"] == [
        {"protocol": p, "predictor": "params", "size": 0, "trial": t}
        for p in ("c", "b") for t in (0, 1)]
    assert jobs[0]["protocol"] == "c" and jobs[-1]["protocol"] == "b"
    assert len(jobs) == 2 * (2 + 2 * 2 * 2)
    big = pc.plan(["c"], [1000], ["petridish-quick"], [0])
    assert big == []  # cut above MAX_SIZE
    paper = pc.plan(["c"], [14, 347, 1000], pc.PAPER, [0])
    assert [(j["predictor"], j["size"]) for j in paper] == [
        ("petridish-b-short", 14), ("petridish-b-short", 347), ("petridish", 1000)]


def test_split_fingerprint_tells_splits_apart(table):
    a = pc.split_uniform(table, 20, 30, seed=0)
    assert pc.split_fingerprint(a) == pc.split_fingerprint(pc.split_uniform(table, 20, 30, 0))
    assert pc.split_fingerprint(a) != pc.split_fingerprint(pc.split_uniform(table, 20, 30, 1))
    swapped = {"test": a["train"][:20], "train": a["test"] + a["train"][20:]}
    assert pc.split_fingerprint(swapped) != pc.split_fingerprint(a)
    assert pc.split_stats(a)["fingerprint"] == pc.split_fingerprint(a)


def _row(pred, size, trial, split, tau, protocol="c"):
    return {"protocol": protocol, "predictor": pred, "train_size": size, "trial": trial,
            "split": split, "status": "ok", "kendalltau": tau}


def test_committed_rows_are_merged_under_local_ones():
    committed = [_row("xgb", 14, 0, "s0", 0.1), _row("xgb", 42, 0, "s0", 0.2),
                 _row("xgb", 14, 1, "s1", 0.3), _row("gp", 14, 0, None, 0.4)]
    local = [_row("xgb", 14, 0, "s0", 0.5), _row("xgb", 14, 0, "s0", 0.6)]
    got = {pc.job_key(r): r["kendalltau"] for r in pc.merge_rows(committed, local)}
    # a committed row without a fingerprint is not trusted beside local rows of its trial
    assert got == {("c", "xgb", 14, 0): 0.6, ("c", "xgb", 42, 0): 0.2,
                   ("c", "xgb", 14, 1): 0.3}
    assert len(pc.merge_rows(committed, [])) == 4
    # a local split that differs: every committed row of that (protocol, trial) is dropped
    other = pc.merge_rows(committed, [_row("xgb", 14, 0, "new", 0.7)])
    assert {pc.job_key(r) for r in other} == {("c", "xgb", 14, 0), ("c", "xgb", 14, 1)}


def test_committed_comparison_record_matches_the_uniform_splits(real_table):
    """The committed rows of protocol (c) were made on the splits drawn here: the
    parameter-count baseline's Kendall tau recomputed from the split matches the record."""
    import json
    from scipy.stats import kendalltau

    from benchmarks import harness
    runs, splits = pc.read_committed(harness.RESULTS)
    rows = [r for r in runs if r["protocol"] == "c" and r["predictor"] == "params"]
    assert rows
    for r in rows:
        s = pc.split_uniform(real_table, 200, 1000, r["trial"])
        assert r["split"] == pc.split_fingerprint(s)
        idx = real_table.indices([x["hash"] for x in s["test"]])
        y = real_table.metric(idx, "test")
        assert kendalltau(real_table.params[idx], y).statistic == pytest.approx(
            r["kendalltau"], abs=1e-9)
    json.dumps(splits)  # the split stats stay plain JSON


def test_undefined_correlation_is_reported_not_averaged_in():
    """A finished job whose correlations NASLib returned as NaN (constant predictions) is
    shown as such: the mean is over the other trials, the table says "2 of 3", and the
    job is listed with the reason."""
    import argparse

    def row(trial, tau):
        return {"protocol": "c", "predictor": "dngo", "train_size": 1000, "trial": trial,
                "status": "ok", "kendalltau": tau, "spearman": tau, "pearson": tau,
                "mae": 2.2, "fit_time": 80.0, "query_time": 1e-5, "init_seconds": 1.9e6,
                "train_seconds_nb101": 1.9e6, "train_distinct": 1000, "train_in_test": 0,
                "machine": "test machine"}

    rows = [row(0, 0.5), row(1, None), row(2, 0.6)]
    (s,) = pc.summarize(rows)
    assert s["trials"] == [0, 1, 2] and s["undefined_tau_trials"] == [1]
    assert s["kendalltau"]["mean"] == pytest.approx(0.55)
    md = pc.markdown([s], rows, None, [], argparse.Namespace(work="runs/comparison"))
    assert "+0.550 ± 0.071 (2 of 3)" in md
    assert "| c | dngo | 1000 | 1 | finished, but Kendall / Spearman / Pearson undefined" in md
