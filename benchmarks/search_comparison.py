"""Search comparison on NAS-Bench-101 at equal budgets of ground-truth queries (SEARCH.md).

Runs NASLib's optimizers through ``naslib_petridish.naslib.run_search`` (NASLib's Trainer,
unchanged NASLib code): plain regularized evolution on the true accuracy (the reference),
random search, BANANAS and NPENAS with NASLib's own predictors, and the dish (shipped presets
that are cheap enough) as the fitness of regularized evolution (with and without periodic
refits) or as the surrogate of BANANAS/NPENAS.  Every method gets at most the same number
of ground-truth queries (``--budgets``, default 150 and 300): the NASLib epochs that give
that budget differ per method (:func:`naslib_petridish.naslib.search.epochs_for_budget`)
and the actual count is recorded.  Ground truth: 108-epoch TEST accuracy of the whole
space (``--metric test``; the shared table has validation accuracy for 30,001 cells only).

    # resumable: every finished (method, budget, seed) is a JSON file under WORK/results
    # and is skipped on restart; a failed run is a line of WORK/failures.jsonl, retried
    python -m benchmarks.search_comparison run --work runs/search_comparison --seeds 10
    python -m benchmarks.search_comparison report --work runs/search_comparison
    python -m benchmarks.search_comparison list          # the methods and their settings

Simulated wall-clock = cumulative NB101 training time (TPU v2 seconds) of every queried
architecture (the table's time for the 30,001 cells that have one, else the estimate of the
time model chosen with ``run --time-model``: ``cell-features`` (default, the predictor
comparison's model), or ``log-params``; ``naslib_petridish.search_cost.TIME_MODELS``) + the
predictor's measured fit and query seconds on this machine.

``report`` rewrites the generated parts of SEARCH.md (between its ``search-heading`` and
``search-results`` markers; the description of the methods between them is the page's own)
and part 2 of COMPARISON.md (between its ``search`` markers).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from benchmarks import harness
# the methods and their settings (POPULATION re-exported with them: the records hold it)
from benchmarks.search_methods import (BO, BY_NAME, CANDIDATES, CONTROLS, METHODS,  # noqa: F401
                                       NOT_RUN, POPULATION, SAMPLE, Method, method_config,
                                       method_epochs)

WORK = Path("runs/search_comparison")
BUDGETS = (150, 300)
#: the training-time estimate of ``run`` (the committed runs: cell-features)
DEFAULT_TIME_MODEL = "cell-features"


# --- work folder ---------------------------------------------------------------------------


def result_path(work: Path, method: str, budget: int, seed: int) -> Path:
    return work / "results" / f"{method}__b{budget}__s{seed}.json"


def read_results(work: Path) -> list[dict]:
    """Every finished run in ``work`` (unreadable files are skipped with a warning)."""
    out = []
    for p in sorted((work / "results").glob("*.json")):
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"skipping {p}: {exc}", file=sys.stderr)
    return out


#: the committed record of every finished run (compact, one JSON line each): it outlives the
#: machine, so ``run`` skips what it holds and ``report`` merges it under the work folder
COMMITTED = "search_runs.jsonl"


def _rounded(v, digits: int):
    """``v`` with every float rounded to ``digits`` decimals (lists and dicts too)."""
    if isinstance(v, float):
        return round(v, digits)
    if isinstance(v, list):
        return [_rounded(x, digits) for x in v]
    if isinstance(v, dict):
        return {k: _rounded(x, digits) for k, x in v.items()}
    return v


def compact(rec: dict) -> dict:
    """A run record small enough to commit: the trajectory keeps only the points where the
    incumbent changes (and the first and last), which leaves its step function unchanged;
    the time model is kept as its formula and held-out error (its coefficients are in the
    formula; the rest is the same in every run), seconds to 0.01 s and accuracies to 7
    decimals (the table's float32 values read back exactly).  Left out as derivable: the
    label (today's comes from ``METHODS``), the best cell's matrix (``best_hash`` names it
    in the table) and the ground-truth file's local path."""
    out = {k: v for k, v in rec.items()
           if k not in ("errors_json", "trajectory", "label", "best_cell")}
    if "method_settings" in out:
        out["method_settings"] = {k: v for k, v in out["method_settings"].items()
                                  if k != "label"}
    if "ground_truth" in out:
        out["ground_truth"] = {k: v for k, v in out["ground_truth"].items() if k != "source"}
    tr = rec["trajectory"]
    ys = tr["best_true_test_accuracy"]
    keep = [i for i in range(len(ys)) if i in (0, len(ys) - 1) or ys[i] != ys[i - 1]]
    traj = {k: [v[i] for i in keep] if isinstance(v, list) and len(v) == len(ys) else v
            for k, v in tr.items()}
    out["trajectory"] = {k: _rounded(v, 7 if "accuracy" in k else 2) for k, v in traj.items()}
    cost = _rounded({k: v for k, v in rec.get("cost", {}).items() if k != "time_model"}, 2)
    if "time_model" in rec.get("cost", {}):
        cost["time_model"] = {k: v for k, v in rec["cost"]["time_model"].items()
                              if k in ("model", "held_out_median_abs_rel_error")}
    out["cost"] = cost
    return out


def run_key(r: dict) -> tuple:
    return (r["method"], int(r["budget"]), int(r["seed"]))


def read_committed(results: Path) -> list[dict]:
    p = Path(results) / COMMITTED
    if not p.exists():
        return []
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]


def current(rec: dict) -> bool:
    """Whether a recorded run was made with the method's settings of today (a change of
    settings, e.g. BANANAS's candidates, makes it stale: it is run again)."""
    m = BY_NAME.get(rec["method"])
    # the label is presentation only: a new wording does not make a run stale
    if m is None or {**_settings(rec), "label": m.label} != asdict(m):
        return False
    want = {**BO, "population_size": method_epochs(m, rec["budget"])[0],
            "sample_size": SAMPLE,
            "acq_fn_optimization": CANDIDATES.get(m.optimizer, "mutation")}
    got = rec.get("search_config", {})
    return all(got.get(k) == v for k, v in want.items() if k in got)


def _settings(rec: dict) -> dict:
    """A run's method settings, a field added to ``Method`` since the run was made read as
    that field's default (what every run did before the field existed: e.g. runs before
    ``refit_predictor`` all refitted)."""
    defaults = {f.name: f.default for f in fields(Method)}
    return {**defaults, **rec.get("method_settings", {})}


def all_results(work: Path, results: Path, stale: bool = False) -> list[dict]:
    """Runs with today's settings: committed ones, overridden by the work folder's
    (``stale``: every recorded run, whatever its settings: the record keeps them all)."""
    runs = {run_key(r): r for r in read_committed(results) if stale or current(r)}
    runs.update({run_key(r): r for r in read_results(work) if current(r)})
    return list(runs.values())


def plan(methods: list[Method], budgets, seeds) -> list[tuple[Method, int, int]]:
    """The order of the runs: RE and RS at every budget and seed (seconds each); then one
    run (first budget, first seed) of every other method, to measure its cost; then budget
    by budget: NASLib's predictors at every seed, then the dish's methods seed-major (seed
    s of every method before seed s + 1), so that a partial run has every dish curve at a
    few seeds rather than a few curves at every seed."""
    jobs = [(m, b, s) for b in budgets for m in methods if m.tier == 0 for s in seeds]
    jobs += [(m, budgets[0], seeds[0]) for m in methods if m.tier > 0]
    for b in budgets:
        jobs += [(m, b, s) for m in methods if m.tier == 1 for s in seeds]
        jobs += [(m, b, s) for s in seeds for m in methods if m.tier == 2]
    return list(dict.fromkeys(jobs))


class RunTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise RunTimeout("run exceeded --timeout")


def time_model(table, name: str = DEFAULT_TIME_MODEL):
    """The training-time estimate ``name`` of ``naslib_petridish.search_cost.TIME_MODELS``
    for ``table`` (an unknown name or a table it cannot be fitted on is an error)."""
    from naslib_petridish.search_cost import TIME_MODELS

    if name not in TIME_MODELS:
        raise SystemExit(f"unknown time model '{name}'; valid: {', '.join(TIME_MODELS)}")
    return TIME_MODELS[name](table)


def run_one(m: Method, budget: int, seed: int, work: Path, table, tm) -> dict:
    """One search; returns the record written to ``result_path``."""
    from naslib_petridish.naslib import run_search

    out = work / "runs" / m.name / f"b{budget}" / f"s{seed}"
    out.mkdir(parents=True, exist_ok=True)
    cfg = out / "config.yaml"
    cfg.write_text(method_config(m, budget, seed, out))
    t0 = time.perf_counter()
    summary = run_search(str(cfg), metric="test", table=table, time_model=tm, log_stdout=False)
    wall = time.perf_counter() - t0
    rec = {"method": m.name, "label": m.label, "budget": budget, "seed": seed,
           "wall_seconds": wall, "method_settings": asdict(m), **summary}
    path = result_path(work, m.name, budget, seed)
    harness.save_json(path, rec)
    return rec


def cmd_run(args) -> int:
    harness.one_thread()  # one core: the machine is shared
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    (work / "run.pid").write_text(f"{os.getpid()}\n")
    methods = [BY_NAME[n] for n in expand_methods(args.methods)]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    done = {run_key(r) for r in all_results(work, args.results)}
    jobs = [j for j in plan(methods, args.budgets, seeds) if (j[0].name, j[1], j[2]) not in done]
    print(f"{len(jobs)} runs to do in {work} ({len(done)} recorded here or in "
          f"{args.results / COMMITTED})", flush=True)
    if not jobs:
        return 0
    table = harness.ground_truth(args.nb101)
    tm = time_model(table, args.time_model)
    signal.signal(signal.SIGALRM, _alarm)
    for i, (m, b, s) in enumerate(jobs):
        if result_path(work, m.name, b, s).exists():  # another process in the same folder
            print(f"[{_utc()}] {i + 1}/{len(jobs)} {m.name} budget {b} seed {s}: "
                  "finished meanwhile, skipped", flush=True)
            continue
        print(f"[{_utc()}] {i + 1}/{len(jobs)} {m.name} budget {b} seed {s}", flush=True)
        signal.alarm(int(args.timeout))
        try:
            rec = run_one(m, b, s, work, table, tm)
        except (Exception, RunTimeout) as exc:
            with open(work / "failures.jsonl", "a") as fh:
                fh.write(json.dumps({"method": m.name, "budget": b, "seed": s, "utc": _utc(),
                                     "error": f"{type(exc).__name__}: {exc}",
                                     "traceback": traceback.format_exc()[-3000:]}) + "\n")
            print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        finally:
            signal.alarm(0)
        print(f"  best test acc {rec['best_true_test_accuracy']:.4f}, "
              f"{rec['ground_truth_queries']} ground-truth queries, "
              f"{rec['wall_seconds']:.0f} s", flush=True)
    return 0


def expand_methods(names: list[str]) -> list[str]:
    """Method names; ``cheap``, ``dish`` and ``all`` stand for groups."""
    out: list[str] = []
    for n in names:
        planned = [m for m in METHODS if m.name not in NOT_RUN]
        group = {"all": planned, "cheap": [m for m in planned if m.tier < 2],
                 "dish": [m for m in planned if m.tier == 2]}.get(n)
        if group is not None:
            out += [m.name for m in group]
        elif n in BY_NAME:
            out.append(n)
        else:
            raise SystemExit(f"unknown method '{n}'; valid: all, cheap, dish, "
                             + ", ".join(BY_NAME))
    return list(dict.fromkeys(out))


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def cmd_list(args) -> int:
    for m in METHODS:
        for b in args.budgets:
            pop, epochs = method_epochs(m, b)
            print(f"{m.name:<16} budget {b}: {epochs:>4} epochs, population {pop:>3}  {m.label}")
    return 0


# --- report --------------------------------------------------------------------------------


def step_values(xs, ys, grid) -> np.ndarray:
    """A step function through (xs, ys) (xs non-decreasing) read at ``grid``: the y of the
    last x <= g, NaN before the first."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    idx = np.searchsorted(xs, grid, side="right") - 1
    return np.where(idx >= 0, ys[np.maximum(idx, 0)], np.nan)


def curves(rows: list[dict], x_key: str, grid: np.ndarray) -> np.ndarray:
    """Incumbent true test accuracy of each run (rows) at each grid point (columns)."""
    out = []
    for r in rows:
        tr = r["trajectory"]
        ys = [np.nan if v is None else v for v in tr["best_true_test_accuracy"]]
        out.append(step_values(tr[x_key], ys, grid))
    return np.array(out)


def group(results: list[dict]) -> dict:
    g: dict = {}
    for r in results:
        g.setdefault((r["budget"], r["method"]), []).append(r)
    return g


def _stats(v) -> tuple[float, float]:
    v = np.asarray(v, float)
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if len(v) > 1 else float("nan"))


def summarize(results: list[dict], best: float) -> list[dict]:
    rows = []
    for (b, name), rs in sorted(group(results).items(),
                                key=lambda kv: (kv[0][0], _order(kv[0][1]))):
        acc = [r["best_true_test_accuracy"] for r in rs]
        gt = [r["ground_truth_queries"] for r in rs]
        rows.append({
            "budget": b, "method": name, "seeds": len(rs),
            "label": BY_NAME[name].label if name in BY_NAME else rs[0].get("label", name),
            "acc": _stats(acc), "regret": _stats([best - a for a in acc]),
            "gt_min": int(min(gt)), "gt_max": int(max(gt)),
            "distinct": _stats([r["distinct_cells_queried"] for r in rs]),
            "predictor_queries": _stats([r["predictor_queries"] for r in rs]),
            "refits": _stats([r["refits"] for r in rs]),
            "train_s": _stats([r["cost"]["train_seconds"] for r in rs]),
            "pred_s": _stats([r["cost"]["predictor"]["fit_seconds"]
                              + r["cost"]["predictor"]["query_seconds"] for r in rs]),
            "sim_s": _stats([r["cost"]["simulated_seconds"] for r in rs]),
            "wall_s": _stats([r["wall_seconds"] for r in rs]),
            "epochs": int(rs[0]["epochs"]),
            "acc_values": [float(a) for a in acc],
        })
    for r in rows:  # each method against plain RE at the same budget
        ref = next((q for q in rows if q["budget"] == r["budget"] and q["method"] == "re"),
                   None)
        r["vs_re"] = versus(r["acc_values"], ref["acc_values"]) if ref and r is not ref else None
    for r in rows:  # a predictor-driven method against its optimizer's no-information control
        m = BY_NAME.get(r["method"])
        ctrl = CONTROLS.get(m.optimizer) if m is not None and m.predictor != "none" else None
        ref = next((q for q in rows if q["budget"] == r["budget"] and q["method"] == ctrl),
                   None)
        r["vs_control"] = (versus(r["acc_values"], ref["acc_values"])
                           if ref and r is not ref else None)
    from scipy import stats
    for key in ("vs_re", "vs_control"):
        for b in sorted({r["budget"] for r in rows}):
            # many methods against one reference: Benjamini-Hochberg over them (SciPy)
            tested = [r for r in rows if r["budget"] == b and r[key] is not None]
            if tested:
                q = stats.false_discovery_control([r[key][1] for r in tested], method="bh")
                for r, qi in zip(tested, q):
                    r[key] = (*r[key], float(qi))
    return rows


def more_seeds(results: list[dict], seeds_wanted: int, best: float) -> list[dict]:
    """Methods run with seeds beyond the planned ``0..seeds_wanted-1`` (to check a
    result): per (budget, method) the planned seeds, the extra ones and all of them, each
    against plain RE and the optimizer's control on the same seeds (Welch).  The main
    tables use the planned seeds."""
    extra = {(r["budget"], r["method"]) for r in results
             if r["seed"] >= seeds_wanted and r["method"] != "re"}
    parts = (("planned", lambda s: s < seeds_wanted), ("extra", lambda s: s >= seeds_wanted),
             ("all", lambda s: True))
    out = []
    for b, m in sorted(extra, key=lambda k: (k[0], _order(k[1]))):
        ctrl = CONTROLS.get(BY_NAME[m].optimizer) if m in BY_NAME else None
        for part, keep in parts:
            sel = [r for r in results if r["budget"] == b
                   and r["method"] in (m, "re", ctrl) and keep(r["seed"])]
            row = next((x for x in summarize(sel, best) if x["method"] == m), None)
            if row is None:
                continue
            seeds = sorted(r["seed"] for r in sel if r["method"] == m)
            vs, vc = row["vs_re"], row["vs_control"]
            out.append({"budget": b, "method": m, "label": row["label"], "part": part,
                        "seeds": f"{seeds[0]}-{seeds[-1]}", "n": len(seeds),
                        "acc": row["acc"], "vs_re": None if vs is None else vs[:2],
                        "vs_control": None if vc is None else vc[:2]})
    return out


def versus(acc: list[float], ref: list[float]) -> tuple[float, float] | None:
    """Difference of the mean final accuracy to the reference's and Welch's two-sided
    t-test p-value (the seeds of two methods are independent runs, not paired; SciPy's
    test rather than our own). None with fewer than 2 runs on either side."""
    if len(acc) < 2 or len(ref) < 2:
        return None
    from scipy import stats
    p = stats.ttest_ind(acc, ref, equal_var=False).pvalue
    return float(np.mean(acc) - np.mean(ref)), float(p)


def _order(name: str) -> int:
    names = [m.name for m in METHODS]
    return names.index(name) if name in names else len(names)


#: the dish presets' colours (one per predictor, whatever optimizer uses it)
PRESET_COLOURS = {"cfb": "tab:red", "dcb": "tab:purple", "tse": "tab:orange",
                  "quick": "tab:brown"}


def style(name: str) -> dict:
    """The references in their own colours (RE black and thick); a dish method in its
    preset's colour, its line style and marker saying how it is used (RE refit dashed, RE
    fitted once dotted, BANANAS dash-dot with circles, NPENAS dash-dot-dot with
    triangles), so that ~20 curves stay apart."""
    refs = {"re": "black", "rs": "grey", "bananas": "tab:blue", "npenas": "tab:green"}
    m = BY_NAME.get(name)
    if m is not None and m.predictor in ("params", "mean"):
        colour = {"params": "tab:olive", "re": "tab:cyan", "npenas": "teal"}
        return {"color": colour["params" if m.predictor == "params" else m.optimizer],
                "linestyle": ":", "linewidth": 1.8}
    if m is None or not m.dish:
        return {"color": refs.get(name.split("-")[0], "tab:pink"), "linestyle": "-",
                "linewidth": 2.4 if name == "re" else 1.6}
    colour = PRESET_COLOURS.get(name.split("-")[1], "tab:pink")
    if m.optimizer == "re":
        ls = "--" if m.refit_predictor else ":"
        return {"color": colour, "linestyle": ls, "linewidth": 1.8}
    ls, marker = ("-.", "o") if m.optimizer == "bananas" else ((0, (5, 1, 1, 1, 1, 1)), "^")
    return {"color": colour, "linestyle": ls, "linewidth": 1.4, "marker": marker,
            "markersize": 4, "markevery": 0.1}


def matplotlib_ticker():
    import matplotlib.ticker
    return matplotlib.ticker


def _band(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (ddof 1; 0 for one run) over runs (rows); NaN where a run has no
    value yet (on the time axis: before its first query ends), so that a curve is always
    the mean over the same runs."""
    mean = c.mean(0)
    sd = c.std(0, ddof=1) if len(c) > 1 else np.zeros(c.shape[1])
    return mean, sd


