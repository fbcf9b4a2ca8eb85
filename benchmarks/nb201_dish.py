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
  hours on 2 cores (``--recipes`` names them).

Each (recipe, trial) is a run directory under WORK (resumable: a finished one is read
back); ``report`` writes ``nb201_dish.json`` (per trial, paired differences with a
t-interval over trials), the Figure-4 view of ``quick`` (the training motifs' Kendall per
outer epoch) and the table into NB201.md.

    python -m benchmarks.nb201_dish run --dataset cifar10 --trials 0 1 2 3 4 --work runs/nb201d
    python -m benchmarks.nb201_dish report --work runs/nb201d
"""
from __future__ import annotations

import json
import os
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


def run_one(table, recipe: str, trial: int, work: Path) -> dict:
    from naslib_petridish.evaluate import METRICS_FILE, run_evaluation
    from naslib_petridish.factory import resolve_any

    out = work / table.dataset / recipe / f"t{trial}"
    if (out / METRICS_FILE).exists():
        return json.loads((out / METRICS_FILE).read_text())
    preset, sets = RECIPES[recipe]
    cfg = resolve_any(preset, None, sets, seed=trial, train_size=TRAIN, metric="val",
                      workers=1, space="nb201", dataset=table.dataset)
    return run_evaluation(table, cfg, TEST, out, resume=True, progress=False, target="test")


def cmd_run(args) -> int:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from naslib_petridish.spaces.nb201 import load_file, locate_table

    table = load_file(locate_table(args.nb201)).dataset(args.dataset)
    for t in args.trials:
        for r in args.recipes:
            m = run_one(table, r, t, Path(args.work))
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


def summarize(work: Path) -> dict:
    out = {}
    for ds_dir in sorted(p for p in work.iterdir() if p.is_dir()):
        rows = {}
        for r in RECIPES:
            for f in sorted((ds_dir / r).glob("t*/metrics.json")):
                m = json.loads(f.read_text())
                rows.setdefault(r, {})[int(f.parent.name[1:])] = m
        res = {"recipes": {}, "pairs": {}}
        for r, by in rows.items():
            k = [by[t][by[t]["predictor"]]["kendall_tau"] for t in sorted(by)]
            res["recipes"][r] = {"trials": sorted(by), **harness.seed_stats(k),
                                 "params": harness.seed_stats(
                                     [by[t]["baseline_params"]["kendall_tau"] for t in sorted(by)]),
                                 "fit_seconds": float(np.mean([by[t]["fit_seconds"]
                                                               for t in by]))}
        for a, b in PAIRS:
            if a in rows and b in rows:
                ts = sorted(set(rows[a]) & set(rows[b]))
                d = [rows[a][t][rows[a][t]["predictor"]]["kendall_tau"]
                     - rows[b][t][rows[b][t]["predictor"]]["kendall_tau"] for t in ts]
                res["pairs"][f"{a} - {b}"] = {"trials": ts, **_interval(d)}
        res["outer"] = _outer_curves(ds_dir / "quick")
        out[ds_dir.name] = res
    return out


def _outer_curves(d: Path) -> list[list[float]]:
    """Per trial, the training motifs' Kendall tau at each outer epoch of ``quick``."""
    curves = []
    for f in sorted(d.glob("t*/log.jsonl")):
        recs = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
        curves.append([r.get("kendall_tau") for r in recs])
    return curves


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
            lines.append(f"| {name} | {len(p['trials'])} | {p['mean']:+.3f} | "
                         f"[{p['ci95'][0]:+.3f}, {p['ci95'][1]:+.3f}] |")
        lines.append("")
    return "\n".join(lines).rstrip()


def plot_outer(summary: dict, path: Path) -> Path | None:
    plt = harness.pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    drawn = False
    for ds, res in summary.items():
        for i, c in enumerate(res["outer"]):
            if c:
                ax.plot(range(1, len(c) + 1), c, color="C0" if ds == "cifar10" else "C1",
                        alpha=0.6, label=ds if i == 0 else None)
                drawn = True
    if not drawn:
        return None
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="outer epoch", ylabel="Kendall tau of the training motifs",
           title="quick on NB201: the paper's Figure 4 view")
    ax.legend(fontsize=8)
    return harness.save_figure(fig, path)


def cmd_report(args) -> int:
    summary = summarize(Path(args.work))
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
    rp = sub.add_parser("report")
    for p in (r, rp):
        p.add_argument("--work", default="runs/nb201_dish")
    r.set_defaults(fn=cmd_run)
    rp.set_defaults(fn=cmd_report)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
