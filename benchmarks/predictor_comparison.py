"""Predictor comparison on NAS-Bench-101 after White et al. 2021 (COMPARISON.md).

Drives NASLib's own ``PredictorEvaluator`` (unchanged NASLib code) for NASLib's
model-based predictors, three free baselines (params, FLOPs, synflow) and this package's
dish presets, on the White et al. grid of training-set sizes, 200 test architectures and
several trials, under three protocols:

* ``a`` NASLib as-is: NASLib's sampler (random 7x7 matrices, rejected until valid, so small
  pruned cells recur), its duplicate check in ``load_dataset`` disabled, train/test may
  overlap; comparable with White et al.'s published numbers;
* ``b`` NASLib's sampler, duplicates (by pruned-cell hash) removed, train/test disjoint;
* ``c`` uniform over the 423,624 distinct NB101 cells, train/test disjoint
  (GATES/TNASP/PINAT protocol, ``NB101Table.sample``).

Ground truth: 108-epoch TEST accuracy (repeat 0, the only metric the shared table has for
every cell). The evaluator gets its data by a thin subclass that overrides only
``load_dataset``; the split of each (protocol, trial) is drawn once (test set first, then the
largest training set; smaller sizes are prefixes, as in NASLib) and stored, so every
predictor of a trial sees the same architectures and a resume reuses them.

    # run (resumable: every finished (protocol, predictor, size, trial) is a line of
    # runs/comparison/results.jsonl and is skipped on restart; failures are lines too)
    python -m benchmarks.predictor_comparison run --protocols c b --sizes 14 42 121 \\
        --trials 0 1 2 --predictors params xgb lgb
    # tables and figures from whatever has finished
    python -m benchmarks.predictor_comparison report

Initialization time = NB101 training time (TPU v2 seconds, summed over the training
architectures as NASLib charges it; the table's time where it exists (30,001 cells), else a
least-squares estimate from cell features,
``naslib_petridish.search_cost.CellFeaturesTimeModel``) + measured fit time. Query time =
measured seconds per test architecture (NASLib's ``query_time``).

``report`` rewrites the generated part of COMPARISON.md (between its ``predictors``
markers) and keeps the rest: the notes below it and part 2, which
``benchmarks.search_comparison report`` writes between its own markers.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from benchmarks import harness
# the NASLib side: a worker process per job (NASLib and the table loaded once)
from benchmarks.comparison_worker import SIZE_SCALED, WorkerProcess
# the splits: the package's, which `naslib-evaluate --protocol` draws too
from naslib_petridish.protocols import (split_fingerprint, split_from_sampler,  # noqa: F401
                                        split_stats, split_uniform)

PROTOCOLS = {
    "a": "NASLib as-is (NASLib sampler, duplicates kept, train/test may overlap)",
    "b": "NASLib sampler, duplicates removed, train/test disjoint",
    "c": "uniform over distinct NB101 cells, train/test disjoint",
}
SIZES = [5, 8, 14, 24, 42, 71, 121, 205, 347, 589, 1000]  # White et al.'s grid
#: size-independent baselines: evaluated once per (protocol, trial), recorded as size 0
ZERO_COST = ("params", "flops", "synflow")
FAST = ["params", "petridish-untrained-dish-tse", "petridish-dish-curve-boosted",
        "petridish-cell-features-boosted", "petridish-dish-curve-self-trained",
        "petridish-cell-features-self-trained", "petridish-cell-features-co-trained",
        "xgb", "lgb",
        "rf", "ngb", "bayes_lin_reg", "gp", "mlp", "bananas"]
SLOW = ["bonas", "gcn", "nao", "seminas", "bohamiann", "dngo", "sparse_gp", "var_sparse_gp",
        "flops", "synflow", "petridish-quick"]
PAPER_METHOD = "petridish"  # = petridish-c = the paper's preset paper-c
#: predictors run only up to this training-set size (cost on the 2-core machine)
MAX_SIZE = {"petridish-quick": 121, "petridish-b-short": 347}
#: ... and only from this size on (the paper's method: its own protocol, 1,020 cells)
MIN_SIZE = {PAPER_METHOD: 1000}
#: the paper's method and its shortened preset (one fit takes minutes to an hour)
PAPER = [PAPER_METHOD, "petridish-b-short"]
METRIC_NOTE = "108-epoch test accuracy (NB101 repeat 0)"
#: the plan COMPARISON.md reports progress against: (protocols, sizes), fast + slow, 3 trials
FULL_PLAN = [(["c", "b"], [14, 42, 121, 347, 1000], FAST + SLOW),
             (["a"], [14, 121, 1000], FAST + SLOW),
             (["c"], [14, 42, 121, 347, 1000], PAPER)]
RESULTS_FILE = "results.jsonl"
#: the markers of COMPARISON.md's generated part (the notes after it are the page's own)
SECTION = harness.markers("predictors", "python -m benchmarks.predictor_comparison report")


# --- run ------------------------------------------------------------------------------------


def job_key(r: dict) -> tuple:
    return (r["protocol"], r["predictor"], int(r["train_size"]), int(r["trial"]))


def read_results(work) -> list[dict]:
    p = Path(work) / RESULTS_FILE
    if not p.exists():
        return []
    rows = []
    for line in p.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line cut by a kill
    return rows


#: the committed rows, one compact JSON line per job (``comparison.json`` keeps the summary:
#: with the rows in it, the file outgrew the 1 MiB limit on a committed record)
RUNS = "comparison_runs.jsonl"


def read_committed(results: Path) -> tuple[list[dict], list[dict]]:
    """(runs, splits) of the committed record (``comparison_runs.jsonl``, and the splits in
    ``comparison.json``; an older ``comparison.json`` that still holds its ``runs`` is read
    too): the record that outlives a machine. ``run`` counts these jobs as done where the
    split drawn here has the same fingerprint, and ``report`` merges them under the rows
    of the work folder."""
    p, q = Path(results) / "comparison.json", Path(results) / RUNS
    d = json.loads(p.read_text()) if p.exists() else {}
    runs = harness.read_jsonl(q) if q.exists() else d.get("runs", [])
    return runs, d.get("splits", [])


def committed_timemodel(results: Path):
    p = Path(results) / "comparison.json"
    return json.loads(p.read_text()).get("timemodel") if p.exists() else None


def merge_rows(committed: list[dict], local: list[dict]) -> list[dict]:
    """The last row of each job, local rows over committed ones; committed rows of a
    (protocol, trial) whose split differs from the local rows' split are dropped."""
    local_split = {(r["protocol"], int(r["trial"])): r["split"] for r in local if r.get("split")}
    last = {}
    for r in committed:
        s = local_split.get((r["protocol"], int(r["trial"])))
        if s is None or r.get("split") == s:
            last[job_key(r)] = r
    for r in local:
        last[job_key(r)] = r
    return list(last.values())


