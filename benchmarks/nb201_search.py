"""Issue 55, part 2: search on NAS-Bench-201, the guided loop beside NASLib's optimizers.

Every run queries validation accuracy (200 epochs); the incumbent after n queries is the
best queried cell by validation accuracy and its test accuracy is what is recorded (never
the best test accuracy among the queries).  One run of ``--budget`` queries gives the
incumbent at every smaller budget (no method here looks at its budget before the end), so
one 300-query run per seed gives the whole curve.

* guided: ``naslib_petridish.guided.run_guided`` (the algorithm of ``naslib-petridish
  search``) with a ranker preset or the controls ``params`` / ``mean`` in the same loop
  (every cell of the space is a candidate each round: ``pool 0``);
* NASLib: its RE, random search, local search, BANANAS and NPENAS through
  ``naslib_petridish.naslib.run_search`` on the same table (needs NASLib; the settings of
  ``benchmarks/search_methods.py``, as on NB101).

Each finished run is one line of ``nb201_search_rows.jsonl`` (committed as it finishes;
resumable: a recorded run is skipped); ``report`` writes ``nb201_search.json``, the figure
and the table into NB201.md.

    python -m benchmarks.nb201_search run --dataset cifar10 --methods cell-features-trees \\
        params mean re rs ls --seeds 20 --work runs/nb201s
    python -m benchmarks.nb201_search report
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks import harness

RESULTS = Path(__file__).resolve().parent / "results"
RECORD = "nb201_search_rows.jsonl"
GRID = tuple(range(10, 301, 10))
REPORT_AT = (50, 100, 150, 300)
NASLIB_METHODS = {"re": "RE (NASLib)", "rs": "random search (NASLib)",
                  "ls": "local search (NASLib)", "bananas": "BANANAS (NASLib)",
                  "npenas": "NPENAS (NASLib)"}
CONTROLS = ("params", "mean")
#: the guided loop's settings: 20 uniform cells first, then 5 per round, every unqueried
#: cell of the space a candidate (chosen on development seeds 100-119 of both data sets:
#: 5 per round was level with or above 10 on both; NB201.md)
GUIDED = {"init": 20, "batch": 5, "pool": 0}
#: what every curve is compared with (Welch p, Benjamini-Hochberg q over the curves)
REFS = ("re", "params")
BEGIN, END = harness.markers("nb201-search", "python -m benchmarks.nb201_search report")


def incumbent_at(accs_val, accs_test, grid=GRID) -> list[float | None]:
    """The test accuracy of the best-by-validation queried cell after each n of ``grid``
    (None past the run's queries); ties: the first queried."""
    v, t = np.asarray(accs_val, float), np.asarray(accs_test, float)
    out = []
    for n in grid:
        out.append(None if n > len(v) else round(float(t[int(np.argmax(v[:n]))]), 6))
    return out


def run_guided_one(table, predictor: str, seed: int, budget: int, work: Path) -> dict:
    from naslib_petridish.guided import GuidedConfig, run_guided

    cfg = GuidedConfig(budget=budget, metric="val", seed=seed, **GUIDED)
    s = run_guided(table, predictor, cfg, work / f"{predictor}-s{seed}", resume=True)
    rows = [table.index(q["hash"]) for q in s["queries"]]
    val = [q["accuracy"] for q in s["queries"]]
    return {"kind": "guided", "settings": GUIDED, "wall_seconds": round(s["wall_seconds"], 1),
            "predictor_seconds": round(s["predictor_fit_seconds"]
                                       + s["predictor_query_seconds"], 2),
            "queries": len(rows), "distinct": len(set(table.keys[rows])),
            "incumbent": incumbent_at(val, table.metric(rows, "test"))}


def naslib_config(method: str, dataset: str, budget: int, seed: int, out: Path) -> str:
    """The NASLib search config of one run: ``benchmarks/search_methods.py``'s settings (RE
    population 30, sample 10; BANANAS (path-encoding MLP ensemble) and NPENAS (GCN) 20
    initial cells, 20 per batch, 3-member ensembles, 100 candidates; local search 20
    initial cells) on NB201."""
    from benchmarks.search_methods import BO, CANDIDATES, POPULATION, SAMPLE

    search = {"epochs": budget, "checkpoint_freq": 100000, "fidelity": -1,
              "population_size": POPULATION, "sample_size": SAMPLE, **BO,
              "acq_fn_optimization": CANDIDATES.get(method, "mutation")}
    # BANANAS' and NPENAS' own surrogates (their papers'; NASLib's default would be a GP)
    predictor = {"bananas": "bananas", "npenas": "gcn"}.get(method, "none")
    lines = [f"seed: {seed}", f"optimizer: {method}", f"predictor: {predictor}",
             "search_space: nasbench201",
             f"dataset: {dataset}", f"out_dir: {out}", "search:"]
    return "\n".join(lines + [f"  {k}: {v}" for k, v in search.items()]) + "\n"


def run_naslib_one(table, method: str, seed: int, budget: int, work: Path) -> dict:
    from naslib_petridish.naslib import run_search

    out = work / f"{method}-s{seed}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(naslib_config(method, table.dataset, budget, seed, out))
    t0 = time.perf_counter()
    s = run_search(str(out / "config.yaml"), metric="val", table=table, log_stdout=False)
    tr = s["trajectory"]
    q, inc = tr["ground_truth_queries"], tr["best_true_test_accuracy"]
    # the incumbent after n queries: the last epoch with at most n queries
    at = []
    for n in GRID:
        i = max((k for k in range(len(q)) if q[k] <= n), default=None)
        at.append(None if n > q[-1] or i is None or inc[i] is None
                  else round(float(inc[i]), 6))
    return {"kind": "naslib", "wall_seconds": round(time.perf_counter() - t0, 1),
            "predictor_seconds": round(s["cost"]["predictor"]["fit_seconds"]
                                       + s["cost"]["predictor"]["query_seconds"], 2),
            "queries": s["ground_truth_queries"], "distinct": s["distinct_cells_queried"],
            "incumbent": at}


def cmd_run(args) -> int:
    harness.one_thread()
    from naslib_petridish.spaces.nb201 import load_file, locate_table

    table = load_file(locate_table(args.nb201)).dataset(args.dataset)
    path = args.results / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["dataset"], r["method"], r["seed"], r["budget"]) for r in _read(path)}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for m in args.methods:
            key = (table.dataset, m, seed, args.budget)
            if key in done:
                continue
            work = Path(args.work) / table.dataset
            row = (run_naslib_one(table, m, seed, args.budget, work / "naslib")
                   if m in NASLIB_METHODS else
                   run_guided_one(table, m, seed, args.budget, work / "guided"))
            row = {"dataset": table.dataset, "method": m, "seed": seed,
                   "budget": args.budget, "grid": list(GRID), **row}
            with open(path, "a") as f:  # one line per finished run
                f.write(json.dumps(row) + "\n")
            at = dict(zip(GRID, row["incumbent"]))
            print(f"{table.dataset} {m} seed {seed}: test {at.get(100)} at 100, "
                  f"{at.get(args.budget)} at {args.budget}; {row['wall_seconds']:.0f} s",
                  flush=True)
    return 0


