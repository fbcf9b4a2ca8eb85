"""Held-out ranking of outer-loop variants (RANKING.md).

Each run fits a dish on ``budget`` uniformly drawn NB101 cells with ground truth,
then queries 200 disjoint uniformly drawn cells and reports Kendall tau and
Spearman against their accuracy, the fit time and the query time per
architecture, next to the parameter-count and random baselines of the same test
sample (``naslib_petridish.evaluate.run_evaluation``).  Variants are defined in
``benchmarks/ranking_variants.yaml``.

    # run (resumable: finished runs are skipped, interrupted fits resume)
    python -m benchmarks.ranking run --variants paper pairwise --budgets 100 300 1020 \\
        --seeds 0 1 2
    # aggregate every finished run into benchmarks/results/ranking.json and ranking.png,
    # and print the markdown table of RANKING.md
    python -m benchmarks.ranking report

Runs live in ``runs/ranking/<variant>/b<budget>-s<seed>/`` (git-ignored).
"""
from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from benchmarks import harness

VARIANTS = Path(__file__).resolve().parent / "ranking_variants.yaml"


def load_variants(path=VARIANTS):
    spec = yaml.safe_load(Path(path).read_text())
    return spec["base"], int(spec.get("passes", 1)), spec["variants"]


def run_config(variant: str, budget: int, seed: int, workers: int = 0, path=VARIANTS):
    """The full config of one run."""
    from naslib_petridish.config import PetriDishConfig

    base, passes, variants = load_variants(path)
    if variant not in variants:
        sys.exit(f"unknown variant '{variant}'; known: {', '.join(variants)}")
    d = {**base, **(variants[variant].get("set") or {})}
    batch = int(d.get("outer_batch", 6))
    d.update(train_size=budget, seed=seed, workers=workers,
             outer_epochs=max(1, math.ceil(passes * budget / batch)),
             calibration_size=min(int(d.get("calibration_size", 24)), budget),
             preset=f"ranking:{variant}")
    if float(d.get("outer_lr", 1e-2)) == 0.0:  # the dish never moves: one epoch shows it
        d["outer_epochs"] = 1
    return PetriDishConfig.from_dict(d)


def cmd_run(args):
    from naslib_petridish.evaluate import METRICS_FILE, format_metrics, run_evaluation

    table = harness.ground_truth(args.nb101)
    for variant in args.variants:
        for budget in args.budgets:
            for seed in args.seeds:
                out = Path(args.out) / variant / f"b{budget}-s{seed}"
                if (out / METRICS_FILE).exists():
                    print(f"{out}: done, skipped", flush=True)
                    continue
                cfg = run_config(variant, budget, seed, args.workers)
                print(f"== {variant} budget {budget} seed {seed}", flush=True)
                res = run_evaluation(table, cfg, args.test_size, out, resume=out.exists(),
                                     progress=args.progress)
                print(format_metrics(res), flush=True)


def _ms(v):
    v = np.asarray(v, float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def collect(runs_dir):
    rows = []
    for f in sorted(Path(runs_dir).glob("*/b*-s*/metrics.json")):
        m = json.loads(f.read_text())
        variant, tag = f.parent.parent.name, f.parent.name
        budget, seed = (int(t[1:]) for t in tag.split("-"))
        rows.append({
            "variant": variant, "budget": budget, "seed": seed,
            "petridish_tau": m["petridish"]["kendall_tau"],
            "petridish_spearman": m["petridish"]["spearman"],
            "raw_score_tau": m.get("petridish_raw_score", {}).get("kendall_tau"),
            "params_tau": m["baseline_params"]["kendall_tau"],
            "params_spearman": m["baseline_params"]["spearman"],
            "random_tau": m["baseline_random"]["kendall_tau"],
            "fit_seconds": m["fit_seconds"], "query_seconds": m["query_seconds_per_arch"],
            "calibration_slope": m["calibration"].get("slope"),
            "metric": m["metric"], "test_size": m["test_size"], "machine": m["machine"],
            "config": m["config"]})
    return rows


def summarize(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["variant"], r["budget"])].append(r)
    out = []
    for (v, b), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        s = {"variant": v, "budget": b, "seeds": sorted(r["seed"] for r in rs)}
        for k in ("petridish_tau", "petridish_spearman", "params_tau", "params_spearman",
                  "random_tau", "fit_seconds", "query_seconds"):
            s[k] = _ms([r[k] for r in rs])
        out.append(s)
    return out


def markdown(summary, descriptions):
    lines = ["| variant | budget | seeds | Kendall tau | Spearman | params tau | random tau | "
             "fit (s) | query (s/arch) |", "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        def f(k):
            return harness.pm(*s[k], digits=3, sign=True)
        lines.append(
            f"| {s['variant']} | {s['budget']} | {len(s['seeds'])} | {f('petridish_tau')} | "
            f"{f('petridish_spearman')} | {f('params_tau')} | {f('random_tau')} | "
            f"{s['fit_seconds'][0]:.0f} | {s['query_seconds'][0]:.2f} |")
    lines.append("")
    for v, d in descriptions.items():
        if any(s["variant"] == v for s in summary):
            lines.append(f"- `{v}`: {d.get('description', '')}")
    return "\n".join(lines)


def plot(summary, path: Path) -> Path:
    plt = harness.pyplot()
    multi = defaultdict(list)
    for s in summary:
        multi[s["variant"]].append(s)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    params = defaultdict(list)
    for v, ss in sorted(multi.items()):
        ss = sorted(ss, key=lambda s: s["budget"])
        b = [s["budget"] for s in ss]
        m = [s["petridish_tau"][0] for s in ss]
        e = [s["petridish_tau"][1] for s in ss]
        ax.errorbar(b, m, yerr=e, marker="o", capsize=3, label=v)
        for s in ss:
            params[s["budget"]].append(s["params_tau"][0])
    pb = sorted(params)
    ax.plot(pb, [np.mean(params[b]) for b in pb], "k--", label="params (baseline)")
    ax.axhline(0.6, color="grey", lw=0.8, ls=":", label="goal 0.6")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("ground-truth architectures (budget)")
    ax.set_ylabel("held-out Kendall tau (200 cells)")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Synthetic Petri Dish variants: held-out ranking")
    return harness.save_figure(fig, path, dpi=110)


def cmd_report(args):
    _, _, variants = load_variants()
    rows = collect(args.out)
    if not rows:
        sys.exit(f"no finished runs under {args.out}")
    summary = summarize(rows)
    path = harness.save_json(args.results / "ranking.json", {"summary": summary, "runs": rows})
    figure = plot(summary, args.results / "ranking.png")
    print(markdown(summary, variants))
    print(f"\nmachine: {rows[0]['machine']}")
    print(f"wrote {path} and {figure}")


def main():
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--variants", nargs="+", required=True)
    r.add_argument("--budgets", nargs="+", type=int, default=[100, 300, 1020])
    r.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--test-size", type=int, default=200)
    r.add_argument("--workers", type=int, default=0)
    harness.add_nb101_argument(r)
    r.add_argument("--progress", action="store_true")
    r.add_argument("--out", default="runs/ranking")
    r.set_defaults(fn=cmd_run)
    p = sub.add_parser("report")
    p.add_argument("--out", default="runs/ranking")
    p.set_defaults(fn=cmd_report)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
