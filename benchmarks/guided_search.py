"""Predictor-guided search against RE, random search, BANANAS and NPENAS (SEARCH.md, issue 45).

Runs ``naslib_petridish.guided.run_guided`` (the algorithm of ``naslib-petridish search``)
for each predictor and seed, resumable (each run is a directory under WORK; a finished one
is skipped, an interrupted one resumes from its last round), and records each run compactly
in ``benchmarks/results/guided_runs.jsonl``.  The references are NASLib's runs of
``benchmarks.search_comparison`` (its committed ``search_runs.jsonl``, and with ``refs``
further seeds of RE and random search run into WORK/refs by that script's code).

    python -m benchmarks.guided_search run --work runs/guided --predictors cell-features-boosted \\
        params mean --seeds 20 --budget 150
    python -m benchmarks.guided_search refs --work runs/guided --first-seed 10 --seeds 10  # NASLib
    python -m benchmarks.guided_search report --work runs/guided
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks import harness

WORK = Path("runs/guided")
RECORD = "guided_runs.jsonl"
GRID = (50, 100, 150, 300)
#: the settings of every run unless given: 20 uniform cells, 10 per round, 20,000 candidates
SEARCH = {"init": 20, "batch": 10, "pool": 20000, "mutations": 0, "top_k": 10}
REFS = ("re", "rs", "bananas", "npenas")
BEGIN, END = harness.markers("guided", "python -m benchmarks.guided_search report")


def label(predictor: str, search: dict) -> str:
    extra = [f"{k} {v}" for k, v in search.items() if SEARCH.get(k) != v and k != "budget"]
    return predictor + (f" ({', '.join(extra)})" if extra else "")


def compact(s: dict) -> dict:
    """A run small enough to commit: the incumbent after every query, the cumulative NB101
    training seconds and the predictor's seconds per round."""
    train = np.cumsum(s.get("nb101_train_seconds", [0.0] * len(s["incumbent"])))
    search = s["config"]["search"]
    return {"predictor": s["config"]["predictor"], "options": s["config"]["predictor_options"],
            "search": search, "seed": search["seed"], "budget": search["budget"],
            "label": label(s["config"]["predictor"],
                           {k: v for k, v in search.items() if k in SEARCH}),
            "best_test_accuracy": s["best_test_accuracy"], "best_hash": s["best_hash"],
            "incumbent": [round(float(a), 7) for a in s["incumbent"]],
            "train_seconds": [round(float(t), 1) for t in train],
            "rounds": [[r["after_queries"], r["fit_seconds"], r["query_seconds"]]
                       for r in s["rounds"]],
            "predictor_seconds": round(s["predictor_fit_seconds"]
                                       + s["predictor_query_seconds"], 2),
            "wall_seconds": round(s["wall_seconds"], 1), "machine": s["machine"],
            "package_version": s["package_version"]}


def cmd_run(args) -> int:
    from naslib_petridish.guided import GuidedConfig, run_guided

    table = harness.ground_truth(args.nb101)
    path = args.results / RECORD
    done = {(r["label"], r["seed"], r["budget"]) for r in read(path)}
    search = {**SEARCH, **{k: getattr(args, k) for k in SEARCH if getattr(args, k) is not None}}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for pred in args.predictors:
            key = (label(pred, search), seed, args.budget)
            if key in done:
                continue
            t0 = time.time()
            cfg = GuidedConfig(budget=args.budget, seed=seed, metric="test", **search)
            s = run_guided(table, pred, cfg, Path(args.work) / key[0].replace(" ", "_")
                           / f"b{args.budget}-s{seed}", resume=True)
            rec = compact(s)
            with open(path, "a") as f:  # one line per finished run: committed as it finishes
                f.write(json.dumps(rec) + "\n")
            print(f"{key[0]} seed {seed}: {rec['best_test_accuracy']:.4f} after "
                  f"{args.budget} queries, {time.time() - t0:.0f} s", flush=True)
    return 0


