"""Predictor-guided search against RE, random search, BANANAS and NPENAS (SEARCH.md, issue 45).

Runs ``naslib_petridish.guided.run_guided`` (the algorithm of ``naslib-petridish search``)
for each predictor and seed, resumable (each run is a directory under WORK; a finished one
is skipped, an interrupted one resumes from its last round), and records each run compactly
in ``benchmarks/results/guided_runs.jsonl``.  The references are NASLib's runs of
``benchmarks.search_comparison`` (its committed ``search_runs.jsonl``), and with ``refs``
further seeds of them run into WORK/refs by that script's code, recorded compactly in
``benchmarks/results/search_refs_runs.jsonl``.

    python -m benchmarks.guided_search run --work runs/guided --predictors cell-features-boosted \\
        params mean --seeds 20 --budget 150
    python -m benchmarks.guided_search refs --work runs/guided --methods rs bananas npenas \\
        --first-seed 10 --seeds 10   # needs NASLib
    python -m benchmarks.guided_search report --work runs/guided
    python -m benchmarks.guided_search ceiling   # how many cells a regret goal leaves
    python -m benchmarks.guided_search speed --seeds 20 [--cold]   # warm start (issue 56)
    python -m benchmarks.guided_search speed-report
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks import harness

WORK = Path("runs/guided")
RECORD = "guided_runs.jsonl"
#: further seeds of NASLib's reference optimizers (``refs``), apart from search_comparison's
#: ``search_runs.jsonl`` (that file is near the 1 MiB limit of a committed record)
REFS_RECORD = "search_refs_runs.jsonl"
GRID = (50, 100, 150, 300)
#: the settings of every run unless given: 20 uniform cells, 10 per round, 20,000 candidates
SEARCH = {"init": 20, "batch": 10, "pool": 20000, "mutations": 0, "top_k": 10}
REFS = ("re", "rs", "bananas", "npenas")
#: the predictor every other one is compared with, seed by seed; and the two controls
PAIRED_REF, CONTROLS = "cell-features-boosted", ("params", "mean")
#: how a reference optimizer is named in the tables (apart from a NASLib *predictor* of the
#: guided loop, e.g. ``bananas``)
REF_TAG = " (NASLib optimizer)"

BEGIN, END = harness.markers("guided", "python -m benchmarks.guided_search report")
SPEED_BEGIN, SPEED_END = harness.markers("guided-speed",
                                         "python -m benchmarks.guided_search speed-report")
#: the speed measurement's own record: every run of ``speed``, the reference included
SPEED_RECORD = "guided_speed_runs.jsonl"
#: the preset whose search speed ``speed`` measures, and its warm-start option
SPEED_PREDICTOR, WARM = "cell-features-self-trained", {"warm_start": True}
CEIL_BEGIN, CEIL_END = harness.markers("guided-ceiling",
                                       "python -m benchmarks.guided_search ceiling")


def ref_label(name: str) -> str:
    return name.upper() + REF_TAG


def record_name(budget: int) -> str:
    """The record file of a budget's runs (split by budget so that each stays under 1 MiB):
    ``guided_runs.jsonl`` at 150 queries, ``guided_runs_b300.jsonl`` at 300, ..."""
    return RECORD if budget == 150 else RECORD.replace(".jsonl", f"_b{budget}.jsonl")


def label(predictor: str, search: dict, options: dict | None = None) -> str:
    """The curve's name: the predictor, its options (``warm_start=True``) and the search
    settings that differ from ``SEARCH``."""
    extra = [f"{k}={v}" for k, v in sorted((options or {}).items())]
    extra += [f"{k} {v}" for k, v in search.items() if SEARCH.get(k) != v and k != "budget"]
    return predictor + (f" ({', '.join(extra)})" if extra else "")


def paired_ref(name: str, runs: dict) -> str | None:
    """The run a guided curve is paired with, seed by seed: the reference predictor with the
    same search settings (``cell-features-boosted (pool 300)`` for ``X (pool 300)``), else
    with the default ones (so the reference with other settings is paired with itself at
    the default ones); None for the reference and the controls themselves."""
    if name in (PAIRED_REF, *CONTROLS):
        return None
    _, _, opts = name.partition(" (")
    same = PAIRED_REF + (f" ({opts}" if opts else "")
    if same != name and same in runs:
        return same
    return PAIRED_REF if PAIRED_REF in runs else None


def compact(s: dict) -> dict:
    """A run small enough to commit: the incumbent after every query, the cumulative NB101
    training seconds and the predictor's seconds per round."""
    train = np.cumsum(s.get("nb101_train_seconds", [0.0] * len(s["incumbent"])))
    search = s["config"]["search"]
    return {"predictor": s["config"]["predictor"], "options": s["config"]["predictor_options"],
            "search": search, "seed": search["seed"], "budget": search["budget"],
            "label": label(s["config"]["predictor"],
                           {k: v for k, v in search.items() if k in SEARCH},
                           s["config"]["predictor_options"]),
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
    path = args.results / record_name(args.budget)
    done = {(r["label"], r["seed"], r["budget"]) for r in read(path)}
    search = {**SEARCH, **{k: getattr(args, k) for k in SEARCH if getattr(args, k) is not None}}
    from naslib_petridish.guided import read_options
    options = read_options(args.set)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for pred in args.predictors:
            key = (label(pred, search, options), seed, args.budget)
            if key in done:
                continue
            t0 = time.time()
            cfg = GuidedConfig(budget=args.budget, seed=seed, metric="test", **search)
            s = run_guided(table, pred, cfg, Path(args.work) / key[0].replace(" ", "_")
                           / f"b{args.budget}-s{seed}", options=options, resume=True)
            rec = compact(s)
            with open(path, "a") as f:  # one line per finished run: committed as it finishes
                f.write(json.dumps(rec) + "\n")
            print(f"{key[0]} seed {seed}: {rec['best_test_accuracy']:.4f} after "
                  f"{args.budget} queries, {time.time() - t0:.0f} s", flush=True)
    return 0


def cmd_speed(args) -> int:
    """Issue 56's measurement: per seed, back to back in this one process, a run of the
    reference (``cell-features-boosted``), of the recommended preset warm-started and, with
    ``--cold``, of the same preset fitted from scratch each round.  Every run goes to
    ``SPEED_RECORD`` (the timing comparison uses only these, run side by side); the
    recommended preset's runs also join the budget's record (SEARCH.md's table), unless a
    run of that label and seed is there already."""
    from naslib_petridish.guided import GuidedConfig, run_guided

    table = harness.ground_truth(args.nb101)
    speed, main = args.results / SPEED_RECORD, args.results / record_name(args.budget)
    done = {(r["label"], r["seed"]) for r in read(speed) if r["budget"] == args.budget}
    plan = [(PAIRED_REF, {}), (SPEED_PREDICTOR, WARM)]
    plan += [(SPEED_PREDICTOR, {})] if args.cold else []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for pred, options in plan:
            name = label(pred, SEARCH, options)
            if (name, seed) in done:
                continue
            cfg = GuidedConfig(budget=args.budget, seed=seed, metric="test", **SEARCH)
            s = run_guided(table, pred, cfg, Path(args.work) / "speed" / name.replace(" ", "_")
                           / f"b{args.budget}-s{seed}", options=options, resume=True)
            rec = compact(s)
            harness.append_jsonl(speed, rec)
            if pred != PAIRED_REF and (name, seed) not in {(r["label"], r["seed"])
                                                           for r in read(main)}:
                harness.append_jsonl(main, rec)
            print(f"{name} seed {seed}: {rec['best_test_accuracy']:.4f}, "
                  f"{rec['wall_seconds']:.0f} s", flush=True)
    return 0


def cmd_speed_report(args) -> int:
    """SEARCH.md's warm-start section from ``SPEED_RECORD``: wall time of the warm-started
    recommended preset against the reference run side by side (per seed and ratio of the
    means), and its regret at the budget paired against the cold fit (every cold run of the
    budget's record, on the seeds both have) and against the reference."""
    rows = [r for r in read(args.results / SPEED_RECORD) if r["budget"] == args.budget]
    if not rows:
        raise SystemExit(f"no runs of {args.budget} queries in {SPEED_RECORD}: run `speed` first")
    sp = by_seed(rows)
    warm, cold = label(SPEED_PREDICTOR, SEARCH, WARM), label(SPEED_PREDICTOR, SEARCH)
    runs = read_all(args.results)
    ref = sp.get(PAIRED_REF, {})
    seeds = sorted(s for s in sp.get(warm, {}) if s in ref)
    if not seeds:
        raise SystemExit("no seed has both the reference and the warm-started run yet")
    tw = np.array([sp[warm][s]["wall_seconds"] for s in seeds])
    tr = np.array([ref[s]["wall_seconds"] for s in seeds])
    machine = sp[warm][seeds[0]]["machine"]
    lines = [f"Search speed of the recommended preset (`{SPEED_PREDICTOR}`, `warm_start: true`), "
             f"{args.budget}-query runs, seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}): each seed's "
             f"`{PAIRED_REF}` run and warm-started run back to back in one process ({machine}; "
             "the other core busy with other jobs).", "",
             "| | wall min, mean +- std | predictor s, mean | "
             f"regret at {args.budget} (pp), mean +- std |", "|---|---|---|---|"]
    table = harness.ground_truth(args.nb101)
    best = float(np.nanmax(table.metric(np.arange(len(table)), "test")))
    for name, d in ((PAIRED_REF, ref), (warm, sp[warm]),
                    (cold + " (cold, every run)", runs.get(cold, {}))):
        v = [d[s] for s in sorted(d)]
        if not v:
            continue
        w = np.array([x["wall_seconds"] for x in v]) / 60
        reg = 100 * (best - np.array([x["incumbent"][args.budget - 1] for x in v]))
        lines.append(f"| {name} ({len(v)} seeds) | {w.mean():.1f} +- {w.std():.1f} | "
                     f"{np.mean([x['predictor_seconds'] for x in v]):.0f} | "
                     f"{reg.mean():.3f} +- {reg.std():.3f} |")
    ratio = tw / tr
    lines += ["", f"Warm-started wall time / reference's, side by side: ratio of the means "
              f"{tw.mean() / tr.mean():.2f}x, per seed median {np.median(ratio):.2f}x (range "
              f"{ratio.min():.2f}-{ratio.max():.2f}x); goal at most 3x."]
    for other, what in ((runs.get(cold, {}), "the cold fit (from scratch every round)"),
                        (ref, f"`{PAIRED_REF}`")):
        both = sorted(s for s in sp[warm] if s in other)
        if len(both) < 2:
            lines.append(f"- warm minus {what}: {len(both)} seed(s) in common, no interval yet.")
            continue
        a = np.array([sp[warm][s]["incumbent"][args.budget - 1] for s in both])
        b = np.array([other[s]["incumbent"][args.budget - 1] for s in both])
        d, p, lo, hi, _ = _paired(sp[warm], other, args.budget)
        lines.append(f"- warm minus {what}, accuracy at {args.budget} queries, paired over "
                     f"{len(both)} seeds ({both[0]}-{both[-1]}): {100 * d:+.3f} pp"
                     + (f" [95 % CI {100 * lo:+.3f}, {100 * hi:+.3f}], p {p:.2g}"
                        if np.any(a != b) else " (identical on every seed)")
                     + f"; equal on {int((a == b).sum())}, better on {int((a > b).sum())}, "
                     f"worse on {int((a < b).sum())}.")
    harness.write_section(args.results / "SEARCH.md", SPEED_BEGIN, SPEED_END, "\n".join(lines))
    print("\n".join(lines))
    return 0


def cmd_refs(args) -> int:
    """More seeds of NASLib's reference optimizers at ``--budget`` through search_comparison's
    own runner (needs NASLib), kept in WORK/refs and recorded in ``REFS_RECORD`` after each
    run (the committed search_runs.jsonl has seeds 0-9, RE 0-19)."""
    from benchmarks import search_comparison as sc

    table = harness.ground_truth(args.nb101)
    tm = sc.time_model(table)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in args.methods:
            if not sc.result_path(Path(args.work) / "refs", name, args.budget, seed).exists():
                sc.run_one(sc.BY_NAME[name], args.budget, seed, Path(args.work) / "refs",
                           table, tm)
                record_refs(args)
                print(f"{name} seed {seed} done", flush=True)
    return 0


def record_refs(args) -> int:
    """Rewrite ``REFS_RECORD`` as the union of what it holds and the finished runs in
    WORK/refs (compacted as search_comparison compacts its record; a run already in
    search_runs.jsonl is not written twice).  Returns the number of runs recorded."""
    from benchmarks import search_comparison as sc

    results = Path(args.results)
    have = {sc.run_key(r) for r in sc.read_committed(results)}
    rows = {sc.run_key(r): r for r in read(results / REFS_RECORD)}
    rows.update({sc.run_key(r): sc.compact(r)
                 for r in sc.read_results(Path(args.work) / "refs")})
    lines = [json.dumps(r, separators=(",", ":")) for k, r in sorted(rows.items())
             if k not in have]
    if lines:
        (results / REFS_RECORD).write_text("\n".join(lines) + "\n")
    return len(lines)


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] \
        if path.exists() else []


