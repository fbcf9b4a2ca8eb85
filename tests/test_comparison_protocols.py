"""The splits and the training-time estimate of benchmarks/predictor_comparison.py
(NASLib-free: the protocol logic runs on the synthetic table)."""
import numpy as np
import pytest

from benchmarks import predictor_comparison as pc


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
    with pytest.raises(RuntimeError):
        pc.split_from_sampler(_fake_sampler(table.hashes[:5], 0), 3, 5, distinct=True,
                              max_draws=1000)


def test_time_model_uses_real_times_and_estimates_others(table):
    tm = pc.TimeModel(table)
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
    f = pc.cell_features(table, rows)
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