def plot_budget(results: list[dict], budget: int, best: float, out: Path) -> list[Path]:
    """Two figures per budget: vs ground-truth queries and vs simulated seconds (log x);
    each with the incumbent's true test accuracy and the regret (log y), mean +- std."""
    plt = harness.pyplot()
    g = {name: rs for (b, name), rs in group(results).items() if b == budget}
    if not g:
        return []
    names = sorted(g, key=_order)
    paths = []
    sims = [v for rs in g.values() for r in rs for v in r["trajectory"]["simulated_seconds"]]
    lo = max(1.0, min(sims))
    axes_spec = [
        ("ground_truth_queries", np.arange(1, budget + 1), "ground-truth queries", "linear",
         f"search_b{budget}_queries.png"),
        ("simulated_seconds", np.geomspace(lo, max(sims), 300),
         "simulated wall-clock: NB101 training (TPU v2 s) + predictor (s)", "log",
         f"search_b{budget}_time.png"),
    ]
    for key, grid, xlabel, xscale, fname in axes_spec:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(14, 5.6))
        for name in names:
            c = curves(g[name], key, grid)
            mean, sd = _band(c)
            rmean, rsd = _band(best - c)
            st = style(name)
            lab = f"{BY_NAME[name].label if name in BY_NAME else name} (n={len(c)})"
            a1.plot(grid, 100 * mean, label=lab, **st)
            a2.plot(grid, 100 * rmean, **st)
            if name == "re":  # one band: ~16 overlapping bands were an unreadable mush
                a1.fill_between(grid, 100 * (mean - sd), 100 * (mean + sd), color="k",
                                alpha=0.12, linewidth=0)
                a2.fill_between(grid, 100 * np.maximum(rmean - rsd, 1e-3),
                                100 * (rmean + rsd), color="k", alpha=0.12, linewidth=0)
        a1.set_ylabel("best true test accuracy found (%)")
        a2.set_ylabel(f"regret to the best cell ({100 * best:.2f} %), percentage points")
        a2.set_yscale("log")
        fmt = matplotlib_ticker().FuncFormatter(lambda v, _: f"{v:g}")
        a2.yaxis.set_major_formatter(fmt)
        a2.yaxis.set_minor_formatter(fmt)
        for a in (a1, a2):
            a.set_xlabel(xlabel)
            a.set_xscale(xscale)
            a.grid(alpha=0.3, which="both")
        lo_acc = np.nanpercentile([100 * r["trajectory"]["best_true_test_accuracy"][-1]
                                   for rs in g.values() for r in rs], 1) - 1.5
        a1.set_ylim(max(lo_acc, 85), 100 * best + 0.1)
        a1.axhline(100 * best, color="k", lw=0.8, alpha=0.5)
        fig.suptitle(f"NAS-Bench-101 search, budget {budget} ground-truth queries: mean over "
                     "seeds (108-epoch test accuracy)\nshaded: RE (reference) ± std; the final "
                     f"values with their spread: search_b{budget}_final.png")
        handles, labels = a1.get_legend_handles_labels()
        rows = -(-len(labels) // 3)
        bottom = min(0.5, 0.06 + 0.032 * rows)  # room for the legend below the x labels
        fig.set_size_inches(14, 5.6 / (1 - bottom + 0.05))
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7.5, frameon=False)
        fig.tight_layout(rect=(0, bottom, 1, 0.95))
        path = out / fname
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    paths.append(plot_final(g, names, budget, best, out / f"search_b{budget}_final.png"))
    return paths