def read_records(results: Path) -> list[dict]:
    """Every reported run: the records of every budget (``guided_runs*.jsonl``; the
    development screen's ``guided_dev_runs.jsonl`` is not one of them)."""
    return [r for path in sorted(results.glob(RECORD.replace(".jsonl", "*.jsonl")))
            for r in read(path)]


def by_seed(records: list[dict]) -> dict[str, dict[int, dict]]:
    """The runs by label and seed.  A seed run at several budgets is kept once, the longest:
    the shorter run is a prefix of it (the same seed draws the same cells whatever the
    budget), which is checked here rather than assumed."""
    out: dict[str, dict[int, dict]] = {}
    for r in records:
        have = out.setdefault(r["label"], {}).get(r["seed"])
        if have is not None:
            short, long_ = sorted((have, r), key=lambda x: x["budget"])
            n = short["budget"]
            if short["incumbent"] != long_["incumbent"][:n]:
                raise SystemExit(f"{r['label']} seed {r['seed']}: the {n}-query run is not a "
                                 f"prefix of the {long_['budget']}-query run")
            r = long_
        out[r["label"]][r["seed"]] = r
    return out


def read_all(results: Path) -> dict[str, dict[int, dict]]:
    """:func:`by_seed` of :func:`read_records`."""
    return by_seed(read_records(results))


