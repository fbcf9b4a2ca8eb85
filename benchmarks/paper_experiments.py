"""Sections 5.1-5.3 of the paper: summary numbers and overlay figures of fit runs.

    python -m benchmarks.paper_experiments --name full \\
        C=runs/paper-c-s0 [A=runs/paper-a-s0 B=runs/paper-b-s0]
    python -m benchmarks.paper_experiments --name short \\
        B-short=runs/paper-b-short-s0,runs/paper-b-short-s1,runs/paper-b-short-s2 \\
        [A-short=runs/paper-a-short-s0] C=runs/paper-c-s0

For each run (``LABEL=DIR``, a ``fit``/``evaluate`` directory or its committed record in
``benchmarks/results/runs``, see ``benchmarks/run_records.py``; unfinished runs are
summarized over the outer epochs done so far, and say so): the mean of the motifs'
maximum accuracy over the first and last 5 outer epochs, the share of outer epochs in
which all motifs were perfect, the mean outer Kendall tau with undefined epochs counted
as 0 and without them, the outer loss, and the held-out metrics when the directory has
``metrics.json``; beside the paper's values.  Beside the paper's outer tau (of the
motifs' maximum accuracy), the mean tau of z^ and of the parameter count on the same
batches.  Figures like the paper's 2/5 (mean max
accuracy), 4/7 (Kendall tau), both through the paper's moving average of size 3, and
3/6 (inner curves at outer epochs 0, 85 and 169; with ``--truncate 16`` the curves are
cut at 16 inner epochs as in Fig. 6).  Writes ``paper_<name>.json`` and
``paper_<name>_{accuracy,kendall,inner}.png`` to ``benchmarks/results`` (``--results``).

Several runs of one setting (seeds) are given comma-separated after one label: the JSON
then holds each seed's summary and the mean +- std (ddof 1) of every number over the
seeds; figures 2/5 and 4/7 plot the mean over the seeds of the per-epoch statistic, and
figure 3/6 the inner curves of the first run given.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from benchmarks import harness
from benchmarks.run_records import read_file, read_log, read_record
from naslib_petridish.correlation import kendall
from naslib_petridish.errors import GroundTruthError, RunDirError
from naslib_petridish.plots import moving_average
from naslib_petridish.rundir import CONFIG


def same_batch_taus(recs, table):
    """Mean Kendall tau against the ground truth, over the outer epochs, of two other
    statistics of the same 6 cells: the dish score z^ (what the loss optimizes and what a
    query returns) and, with the table, the full network's parameter count (a free
    baseline). Undefined epochs count as 0, as for the paper's statistic."""
    zhat = [kendall(r["scores"], r["ground_truth"])[0] for r in recs]
    out = {"kendall_zhat_mean": float(np.mean(zhat))}
    if table is not None:
        params = [kendall([table.params[table.index(h)] for h in r["hashes"]],
                          r["ground_truth"])[0] for r in recs]
        out["kendall_params_same_batch_mean"] = float(np.mean(params))
    return out


def summarize(run_dir, table=None):
    """(per-seed summary, per-epoch records) of a run or record directory; the records
    are None for the record of a lost run, which holds only its summary."""
    rec = read_record(run_dir)
    if rec is not None and rec.get("lost"):
        return {"run": run_dir, **rec["paper_experiments"]}, None
    recs = read_log(run_dir)
    m = np.array([r["mean_max_acc"] for r in recs])
    tau = np.array([r["kendall_tau"] for r in recs])
    defined = np.array([r["kendall_defined"] for r in recs])
    loss = np.array([r["loss"] for r in recs])
    train_set = read_file(run_dir, "train_set.json")
    cfg = json.loads(train_set) if train_set is not None else {}
    config = yaml.safe_load(Path(run_dir, CONFIG).read_text())
    out = {
        "run": run_dir, "outer_epochs_done": len(recs),
        "outer_epochs_planned": config["outer_epochs"],
        "finished": len(recs) >= config["outer_epochs"],
        "motif": config["motif"], "inner_epochs": config["inner_epochs"],
        "ground_truth": f"{cfg.get('metric', config['metric'])} accuracy @"
                        f"{cfg.get('metric_epochs', config['metric_epochs'])} epochs",
        "mean_max_acc_first5": float(m[:5].mean()), "mean_max_acc_last5": float(m[-5:].mean()),
        "all_perfect_share": float(np.mean([r["all_perfect"] for r in recs])),
        "kendall_mean_with_undefined_as_0": float(tau.mean()),
        "kendall_mean_defined_only": float(tau[defined].mean()) if defined.any() else None,
        "undefined_share": float(1 - defined.mean()),
        "outer_loss_first10": float(loss[:10].mean()),
        "outer_loss_last10": float(loss[-10:].mean()),
        "outer_epoch_seconds_median": float(np.median([r["wall_seconds"] for r in recs])),
        **same_batch_taus(recs, table),
    }
    mpath = Path(run_dir, "metrics.json")
    if mpath.exists():
        mm = json.loads(mpath.read_text())
        out["heldout"] = {"test_size": mm["test_size"], "metric": mm["metric"],
                          "query_seconds_per_arch": mm["query_seconds_per_arch"],
                          **{k: mm[k] for k in ("petridish", "baseline_params", "baseline_random")}}
        if "against_test_accuracy" in mm:
            out["heldout"]["against_test_accuracy"] = mm["against_test_accuracy"]
    return out, recs


