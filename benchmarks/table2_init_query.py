"""Table 2 of the paper: initialization time (6 x 170 motifs x 100 inner epochs) and
query time (one motif, 100 inner epochs) for motifs A, B and C.

    python -m benchmarks.table2_init_query --cells 10 --measured C=runs/paper-c-s0
    python -m benchmarks.table2_init_query --keep-query --measured C=... B=...  # add fits

Query time is measured: ``--cells`` uniformly drawn cells are queried on a dish of the
motif's paper preset with all cores (one single-threaded motif per core), and the time
is amortized per architecture.  Initialization time is measured from a finished fit
directory where one is given (``LABEL=RUN_DIR``: its ``fit_seconds``), and otherwise
*computed* the way the paper computed it, ``6 x 170 x 100 x (mean inner-epoch time)``
from ``table1_inner_epoch.json`` of the results folder, for one core and divided by the
number of cores; computed entries say so.  Writes ``table2_init_query.json`` to
``benchmarks/results`` (``--results``).
"""
from __future__ import annotations

import json
import time

from benchmarks import harness
from benchmarks.harness import PAPER_TABLE2 as PAPER
from naslib_petridish.config import resolve_config
from naslib_petridish.dish import Dish
from naslib_petridish.outer import score_cells
from naslib_petridish.runner import MotifRunner, default_workers


def main():
    ap = harness.argument_parser(__doc__)
    ap.add_argument("--cells", type=int, default=10,
                    help="cells to query per motif (0: only compute from Table 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--measured", nargs="*", default=[], help="LABEL=FIT_DIR of finished fits")
    harness.add_nb101_argument(ap)
    ap.add_argument("--keep-query", action="store_true",
                    help="keep the query times measured by the previous run of this script "
                         "(same machine) and only add the measured initialization times")
    args = ap.parse_args()
    path = args.results / "table2_init_query.json"
    if args.keep_query:
        if not path.exists():
            raise SystemExit(f"--keep-query needs an earlier {path}; run without it first")
        old = json.loads(path.read_text())
        # results written before harness.provenance() name their machine at the top level
        old_machine = old.get("provenance", old).get("machine")
        if old_machine != harness.machine_description():
            raise SystemExit(f"--keep-query: {path} was measured on another machine "
                             f"({old_machine}); run without --keep-query")
        args.cells = 0
    cells = harness.random_cells(harness.ground_truth(args.nb101), args.cells, args.seed)
    workers = default_workers()
    t1 = json.loads((args.results / "table1_inner_epoch.json").read_text())
    measured = dict(item.split("=", 1) for item in args.measured)
    out = {"workers": workers, "query_cells": args.cells, "ours": {}, "paper": PAPER}
    with MotifRunner(workers) as runner:
        for motif in ("A", "B", "C"):
            cfg = resolve_config(f"paper-{motif.lower()}", seed=args.seed, workers=workers)
            ep = t1["ours"][motif]["mean"]
            row = {"query_seconds_computed_one_core": 100 * ep,
                   "query_seconds_computed_all_cores": 100 * ep / workers}
            q = 100 * ep / workers
            if args.keep_query and "query_seconds_per_arch" in old["ours"][motif]:
                q = old["ours"][motif]["query_seconds_per_arch"]
                row.update(query_seconds_per_arch=q,
                           query_protocol=old["ours"][motif]["query_protocol"])
                out["query_cells"] = old["query_cells"]
            elif args.cells:
                dish = Dish.create(cfg)
                t0 = time.perf_counter()
                score_cells(dish, cells, runner)
                q = (time.perf_counter() - t0) / len(cells)
                row.update(query_seconds_per_arch=q, query_protocol=f"100 inner epochs, "
                           f"{args.cells} cells amortized over {workers} cores")
            one_core = 6 * 170 * 100 * ep
            row["init_seconds_computed_one_core"] = one_core
            row["init_seconds_computed_all_cores"] = one_core / workers
            if motif in measured:
                dm = Dish.load(measured[motif])
                row["init_seconds_measured"] = dm.meta.get("fit_seconds")
                row["init_measured_run"] = measured[motif]
                for key in ("calibration_seconds", "resumed_at_epoch"):
                    if key in dm.meta:  # recorded by fits since the resume fix
                        row[f"init_{key}"] = dm.meta[key]
            out["ours"][motif] = row
            how = "" if "query_seconds_per_arch" in row else " (computed)"
            print(f"{motif}: query {q:.1f} s/arch{how} (paper {PAPER[motif]['query_seconds']} s); "
                  f"init computed {one_core / 3600:.1f} h on 1 core, "
                  f"{one_core / workers / 3600:.1f} h on {workers}"
                  + (f"; measured {row['init_seconds_measured'] / 3600:.2f} h"
                     if "init_seconds_measured" in row else "")
                  + f" (paper {PAPER[motif]['init_days']} days)", flush=True)
    print("wrote", harness.save_json(path, out))


if __name__ == "__main__":
    main()
