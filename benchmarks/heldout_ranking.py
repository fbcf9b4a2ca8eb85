"""Held-out ranking of paper-protocol dishes over seeds (REPORT.md, item 5).

Each ``evaluate`` run queries 200 cells drawn uniformly at random, disjoint from
its training pool, and stores Kendall tau / Spearman of the dish's predictions
against validation and test accuracy, beside the parameter-count and random
baselines of the same sample (``metrics.json``).  This script gathers the runs
of each setting (one per seed; a run directory or its committed record in
``benchmarks/results/runs``) into mean +- std:

    python -m benchmarks.heldout_ranking \\
        B-short=runs/paper-b-short-s0,runs/paper-b-short-s1,runs/paper-b-short-s2 \\
        C=runs/paper-c-s0

Writes ``heldout_ranking.{json,png}`` to ``benchmarks/results`` (``--results``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks import harness
from benchmarks.run_records import read_record

#: row name -> how to read it from metrics.json
ROWS = {
    "petridish vs val: kendall": lambda m: m["petridish"]["kendall_tau"],
    "petridish vs val: spearman": lambda m: m["petridish"]["spearman"],
    "params vs val: kendall": lambda m: m["baseline_params"]["kendall_tau"],
    "params vs val: spearman": lambda m: m["baseline_params"]["spearman"],
    "random vs val: kendall": lambda m: m["baseline_random"]["kendall_tau"],
    "motif max acc vs val: kendall": lambda m: m["petridish_motif_max_acc"]["kendall_tau"],
    "petridish vs test: kendall": lambda m: m["against_test_accuracy"]["petridish"]["kendall_tau"],
    "petridish vs test: spearman": lambda m: m["against_test_accuracy"]["petridish"]["spearman"],
    "params vs test: kendall":
        lambda m: m["against_test_accuracy"]["baseline_params"]["kendall_tau"],
    "params vs test: spearman": lambda m: m["against_test_accuracy"]["baseline_params"]["spearman"],
    "fit seconds": lambda m: m["fit_seconds"],
    "query seconds per arch": lambda m: m["query_seconds_per_arch"],
}


def read_rows(d):
    """(seed, test size, machine, {row: value}) of one run or run-record directory; a
    lost run's record holds the rows themselves (``benchmarks/run_records.py``)."""
    rec = read_record(d)
    if rec is not None and rec.get("lost"):
        h = rec["heldout"]
        return h["seed"], h["test_size"], h["machine"], h["rows"]
    path = Path(d, "metrics.json")
    if not path.exists():
        raise SystemExit(f"{path} not found: run `naslib-petridish evaluate` there first")
    m = json.loads(path.read_text())
    return (m["config"]["seed"], m["test_size"], m["machine"],
            {name: get(m) for name, get in ROWS.items()})


def gather(dirs):
    per_run = [read_rows(d) for d in dirs]
    out = {"runs": list(dirs), "seeds": [r[0] for r in per_run],
           "test_size": per_run[0][1], "machine": per_run[0][2], "rows": {}}
    for name in ROWS:
        out["rows"][name] = harness.seed_stats([r[3][name] for r in per_run])
    return out


def plot(summary, path: Path) -> Path:
    plt = harness.pyplot()
    labels = list(summary)
    bars = [("petridish vs val: kendall", "dish, val"),
            ("motif max acc vs val: kendall", "motifs' max acc, val"),
            ("params vs val: kendall", "params, val"),
            ("random vs val: kendall", "random, val"), ("petridish vs test: kendall", "dish, test"),
            ("params vs test: kendall", "params, test")]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    w = 0.14
    for j, (key, name) in enumerate(bars):
        mean = [summary[lab]["rows"][key]["mean"] for lab in labels]
        std = [summary[lab]["rows"][key]["std"] or 0 for lab in labels]
        ax.bar(np.arange(len(labels)) + (j - 2.5) * w, mean, w, yerr=std, capsize=2, label=name)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(range(len(labels)),
                  [f"{lab}\n({len(summary[lab]['seeds'])} seed(s))" for lab in labels])
    ax.set_ylabel("Kendall tau, 200 held-out cells")
    ax.set_title("Held-out ranking of paper-protocol dishes (mean +- std over seeds)", fontsize=9)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return harness.save_figure(fig, path, dpi=90)


def main():
    ap = harness.argument_parser(__doc__)
    ap.add_argument("settings", nargs="+", help="LABEL=DIR[,DIR...] (one evaluate run per seed)")
    args = ap.parse_args()
    summary = {}
    for item in args.settings:
        label, dirs = harness.labelled_dirs(ap, item)
        summary[label] = gather(dirs)
        r = summary[label]["rows"]

        def fmt(k):
            return (f"{r[k]['mean']:+.3f}" + (f" +- {r[k]['std']:.3f}"
                                              if r[k]["std"] is not None else ""))
        print(f"{label} (seeds {summary[label]['seeds']}): dish tau vs val "
              f"{fmt('petridish vs val: kendall')}, params {fmt('params vs val: kendall')}, "
              f"random {fmt('random vs val: kendall')}; vs test: dish "
              f"{fmt('petridish vs test: kendall')}, params {fmt('params vs test: kendall')}")
    print("wrote", harness.save_json(args.results / "heldout_ranking.json", {"settings": summary}),
          plot(summary, args.results / "heldout_ranking.png"))


if __name__ == "__main__":
    main()