def _read(path: Path) -> list[dict]:
    return harness.read_jsonl(path) if path.exists() else []


def label(m: str) -> str:
    return NASLIB_METHODS.get(m) or (f"guided loop, {m} (control)" if m in CONTROLS
                                     else f"guided loop, {m}")


def summarize(rows: list[dict], table_file) -> dict:
    """Per data set and method: the incumbent's test accuracy at ``REPORT_AT`` (mean, std,
    values by seed), against RE and the params loop (Welch p, Benjamini-Hochberg q over
    the methods at each budget), and the references of the table (the best cell by
    validation accuracy, the optimum)."""
    from scipy import stats

    out = {}
    for ds in sorted({r["dataset"] for r in rows}):
        t = table_file.dataset(ds) if table_file is not None else None
        by = {}
        for r in rows:
            if r["dataset"] == ds:
                by.setdefault(r["method"], {})[r["seed"]] = r
        res = {"methods": {}}
        if t is not None:
            v, te = t.metric(np.arange(len(t)), "val"), t.metric(np.arange(len(t)), "test")
            res["best_by_val_test"] = float(te[int(np.argmax(v))])
            res["optimum_test"] = float(te.max())
        for m, seeds in by.items():
            cur = {}
            for n in REPORT_AT:
                vals = {s: r["incumbent"][r["grid"].index(n)] for s, r in seeds.items()
                        if n in r["grid"] and r["incumbent"][r["grid"].index(n)] is not None}
                if vals:
                    a = np.array(list(vals.values()))
                    cur[n] = {"mean": float(a.mean()), "std": float(a.std()),
                              "seeds": sorted(vals), "values": [vals[s] for s in sorted(vals)]}
            res["methods"][m] = {"label": label(m), "at": cur,
                                 "wall_seconds": float(np.mean([r["wall_seconds"]
                                                                for r in seeds.values()]))}
        for ref in REFS:
            for n in REPORT_AT:
                ms, ps = [], []
                for m, d in res["methods"].items():
                    if m == ref or n not in d["at"] or n not in res["methods"].get(
                            ref, {}).get("at", {}):
                        continue
                    a, b = d["at"][n]["values"], res["methods"][ref]["at"][n]["values"]
                    if len(a) < 2 or len(b) < 2:
                        continue
                    if np.ptp(a) == 0 and np.ptp(b) == 0:  # every seed the same on both
                        res["methods"][m]["at"][n][f"vs_{ref}"] = {
                            "diff": float(np.mean(a) - np.mean(b)), "p": None, "q": None}
                        continue
                    ms.append(m)
                    ps.append(float(stats.ttest_ind(a, b, equal_var=False).pvalue))
                qs = stats.false_discovery_control(ps) if ps else []
                for m, p, q in zip(ms, ps, qs):
                    a, b = d_at(res, m, n), d_at(res, ref, n)
                    res["methods"][m]["at"][n][f"vs_{ref}"] = {
                        "diff": float(np.mean(a) - np.mean(b)), "p": p, "q": float(q)}
        out[ds] = res
    return out


