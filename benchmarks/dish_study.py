"""Issue 46: does any trained dish rank unseen cells better than an untrained one (DISH.md)?

Protocol (c) of COMPARISON.md (``benchmarks.ranking_features.splits``: per trial 200 test
cells, then training cells drawn uniformly, disjoint; sizes are prefixes), 108-epoch test
accuracy, repeat 0.  Every recipe is the ranker's trees (LightGBM on the ranks) on the cell
features ``free + path + encoding``, with or without one dish source; the trees alone, so
that a dish's columns act where they can (the graph networks never see them).  Each job
(recipe, trial, size) is one row of WORK/rows.jsonl with its test predictions (resumable:
a finished row is skipped); ``report`` writes the paired differences (two-level bootstrap
over trials and test cells) to ``dish_study.json``, the rows to ``dish_study_rows.jsonl``
and the tables into DISH.md.

    python -m benchmarks.dish_study run --recipes none untrained-meta meta-accuracy \\
        --trials 10 --sizes 100          # development: choices are made here only
    python -m benchmarks.dish_study run --trials 3 4 5 --work runs/dish_study   # lane 1
    python -m benchmarks.dish_study run --trials 6 7 --work runs/dish_study2    # lane 2
    python -m benchmarks.dish_study report --work runs/dish_study runs/dish_study2
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks import harness

WORK = Path("runs/dish_study")
ROWS = "dish_study_rows.jsonl"
BEGIN, END = harness.markers("dish-study", "python -m benchmarks.dish_study report")
CELL = ["free", "path", "encoding"]
#: the full-meta-gradient dish's settings unless a recipe says otherwise (chosen on the
#: development trial 10 only)
META = {"inner_steps": 20, "inner_lr": 0.01, "outer_steps": 40, "motifs_per_step": 12,
        "eval_every": 10, "holdout": 0.2}
#: recipe -> ranker config fields (features, models, dish settings)
RECIPES = {
    "none": {"features": CELL},
    # the untrained dish of dish-curve-boosted (motif C, 5 epochs of the paper's inner loop)
    "untrained-paper": {"features": ["dish"] + CELL},
    # the meta-dish's settings, untrained (outer_steps 0): the control of the two below
    "untrained-meta": {"features": ["metadish"] + CELL,
                       "metadish": {**META, "outer_steps": 0}},
    "meta-accuracy": {"features": ["metadish"] + CELL, "metadish": META},
    "meta-residual": {"features": ["metadish"] + CELL, "metadish": META,
                      "metadish_target": "residual"},
}
#: the comparisons of the report: (recipe, against)
PAIRS = [("untrained-paper", "none"), ("untrained-meta", "none"),
         ("meta-accuracy", "untrained-meta"), ("meta-residual", "untrained-meta"),
         ("meta-accuracy", "none"), ("meta-residual", "none")]


def split(table, trial: int, size: int):
    from benchmarks.ranking_features import splits

    sp = splits(table, (trial,))[trial]
    test = [table.cell(x["hash"]) for x in sp["test"]]
    train = [table.cell(x["hash"]) for x in sp["train"][:size]]
    return train, test


def run_job(table, recipe: str, trial: int, size: int, seed: int = 0) -> dict:
    """One recipe on one trial and size: its fit, query and Kendall tau on the test cells."""
    from scipy.stats import kendalltau, spearmanr

    from naslib_petridish.ranker import RankerConfig, RankerPredictor

    train, test = split(table, trial, size)
    y = table.metric(table.indices([c.hash for c in train]), "test")
    yte = table.metric(table.indices([c.hash for c in test]), "test")
    cfg = RankerConfig(models=["trees"], seed=seed, workers=1, **RECIPES[recipe])
    r = RankerPredictor(config=cfg, table=table)
    try:
        p, fit_s, query_s = harness.timed_fit_query(r, train, y, test)
        meta = {}
        if "metadish" in cfg.features:
            d = r.source("metadish").dish
            meta = {"metadish": d.meta, "history": d.history}
    finally:
        r.close()
    return {"recipe": recipe, "trial": trial, "size": size, "seed": seed,
            "kendall": float(kendalltau(p, yte).statistic),
            "spearman": float(spearmanr(p, yte).statistic),
            "fit_seconds": fit_s, "query_seconds": query_s,
            "config": cfg.to_dict(), "test_hashes": [c.hash for c in test],
            "test_truth": yte.tolist(), "predictions": p.tolist(), **meta}


def cmd_run(args) -> int:
    harness.one_thread()
    unknown = sorted(set(args.recipes) - set(RECIPES))
    if unknown:
        raise SystemExit(f"unknown recipe(s) {unknown}; known: {', '.join(RECIPES)}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "rows.jsonl"
    # a row recorded here or in the committed record is not run again
    done = {(r["recipe"], r["trial"], r["size"])
            for r in harness.read_jsonl(path) + harness.read_jsonl(Path(args.results) / ROWS)}
    table = harness.ground_truth(args.nb101)
    for trial in args.trials:
        for size in args.sizes:
            for recipe in args.recipes:
                if (recipe, trial, size) in done:
                    continue
                row = run_job(table, recipe, trial, size)
                with open(path, "a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"{recipe} trial {trial} n={size}: tau {row['kendall']:+.3f} fit "
                      f"{row['fit_seconds']:.0f} s", flush=True)
    return 0


def compact(row: dict) -> dict:
    """A row small enough to commit: predictions to 6 significant digits, the meta-dish's
    history without its per-step gradient norms."""
    out = {k: v for k, v in row.items() if k not in ("history", "test_hashes")}
    out["predictions"] = [float(f"{v:.6g}") for v in row["predictions"]]
    if "history" in row:
        out["history"] = [{k: v for k, v in h.items() if k != "grad_norms"}
                          for h in row["history"]]
    return out


def cmd_report(args) -> int:
    from naslib_petridish.correlation import paired_kendall_difference

    rows = [r for w in args.work for r in harness.read_jsonl(Path(w) / "rows.jsonl")]
    committed = harness.read_jsonl(Path(args.results) / ROWS)
    by = {(r["recipe"], r["trial"], r["size"]): r for r in committed}
    by.update({(r["recipe"], r["trial"], r["size"]): compact(r) for r in rows})
    rows = [by[k] for k in sorted(by)]
    harness.write_jsonl(Path(args.results) / ROWS, rows)
    sizes = sorted({r["size"] for r in rows})
    recipes = [k for k in RECIPES if any(r["recipe"] == k for r in rows)]
    summary, diffs = [], []
    for n in sizes:
        for rec in recipes:
            got = [by[(rec, t, n)] for t in args.trials if (rec, t, n) in by]
            if got:
                tau = [g["kendall"] for g in got]
                summary.append({"recipe": rec, "size": n, "trials": [g["trial"] for g in got],
                                "kendall": harness.seed_stats(tau),
                                "spearman": harness.seed_stats([g["spearman"] for g in got]),
                                "fit_seconds": float(np.mean([g["fit_seconds"] for g in got])),
                                "query_ms_per_cell": 1000 * float(np.mean(
                                    [g["query_seconds"] / len(g["predictions"]) for g in got]))})
        for a, b in PAIRS:
            ts = [t for t in args.trials if (a, t, n) in by and (b, t, n) in by]
            if len(ts) < 1:
                continue
            d = paired_kendall_difference([by[(a, t, n)]["test_truth"] for t in ts],
                                          [by[(a, t, n)]["predictions"] for t in ts],
                                          [by[(b, t, n)]["predictions"] for t in ts],
                                          reps=args.reps, seed=0)
            diffs.append({"recipe": a, "against": b, "size": n, **d, "trial_ids": ts,
                          "fit_seconds": float(np.mean([by[(a, t, n)]["fit_seconds"]
                                                        for t in ts]))})
    fig = plot_outer(by, args, Path(args.results))
    dyn = dynamics(by, args.trials)
    harness.save_json(Path(args.results) / "dish_study.json", {
        "protocol": "c (benchmarks.ranking_features.splits): 200 uniform test cells per "
                    "trial, training cells uniform and disjoint; 108-epoch test accuracy, "
                    "repeat 0; the ranker's trees on free+path+encoding (+ one dish source)",
        "trials": list(args.trials), "recipes": RECIPES, "summary": summary,
        "figure": fig.name if fig else None,
        "differences": diffs, "dynamics": dyn})
    harness.write_sections(Path(args.results) / "DISH.md", markdown(summary, diffs, dyn, args))
    print(f"wrote {Path(args.results) / 'DISH.md'}, dish_study.json and {ROWS} "
          f"({len(rows)} rows)")
    return 0


def dynamics(by: dict, trials) -> list[dict]:
    """How the meta-trained dishes learned, per recipe and size (mean over trials): the
    Kendall tau of each outer step's motifs, scored on the dish *before* that step's update
    (out of sample during the first pass over the training cells, whose batches no step
    had seen), in the first and second half of the first pass and in the last 10 steps;
    the held-out cells' tau of the untrained dish (step 0) and of the dish kept; the steps
    kept."""
    out = []
    for (rec, t, n), r in sorted(by.items()):
        if not (r.get("history") and len(r["history"]) > 1 and t in trials):
            continue
        h = r["history"][1:]
        held = 1.0 - r["config"]["metadish"].get("holdout", META["holdout"])
        per_step = r["config"]["metadish"].get("motifs_per_step", META["motifs_per_step"])
        first = max(1, int(held * n) // per_step)
        tau = [x["train_tau"] for x in h]
        half = max(1, first // 2)
        out.append({"recipe": rec, "size": n, "trial": t,
                    "first_pass_steps": first,
                    "train_tau_first_half": float(np.nanmean(tau[:half])),
                    "train_tau_second_half": float(np.nanmean(tau[half:first])),
                    "train_tau_last10": float(np.nanmean(tau[-10:])),
                    "holdout_tau_untrained": r["history"][0]["holdout_tau"],
                    "holdout_tau_kept": r["metadish"]["holdout_tau"],
                    "chosen_step": r["metadish"]["chosen_step"]})
    groups: dict = {}
    for d in out:
        groups.setdefault((d["recipe"], d["size"]), []).append(d)
    return [{"recipe": rec, "size": n, "trials": [d["trial"] for d in g],
             "first_pass_steps": g[0]["first_pass_steps"],
             **{k: float(np.mean([d[k] for d in g])) for k in
                ("train_tau_first_half", "train_tau_second_half", "train_tau_last10",
                 "holdout_tau_untrained",
                 "holdout_tau_kept")},
             "chosen_steps": [d["chosen_step"] for d in g]}
            for (rec, n), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


def plot_outer(by: dict, args, out: Path) -> Path | None:
    """The paper's own view of a trained dish (its Figure 4): the Kendall tau of each outer
    step's training motifs (mean over trials), and the held-out part's tau at the
    evaluations, for each meta-trained recipe and size; the paper's mean outer Kendall tau
    of motifs A, B and C (Section 5) as dashed lines."""
    rows = [r for r in by.values() if r.get("history") and r["trial"] in args.trials
            and len(r["history"]) > 1]
    if not rows:
        return None
    plt = harness.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, n in zip(axes, (100, 424)):
        for rec in [k for k in RECIPES if k.startswith("meta-")]:
            got = [r for r in rows if r["recipe"] == rec and r["size"] == n]
            if not got:
                continue
            steps = len(got[0]["history"]) - 1
            tau = np.array([[h.get("train_tau", np.nan) for h in r["history"][1:]]
                            for r in got if len(r["history"]) - 1 == steps])
            x = np.arange(1, steps + 1)
            line, = ax.plot(x, np.nanmean(tau, 0), lw=1, alpha=0.8,
                            label=f"{rec}: training motifs ({len(tau)} trials)")
            ev = [(h["step"], h["holdout_tau"]) for h in got[0]["history"]
                  if h.get("holdout_tau") is not None]
            held = np.array([[h["holdout_tau"] for h in r["history"]
                              if h.get("holdout_tau") is not None] for r in got])
            ax.plot([e[0] for e in ev], held.mean(0), "o--", color=line.get_color(),
                    label=f"{rec}: held-out cells")
        for motif, c in (("A", "0.6"), ("B", "0.4"), ("C", "0.2")):
            ax.axhline(harness.PAPER_SECTION5[motif]["kendall_mean_with_undefined_as_0"],
                       ls=":", color=c, lw=1, label=f"paper, motif {motif} (mean)")
        ax.set_title(f"{n} training cells")
        ax.set_xlabel("outer step")
    axes[0].set_ylabel("Kendall tau (targets vs motif scores)")
    axes[0].legend(fontsize=7)
    return harness.save_figure(fig, out / "dish_study_outer.png")


def markdown(summary, diffs, dyn, args) -> str:
    L = [BEGIN, "", f"Protocol (c), trials {', '.join(map(str, args.trials))} (none used for a "
         "choice), 200 test cells each; mean ± std over trials.", "",
         "| size | recipe | trials | Kendall tau | Spearman | fit s | query ms/cell |",
         "|---|---|---|---|---|---|---|"]
    for s in summary:
        L.append(f"| {s['size']} | {s['recipe']} | {len(s['trials'])} | "
                 f"{harness.pm(s['kendall']['mean'], s['kendall']['std'], sign=True)} | "
                 f"{harness.pm(s['spearman']['mean'], s['spearman']['std'], sign=True)} | "
                 f"{s['fit_seconds']:.0f} | {s['query_ms_per_cell']:.1f} |")
    L += ["", "Paired differences in Kendall tau (same trials, same test cells; 95 % "
          f"interval from {args.reps} two-level bootstrap draws: trials, then test cells "
          "within each):", "",
          "| size | recipe | against | trials | mean difference | 95 % CI |",
          "|---|---|---|---|---|---|"]
    for d in diffs:
        L.append(f"| {d['size']} | {d['recipe']} | {d['against']} | {d['trials']} | "
                 f"{d['mean']:+.3f} | [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] |")
    if dyn:
        L += ["", "How the meta-trained dishes learned (mean over trials): Kendall tau of each "
              "outer step's 12 motifs against their targets, scored before that step's update "
              "(out of sample in the first pass over the training cells), and of the held-out "
              "20 % of the training cells:", "",
              "| size | recipe | trials | steps of the first pass | motifs' tau, its first "
              "half | its second half | last 10 steps | held-out tau, untrained | held-out "
              "tau, kept | steps kept |", "|---|---|---|---|---|---|---|---|---|---|"]
        for d in dyn:
            L.append(f"| {d['size']} | {d['recipe']} | {len(d['trials'])} | "
                     f"{d['first_pass_steps']} | {d['train_tau_first_half']:+.3f} | "
                     f"{d['train_tau_second_half']:+.3f} | "
                     f"{d['train_tau_last10']:+.3f} | {d['holdout_tau_untrained']:+.3f} | "
                     f"{d['holdout_tau_kept']:+.3f} | {d['chosen_steps']} |")
    return "\n".join(L + ["", END])


def main(argv=None) -> int:
    ap, r = harness.lane_parser(__doc__, WORK, [3, 4, 5, 6, 7], cmd_run, cmd_report)
    r.add_argument("--recipes", nargs="+", default=list(RECIPES))
    r.add_argument("--sizes", nargs="+", type=int, default=[100, 424])
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