def simulated_seconds(r: dict) -> np.ndarray:
    """Simulated wall-clock after each query: the NB101 training seconds of the cells queried
    so far + the predictor's measured seconds of every round fitted before that query."""
    pred = np.zeros(len(r["incumbent"]))
    for after, fit_s, query_s in r["rounds"]:
        pred[after:] += fit_s + query_s
    return np.asarray(r["train_seconds"], float) + pred


def reference_runs(args, budget: int) -> dict[str, list[dict]]:
    """NASLib's runs of RE, RS, BANANAS and NPENAS at ``budget``: the committed ones and
    those of ``refs`` (recorded, and any not yet recorded in WORK/refs)."""
    from benchmarks import search_comparison as sc

    rows = {sc.run_key(r): r for r in sc.read_committed(args.results)}
    rows.update({sc.run_key(r): r for r in read(Path(args.results) / REFS_RECORD)})
    rows.update({sc.run_key(r): r for r in sc.read_results(Path(args.work) / "refs")})
    out = {}
    for name in REFS:
        runs = sorted((r for (m, b, _), r in rows.items() if m == name and b == budget),
                      key=lambda r: r["seed"])
        if runs:
            out[ref_label(name)] = runs
    return out


def _welch(a, b):
    """Difference of means, Welch's two-sided p and its 95 % confidence interval (SciPy)."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return None
    t = stats.ttest_ind(a, b, equal_var=False)
    ci = t.confidence_interval(0.95)
    return (float(np.mean(a) - np.mean(b)), float(t.pvalue), float(ci.low), float(ci.high))


def _paired(runs: dict[int, dict], ref: dict[int, dict], n: int):
    """Mean paired difference after ``n`` queries over the seeds both ran that far, the
    paired t-test's p, its 95 % confidence interval and the number of seeds (SciPy)."""
    from scipy import stats

    seeds = sorted(s for s in runs if s in ref and len(runs[s]["incumbent"]) >= n
                   and len(ref[s]["incumbent"]) >= n)
    if len(seeds) < 2:
        return None
    a = np.array([runs[s]["incumbent"][n - 1] for s in seeds])
    b = np.array([ref[s]["incumbent"][n - 1] for s in seeds])
    t = stats.ttest_rel(a, b)
    ci = t.confidence_interval(0.95)
    return (float(np.mean(a - b)), float(t.pvalue), float(ci.low), float(ci.high), len(seeds))