def append_result(work, row: dict) -> None:
    with open(Path(work) / RESULTS_FILE, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def plan(protocols, sizes, predictors, trials) -> list[dict]:
    """Jobs in the order given: protocol, then size, then predictor, then trial; the
    size-independent baselines once per (protocol, trial), as size 0."""
    jobs, seen = [], set()
    for p in protocols:
        for n in sizes:
            for name in predictors:
                size = 0 if name in ZERO_COST else n
                if name in MAX_SIZE and n > MAX_SIZE[name] or n < MIN_SIZE.get(name, 0):
                    continue
                for t in trials:
                    k = (p, name, size, t)
                    if k not in seen:
                        seen.add(k)
                        jobs.append({"protocol": p, "predictor": name, "size": size, "trial": t})
    return jobs


def cmd_run(args):
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    predictors = [x for p in args.predictors for x in
                  (FAST if p == "fast" else SLOW if p == "slow" else PAPER if p == "paper"
                   else [p])]
    args.max_train = max(max(args.sizes), args.max_train)
    wp = WorkerProcess(args)
    old = read_results(work)
    committed, _ = read_committed(args.results)
    if committed and not args.ignore_committed:
        # reuse the committed rows of a (protocol, trial) only if this machine draws the
        # same split (NASLib's sampler depends on library versions)
        here = {}
        for pt in sorted({(r["protocol"], int(r["trial"])) for r in committed}):
            got = wp.run({"op": "fingerprint", "protocol": pt[0], "trial": pt[1]}, 1200)
            here[pt] = got.get("split")
        usable = [r for r in committed if r.get("split") == here[(r["protocol"], int(r["trial"]))]]
        print(f"{len(usable)} of {len(committed)} committed results reused (same split); "
              f"{len(committed) - len(usable)} not", flush=True)
        old = merge_rows(usable, old)
    done = {job_key(r) for r in old if r["status"] == "ok" or not args.retry_failed}
    failed = {(r["protocol"], r["predictor"], int(r["trial"])): int(r["train_size"])
              for r in old if r["status"] != "ok" and "timeout" in r.get("error", "")}
    jobs = plan(args.protocols, args.sizes, predictors, args.trials)
    todo = [j for j in jobs if (j["protocol"], j["predictor"], j["size"], j["trial"]) not in done]
    print(f"{len(jobs)} jobs, {len(jobs) - len(todo)} already recorded, {len(todo)} to run; "
          f"results: {work / RESULTS_FILE}, NASLib output: {work / 'worker.log'}", flush=True)
    prov = harness.provenance()
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))  # so that the worker is killed
    try:
        for j in todo:
            key = (j["protocol"], j["predictor"], j["trial"])
            if not args.retry_failed and key in failed and j["size"] > failed[key]:
                res = {"status": "error", "error": f"skipped: timed out at size {failed[key]}"}
            else:
                t0 = time.time()
                res = wp.run(j, args.timeout)
                res["wall_seconds"] = time.time() - t0
                if "timeout" in res.get("error", ""):
                    failed[key] = j["size"]
            row = {"protocol": j["protocol"], "predictor": j["predictor"],
                   "train_size": j["size"], "trial": j["trial"], **res,
                   "metric": "test@108", "machine": prov["machine"], "utc": _utc()}
            append_result(work, row)
            msg = (f"tau {row['kendalltau']:+.3f} fit {row['fit_time']:.1f}s "
                   f"query {row['query_time']:.4f}s/arch" if res["status"] == "ok"
                   and row.get("kendalltau") is not None else res.get("error", "no tau"))
            print(f"[{row['utc']}] {j['protocol']} {j['predictor']} n={j['size']} "
                  f"t={j['trial']}: {msg}", flush=True)
        if wp.proc is not None and wp.proc.is_alive():  # done: let the worker exit
            wp.conn.send(None)
            wp.proc.join(30)
    finally:
        wp.stop()  # interrupted: kill the worker (a finished job is already recorded)
    if wp.timemodel:
        (work / "timemodel.json").write_text(json.dumps(wp.timemodel, indent=1))