def over_seeds(summaries):
    """Mean +- std (ddof 1; None for a single seed) over seeds of every number the
    per-seed summaries share."""
    out = {"seeds": len(summaries), "runs": [s["run"] for s in summaries],
           "finished": all(s["finished"] for s in summaries)}
    for key, v0 in summaries[0].items():
        if isinstance(v0, (int, float)) and not isinstance(v0, bool) and all(
                isinstance(s.get(key), (int, float)) for s in summaries):
            out[key] = harness.seed_stats([s[key] for s in summaries])
    return out


def seed_mean_records(recs_per_seed):
    """Per-epoch records whose mean_max_acc, std_max_acc and kendall_tau are the mean over
    the seeds (over the outer epochs all seeds have done); the rest is the first seed's."""
    n = min(len(r) for r in recs_per_seed)
    out = []
    for k in range(n):
        rec = dict(recs_per_seed[0][k])
        for key in ("mean_max_acc", "std_max_acc", "kendall_tau"):
            rec[key] = float(np.mean([r[k][key] for r in recs_per_seed]))
        out.append(rec)
    return out


def figures(runs, name, truncate, results: Path) -> list[Path]:
    plt = harness.pyplot()
    files = []
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (label, recs, _) in enumerate(runs):
        ep = np.array([r["epoch"] for r in recs])
        m = np.array([r["mean_max_acc"] for r in recs])
        s = np.array([r["std_max_acc"] for r in recs])
        c = f"C{i}"
        ax.plot(ep[1:-1], moving_average(m), color=c, label=label)
        ax.fill_between(ep[1:-1], moving_average(m - s), moving_average(m + s), color=c,
                        alpha=0.15)
    ax.set(xlabel="outer epoch", ylabel="mean max accuracy (MA 3, +-1 std)", ylim=(0, 1.02),
           title="mean of the motifs' maximum accuracy per outer epoch")
    ax.legend(fontsize=8)
    files.append(harness.save_figure(fig, results / f"paper_{name}_accuracy.png", dpi=80))

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (label, recs, _) in enumerate(runs):
        ep = np.array([r["epoch"] for r in recs])
        tau = np.array([r["kendall_tau"] for r in recs])
        ax.plot(ep[1:-1], moving_average(tau), color=f"C{i}",
                label=f"{label} (mean {tau.mean():+.3f})")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set(xlabel="outer epoch", ylabel="Kendall tau of the 6 motifs (MA 3)", ylim=(-1.05, 1.05),
           title="outer-loop Kendall tau (undefined epochs = 0)")
    ax.legend(fontsize=8)
    files.append(harness.save_figure(fig, results / f"paper_{name}_kendall.png", dpi=80))

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), sharey=True)
    for j, target in enumerate((0, 85, 169)):
        ax = axes[j]
        for i, (_, recs, label) in enumerate(runs):
            k = min(target, len(recs) - 1)
            acc = np.array(recs[k]["inner_acc"])
            if truncate:
                acc = acc[:, :truncate]
            x = np.arange(1, acc.shape[1] + 1)
            mu, sd = acc.mean(0), acc.std(0)
            ax.plot(x, mu, color=f"C{i}", label=f"{label} (outer epoch {recs[k]['epoch']})")
            ax.fill_between(x, mu - sd, mu + sd, color=f"C{i}", alpha=0.15)
        ax.set(title=f"outer epoch {target}", xlabel="inner epoch", ylim=(0, 1.02))
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("training accuracy on the dish")
    files.append(harness.save_figure(fig, results / f"paper_{name}_inner.png", dpi=80))
    return files


