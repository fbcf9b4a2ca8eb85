"""Fit and query time and memory of one run of the paper's protocol.

Run the protocol with the command line under GNU time, then summarize::

    /usr/bin/time -v naslib-petridish fit --preset paper-c --out runs/paper-c-s0 --seed 0 \\
        2> runs/paper-c-s0.fit.log
    /usr/bin/time -v naslib-petridish evaluate --preset paper-c --out runs/paper-c-s0 \\
        --seed 0 --resume --test-size 200 2> runs/paper-c-s0.eval.log
    python benchmarks/fit_query_timing.py runs/paper-c-s0 --name paper_c_seed0

Reports the fit's wall time (sum of the outer epochs' wall times, plus calibration), the
median outer epoch extrapolated to the whole protocol (robust to other load on the
machine during part of the run), the inner-epoch time per motif (minimum, mean +- std,
maximum: the paper's Table 1), the query time per architecture amortized over the test
batch, and the peak resident memory of the largest process of each command (GNU time's
"Maximum resident set size": main and worker processes are separate; the workers run
single-threaded copies of the motif training).  Writes
``benchmarks/results/<name>.json``.
"""
import argparse
import json
import os
import re
import statistics

from naslib_petridish.dish import Dish
from naslib_petridish.evaluate import machine_description
from naslib_petridish.plots import read_log

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def peak_rss_mb(time_log: str) -> float | None:
    if not os.path.exists(time_log):
        return None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(time_log).read())
    return int(m.group(1)) / 1024 if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run", help="fit/evaluate directory")
    ap.add_argument("--name", required=True, help="results/<name>.json")
    args = ap.parse_args()
    recs = read_log(args.run)
    dish = Dish.load(args.run)
    cfg = dish.config
    walls = [r["wall_seconds"] for r in recs]
    inner = [t for r in recs for t in r["inner_epoch_seconds"]]
    out = {
        "machine": machine_description(), "run": args.run, "config": cfg.to_dict(),
        "outer_epochs_done": len(recs),
        "fit_seconds_total": dish.meta.get("fit_seconds"),
        "outer_epoch_seconds_sum": sum(walls),
        "outer_epoch_seconds_median": statistics.median(walls),
        "fit_seconds_extrapolated_from_median": statistics.median(walls) * cfg.outer_epochs,
        "inner_epoch_seconds_per_motif": {
            "n_motifs": len(inner), "min": min(inner), "mean": statistics.mean(inner),
            "std": statistics.pstdev(inner), "max": max(inner)},
        "peak_rss_mb_fit": peak_rss_mb(args.run.rstrip("/") + ".fit.log"),
        "peak_rss_mb_query": peak_rss_mb(args.run.rstrip("/") + ".eval.log"),
    }
    metrics = os.path.join(args.run, "metrics.json")
    if os.path.exists(metrics):
        m = json.load(open(metrics))
        out["query_seconds_per_arch"] = m["query_seconds_per_arch"]
        out["query_batch"] = m["test_size"]
        out["heldout"] = {k: m[k] for k in ("petridish", "baseline_params", "baseline_random")}
        out["heldout_against_test"] = m.get("against_test_accuracy")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{args.name}.json"), "w") as f:
        json.dump(out, f, indent=2)
    print(json.dumps({k: v for k, v in out.items() if k != "config"}, indent=2))


if __name__ == "__main__":
    main()
