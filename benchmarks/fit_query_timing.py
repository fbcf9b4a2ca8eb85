"""Fit and query time and memory of one run of the paper's protocol.

Run the protocol with the command line under GNU time, then summarize::

    /usr/bin/time -v naslib-petridish fit --preset paper-c --out runs/paper-c-s0 --seed 0 \\
        2> runs/paper-c-s0.fit.log
    /usr/bin/time -v naslib-petridish evaluate --preset paper-c --out runs/paper-c-s0 \\
        --seed 0 --resume --test-size 200 2> runs/paper-c-s0.eval.log
    python -m benchmarks.fit_query_timing runs/paper-c-s0 --name paper_c_seed0

Reports the fit's wall time (sum of the outer epochs' wall times, plus calibration), the
median outer epoch extrapolated to the whole protocol (robust to other load on the
machine during part of the run), the inner-epoch time per motif (minimum, mean +- std,
maximum: the paper's Table 1), the query time per architecture amortized over the test
batch, and the peak resident memory of the largest process of each command (GNU time's
"Maximum resident set size": main and worker processes are separate; the workers run
single-threaded copies of the motif training).  Writes ``<name>.json`` to
``benchmarks/results`` (``--results``).
"""
from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

from benchmarks import harness
from benchmarks.run_records import read_log
from naslib_petridish.dish import Dish


def peak_rss_mb(time_log: Path) -> float | None:
    if not time_log.exists():
        return None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_log.read_text())
    return int(m.group(1)) / 1024 if m else None


def main():
    ap = harness.argument_parser(__doc__)
    ap.add_argument("run", help="fit/evaluate directory (with its dish.pt)")
    ap.add_argument("--name", required=True, help="writes RESULTS/<name>.json")
    args = ap.parse_args()
    recs = read_log(args.run)
    dish = Dish.load(args.run)
    cfg = dish.config
    walls = [r["wall_seconds"] for r in recs]
    inner = [t for r in recs for t in r["inner_epoch_seconds"]]
    out = {
        "run": args.run, "config": cfg.to_dict(),
        "outer_epochs_done": len(recs),
        "fit_seconds_total": dish.meta.get("fit_seconds"),
        "outer_epoch_seconds_sum": sum(walls),
        "outer_epoch_seconds_median": statistics.median(walls),
        "fit_seconds_extrapolated_from_median": statistics.median(walls) * cfg.outer_epochs,
        "inner_epoch_seconds_per_motif": {
            "n_motifs": len(inner), "min": min(inner), "mean": statistics.mean(inner),
            "std": statistics.pstdev(inner), "max": max(inner)},
        "peak_rss_mb_fit": peak_rss_mb(Path(args.run.rstrip("/") + ".fit.log")),
        "peak_rss_mb_query": peak_rss_mb(Path(args.run.rstrip("/") + ".eval.log")),
    }
    metrics = Path(args.run, "metrics.json")
    if metrics.exists():
        m = json.loads(metrics.read_text())
        out["query_seconds_per_arch"] = m["query_seconds_per_arch"]
        out["query_batch"] = m["test_size"]
        out["heldout"] = {k: m[k] for k in ("petridish", "baseline_params", "baseline_random")}
        out["heldout_against_test"] = m.get("against_test_accuracy")
    harness.save_json(args.results / f"{args.name}.json", out)
    print(json.dumps({k: v for k, v in out.items() if k != "config"}, indent=2))


if __name__ == "__main__":
    main()