def _at(c: np.ndarray, n: int) -> np.ndarray:
    """The incumbents after ``n`` queries of the runs that got that far."""
    v = c[:, n - 1] if c.shape[1] >= n else np.array([])
    return v[~np.isnan(v)]


def cmd_report(args) -> int:
    from scipy.stats import false_discovery_control

    from benchmarks import search_comparison as sc

    table = harness.ground_truth(args.nb101)
    best = float(np.nanmax(table.metric(np.arange(len(table)), "test")))
    print(f"{record_refs(args)} further reference runs in {Path(args.results) / REFS_RECORD}")
    records = read_records(args.results)
    runs = by_seed(records)
    top = max(GRID)
    cur = {k: np.array([np.pad(r["incumbent"], (0, max(0, top - len(r["incumbent"]))),
                               constant_values=np.nan)[:top] for _, r in sorted(v.items())])
           for k, v in runs.items()}
    ref_runs = reference_runs(args, top)
    refs = {k: sc.curves(v, "ground_truth_queries", np.arange(1, top + 1))
            for k, v in ref_runs.items()}
    allc = {**cur, **refs}
    re = refs.get(ref_label("re"))
    target = float(np.mean(re[:, top - 1])) if re is not None else None
    lines = [f"Protocol: best true 108-epoch test accuracy (repeat 0) among the cells queried, "
             f"after N ground-truth queries; regret against the best cell of the space "
             f"({100 * best:.2f} %). Guided search: `naslib-petridish search` (init "
             f"{SEARCH['init']} uniform cells, {SEARCH['batch']} per round, {SEARCH['pool']:,} "
             "fresh uniform candidates per round); references: NASLib's runs of "
             "`benchmarks.search_comparison` (the same 108-epoch test accuracy). mean +- std "
             "over seeds (seeds: how many reached 150 / 300 queries; a 300-query run's first 150 "
             "queries are its seed's 150-query run, checked).", "",
             "| method | seeds | " + " | ".join(f"{n} queries" for n in GRID)
             + " | regret at 150 | regret at 300 |", "|---" * (len(GRID) + 4) + "|"]
    for name, c in allc.items():
        cells = [harness.pm(np.mean(_at(c, n)), np.std(_at(c, n)), 2, 100) if len(_at(c, n))
                 else "" for n in GRID]
        reg = [harness.pm(np.mean(best - _at(c, n)), np.std(best - _at(c, n)), 2, 100)
               if len(_at(c, n)) else "" for n in (150, 300)]
        lines.append(f"| {name} | {len(_at(c, 150))} / {len(_at(c, 300))} | "
                     + " | ".join(cells + reg) + " |")
    # differences: each curve against RE and against the same loop with the two controls
    # (Welch), and each other predictor of the loop against the reference predictor on the
    # seeds both ran (paired: the same seed queries the same initial cells)
    comps, pvals = [], []
    for name, c in allc.items():
        # the controls with the curve's own search settings where they ran (``params (pool
        # 300)`` for ``X (pool 300)``), else the default ones
        opts = name.partition(" (")[2] if not name.endswith(REF_TAG) else ""
        refs_vs = {"RE": re}
        for ctl in CONTROLS:
            own = f"{ctl} ({opts}" if opts else ctl
            refs_vs[own if own in cur else ctl] = cur.get(own, cur.get(ctl))
        for ref_name, ref in refs_vs.items():
            if ref is None or ref is c or (ref_name != "RE" and name.endswith(REF_TAG)):
                continue
            for n in GRID:
                w = _welch(_at(c, n), _at(ref, n))
                if w:
                    comps.append((name, ref_name, n, w))
                    pvals.append(w[1])
        ref = paired_ref(name, runs)
        if name in runs and ref is not None:
            for n in GRID:
                w = _paired(runs[name], runs[ref], n)
                if w:
                    comps.append((name, f"{ref}, paired ({w[4]} seeds)", n, w))
                    pvals.append(w[1])
    qv = false_discovery_control(pvals) if pvals else []
    lines += ["", "Differences (pp): difference of means [95 % CI], Welch p (paired t-test p "
              "where marked paired), Benjamini-Hochberg "
              f"q over all {len(pvals)} comparisons of this table.", "",
              "| method | against | " + " | ".join(f"{n} queries" for n in GRID) + " |",
              "|---" * (len(GRID) + 2) + "|"]
    by = {}
    for (name, ref_name, n, w), q in zip(comps, qv):
        by.setdefault((name, ref_name), {})[n] = (
            f"{100 * w[0]:+.2f} [{100 * w[2]:+.2f}, {100 * w[3]:+.2f}] p {w[1]:.2g} q {q:.2g}")
    for (name, ref_name), cellv in by.items():
        lines.append(f"| {name} | {ref_name} | " + " | ".join(cellv.get(n, "") for n in GRID)
                     + " |")
    sims = {k: [(np.arange(1, len(r["incumbent"]) + 1), simulated_seconds(r))
                for _, r in sorted(v.items())] for k, v in runs.items()}
    sims.update({k: [(np.asarray(r["trajectory"]["ground_truth_queries"]),
                      np.asarray(r["trajectory"]["simulated_seconds"])) for r in v]
                 for k, v in ref_runs.items()})
    if target is not None:
        re_h = np.median([s[1][-1] for s in sims[ref_label("re")]]) / 3600
        lines += ["", f"To reach RE's mean accuracy after {top} queries ({100 * target:.2f} %, "
                  f"{len(re)} seeds; RE's median simulated time for its {top} queries: "
                  f"{re_h:.0f} h): queries and simulated hours (NB101 training of the queries "
                  "+ the predictor's measured time) per seed; a seed that never reaches it "
                  "within its budget counts as not reached.", ""]
        for name, c in cur.items():
            hit = [int(np.argmax(row >= target)) + 1 if (row >= target).any() else None
                   for row in c]
            got = [h for h in hit if h is not None]
            if len(got) * 2 < len(hit):  # no median to speak of
                lines.append(f"- {name}: reached by {len(got)} of {len(hit)} seeds")
                continue
            hours = [s[h - 1] / 3600 for (_, s), h in zip(sims[name], hit) if h is not None]
            lines.append(f"- {name}: reached by {len(got)} of {len(hit)} seeds; median "
                         f"{np.median(got):.0f} queries (range {min(got)}-{max(got)}; "
                         f"{top} / median = {top / np.median(got):.1f}x), median "
                         f"{np.median(hours):.0f} h simulated ({re_h / np.median(hours):.1f}x "
                         "less than RE)")
    timed = [r for r in records if r["label"] == args.timing_label]
    for b in sorted({r["budget"] for r in timed}):
        secs = [r["wall_seconds"] for r in timed if r["budget"] == b]
        pred = [r["predictor_seconds"] for r in timed if r["budget"] == b]
        lines += ["", f"Wall time of one {args.timing_label} run ({b} queries, {len(secs)} "
                  f"runs): {np.mean(secs) / 60:.1f} +- {np.std(secs) / 60:.1f} min "
                  f"({timed[0]['machine']}; runs side by side), of which the predictor (fits "
                  f"and queries) {np.mean(pred):.0f} s."]
    _figure(allc, sims, best, top, args.results / "search_guided.png")
    lines += ["", "![guided search](search_guided.png)"]
    harness.write_section(args.results / "SEARCH.md", BEGIN, END, "\n".join(lines))
    print("\n".join(lines))
    return 0


