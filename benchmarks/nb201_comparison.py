"""Issue 55, part 4: White et al.'s predictor comparison on NAS-Bench-201 (NB201.md).

NASLib's own ``PredictorEvaluator`` (through ``naslib-petridish naslib-evaluate``, one
process per job: a crash or a timeout loses that job only) scores NASLib's model-based
predictors beside this package's rankers, the dish and the parameter count on NB201, on
White et al.'s training-set sizes, 200 test cells and 3 trials, under two protocols:

* ``naslib``: NASLib's sampler as is (on NB201 uniform over the 5^6 operation choices;
  repeats and train/test overlap possible, as in White et al.);
* ``uniform``: distinct cells (by NB201's canonical form) drawn uniformly, training and
  test disjoint (``naslib_petridish.protocols.split_uniform``).

The predictors learn from the 200-epoch validation accuracy and are scored (Kendall tau,
Spearman) against the 200-epoch test accuracy of the test cells, as the NB201 predictor
papers do.  Each job (data set, protocol, predictor, trial) runs every size in one NASLib
run (its ``vary_train_size`` experiment: smaller training sets are prefixes of larger
ones); each finished size is one line of ``nb201_comparison_rows.jsonl`` (committed as it
finishes; resumable: a job whose sizes are all recorded is skipped, a killed one resumes
from its finished sizes).  ``report`` writes the table and the figures into NB201.md.

    python -m benchmarks.nb201_comparison run --dataset cifar10 --protocols uniform naslib \\
        --predictors fast --trials 0 1 2 --work runs/nb201c     # needs NASLib
    python -m benchmarks.nb201_comparison report

The NB201 ground truth has no training times, so White et al.'s initialization-time axis
(training time of the training set + fit time) is drawn as its two parts: the number of
training cells (each a full 200-epoch training) and the measured fit time.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks import harness

WORK = Path("runs/nb201_comparison")
RESULTS = Path(__file__).resolve().parent / "results"
RECORD = "nb201_comparison_rows.jsonl"
SIZES = (14, 42, 121, 347, 1000)  # White et al.'s grid, every other point
TEST_SIZE = 200
PROTOCOLS = {"naslib": "NASLib's sampler as is (repeats and train/test overlap possible)",
             "uniform": "distinct cells drawn uniformly, train/test disjoint"}
OURS = ["params", "ranker-cell-features-trees", "ranker-cell-features-isomorphs",
        "ranker-cell-features-boosted", "ranker-cell-features-self-trained",
        "ranker-cell-features-self-trained-isomorphs"]
FAST = OURS + ["xgb", "lgb", "rf", "ngb", "bayes_lin_reg", "gp", "mlp", "bananas"]
SLOW = ["gcn", "bonas", "nao", "seminas", "bohamiann", "dngo", "sparse_gp", "var_sparse_gp",
        "petridish-quick"]
#: predictors run only up to this size (one dish fit per size, minutes each on 2 cores)
MAX_SIZE = {"petridish-quick": 121}
#: what a result row keeps of NASLib's result dict
KEEP = ("kendalltau", "spearman", "pearson", "precision_10", "fit_time", "query_time",
        "test_distinct", "train_distinct", "train_in_test")
BEGIN, END = harness.markers("nb201-comparison", "python -m benchmarks.nb201_comparison report")
_CLI = "import sys; from naslib_petridish.cli import main; sys.exit(main(sys.argv[1:]))"


def job_config(dataset: str, predictor: str, trial: int, out: Path) -> str:
    """The NASLib predictor-evaluation config of one job (NASLib's defaults otherwise: no
    hyperparameter search, its own hyperparameters, as White et al.)."""
    return textwrap.dedent(f"""\
        experiment_type: vary_train_size
        search_space: nasbench201
        dataset: {dataset}
        predictor: {predictor}
        uniform_random: 1
        test_size: {TEST_SIZE}
        train_size_list: {sizes_of(predictor)}
        fidelity_single: 5
        fidelity_list: [5]
        out_dir: {out}
        max_hpo_time: 0
        hparams_from_file: False
        seed: {trial}
        """)


def job_dir(work: Path, dataset: str, protocol: str, predictor: str, trial: int) -> Path:
    return work / dataset / protocol / predictor / f"t{trial}"


def sizes_of(predictor: str) -> list[int]:
    """The training-set sizes a predictor runs (``MAX_SIZE`` caps the slow ones)."""
    return [n for n in SIZES if n <= MAX_SIZE.get(predictor, max(SIZES))]


def record_job(results: Path, out: Path, job: dict, machine: str) -> int:
    """Append the job's finished sizes (NASLib's ``evaluated_sizes.jsonl``) that the record
    lacks; returns how many."""
    path = results / RECORD
    have = {_key(r) for r in harness.read_jsonl(path)}
    done = out / job["dataset"] / "predictors" / job["predictor"] / str(job["trial"]) \
        / "evaluated_sizes.jsonl"
    rows = []
    for line in harness.read_jsonl(done):
        res = line["result"]
        row = {**job, "train_size": int(res["train_size"]),
               **{k: _num(res.get(k)) for k in KEEP}, "machine": machine}
        if _key(row) not in have:
            rows.append(row)
            have.add(_key(row))
    harness.append_jsonl(path, *rows)
    return len(rows)


def _num(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _key(r: dict) -> tuple:
    return (r["dataset"], r["protocol"], r["predictor"], int(r["trial"]), int(r["train_size"]))


def cmd_run(args) -> int:
    work, results = Path(args.work), Path(args.results)
    work.mkdir(parents=True, exist_ok=True)
    predictors = [x for p in args.predictors
                  for x in (FAST if p == "fast" else SLOW if p == "slow" else [p])]
    machine = harness.provenance()["machine"]
    have = {_key(r) for r in harness.read_jsonl(results / RECORD)}
    for protocol in args.protocols:
        for trial in args.trials:
            for pred in predictors:
                job = {"dataset": args.dataset, "protocol": protocol, "predictor": pred,
                       "trial": trial}
                if all((args.dataset, protocol, pred, trial, n) in have
                       for n in sizes_of(pred)):
                    continue
                d = job_dir(work, args.dataset, protocol, pred, trial)
                d.mkdir(parents=True, exist_ok=True)
                cfg = d / "config.yaml"
                cfg.write_text(job_config(args.dataset, pred, trial, d / "out"))
                cmd = [sys.executable, "-c", _CLI, "naslib-evaluate", "--config-file",
                       str(cfg), "--protocol", protocol, "--metric", "val", "--resume"]
                if args.nb201:
                    cmd += ["--nb201", args.nb201]
                t0 = time.time()
                with open(d / "log.txt", "a") as log:
                    try:
                        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                                            timeout=args.timeout).returncode
                    except subprocess.TimeoutExpired:
                        rc = "timeout"
                n = record_job(results, d / "out", job, machine)
                print(f"{protocol} {pred} t{trial}: rc {rc}, {n} sizes recorded, "
                      f"{time.time() - t0:.0f} s (log {d / 'log.txt'})", flush=True)
    return 0


def summarize(rows: list[dict]) -> dict:
    """{(dataset, protocol, predictor, size): {metric: (mean, std, n)}} over trials."""
    g = defaultdict(list)
    for r in rows:
        g[(r["dataset"], r["protocol"], r["predictor"], int(r["train_size"]))].append(r)
    out = {}
    for k, rs in g.items():
        s = {}
        for m in ("kendalltau", "spearman", "fit_time", "query_time", "train_in_test",
                  "train_distinct"):
            v = [r[m] for r in rs if r.get(m) is not None]
            s[m] = (float(np.mean(v)) if v else None,
                    float(np.std(v, ddof=1)) if len(v) > 1 else None, len(v))
        s["trials"] = sorted(int(r["trial"]) for r in rs)
        out[k] = s
    return out


def _order(names) -> list[str]:
    return sorted(names, key=lambda n: (n not in OURS, OURS.index(n) if n in OURS else 0, n))


def cmd_report(args) -> int:
    results = Path(args.results)
    rows = harness.read_jsonl(results / RECORD)
    if not rows:
        raise SystemExit(f"nothing in {results / RECORD}: run `run` first")
    summ = summarize(rows)
    lines = ["White et al.'s comparison on NB201: NASLib's `PredictorEvaluator` (unchanged), "
             f"{TEST_SIZE} test cells, training on the 200-epoch validation accuracy, Kendall tau "
             "against the 200-epoch test accuracy of the test cells; mean +- std over trials "
             "(the trials column: how many finished every size shown). NASLib's predictors with "
             "their default hyperparameters and no HPO (`max_hpo_time: 0`), as White et al.; "
             "ours by their registry names. Fit: NASLib's measured `fit_time` (s); query: its "
             "`query_time` (ms per cell). The machine: "
             f"{', '.join(sorted({r['machine'] for r in rows}))}."]
    figs = []
    for ds in sorted({k[0] for k in summ}):
        for prot in [p for p in PROTOCOLS if any(k[:2] == (ds, p) for k in summ)]:
            names = _order({k[2] for k in summ if k[:2] == (ds, prot)})
            lines += ["", f"**{ds}, protocol `{prot}`** ({PROTOCOLS[prot]}):", "",
                      "| predictor | trials | " + " | ".join(f"n={n}" for n in SIZES)
                      + " | fit s at largest n | query ms |", "|---" * (len(SIZES) + 4) + "|"]
            for name in names:
                cells, last = [], None
                for n in SIZES:
                    s = summ.get((ds, prot, name, n))
                    if s and s["kendalltau"][0] is not None:
                        cells.append(harness.pm(s["kendalltau"][0], s["kendalltau"][1], 3,
                                                sign=True))
                        last = s
                    else:
                        cells.append("")
                trials = min(len(s["trials"]) for k, s in summ.items()
                             if k[:3] == (ds, prot, name))
                lines.append(f"| {name} | {trials} | " + " | ".join(cells)
                             + f" | {last['fit_time'][0]:.2g} | "
                             f"{1000 * last['query_time'][0]:.2g} |" if last else " | | |")
            overlap = {n: [s["train_in_test"][0] for k, s in summ.items()
                           if k[:2] == (ds, prot) and k[3] == n
                           and s["train_in_test"][0] is not None] for n in SIZES}
            if prot == "naslib" and any(overlap.values()):
                lines.append("\nTraining entries that are test cells (by NB201's canonical "
                             "form), mean over jobs, at " + " / ".join(
                                 f"{n}" for n in SIZES if overlap[n]) + " training entries: "
                             + " / ".join(f"{np.mean(overlap[n]):.0f}" for n in SIZES
                                          if overlap[n]) + ".")
            fig = results / f"nb201_comparison_{ds}_{prot}.png"
            _figure(summ, ds, prot, names, fig)
            figs.append(fig)
            lines += ["", f"![{ds} {prot}]({fig.name})"]
    harness.save_json(results / "nb201_comparison.json", {
        "summary": [{"dataset": k[0], "protocol": k[1], "predictor": k[2], "train_size": k[3],
                     **{m: v for m, v in s.items()}} for k, s in sorted(summ.items())],
        "sizes": list(SIZES), "test_size": TEST_SIZE})
    harness.write_section(results / "NB201.md", BEGIN, END, "\n".join(lines))
    print("\n".join(lines))
    return 0


#: ours in colours of their own (as in COMPARISON.md's figures); NASLib's from a palette
OUR_STYLE = {"ranker-cell-features-trees": "darkcyan", "ranker-cell-features-boosted": "navy",
             "ranker-cell-features-self-trained": "darkmagenta", "petridish-quick": "dimgray"}
#: fit times below this are drawn at it (the log axis would otherwise span 10^-6 s)
MIN_FIT_S = 1e-3


def _figure(summ, ds, prot, names, path: Path) -> None:
    """Kendall tau against the training cells, the fit time and the query time; the
    parameter count (no fit, no training cell) as a dashed level in every panel."""
    plt = harness.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(17, 5), sharey=True)
    palette = [plt.get_cmap("tab20")(j) for j in range(20)]
    naslib = [n for n in FAST + SLOW if n not in OURS and n not in OUR_STYLE]
    for name in names:
        pts = [(n, summ[(ds, prot, name, n)]) for n in SIZES if (ds, prot, name, n) in summ
               and summ[(ds, prot, name, n)]["kendalltau"][0] is not None]
        if not pts:
            continue
        y = [s["kendalltau"][0] for _, s in pts]
        if name == "params":
            for ax in axes:
                ax.axhline(np.mean(y), ls="--", color="gray", lw=1.5,
                           label="params (no fit)" if ax is axes[0] else None)
            continue
        style = (dict(lw=2.5, marker="s", ms=6, color=OUR_STYLE[name]) if name in OUR_STYLE
                 else dict(lw=1.2, marker="o", ms=4,
                           color=palette[naslib.index(name) % 20 if name in naslib else 0]))
        xs = ([n for n, _ in pts], [max(MIN_FIT_S, s["fit_time"][0]) for _, s in pts],
              [s["query_time"][0] for _, s in pts])
        for ax, x in zip(axes, xs):
            ax.plot(x, y, label=name if ax is axes[0] else None, **style)
    for ax, lab in zip(axes, ("training cells (each a 200-epoch training)",
                              f"fit time (s, measured; below {MIN_FIT_S:g} s drawn at it)",
                              "query time (s per cell)")):
        ax.set_xscale("log")
        ax.set_xlabel(lab)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(f"Kendall tau, {TEST_SIZE} test cells (mean over trials)")
    fig.suptitle(f"NB201 {ds}, protocol {prot}: {PROTOCOLS[prot]}")
    fig.legend(loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.86, 0.95))
    harness.save_figure(fig, path)


def main(argv=None) -> int:
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--dataset", default="cifar10")
    r.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=list(PROTOCOLS))
    r.add_argument("--predictors", nargs="+", default=["fast"],
                   help="names, or fast / slow for the lists of this script")
    r.add_argument("--trials", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--timeout", type=int, default=3600, help="seconds per job")
    r.add_argument("--work", default=str(WORK))
    r.add_argument("--nb201", help="NB201 table (default: $NASLIB_PETRIDISH_NB201)")
    rp = sub.add_parser("report")
    r.set_defaults(fn=cmd_run)
    rp.set_defaults(fn=cmd_report)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