def cmd_refs(args) -> int:
    """More seeds of RE and random search at ``--budget`` through search_comparison's own
    runner (needs NASLib), kept in WORK/refs (the committed search_runs.jsonl has 10)."""
    from benchmarks import search_comparison as sc

    table = harness.ground_truth(args.nb101)
    tm = sc.time_model(table)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in args.methods:
            if not sc.result_path(Path(args.work) / "refs", name, args.budget, seed).exists():
                sc.run_one(sc.BY_NAME[name], args.budget, seed, Path(args.work) / "refs",
                           table, tm)
                print(f"{name} seed {seed} done", flush=True)
    return 0


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] \
        if path.exists() else []


def reference_curves(args, budget: int) -> dict[str, np.ndarray]:
    """Incumbent after each of ``budget`` queries (rows: seeds) of NASLib's RE, RS,
    BANANAS and NPENAS: the committed runs and those of ``refs``."""
    from benchmarks import search_comparison as sc

    rows = {sc.run_key(r): r for r in sc.read_committed(args.results)}
    rows.update({sc.run_key(r): r for r in sc.read_results(Path(args.work) / "refs")})
    grid = np.arange(1, budget + 1)
    out = {}
    for name in REFS:
        runs = sorted((r for (m, b, _), r in rows.items() if m == name and b == budget),
                      key=lambda r: r["seed"])
        if runs:
            out[name] = sc.curves(runs, "ground_truth_queries", grid)
    return out