def _utc():
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# --- report ---------------------------------------------------------------------------------


def _ms(v):
    v = [x for x in v if x is not None]
    if not v:
        return None, None
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if len(v) > 1 else None)


def summarize(rows):
    groups = defaultdict(list)
    for r in rows:
        if r["status"] == "ok":
            groups[(r["protocol"], r["predictor"], int(r["train_size"]))].append(r)
    out = []
    for (p, name, n), rs in sorted(groups.items()):
        s = {"protocol": p, "predictor": name, "train_size": n,
             "trials": sorted(int(r["trial"]) for r in rs),
             # finished trials whose Kendall tau is undefined (NaN from NASLib's evaluator:
             # constant or non-finite predictions); the means are over the other trials
             "undefined_tau_trials": sorted(int(r["trial"]) for r in rs
                                            if r.get("kendalltau") is None)}
        for k in ("kendalltau", "spearman", "pearson", "fit_time", "query_time",
                  "train_seconds_nb101", "init_seconds", "train_distinct", "train_in_test"):
            m, sd = _ms([r.get(k) for r in rs])
            s[k] = {"mean": m, "std": sd}
        out.append(s)
    return out


def _pm(d: dict) -> str:
    """A summary entry ({"mean", "std"}) as a signed mean ± std, 3 decimals."""
    return harness.pm(d["mean"], d["std"], digits=3, sign=True)


