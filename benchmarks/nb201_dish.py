"""Issue 55, part 3: does a trained dish rank unseen NB201 cells better than an untrained one?

Per trial t (seed t): one uniform split of NB201 (``evaluate``'s: 100 training cells, 200
held-out cells, distinct by NB201's canonical form, disjoint), every recipe on that split
through ``naslib_petridish.evaluate.run_evaluation`` (learned from 200-epoch validation
accuracy, scored against test accuracy):

* ``quick``: the paper's method in its few-minute form (motif C, 8 outer epochs);
* ``quick-untrained``: the same with ``outer_lr: 0`` (the dish stays the seeded random
  one; the same motifs, inner loop and calibration): the paired control of ``quick``;
* ``cell-features-boosted`` and ``dish-curve-boosted``: the ranker without and with the
  (untrained) dish's learning curve of each cell as a feature source;
* ``paper-c`` and ``paper-b-short`` (the paper's schedules as shipped, their metric at
  NB201's 200 epochs) and their untrained controls: not in the default list, a fit takes
  half an hour (``paper-b-short``) to an hour (``paper-c``) with ``--workers 2`` on 2 cores
  (``--recipes`` names them); an untrained control runs no outer epoch (seconds).

Each (recipe, trial) is a run directory under WORK (resumable: a finished one is read
back); ``report`` reads the committed ``results/nb201_dish_rows.jsonl`` and any WORK
folders named, rewrites the rows file (one row per data set, recipe and trial, so that
trials of hours accumulate across machines), and writes ``nb201_dish.json`` (per trial,
paired differences with a t-interval over trials), the Figure-4 view of every trained
recipe (the training motifs' Kendall per outer epoch) and the table into NB201.md.

    python -m benchmarks.nb201_dish run --dataset cifar10 --trials 0 1 2 3 4 --work runs/nb201d
    python -m benchmarks.nb201_dish report \\
        --work benchmarks/results/nb201_dish_rows.jsonl runs/nb201d
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks import harness

RESULTS = Path(__file__).resolve().parent / "results"
NB201_EPOCHS = "metric_epochs=200"
#: recipe -> (preset, config overrides)
RECIPES = {"quick": ("quick", []),
           "quick-untrained": ("quick", ["outer_lr=0.0"]),
           # the paper's presets, with NB201's final epoch count for their metric
           "paper-c": ("paper-c", [NB201_EPOCHS]),
           "paper-c-untrained": ("paper-c", [NB201_EPOCHS, "outer_lr=0.0"]),
           "paper-b-short": ("paper-b-short", [NB201_EPOCHS]),
           "paper-b-short-untrained": ("paper-b-short", [NB201_EPOCHS, "outer_lr=0.0"]),
           "cell-features-boosted": ("cell-features-boosted", []),
           "dish-curve-boosted": ("dish-curve-boosted", [])}
#: what ``run`` fits unless told: every recipe of minutes
DEFAULT_RECIPES = ("quick", "quick-untrained", "cell-features-boosted", "dish-curve-boosted")
#: (recipe, its paired control)
PAIRS = (("quick", "quick-untrained"), ("paper-c", "paper-c-untrained"),
         ("paper-b-short", "paper-b-short-untrained"),
         ("dish-curve-boosted", "cell-features-boosted"))
TRAIN, TEST = 100, 200
BEGIN, END = harness.markers("nb201-dish", "python -m benchmarks.nb201_dish report")


def run_one(table, recipe: str, trial: int, work: Path, workers: int = 1) -> dict:
    from naslib_petridish.evaluate import METRICS_FILE, run_evaluation
    from naslib_petridish.factory import resolve_any

    out = work / table.dataset / recipe / f"t{trial}"
    if (out / METRICS_FILE).exists():
        return json.loads((out / METRICS_FILE).read_text())
    preset, sets = RECIPES[recipe]
    cfg = resolve_any(preset, None, sets, seed=trial, train_size=TRAIN, metric="val",
                      workers=workers, space="nb201", dataset=table.dataset)
    return run_evaluation(table, cfg, TEST, out, resume=True, progress=False, target="test")


def cmd_run(args) -> int:
    harness.one_thread()
    from naslib_petridish.spaces.nb201 import load_file, locate_table

    table = load_file(locate_table(args.nb201)).dataset(args.dataset)
    for t in args.trials:
        for r in args.recipes:
            m = run_one(table, r, t, Path(args.work), args.workers)
            print(f"{args.dataset} {r} trial {t}: Kendall {m[m['predictor']]['kendall_tau']:+.3f}"
                  f" (params {m['baseline_params']['kendall_tau']:+.3f}), fit "
                  f"{m['fit_seconds']:.0f} s", flush=True)
    return 0


def _interval(d) -> dict:
    from scipy import stats

    d = np.asarray(d, float)
    h = (stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
         if len(d) > 1 else float("nan"))
    return {"mean": float(d.mean()), "ci95": [float(d.mean() - h), float(d.mean() + h)],
            "values": d.tolist()}


def row_of(metrics: dict, log: Path | None = None) -> dict:
    """The committed record of one (data set, recipe, trial): its held-out Kendall and the
    parameter count's on the same cells, the times, the config and, for a trained dish, the
    training motifs' Kendall per outer epoch (the Figure-4 view) from its ``log.jsonl``."""
    cfg = metrics["config"]
    outer = None
    if log is not None and log.exists():
        outer = [json.loads(x).get("kendall_tau") for x in log.read_text().splitlines()
                 if x.strip()] or None
    return {"dataset": metrics["dataset"], "recipe": metrics["recipe"],
            "trial": int(cfg["seed"]),
            "kendall": metrics[metrics["predictor"]]["kendall_tau"],
            "params": metrics["baseline_params"]["kendall_tau"],
            "fit_seconds": metrics["fit_seconds"],
            "query_seconds_per_arch": metrics.get("query_seconds_per_arch"),
            "outer": outer, "package_version": metrics.get("package_version"),
            "machine": metrics.get("machine"), "config": cfg}