def plot_final(g: dict, names: list[str], budget: int, best: float, path: Path) -> Path:
    """The regret at the end of the budget per method, best first: mean (dot), ± std over
    seeds (thin bar), ± standard error (thick bar), each seed (small crosses), and RE's
    mean as a vertical line, so that which differences exceed the seed noise shows."""
    plt = harness.pyplot()
    final = {n: 100 * (best - np.array([r["best_true_test_accuracy"] for r in g[n]]))
             for n in names}
    order = sorted(names, key=lambda n: -final[n].mean())  # best at the top
    fig, ax = plt.subplots(figsize=(11.5, 0.42 * len(order) + 1.8))
    for y, n in enumerate(order):
        v, st = final[n], style(n)
        sd = v.std(ddof=1) if len(v) > 1 else 0.0
        ax.plot([v.mean() - sd, v.mean() + sd], [y, y], color=st["color"], lw=1.2)
        se = sd / np.sqrt(len(v))
        ax.plot([v.mean() - se, v.mean() + se], [y, y], color=st["color"], lw=4,
                solid_capstyle="butt")
        ax.plot(v, np.full(len(v), y + 0.22), "x", color=st["color"], ms=3, alpha=0.6)
        ax.plot(v.mean(), y, st.get("marker") or "o", color=st["color"], ms=6,
                markeredgecolor="k", markeredgewidth=0.5)
    if "re" in final:
        ax.axvline(final["re"].mean(), color="k", lw=0.8, ls="--", alpha=0.6)
    for n in CONTROLS.values():
        if n in final:
            ax.axvline(final[n].mean(), color=style(n)["color"], lw=0.9, ls=":", alpha=0.8)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([f"{BY_NAME[n].label if n in BY_NAME else n} (n={len(final[n])})"
                        for n in order], fontsize=8)
    ax.set_xlabel(f"regret at {budget} ground-truth queries, pp below the best cell "
                  f"({100 * best:.2f} %)\nlower is better")
    ax.set_title(f"Budget {budget}: mean (dot), ± std (thin), ± s.e. (thick), seeds (x)\n"
                 "dashed: RE's mean; dotted: the constant-predictor controls' means (RE "
                 "cyan, NPENAS teal)", fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _pm(s: tuple[float, float]) -> str:
    """(mean, std) of a fraction as percent ± std, 2 decimals (std NaN: one seed)."""
    return harness.pm(s[0], s[1], digits=2, scale=100)


def _p(p: float) -> str:
    return f"{p:.2f}" if p >= 0.01 else f"{p:.1g}"


def _vs(v) -> str:
    """'+0.22 (p 0.004, q 0.07)': difference in pp, Welch's p, BH-adjusted q if known."""
    if v is None:
        return ""
    return (f"{100 * v[0]:+.2f} (p {_p(v[1])}" + (f", q {_p(v[2])}" if len(v) > 2 else "")
            + ")")


def _sec(s: tuple[float, float]) -> str:
    m = s[0]
    return f"{m:,.0f}" if m >= 10 else f"{m:.2g}"


#: the generated parts of SEARCH.md: the heading, and everything from the simulated time on;
#: the description of the methods between them is the page's own
HEADING = harness.markers("search-heading", "python -m benchmarks.search_comparison report")
RESULTS = harness.markers("search-results", "python -m benchmarks.search_comparison report")


def markdown(rows: list[dict], best: float, best_hash: str, figs: list[Path], n_results: int,
             failures: list[dict], tm_desc: dict, seeds_wanted: int, repeats: str,
             more: list[dict] = ()) -> str:
    """The generated parts of SEARCH.md (:data:`HEADING`, :data:`RESULTS`), as a page for
    ``harness.write_sections``."""
    head = [
        "# Search with the dish: NAS-Bench-101 at equal budgets of ground-truth queries", "",
        "Generated by `python -m benchmarks.search_comparison report` from "
        f"{n_results} finished runs; see the module docstring for how to run or resume it.", "",
        "Every run is NASLib's own optimizer and Trainer (unchanged NASLib code) through "
        "`naslib-petridish naslib-search` (`run_search`), with `--metric test`: the accuracy "
        "the optimizers see and the accuracy reported is the 108-epoch TEST accuracy of all "
        f"423,624 cells ({repeats}). The incumbent is always the best *truly queried* "
        "cell; predictions never count as accuracies. Regret is to the best cell of the space, "
        f"test accuracy {100 * best:.2f} % (`{best_hash}`)."]
    lines = [
        "Simulated wall-clock = NB101 training time (TPU v2 seconds) of every query + the "
        "predictor's measured fit and query seconds on this machine (2 shared cores, one "
        "thread). The shared table has a training time for 30,001 cells; for the others it is "
        f"estimated ({tm_desc.get('model', '?')}).", "",
        "## Final values", "",
        "Mean ± std over seeds at the end of the budget. Accuracy and regret in %; seconds: "
        "mean per run (NB101 = simulated training time of the queries, predictor = measured "
        "fit + query, wall = measured search on this machine).", "",
        "'vs RE': the difference of the mean best test accuracy to plain RE's at the same "
        "budget (pp) and the p-value of Welch's two-sided t-test over the seeds (independent "
        "runs); with 10 seeds a std of 0.1-0.2 pp means differences under about 0.15 pp are "
        "within the seed noise. q: that p adjusted for comparing every method at the budget "
        "with RE (Benjamini-Hochberg, SciPy's `false_discovery_control`): with about 18 "
        "comparisons per budget, one raw p under 0.05 is expected from noise alone, so read "
        "a difference as established only where q is small.", "",
        "'vs control': the same against the optimizer's curve with the constant predictor "
        "(RE: `re-mean-fixed`, NPENAS: `npenas-mean`), i.e. what the predictor's "
        "information adds to the way the optimizer uses it.", "",
        "| budget | method | seeds | best test acc (%) | regret (pp) | vs RE (pp, p, q) "
        "| vs control (pp, p, q) "
        "| GT queries | distinct "
        "| predictor queries | refits | NB101 s | predictor s | simulated s | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gt = f"{r['gt_min']}" if r["gt_min"] == r["gt_max"] else f"{r['gt_min']}-{r['gt_max']}"
        lines.append(
            f"| {r['budget']} | {r['label']} | {r['seeds']} | {_pm(r['acc'])} | "
            f"{_pm(r['regret'])} | {_vs(r.get('vs_re'))} | {_vs(r.get('vs_control'))} | "
            f"{gt} | {r['distinct'][0]:.0f} | "
            f"{r['predictor_queries'][0]:.0f} | {r['refits'][0]:.1f} | {_sec(r['train_s'])} | "
            f"{_sec(r['pred_s'])} | {_sec(r['sim_s'])} | {_sec(r['wall_s'])} |")
    if more:
        lines += ["", "## More seeds where a result needed checking", "",
                  f"The tables and figures use seeds 0-{seeds_wanted - 1} of every curve. "
                  "Where a result stood out, the method and plain RE were run again with "
                  "further seeds (new runs, nothing else changed): each set of seeds alone "
                  "and pooled, against RE and the optimizer's control on the same seeds "
                  "(Welch).", "",
                  "| budget | method | seeds | runs | best test acc (%) | vs RE (pp, p) "
                  "| vs control (pp, p) |", "|---|---|---|---|---|---|---|"]
        for r in more:
            lines.append(f"| {r['budget']} | {r['label']} | {r['seeds']} ({r['part']}) | "
                         f"{r['n']} | {_pm(r['acc'])} | {_vs(r['vs_re'])} | "
                         f"{_vs(r.get('vs_control'))} |")
    lines += ["", "## Figures", ""]
    for f in figs:
        lines.append(f"- `{f.name}`")
    lines += ["", "## Cost per run and progress", "",
              "Measured wall seconds of one search on this machine (mean over the finished "
              "seeds; the machine is shared, so expect noise), runs finished of those planned "
              f"({seeds_wanted} seeds per budget), and the hours the rest would take: the "
              "measured mean at that budget, else the mean at the smallest budget measured "
              "x (budget ratio)^1.5 (marked ~, a rough guess: refits and fits grow with the "
              "training set).", "",
              "| method | " + " | ".join(f"wall s @ {b}" for b in BUDGETS)
              + " | runs done | hours left |",
              "|---|" + "---|" * (len(BUDGETS) + 2)]
    total, unknown = 0.0, 0
    for m, cells, n_done, left, guessed in progress(rows, seeds_wanted):
        if m.name in NOT_RUN:
            hours = "not run (below)"
        elif np.isnan(left):
            unknown += 1
            hours = "?"
        else:
            total += left
            hours = f"{'~' if guessed else ''}{left / 3600:.1f}"
        lines.append(f"| {m.label} | " + " | ".join(cells) + f" | {n_done}/"
                     f"{seeds_wanted * len(BUDGETS)} | {hours} |")
    lines += ["", f"About {total / 3600:.0f} hours of runs left (one process)"
              + (f", plus {unknown} methods not measured yet" if unknown else "") + ".", ""]
    done = {(r["budget"], r["method"]): r["seeds"] for r in rows}
    missing = [f"{m.name} @ {b}: {done.get((b, m.name), 0)}/{seeds_wanted}"
               for b in BUDGETS for m in METHODS
               if m.name not in NOT_RUN and done.get((b, m.name), 0) < seeds_wanted]
    lines.append("Seeds finished / planned for the curves not complete yet: "
                 + ("; ".join(missing) if missing else "none") + ".")
    for reason in dict.fromkeys(NOT_RUN.values()):
        names = [n for n, r in NOT_RUN.items() if r == reason]
        lines += ["", f"Not run: {', '.join(f'`{n}`' for n in names)}. Why: {reason}."]
    if failures:
        lines += ["", f"{len(failures)} failed runs (WORK/failures.jsonl), last ones:", ""]
        for f in failures[-5:]:
            lines.append(f"- {f['method']} @ {f['budget']} seed {f['seed']}: {f['error']}")
    return ("\n".join([HEADING[0], *head, HEADING[1], "", RESULTS[0], *lines, RESULTS[1]])
            + "\n")


def progress(rows: list[dict], seeds_wanted: int):
    """Per method: (method, wall-seconds cells per budget, runs done, seconds left, whether
    the estimate is extrapolated from another budget)."""
    wall = {(r["method"], r["budget"]): (r["wall_s"][0], r["seeds"]) for r in rows}
    for m in METHODS:
        known = sorted((b, wall[(m.name, b)][0]) for b in BUDGETS if (m.name, b) in wall)
        cells, n_done, left, guessed = [], 0, 0.0, False
        for b in BUDGETS:
            sec, n = wall.get((m.name, b), (None, 0))
            n_done += n
            cells.append("" if sec is None else f"{sec:,.0f}")
            if n >= seeds_wanted:
                continue
            if sec is None and known:
                b0, s0 = known[0]
                sec, guessed = s0 * (b / b0) ** 1.5, True
            if sec is None:
                left = float("nan")  # not measured at any budget yet
            else:
                left += (seeds_wanted - n) * sec
        yield m, cells, n_done, left, guessed


def test_repeats(table) -> str:
    """Which repeats of the 108-epoch test accuracy the table has, in words."""
    have = [k for k in range(3) if table.has_metric("test", 108, repeat=k).all()]
    if len(have) == 1:
        return f"NB101 repeat {have[0]}, the only repeat of it the table has"
    return (f"mean of NB101 repeats {', '.join(map(str, have))}" if have
            else "mean of the repeats the table has for each cell")


#: the markers of COMPARISON.md's part 2 (this report's; the rest of the page is the
#: predictor comparison's and its notes)
SECTION_BEGIN, SECTION_END = harness.markers("search",
                                             "python -m benchmarks.search_comparison report")


def comparison_section(results: Path) -> str:
    """COMPARISON.md's part 2 (search; what goes between its markers), from the committed
    ``search_comparison.json``: the final table in short and the figures; SEARCH.md has
    the details.  "" without that file."""
    path = results / "search_comparison.json"
    if not path.exists():
        return ""
    data = json.loads(path.read_text())
    best = data["best_test_accuracy"]
    lines = ["## Part 2: search with the dish (SEARCH.md)", "",
             "NASLib's optimizers on NB101 at equal budgets of ground-truth queries, through "
             "`naslib-petridish naslib-search`; best TRUE 108-epoch test accuracy found "
             "(NB101 repeat 0) and regret to the best cell of the space "
             f"({100 * best:.2f} %), mean ± std over seeds; simulated time = NB101 training "
             "time of the queried cells + the predictor's measured fit and query time. "
             "Methods, settings and costs: SEARCH.md; regenerate with "
             "`python -m benchmarks.search_comparison report`.", "",
             "'vs RE': difference of the mean to plain RE's at the same budget, Welch's "
             "t-test p over the seeds and q, that p adjusted for the ~18 methods compared "
             "with RE at the budget (Benjamini-Hochberg); 'vs control': the same against the "
             "optimizer's run with a constant predictor (RE: `re-mean-fixed`, NPENAS: "
             "`npenas-mean`), what the predictor's information adds.", "",
             "| budget | method | seeds | best test acc (%) | regret (pp) | vs RE (pp, p, q) | "
             "vs control (pp, p, q) | GT queries | simulated s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in data["summary"]:
        gt = (f"{r['gt_min']}" if r["gt_min"] == r["gt_max"]
              else f"{r['gt_min']}-{r['gt_max']}")
        lines.append(f"| {r['budget']} | {r['label']} | {r['seeds']} | {_pm(r['acc'])} | "
                     f"{_pm(r['regret'])} | {_vs(r.get('vs_re'))} | "
                     f"{_vs(r.get('vs_control'))} | {gt} | {_sec(r['sim_s'])} |")
    figs = sorted(p.name for p in results.glob("search_b*_*.png"))
    lines += ["", "Figures (best true accuracy against ground-truth queries and against "
              "simulated time; `_final`: the regret at the end of the budget per method with "
              "its spread over seeds): " + ", ".join(f"`{f}`" for f in figs), ""]
    return "\n".join(lines)


def refresh_comparison_md(results: Path) -> None:
    """Write part 2 of COMPARISON.md (between its markers; appended where missing) from
    :func:`comparison_section`; the page itself is the predictor comparison's, so nothing
    is written before that report has made it."""
    md = results / "COMPARISON.md"
    body = comparison_section(results)
    if md.exists() and body:
        harness.write_section(md, SECTION_BEGIN, SECTION_END, body)


def cmd_report(args) -> int:
    merged = all_results(args.work, args.results)
    results = [r for r in merged if r.get("budget") in args.budgets]
    if not results:
        print(f"no finished runs in {args.work}", file=sys.stderr)
        return 1
    table = harness.ground_truth(args.nb101)
    test = table.metric(np.arange(len(table)), "test", strict=False)
    i = int(np.nanargmax(test))
    best, best_hash = float(test[i]), str(table.hashes[i])
    # the tables and figures: the planned seeds; further seeds (run to check a result)
    # in their own section
    planned = [r for r in results if r["seed"] < args.seeds]
    rows = summarize(planned, best)
    more = more_seeds(results, args.seeds, best)
    out = args.results
    out.mkdir(parents=True, exist_ok=True)
    figs = [p for b in args.budgets for p in plot_budget(planned, b, best, out)]
    failures = []
    fp = args.work / "failures.jsonl"
    if fp.exists():
        failures = [json.loads(x) for x in fp.read_text().splitlines() if x.strip()]
    models = sorted({r["cost"].get("time_model", {}).get("model", "?") for r in results})
    tm_desc = dict(results[0]["cost"].get("time_model", {}))
    if len(models) > 1:  # runs made with different --time-model: said, not hidden
        tm_desc["model"] = " / ".join(models) + " (DIFFERENT models across runs)"
    harness.write_sections(out / "SEARCH.md", markdown(
        rows, best, best_hash, figs, len(results), failures, tm_desc, args.seeds,
        test_repeats(table), more))
    harness.save_json(out / "search_comparison.json", {
        "best_test_accuracy": best, "best_hash": best_hash, "summary": rows,
        "more_seeds": more,
        "time_model": tm_desc, "failures": len(failures)})
    # the record keeps every committed run, stale ones too (a report must never drop what an
    # earlier session measured; the tables above use the current ones only)
    record = all_results(args.work, args.results, stale=True)
    lines = [json.dumps(compact(r), separators=(",", ":"))
             for r in sorted(record, key=run_key)]
    (out / COMMITTED).write_text("\n".join(lines) + "\n")
    refresh_comparison_md(out)
    print(f"wrote {out / 'SEARCH.md'}, {out / COMMITTED} ({len(lines)} runs) and "
          f"{len(figs)} figures")
    return 0


def main(argv=None) -> int:
    from naslib_petridish.search_cost import TIME_MODELS

    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, func in (("run", cmd_run), ("report", cmd_report), ("list", cmd_list)):
        p = sub.add_parser(name)
        p.set_defaults(func=func)
        p.add_argument("--work", type=Path, default=WORK, help="work folder (outside git)")
        p.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS))
        p.add_argument("--seeds", type=int, default=10, help="seeds per curve (default 10)")
        harness.add_nb101_argument(p)
    run = sub.choices["run"]
    run.add_argument("--first-seed", type=int, default=0)
    run.add_argument("--methods", nargs="+", default=["all"],
                     help="method names, or the groups cheap, dish, all (default)")
    run.add_argument("--timeout", type=float, default=4 * 3600,
                     help="seconds per run before it is recorded as failed")
    run.add_argument("--time-model", default=DEFAULT_TIME_MODEL, choices=list(TIME_MODELS),
                     help="estimate of the NB101 training time of cells the table has none "
                     f"for (default {DEFAULT_TIME_MODEL}, as in the committed runs)")
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