def _secs(x):
    if x is None:
        return "-"
    return f"{x:.2g}" if x < 0.01 else f"{x:,.2f}" if x < 100 else f"{x:,.0f}"


def label(name):
    if name == PAPER_METHOD:
        return "petridish (paper's method, paper-c)"
    if name in SIZE_SCALED:
        return f"{name} (paper's method, shortened; outer epochs = n / 6)"
    if name in ZERO_COST:
        return f"{name} (zero-cost)"
    return name


def style(name, i):
    """Line style per predictor: the paper's method red, thick, stars; our other dish
    presets black; zero-cost baselines dashed."""
    if name == PAPER_METHOD:
        return dict(color="red", lw=3, marker="*", ms=14, zorder=10)
    if name in SIZE_SCALED:  # the paper's method, shortened (motif B, 16 inner epochs)
        return dict(color="red", lw=2, ls=":", marker="*", ms=10, zorder=10)
    if name == "petridish-dish-curve-boosted":
        return dict(color="navy", lw=2.5, marker="s", ms=7, zorder=9)
    if name == "petridish-cell-features-boosted":  # the same model without the dish
        return dict(color="darkcyan", lw=2, ls="--", marker="^", ms=7, zorder=9)
    if name == "petridish-dish-curve-self-trained":
        return dict(color="darkmagenta", lw=2.5, marker="s", ms=7, zorder=9)
    if name == "petridish-cell-features-self-trained":
        return dict(color="hotpink", lw=2, ls="--", marker="^", ms=7, zorder=9)
    if name == "petridish-cell-features-co-trained":  # issue 47's preset
        return dict(color="darkorange", lw=2.5, ls="--", marker="o", ms=7, zorder=9)
    if name == "petridish-quick":  # a trained dish, but not the paper's settings
        return dict(color="dimgray", lw=2, ls="-.", marker="P", ms=8, zorder=9)
    if name.startswith("petridish"):
        return dict(color="black", lw=2, marker="D", ms=6, zorder=9)
    plt = harness.pyplot()
    # red is kept for the paper's method, black for the dish presets
    palette = [plt.get_cmap("tab20")(j) for j in range(20) if j not in (6, 7)] + \
        [plt.get_cmap("tab20b")(j) for j in (0, 4, 8, 12)]
    order = [n for n in FAST + SLOW if not n.startswith("petridish")]
    i = order.index(name) if name in order else i  # the same colour in every figure
    return dict(color=palette[i % len(palette)], lw=1.3, marker="o", ms=4)