def _figure(allc, sims, best, top, path: Path) -> None:
    """Mean regret against ground-truth queries (left) and simulated hours (right; each
    curve over the runs of its longest budget, drawn up to their median end)."""
    from benchmarks import search_comparison as sc

    plt = harness.pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.8))
    ends = [xs[1][-1] for v in sims.values() for xs in v]
    hours = np.geomspace(3600.0, max(ends), 400)
    for name, c in allc.items():
        ls = "--" if name.endswith(REF_TAG) else "-"
        a1.plot(np.arange(1, top + 1), 100 * (best - np.nanmean(c, axis=0)), ls=ls,
                label=f"{name} ({len(_at(c, 150))} / {len(_at(c, top))} seeds)")
        longest = max(x[-1] for x, _ in sims[name])
        t = [sc.step_values(s, row[x - 1], hours) for (x, s), row in zip(sims[name], c)
             if x[-1] == longest]
        end = np.median([s[-1] for x, s in sims[name] if x[-1] == longest])
        m = np.nanmean(np.array(t), axis=0)
        m[hours > end] = np.nan
        a2.plot(hours / 3600, 100 * (best - m), ls=ls, color=a1.lines[-1].get_color())
    for a in (a1, a2):
        a.set_yscale("log")
        a.set_ylabel("mean regret (pp, log)")
        a.grid(alpha=0.3, which="both")
    a1.set_xlabel("ground-truth queries")
    a1.set_xlim(10, top)
    a2.set_xscale("log")
    a2.set_xlabel("simulated wall-clock (h): NB101 training of the queries + predictor")
    a1.legend(fontsize=7)
    harness.save_figure(fig, path)