def _welch(a, b):
    """Difference of means, Welch's two-sided p and its 95 % confidence interval (SciPy)."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return None
    t = stats.ttest_ind(a, b, equal_var=False)
    ci = t.confidence_interval(0.95)
    return (float(np.mean(a) - np.mean(b)), float(t.pvalue), float(ci.low), float(ci.high))


def cmd_report(args) -> int:
    from scipy.stats import false_discovery_control

    table = harness.ground_truth(args.nb101)
    best = float(np.nanmax(table.metric(np.arange(len(table)), "test")))
    runs = read(args.results / RECORD)
    budget = max([r["budget"] for r in runs] + [150])
    refs = reference_curves(args, 300)
    groups: dict[str, list] = {}
    for r in runs:
        groups.setdefault(r["label"], []).append(r)
    cur = {k: np.array([np.pad(r["incumbent"], (0, max(0, budget - len(r["incumbent"]))),
                               constant_values=np.nan) for r in v]) for k, v in groups.items()}
    re300 = refs.get("re")
    target = float(np.mean(re300[:, 299])) if re300 is not None else None
    lines = [f"Protocol: best true 108-epoch test accuracy (repeat 0) among the cells queried, "
             f"after N ground-truth queries; regret against the best cell of the space "
             f"({100 * best:.2f} %). Guided search: `naslib-petridish search` (init "
             f"{SEARCH['init']} uniform cells, {SEARCH['batch']} per round, {SEARCH['pool']:,} "
             "fresh uniform candidates per round); references: NASLib's runs of "
             "`benchmarks.search_comparison` (the same 108-epoch test accuracy). mean +- std "
             "over seeds; vs RE / vs mean: difference of means in pp, Welch p, and "
             "Benjamini-Hochberg q over all comparisons of the table.", "",
             "| method | seeds | " + " | ".join(f"{n} queries" for n in GRID) + " | regret at "
             "150 | vs RE at 150 | vs RE at 300 | vs mean at 150 | vs params at 150 (95 % CI) |",
             "|---" * 11 + "|"]
    stats_rows, pvals = [], []
    for name, c in [*cur.items(), *((f"{k} (NASLib)", v) for k, v in refs.items())]:
        at = {n: c[:, n - 1] for n in GRID if n <= c.shape[1] and not np.isnan(c[:, n - 1]).all()}
        comp = {}
        for tag, ref, n in (("re150", refs.get("re"), 150), ("re300", refs.get("re"), 300),
                            ("mean150", cur.get("mean"), 150),
                            ("params150", cur.get("params"), 150)):
            if (ref is not None and ref is not c and n in at and ref.shape[1] >= n
                    and not np.isnan(ref[:, n - 1]).any() and not np.isnan(at[n]).any()):
                comp[tag] = _welch(at[n], ref[:, n - 1])
                if comp[tag]:
                    pvals.append(comp[tag][1])
        stats_rows.append((name, c, at, comp))
    q = iter(false_discovery_control(pvals) if pvals else [])
    qs = [[next(q) if v else None for v in comp.values()] for *_, comp in stats_rows]
    for (name, c, at, comp), qrow in zip(stats_rows, qs):
        cells = [harness.pm(np.mean(at[n]), np.std(at[n]), 2, 100) if n in at else ""
                 for n in GRID]
        reg = (harness.pm(np.mean(best - at[150]), np.std(best - at[150]), 2, 100)
               if 150 in at else "")
        vs = {k: (f"{100 * v[0]:+.2f} (p {v[1]:.2g}, q {qv:.2g})" if v else "")
              for (k, v), qv in zip(comp.items(), qrow)}
        if comp.get("params150") and name != "params":
            v = comp["params150"]
            vs["params150"] = f"{100 * v[0]:+.2f} [{100 * v[2]:+.2f}, {100 * v[3]:+.2f}]"
        else:
            vs["params150"] = ""
        lines.append(f"| {name} | {len(c)} | " + " | ".join(cells) + f" | {reg} | "
                     f"{vs.get('re150', '')} | {vs.get('re300', '')} | {vs.get('mean150', '')} | "
                     f"{vs['params150']} |")
    if target is not None:
        lines += ["", f"Queries to reach RE's mean accuracy after 300 queries "
                  f"({100 * target:.2f} %, {len(re300)} seeds), per seed (a seed that never "
                  "reaches it within its budget counts as not reached):", ""]
        for name, c in cur.items():
            hit = [int(np.argmax(row >= target)) + 1 if (row >= target).any() else None
                   for row in c]
            got = [h for h in hit if h is not None]
            if len(got) == len(hit):
                lines.append(f"- {name}: median {np.median(got):.0f} queries (range "
                             f"{min(got)}-{max(got)}), reached by {len(got)} of {len(hit)} "
                             f"seeds: RE's 300 queries / median = "
                             f"{300 / np.median(got):.1f}x")
            else:
                lines.append(f"- {name}: reached by {len(got)} of {len(hit)} seeds")
    timed = [r for r in runs if r["label"] == args.timing_label]
    if timed:
        secs = [r["wall_seconds"] for r in timed]
        lines += ["", f"Wall time of one {args.timing_label} run ({timed[0]['budget']} "
                  f"queries): {np.mean(secs) / 60:.1f} +- {np.std(secs) / 60:.1f} min "
                  f"({timed[0]['machine']}), of which the predictor (fits and queries) "
                  f"{np.mean([r['predictor_seconds'] for r in timed]):.0f} s."]
    _figure(cur, refs, best, args.results / "search_guided.png")
    lines += ["", "![guided search](search_guided.png)"]
    harness.write_section(args.results / "SEARCH.md", BEGIN, END, "\n".join(lines))
    print("\n".join(lines))
    return 0


def _figure(cur, refs, best, path: Path) -> None:
    plt = harness.pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, c in [*cur.items(), *((f"{k} (NASLib)", v) for k, v in refs.items())]:
        m = np.nanmean(c, axis=0)
        x = np.arange(1, len(m) + 1)
        ax.plot(x, 100 * (best - m), label=f"{name} ({len(c)})",
                ls="--" if "(NASLib)" in name else "-")
    ax.set_yscale("log")
    ax.set_xlabel("ground-truth queries")
    ax.set_ylabel("mean regret (pp, log)")
    ax.set_xlim(10, 300)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    harness.save_figure(fig, path)


def main(argv=None) -> int:
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--predictors", nargs="+", required=True)
    r.add_argument("--budget", type=int, default=150)
    for k in SEARCH:
        r.add_argument(f"--{k.replace('_', '-')}", dest=k, type=int, default=None)
    f = sub.add_parser("refs")
    f.add_argument("--methods", nargs="+", default=["re", "rs"])
    f.add_argument("--budget", type=int, default=300)
    rp = sub.add_parser("report")
    rp.add_argument("--timing-label", default="cell-features-boosted")
    for p in (r, f):
        p.add_argument("--seeds", type=int, default=20)
        p.add_argument("--first-seed", type=int, default=0)
    for p in (r, f, rp):
        p.add_argument("--work", default=str(WORK))
        harness.add_nb101_argument(p)
    r.set_defaults(fn=cmd_run)
    f.set_defaults(fn=cmd_refs)
    rp.set_defaults(fn=cmd_report)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