def d_at(res: dict, m: str, n: int) -> list[float]:
    return res["methods"][m]["at"][n]["values"]


def markdown(summary: dict) -> str:
    lines = []
    for ds, res in summary.items():
        lines += [f"**{ds}**: test accuracy (%) of the incumbent (best queried cell by "
                  "validation accuracy), mean ± std over seeds; 'vs RE' / 'vs params': "
                  "difference of means in pp, Welch p, Benjamini-Hochberg q over the curves "
                  f"at that budget. Best cell by validation: "
                  f"{100 * res.get('best_by_val_test', float('nan')):.2f} %; optimum "
                  f"{100 * res.get('optimum_test', float('nan')):.2f} %.", "",
                  "| method | seeds | " + " | ".join(f"{n} queries" for n in REPORT_AT)
                  + " | vs RE at 100 | vs params at 100 | s per run |",
                  "|---|---|" + "---|" * (len(REPORT_AT) + 3)]
        order = sorted(res["methods"], key=lambda m: -res["methods"][m]["at"].get(
            100, {"mean": 0})["mean"])
        for m in order:
            d = res["methods"][m]
            seeds = max((len(x["values"]) for x in d["at"].values()), default=0)
            # a budget fewer seeds reached than the row's count says how many did
            cells = [(harness.pm(x["mean"], x["std"], 2, 100)
                      + (f" ({len(x['values'])} of {seeds} seeds)" if len(x["values"]) < seeds
                         else ""))
                     if (x := d["at"].get(n)) else "" for n in REPORT_AT]
            vs = []
            for ref in REFS:
                c = d["at"].get(100, {}).get(f"vs_{ref}")
                vs.append("" if not c else f"{100 * c['diff']:+.2f} (no variance: the same "
                          "on every seed)" if c["p"] is None else
                          f"{100 * c['diff']:+.2f} (p {c['p']:.2g}, q {c['q']:.2g})")
            lines.append(f"| {d['label']} | {seeds} | " + " | ".join(cells) + " | "
                         + " | ".join(vs) + f" | {d['wall_seconds']:.0f} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def plot(summary: dict, rows: list[dict], path: Path) -> Path:
    plt = harness.pyplot()
    fig, axes = plt.subplots(1, len(summary), figsize=(6 * len(summary), 4.2), squeeze=False)
    for ax, (ds, res) in zip(axes[0], summary.items()):
        for m in res["methods"]:
            curves = np.array([[np.nan if x is None else 100 * x for x in r["incumbent"]]
                               for r in rows if r["dataset"] == ds and r["method"] == m])
            mu = np.nanmean(curves, 0)
            ax.plot(GRID, mu, label=label(m), lw=1.4,
                    ls="--" if m in NASLIB_METHODS else "-")
        if "best_by_val_test" in res:
            ax.axhline(100 * res["best_by_val_test"], color="grey", lw=0.8, ls=":",
                       label="best cell by validation")
        at50 = [100 * d["at"][50]["mean"] for d in res["methods"].values() if 50 in d["at"]]
        top = 100 * res.get("best_by_val_test", max(at50) / 100)
        ax.set(title=f"NB201 {ds}", xlabel="ground-truth queries (validation accuracy)",
               ylabel="test accuracy of the incumbent (%)",
               ylim=(min(at50) - 0.4, top + 0.25))
        ax.legend(fontsize=7)
    return harness.save_figure(fig, path)


def cmd_report(args) -> int:
    from naslib_petridish.spaces.nb201 import load_file, locate_table

    rows = _read(args.results / RECORD)
    try:
        tf = load_file(locate_table(args.nb201))
    except Exception:  # the references need the table; the rest does not
        tf = None
    summary = summarize(rows, tf)
    harness.save_json(args.results / "nb201_search.json", {"summary": summary})
    fig = plot(summary, rows, args.results / "nb201_search.png")
    harness.write_section(args.results / "NB201.md", BEGIN, END, markdown(summary)
                          + f"\n\n![incumbent per query]({fig.name})")
    print(markdown(summary))
    return 0


def main() -> int:
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--dataset", required=True)
    r.add_argument("--methods", nargs="+", required=True,
                   help="ranker presets, params, mean, or NASLib's re rs ls bananas npenas")
    r.add_argument("--seeds", type=int, default=20)
    r.add_argument("--first-seed", type=int, default=0)
    r.add_argument("--budget", type=int, default=300)
    r.add_argument("--work", default="runs/nb201_search")
    rp = sub.add_parser("report")
    for p in (r, rp):
        p.add_argument("--nb201", help="NB201 ground truth (default $NASLIB_PETRIDISH_NB201)")
    r.set_defaults(fn=cmd_run)
    rp.set_defaults(fn=cmd_report)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