def cmd_ceiling(args) -> int:
    """What a regret goal asks of a search: how many cells of the space are within it of the
    best, and how the top cells sit among their one-edit neighbours."""
    from naslib_petridish.cells import neighbours

    table = harness.ground_truth(args.nb101)
    acc = table.metric(np.arange(len(table)), "test").astype(np.float64)
    best = float(np.nanmax(acc))
    order = np.argsort(-acc, kind="stable")
    within = {r: int((acc >= best - r / 100 - 1e-9).sum()) for r in (0.1, 0.2, 0.3, 0.5)}
    rows = []
    for r in order[:args.top]:
        nb = [table.index(c.hash) for c in neighbours(table.cell(r)) if c.hash in table]
        a = acc[nb]
        rows.append({"hash": str(table.hashes[r]), "accuracy": float(acc[r]),
                     "params": int(table.params[r]), "neighbours": len(nb),
                     "neighbours_mean": float(a.mean()), "neighbours_best": float(a.max()),
                     "neighbours_in_top": int(np.isin(nb, order[:args.top]).sum())})
    harness.save_json(args.results / "search_ceiling.json",
                      {"best": best, "cells_within_pp": within, "top": rows,
                       **harness.provenance()})
    lines = [f"Cells of the space within r pp of the best cell ({100 * best:.2f} %, 108-epoch "
             "test accuracy, repeat 0): " + ", ".join(f"{r} pp: {n}" for r, n in within.items())
             + f". The top {args.top} and their one-edit neighbours (an edge added or removed, "
             "or an operation changed; `naslib_petridish.cells.neighbours`):", "",
             "| cell | accuracy | parameters | neighbours | their mean | their best | "
             f"of them in the top {args.top} |", "|---" * 7 + "|"]
    for x in rows:
        lines.append(f"| {x['hash'][:8]} | {100 * x['accuracy']:.2f} | {x['params']:,} | "
                     f"{x['neighbours']} | {100 * x['neighbours_mean']:.2f} | "
                     f"{100 * x['neighbours_best']:.2f} | {x['neighbours_in_top']} |")
    harness.write_section(args.results / "SEARCH.md", CEIL_BEGIN, CEIL_END, "\n".join(lines))
    print("\n".join(lines))
    return 0