def read_rows(paths) -> list[dict]:
    """Every record of ``paths``: committed rows files, or WORK folders of ``run`` (each
    finished run read back from its ``metrics.json``); a run read twice counts once."""
    every = {}
    for w in map(Path, paths):
        if w.is_file():
            got = harness.read_jsonl(w)
        else:
            got = []
            for f in sorted(w.glob("*/*/t*/" + "metrics.json")):
                m = json.loads(f.read_text())
                m["recipe"] = f.parent.parent.name
                got.append(row_of(m, f.parent / "log.jsonl"))
        for r in got:
            every[(r["dataset"], r["recipe"], r["trial"])] = r
    return [every[k] for k in sorted(every, key=lambda k: (k[0], list(RECIPES).index(k[1]),
                                                           k[2]))]


def summarize(rows: list[dict]) -> dict:
    out = {}
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        by = {}
        for r in rows:
            if r["dataset"] == ds:
                by.setdefault(r["recipe"], {})[r["trial"]] = r
        res = {"recipes": {}, "pairs": {}, "outer": {}}
        for r, got in by.items():
            ts = sorted(got)
            res["recipes"][r] = {"trials": ts,
                                 **harness.seed_stats([got[t]["kendall"] for t in ts]),
                                 "params": harness.seed_stats([got[t]["params"] for t in ts]),
                                 "fit_seconds": float(np.mean([got[t]["fit_seconds"]
                                                               for t in ts]))}
            curves = [got[t]["outer"] for t in ts if got[t].get("outer")]
            if curves:
                res["outer"][r] = curves
        for a, b in PAIRS:
            if a in by and b in by:
                ts = sorted(set(by[a]) & set(by[b]))
                d = [by[a][t]["kendall"] - by[b][t]["kendall"] for t in ts]
                res["pairs"][f"{a} - {b}"] = {"trials": ts, **_interval(d)}
        out[ds] = res
    return out