def main():
    ap = harness.argument_parser(__doc__)
    ap.add_argument("runs", nargs="+", help="LABEL=RUN_DIR (labels A, B, C, A-short, B-short "
                                            "get the paper's values beside them)")
    ap.add_argument("--name", required=True)
    ap.add_argument("--truncate", type=int, default=0,
                    help="cut inner curves at this many epochs (Fig. 6 uses 16)")
    harness.add_nb101_argument(ap, help="ground-truth table for the parameter-count baseline "
                               "(default: $NASLIB_PETRIDISH_NB101; without a table the "
                               "baseline is skipped)")
    args = ap.parse_args()
    try:
        table = harness.ground_truth(args.nb101)
    except GroundTruthError as e:
        print(f"no parameter-count baseline: {e}")
        table = None
    summary, runs, lost = {}, [], []
    for item in args.runs:
        label, paths = harness.labelled_dirs(ap, item)
        per_seed = []
        for path in paths:
            try:
                per_seed.append(summarize(path, table))
            except RunDirError as e:
                ap.error(str(e))
            _print(label, per_seed[-1][0])
            if per_seed[-1][1] is None:
                lost.append(path)
        # One JSON shape whatever the number of seeds: "ours" holds mean/std/values of
        # every number, "ours_per_seed" the per-seed summaries.
        summaries = [s for s, _ in per_seed]
        agg = over_seeds(summaries)
        summary[label] = {"ours": agg, "ours_per_seed": summaries,
                          "paper": harness.PAPER_SECTION5.get(label)}
        if len(per_seed) == 1:
            runs.append((label, per_seed[0][1], label))
            continue
        if not lost:
            runs.append((f"{label} ({len(per_seed)} seeds)",
                         seed_mean_records([r for _, r in per_seed]),
                         f"{label} ({per_seed[0][0]['run']})"))
        print(f"{label} over {len(per_seed)} seeds: " + ", ".join(
            f"{k} {agg[k]['mean']:+.3f} +- {agg[k]['std']:.3f}" for k in (
                "mean_max_acc_first5", "mean_max_acc_last5", "all_perfect_share",
                "kendall_mean_with_undefined_as_0", "kendall_zhat_mean",
                "kendall_params_same_batch_mean", "outer_loss_first10",
                "outer_loss_last10") if k in agg))
    print("wrote", harness.save_json(args.results / f"paper_{args.name}.json",
                                     {"settings": summary}))
    if lost:  # a curve over fewer seeds than the table would mislead: leave the figures
        print(f"figures NOT redrawn: no per-epoch log for {', '.join(lost)} (lost runs: "
              "benchmarks/run_records.py)")
    else:
        print("wrote", *figures(runs, args.name, args.truncate, args.results))


def _print(label, s):
    done = "" if s["finished"] else (f"  [UNFINISHED: {s['outer_epochs_done']} of "
                                     f"{s['outer_epochs_planned']} outer epochs]")
    defined = s["kendall_mean_defined_only"]
    print(f"{label} ({s['run']}): max acc first5 {s['mean_max_acc_first5']:.3f} last5 "
          f"{s['mean_max_acc_last5']:.3f}, all perfect {s['all_perfect_share']:.2%}, tau "
          f"{s['kendall_mean_with_undefined_as_0']:+.3f} / "
          f"{defined if defined is None else round(defined, 3)}"
          f"; same batches: z^ tau {s['kendall_zhat_mean']:+.3f}, params tau "
          f"{s.get('kendall_params_same_batch_mean', float('nan')):+.3f}; outer loss "
          f"{s['outer_loss_first10']:.3f} -> {s['outer_loss_last10']:.3f}{done}")


if __name__ == "__main__":
    main()