def main(argv=None) -> int:
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--predictors", nargs="+", required=True)
    r.add_argument("--budget", type=int, default=150)
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a predictor option, e.g. warm_start=true (part of the curve's name)")
    for k in SEARCH:
        r.add_argument(f"--{k.replace('_', '-')}", dest=k, type=int, default=None)
    f = sub.add_parser("refs")
    f.add_argument("--methods", nargs="+", default=["re", "rs"])
    f.add_argument("--budget", type=int, default=300)
    rp = sub.add_parser("report")
    rp.add_argument("--timing-label", default="cell-features-boosted")
    sd = sub.add_parser("speed")
    sd.add_argument("--cold", action="store_true",
                    help="also run the preset cold (fitted from scratch each round; slow)")
    sr = sub.add_parser("speed-report")
    for p in (sd, sr):
        p.add_argument("--budget", type=int, default=150)
    ce = sub.add_parser("ceiling")
    ce.add_argument("--top", type=int, default=10)
    for p in (r, f, sd):
        p.add_argument("--seeds", type=int, default=20)
        p.add_argument("--first-seed", type=int, default=0)
    for p in (r, f, rp, ce, sd, sr):
        p.add_argument("--work", default=str(WORK))
        harness.add_nb101_argument(p)
    r.set_defaults(fn=cmd_run)
    f.set_defaults(fn=cmd_refs)
    rp.set_defaults(fn=cmd_report)
    ce.set_defaults(fn=cmd_ceiling)
    sd.set_defaults(fn=cmd_speed)
    sr.set_defaults(fn=cmd_speed_report)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
