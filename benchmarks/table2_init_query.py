"""Table 2 of the paper: initialization time (6 x 170 motifs x 100 inner epochs) and
query time (one motif, 100 inner epochs) for motifs A, B and C.

    python benchmarks/table2_init_query.py --cells 10 --measured C=runs/paper-c-s0
    python benchmarks/table2_init_query.py --keep-query --measured C=... B=...  # add fits

Query time is measured: ``--cells`` uniformly drawn cells are queried on a dish of the
motif's paper preset with all cores (one single-threaded motif per core), and the time
is amortized per architecture.  Initialization time is measured from a finished fit
directory where one is given (``LABEL=RUN_DIR``: its ``fit_seconds``), and otherwise
*computed* the way the paper computed it, ``6 x 170 x 100 x (mean inner-epoch time)``
from ``benchmarks/results/table1_inner_epoch.json``, for one core and divided by the
number of cores; computed entries say so.  Writes
``benchmarks/results/table2_init_query.json``.
"""
import argparse
import json
import os
import time

import numpy as np

from naslib_petridish.config import resolve_config
from naslib_petridish.dish import Dish
from naslib_petridish.evaluate import machine_description
from naslib_petridish.runner import MotifRunner, default_workers
from naslib_petridish.outer import score_cells
from naslib_petridish.sources import open_ground_truth

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
PAPER = {"A": {"init_days": 5, "init_seconds": 436.764e3, "query_seconds": 428.2},
         "B": {"init_days": 4, "init_seconds": 354.042e3, "query_seconds": 347.1},
         "C": {"init_days": 2, "init_seconds": 145.554e3, "query_seconds": 142.7}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=10,
                    help="cells to query per motif (0: only compute from Table 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--measured", nargs="*", default=[], help="LABEL=FIT_DIR of finished fits")
    ap.add_argument("--nb101", default=None)
    ap.add_argument("--keep-query", action="store_true",
                    help="keep the query times measured by the previous run of this script "
                         "(same machine) and only add the measured initialization times")
    args = ap.parse_args()
    path = os.path.join(RESULTS, "table2_init_query.json")
    if args.keep_query:
        if not os.path.exists(path):
            raise SystemExit(f"--keep-query needs an earlier {path}; run without it first")
        old = json.load(open(path))
        if old["machine"] != machine_description():
            raise SystemExit(f"--keep-query: {path} was measured on another machine "
                             f"({old['machine']}); run without --keep-query")
        args.cells = 0
    table = open_ground_truth(args.nb101, progress=False)
    cells = table.cells(table.sample(args.cells, rng=np.random.default_rng(args.seed))) if args.cells else []
    workers = default_workers()
    t1 = json.load(open(os.path.join(RESULTS, "table1_inner_epoch.json")))
    measured = dict(item.split("=", 1) for item in args.measured)
    out = {"machine": machine_description(), "workers": workers, "query_cells": args.cells,
           "ours": {}, "paper": PAPER}
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
            print(f"{motif}: query {q:.1f} s/arch{'' if 'query_seconds_per_arch' in row else ' (computed)'} (paper {PAPER[motif]['query_seconds']} s); "
                  f"init computed {one_core / 3600:.1f} h on 1 core, "
                  f"{one_core / workers / 3600:.1f} h on {workers}"
                  + (f"; measured {row['init_seconds_measured'] / 3600:.2f} h"
                     if "init_seconds_measured" in row else "")
                  + f" (paper {PAPER[motif]['init_days']} days)", flush=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    main()