def plots(summary, protocol, out: Path) -> list[Path]:
    plt = harness.pyplot()
    ss = [s for s in summary if s["protocol"] == protocol]
    if not ss:
        return []
    names = sorted({s["predictor"] for s in ss}, key=lambda n: (n.startswith("petridish"), n))
    by = {n: sorted([s for s in ss if s["predictor"] == n], key=lambda s: s["train_size"])
          for n in names}
    paths = []
    title = f"protocol {protocol}: {PROTOCOLS[protocol]}"
    ylab = f"Kendall tau vs {METRIC_NOTE}\n(200 test archs, mean over trials)"
    for xkey, xlab, fname in (("init_seconds", "initialization time (s): NB101 training time "
                               "of the training set + fit time", "init"),
                              ("query_time", "query time (s per architecture)", "query")):
        fig, ax = plt.subplots(figsize=(10, 5.2))
        for i, n in enumerate(names):
            pts = by[n]
            st = style(n, i)
            if n in ZERO_COST and xkey == "init_seconds":  # no training set: init time 0
                ax.axhline(pts[0]["kendalltau"]["mean"], ls="--", color=st["color"], lw=1.8,
                           label=f"{label(n)}: init 0")
                continue
            x = [s[xkey]["mean"] for s in pts]
            y = [s["kendalltau"]["mean"] for s in pts]
            e = [s["kendalltau"]["std"] or 0 for s in pts]
            ax.errorbar(x, y, yerr=e, capsize=2, label=label(n), **st)
        if xkey == "init_seconds":
            # the NB101 training time of the training set dominates the init time, so each
            # size sits at about one x: name it once, at the foot of the axes
            at = defaultdict(list)
            for s in ss:
                if s["predictor"] not in ZERO_COST and s["init_seconds"]["mean"]:
                    at[s["train_size"]].append(s["init_seconds"]["mean"])
            for size, xs_ in sorted(at.items()):
                ax.annotate(f"n={size}", (float(np.median(xs_)), 0.01),
                            xycoords=("data", "axes fraction"), fontsize=8, ha="center",
                            va="bottom", color="dimgray")
        ax.set_xscale("log")
        xs = [s[xkey]["mean"] for s in ss if s[xkey]["mean"] and
              not (xkey == "init_seconds" and s["predictor"] in ZERO_COST)]
        if xs:  # at least a decade each side: one size alone would zoom into fit-time noise
            ax.set_xlim(min(xs) / 3, max(xs) * 3)
        ax.set_xlabel(xlab)
        ax.set_ylabel(ylab)
        ax.axhline(0, color="grey", lw=0.5)
        if PAPER_METHOD not in names:
            title2 = title + "\n(paper's method petridish = paper-c: not run in this table)"
        else:
            title2 = title
        ax.set_title(title2, fontsize=10)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.grid(alpha=0.3, which="both")
        paths.append(harness.save_figure(fig, out / f"comparison_{protocol}_{fname}.png",
                                         dpi=100))
    # Pareto: for each (init budget, query budget), the predictor with the best mean tau
    # among the (predictor, size) settings within both budgets
    pts = [(max(s["init_seconds"]["mean"] or 0, 1.0), s["query_time"]["mean"],
            s["kendalltau"]["mean"], s["predictor"]) for s in ss
           if s["kendalltau"]["mean"] is not None and s["query_time"]["mean"] is not None]
    if pts:
        xi = np.logspace(0, math.log10(max(p[0] for p in pts)) + 0.3, 120)
        qmin = max(min(p[1] for p in pts), 1e-7)
        yq = np.logspace(math.log10(qmin) - 0.3, math.log10(max(p[1] for p in pts)) + 0.3, 120)
        best = np.full((len(yq), len(xi)), -1)
        tau = np.full((len(yq), len(xi)), np.nan)
        for a, xb in enumerate(xi):
            for b, qb in enumerate(yq):
                ok = [p for p in pts if p[0] <= xb and p[1] <= qb]
                if ok:
                    w = max(ok, key=lambda p: p[2])
                    best[b, a] = names.index(w[3])
                    tau[b, a] = w[2]
        present = sorted({int(v) for v in best.reshape(-1) if v >= 0})
        colors = {k: style(names[k], k)["color"] for k in present}
        img = np.ones(best.shape + (3,))
        for k in present:
            img[best == k] = plt.matplotlib.colors.to_rgb(colors[k])
        fig, ax = plt.subplots(figsize=(10, 5.2))
        ax.imshow(img, origin="lower", aspect="auto", interpolation="nearest",
                  extent=[math.log10(xi[0]), math.log10(xi[-1]), math.log10(yq[0]),
                          math.log10(yq[-1])])
        for b in range(10, len(yq), 20):
            for a in range(10, len(xi), 20):
                if np.isfinite(tau[b, a]):
                    ax.text(math.log10(xi[a]), math.log10(yq[b]), f"{tau[b, a]:.2f}",
                            fontsize=7, color="black", ha="center", va="center",
                            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none",
                                      alpha=0.75))
        from matplotlib.patches import Patch
        ax.legend(handles=[Patch(color=colors[k], label=label(names[k])) for k in present]
                  + [Patch(facecolor="white", edgecolor="grey",
                           label="nothing fits (white)")],
                  fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.set_xlabel("log10 initialization budget (s)")
        ax.set_ylabel("log10 query budget (s per architecture)")
        ax.set_title(f"{title}\nbest mean Kendall tau ({METRIC_NOTE}) within both budgets "
                     "(numbers: that tau)", fontsize=9)
        paths.append(harness.save_figure(fig, out / f"comparison_{protocol}_pareto.png",
                                         dpi=100))
    return paths


def _machines(rows) -> str:
    """Which machines measured the jobs (fit and query times are theirs), with counts."""
    c = Counter(r.get("machine", "?") for r in rows)
    if len(c) <= 1:
        return f"machine: {next(iter(c), '-')}"
    return "machines (jobs measured on each; times are per machine): " + "; ".join(
        f"{m} ({n})" for m, n in c.most_common())


def _trials(s) -> str:
    """Finished trials of a summary row, "k of m" where m - k had undefined correlations."""
    n_all, n_undef = len(s["trials"]), len(s.get("undefined_tau_trials", []))
    return f"{n_all - n_undef} of {n_all}" if n_undef else f"{n_all}"


def markdown(summary, rows, timemodel, splits, args) -> str:
    L = ["# Predictor comparison on NAS-Bench-101 (White et al. 2021 protocol)", "",
         f"Generated by `python -m benchmarks.predictor_comparison report` from "
         f"`{args.work}/{RESULTS_FILE}`; {_machines(rows)}. "
         f"Metric everywhere: **{METRIC_NOTE}**, 200 test architectures; mean ± std over "
         "trials (std blank for one trial).", "",
         "NASLib's own `PredictorEvaluator` (unchanged) runs every predictor; a thin subclass "
         "replaces only its `load_dataset`, so that all predictors of a trial see the same "
         "stored architectures (`splits/<protocol>-t<trial>.json`). NASLib's predictors use "
         "its default hyperparameters (`max_hpo_time: 0`, `hparams_from_file: False`).", "",
         "Protocols:", ""]
    for p, d in PROTOCOLS.items():
        L.append(f"- **({p})** {d}")
    L += ["", "Baselines: `params` = parameter count of the full NB101 network (the table's "
          "exact count, = `motifs.count_parameters(cell, 'full')`); `flops` and `synflow` = "
          "NASLib's `ZeroCost` on NASLib's full NB101 network (`graph.parse()` as NASLib's "
          "zero-cost evaluator does), fed a batch of **random tensors** (64x3x32x32; flops "
          "reads only the shape, synflow replaces the input by ones): no CIFAR-10 data. "
          "They need no training set: evaluated once per trial and shown as train size 0, "
          "initialization time 0.", "",
          "Initialization time = NB101 training time of the training architectures (TPU v2 "
          "seconds, summed over all of them including repeats, as NASLib charges it) + "
          "measured fit time. The table has real times for 30,001 cells only; for the "
          "others the time is estimated:", ""]
    if timemodel:
        L += [f"- `{timemodel['model']}` (least squares on the "
              f"{timemodel['cells_with_real_time']:,} cells with a time)",
              f"- held out (fit on {timemodel['fit_cells']:,}, tested on "
              f"{timemodel['held_out_cells']:,} cells with real times): median |relative "
              f"error| {timemodel['held_out_median_abs_rel_error']:.1%}, mean "
              f"{timemodel['held_out_mean_abs_rel_error']:.1%}, R² of log time "
              f"{timemodel['held_out_r2_log']:.3f}, sum of estimates / sum of real times "
              f"{timemodel['held_out_total_time_ratio']:.3f}", ""]
    if splits:
        L += ["Splits (distinct cells by pruned hash; `train` = the largest training set):", "",
              "| protocol | trial | test distinct / test size | train distinct / largest "
              "train size | train cells also in test |",
              "|---|---|---|---|---|"]
        for s in splits:
            st = s["stats"]
            L.append(f"| {s['protocol']} | {s['trial']} | {st['test_distinct']} / {st['test']} | "
                     f"{st['train_distinct']} / {st['train']} | {st['train_in_test']} |")
        L.append("")
    fails = [r for r in rows if r["status"] != "ok"]
    for p in PROTOCOLS:
        ss = [s for s in summary if s["protocol"] == p]
        if not ss:
            continue
        sizes = sorted({s["train_size"] for s in ss})
        names = sorted({s["predictor"] for s in ss})
        L += [f"## Protocol ({p}): {PROTOCOLS[p]}", "",
              f"Kendall tau vs {METRIC_NOTE}, mean ± std over trials (size 0: zero-cost, "
              "no training set):", "",
              "| predictor | " + " | ".join(f"n={n}" for n in sizes) + " |",
              "|---|" + "---|" * len(sizes)]
        idx = {(s["predictor"], s["train_size"]): s for s in ss}
        for name in names:
            cells = [(_pm(idx[(name, n)]["kendalltau"]) + f" ({_trials(idx[(name, n)])})")
                     if (name, n) in idx else "" for n in sizes]
            L.append(f"| {label(name)} | " + " | ".join(cells) + " |")
        L += ["", "(in brackets: trials finished; \"k of m\": in m - k finished trials the "
              "correlations were undefined, see \"Failed or skipped runs\", and the mean is "
              "over the other k)", "",
              f"All metrics (vs {METRIC_NOTE}); fit time in s; query time in s per "
              "architecture; init = NB101 training time + fit, in s:", "",
              "| predictor | n | trials | Kendall | Spearman | Pearson | fit (s) | query (s/arch) "
              "| init (s) | distinct train cells |", "|---|---|---|---|---|---|---|---|---|---|"]
        for s in sorted(ss, key=lambda s: (s["train_size"], s["predictor"])):
            L.append(f"| {label(s['predictor'])} | {s['train_size']} | {_trials(s)} | "
                     f"{_pm(s['kendalltau'])} | {_pm(s['spearman'])} | {_pm(s['pearson'])} | "
                     f"{_secs(s['fit_time']['mean'])} | {_secs(s['query_time']['mean'])} | "
                     f"{_secs(s['init_seconds']['mean'])} | "
                     f"{s['train_distinct']['mean']:.0f} |")
        L += ["", f"Figures: `comparison_{p}_init.png` (Kendall tau vs initialization time), "
              f"`comparison_{p}_query.png` (vs query time), `comparison_{p}_pareto.png` (best "
              "predictor per init x query budget).", ""]
    # time per predictor (wall seconds of one job incl. NASLib's data handling) per size
    ok = [r for r in rows if r["status"] == "ok"]
    if ok:
        sizes = sorted({int(r["train_size"]) for r in ok})
        names = sorted({r["predictor"] for r in ok})
        L += ["## Measured time per job", "",
              "Fit + query of 200 architectures, seconds, mean over the finished jobs of all "
              "protocols (`fit_time + 200 x query_time`; this machine, shared with other "
              "work):", "", "| predictor | " + " | ".join(f"n={n}" for n in sizes) + " |",
              "|---|" + "---|" * len(sizes)]
        for name in names:
            cells = []
            for n in sizes:
                v = [(r["fit_time"] or 0) + 200 * (r["query_time"] or 0) for r in ok
                     if r["predictor"] == name and int(r["train_size"]) == n]
                cells.append(_secs(float(np.mean(v))) if v else "")
            L.append(f"| {label(name)} | " + " | ".join(cells) + " |")
        L.append("")
    done = {job_key(r) for r in rows}
    missing = defaultdict(list)
    for protos, sizes, names in FULL_PLAN:
        for j in plan(protos, sizes, names, [0, 1, 2]):
            k = (j["protocol"], j["predictor"], j["size"], j["trial"])
            if k not in done:
                missing[(j["protocol"], j["predictor"])].append(j["size"])
    L += ["## Not run yet", ""]
    if missing:
        L += ["Jobs of the plan (see notes) with no result yet, per protocol: predictors "
              "-> training-set sizes (x trials missing; 0 = zero-cost, once per trial).", ""]
        pattern = defaultdict(list)
        for (p, name), ns in sorted(missing.items()):
            c = defaultdict(int)
            for n in ns:
                c[n] += 1
            pattern[(p, ", ".join(f"{n} (x{k})" for n, k in sorted(c.items())))].append(name)
        for p in PROTOCOLS:
            for (pp, sizes), names in sorted(pattern.items()):
                if pp == p:
                    L.append(f"- ({p}) {', '.join(names)}: {sizes}")
        L.append("")
    else:
        L.append("Nothing: the plan is complete.")
    L += ["## Failed or skipped runs", ""]
    undefined = [r for r in rows if r["status"] == "ok" and r.get("kendalltau") is None]
    if fails or undefined:
        L += ["| protocol | predictor | n | trial | error |", "|---|---|---|---|---|"]
        for r in fails:
            L.append(f"| {r['protocol']} | {r['predictor']} | {r['train_size']} | {r['trial']} "
                     f"| {r.get('error', '')[:200].replace('|', '/')} |")
        for r in undefined:
            L.append(f"| {r['protocol']} | {r['predictor']} | {r['train_size']} | {r['trial']} "
                     "| finished, but Kendall / Spearman / Pearson undefined: NASLib's evaluator "
                     "returned NaN (the predictions were constant or not finite; "
                     f"MAE {r.get('mae') or float('nan'):.2f}) |")
    else:
        L.append("None so far.")
    begin, end = SECTION
    return f"{begin}\n" + "\n".join(L) + f"\n{end}\n"


def cmd_report(args):
    work = Path(args.work)
    committed, old_splits = read_committed(args.results)
    rows = merge_rows(committed, read_results(work))  # last line wins (--retry-failed)
    if not rows:
        sys.exit(f"no results under {work} or in {args.results / 'comparison.json'}")
    summary = summarize(rows)
    tm = json.loads((work / "timemodel.json").read_text()) \
        if (work / "timemodel.json").exists() else committed_timemodel(args.results)
    splits = {(s["protocol"], s["trial"]): s for s in old_splits}
    for f in sorted((work / "splits").glob("*.json")):
        s = json.loads(f.read_text())
        splits[(s["protocol"], s["trial"])] = {
            "protocol": s["protocol"], "trial": s["trial"], "drawn_by": s["drawn_by"],
            "stats": {**split_stats(s), **s["stats"]}}
    splits = [splits[k] for k in sorted(splits)]
    figs = [p for proto in PROTOCOLS for p in plots(summary, proto, args.results)]
    harness.write_sections(args.results / "COMPARISON.md",
                           markdown(summary, rows, tm, splits, args))
    path = harness.save_json(args.results / "comparison.json", {
        "metric": METRIC_NOTE, "protocols": PROTOCOLS, "timemodel": tm, "splits": splits,
        "summary": summary, "runs": f"one line per job in {RUNS}"})
    harness.write_jsonl(args.results / RUNS, sorted(rows, key=job_key))
    print(f"wrote {args.results / 'COMPARISON.md'}, {path}, {RUNS} and {len(figs)} figures")


def main():
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run (resumable) and append results to WORK/results.jsonl")
    r.add_argument("--protocols", nargs="+", choices=sorted(PROTOCOLS), default=["c", "b"])
    r.add_argument("--sizes", nargs="+", type=int, default=[14, 42, 121, 347, 1000],
                   help=f"training-set sizes (White et al.'s grid: {SIZES})")
    r.add_argument("--trials", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--predictors", nargs="+", default=["fast"],
                   help=f"names, or 'fast' ({' '.join(FAST)}) / 'slow' ({' '.join(SLOW)}) / "
                   f"'paper' ({' '.join(PAPER)}); the paper's method is '{PAPER_METHOD}' "
                   "(~1 h fit at 1,000 on 2 cores, run at 1,000 only)")
    r.add_argument("--test-size", type=int, default=200)
    r.add_argument("--max-train", type=int, default=1000,
                   help="size of the stored training split (sizes are its prefixes)")
    r.add_argument("--timeout", type=float, default=3600,
                   help="seconds per job before the worker is killed and the job recorded "
                   "as failed (larger sizes of that predictor are then skipped)")
    r.add_argument("--dish-workers", type=int, default=1,
                   help="motif worker processes of the petridish predictors (0 = one per "
                   "core; default 1: the machine is shared)")
    r.add_argument("--ignore-committed", action="store_true",
                   help="run again jobs already recorded in the committed comparison.json")
    r.add_argument("--retry-failed", action="store_true",
                   help="run again jobs recorded as failed or skipped")
    harness.add_nb101_argument(r)
    r.add_argument("--work", default="runs/comparison", help="state folder (outside git)")
    r.set_defaults(fn=cmd_run)
    p = sub.add_parser("report", help="COMPARISON.md, comparison.json and figures")
    p.add_argument("--work", default="runs/comparison")
    p.set_defaults(fn=cmd_report)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