def markdown(summary: dict) -> str:
    lines = []
    for ds, res in summary.items():
        lines += [f"**{ds}** (held-out Kendall tau against 200-epoch test accuracy; {TRAIN} "
                  f"training cells, {TEST} held-out cells per trial; mean ± std over trials):",
                  "", "| recipe | trials | Kendall | parameter count, same cells | fit s |",
                  "|---|---|---|---|---|"]
        for r, d in res["recipes"].items():
            lines.append(f"| {r} | {len(d['trials'])} | {harness.pm(d['mean'], d['std'])} | "
                         f"{harness.pm(d['params']['mean'], d['params']['std'])} | "
                         f"{d['fit_seconds']:.0f} |")
        lines += ["", "| paired difference | trials | mean | 95 % t-interval |",
                  "|---|---|---|---|"]
        for name, p in res["pairs"].items():
            lo, hi = p["ci95"]
            ci = (f"[{lo:+.3f}, {hi:+.3f}]" if np.isfinite([lo, hi]).all()
                  else "n/a (one trial)")
            lines.append(f"| {name} | {len(p['trials'])} | {p['mean']:+.3f} | {ci} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def plot_outer(summary: dict, path: Path) -> Path | None:
    """The paper's Figure-4 view: per trained recipe, the training motifs' Kendall tau at
    each outer epoch, one line per trial, with its 10-epoch running mean where the run is
    long enough to have one."""
    recipes = list(dict.fromkeys(r for res in summary.values() for r in res["outer"]))
    if not recipes:
        return None
    plt = harness.pyplot()
    fig, axes = plt.subplots(1, len(recipes), figsize=(4.6 * len(recipes), 3.4), squeeze=False)
    for ax, recipe in zip(axes[0], recipes):
        for ds, res in summary.items():
            for i, c in enumerate(res["outer"].get(recipe, [])):
                y = np.array([np.nan if v is None else v for v in c], float)
                x = np.arange(1, len(y) + 1)
                color = "C0" if ds == "cifar10" else "C1"
                label = ds if i == 0 else None
                if len(y) >= 20:
                    ax.plot(x, y, color=color, alpha=0.15, lw=0.6)
                    k = np.ones(10) / 10
                    ax.plot(x[9:], np.convolve(np.nan_to_num(y), k, "valid"), color=color,
                            alpha=0.8, label=label)
                else:
                    ax.plot(x, y, color=color, alpha=0.6, label=label)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set(xlabel="outer epoch", ylabel="Kendall tau of the training motifs",
               title=f"{recipe} on NB201")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return harness.save_figure(fig, path)


def cmd_report(args) -> int:
    rows = read_rows(args.work)
    harness.write_jsonl(args.results / "nb201_dish_rows.jsonl", rows)
    summary = summarize(rows)
    harness.save_json(args.results / "nb201_dish.json", {"summary": summary})
    fig = plot_outer(summary, args.results / "nb201_dish_outer.png")
    body = markdown(summary) + (f"\n\n![Figure 4 view]({fig.name})" if fig else "")
    harness.write_section(args.results / "NB201.md", BEGIN, END, body)
    print(body)
    return 0


def main() -> int:
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--dataset", required=True)
    r.add_argument("--trials", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    r.add_argument("--recipes", nargs="+", default=list(DEFAULT_RECIPES), choices=list(RECIPES))
    r.add_argument("--nb201", help="NB201 ground truth (default $NASLIB_PETRIDISH_NB201)")
    r.add_argument("--workers", type=int, default=1,
                   help="motif processes (results do not depend on it; 2 halves the paper "
                        "presets' time on 2 cores)")
    r.add_argument("--work", default="runs/nb201d")
    rp = sub.add_parser("report")
    rp.add_argument("--work", nargs="+", default=[str(RESULTS / "nb201_dish_rows.jsonl")],
                    help="committed rows files and WORK folders of run (default: the "
                         "committed benchmarks/results/nb201_dish_rows.jsonl)")
    r.set_defaults(fn=cmd_run)
    rp.set_defaults(fn=cmd_report)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
