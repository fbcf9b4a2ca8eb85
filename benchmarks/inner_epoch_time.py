"""Table 1 of the paper: the time of one inner-loop epoch for motifs A, B and C.

    python -m benchmarks.inner_epoch_time            # 50 cells, 3 epochs each
    python -m benchmarks.inner_epoch_time --cells 100 --epochs 5

Trains the motifs of ``--cells`` uniformly drawn NB101 cells on a fresh dish with
the paper's inner loop (Adam 5e-5, batch 20, 200 images of 3x16x16), one
single-threaded motif per core (the package's worker pool), and reports the
per-epoch time (minimum, mean +- std, maximum over cells), beside the paper's
figures (Ryzen 9 5900X) and the NAS-Bench-101 row computed as the paper did:
the 108-epoch training time of the full network (TPU v2) / 108, over every cell
of the table that has it.  Writes ``table1_inner_epoch.json`` to ``benchmarks/results``
(``--results``).
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks import harness
from benchmarks.harness import PAPER_TABLE1
from naslib_petridish.config import resolve_config
from naslib_petridish.dish import Dish
from naslib_petridish.runner import MotifRunner, default_workers
from naslib_petridish.seeds import motif_seed


def stats_of(v):
    v = [float(x) for x in v]
    return {"n": len(v), "min": min(v), "mean": statistics.mean(v), "std": statistics.pstdev(v),
            "max": max(v)}


def main():
    ap = harness.argument_parser(__doc__)
    ap.add_argument("--cells", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0, help="0 = one per core")
    harness.add_nb101_argument(ap)
    args = ap.parse_args()
    table = harness.ground_truth(args.nb101)
    cells = harness.random_cells(table, args.cells, args.seed)
    workers = args.workers or default_workers()
    out = {"workers": workers,
           "cells": args.cells, "epochs_per_cell": args.epochs, "ours": {}, "paper": {}}
    with MotifRunner(workers) as runner:
        for motif in ("A", "B", "C"):
            cfg = resolve_config(f"paper-{motif.lower()}", inner_epochs=args.epochs,
                                 seed=args.seed)
            dish = Dish.create(cfg)
            seeds = [motif_seed(args.seed, i) for i in range(len(cells))]
            t0 = time.perf_counter()
            res = runner.run(cells, dish.images, dish.labels, cfg, seeds)
            wall = time.perf_counter() - t0
            out["ours"][motif] = {**stats_of([r.epoch_seconds for r in res]),
                                  "wall_seconds": wall}
            s = out["ours"][motif]
            print(f"motif {motif}: min {s['min']:.3f}  mean {s['mean']:.3f} +- {s['std']:.3f}  "
                  f"max {s['max']:.3f} s per epoch   (paper {PAPER_TABLE1[motif][1]:.3f})",
                  flush=True)
    tt = table.metric(np.flatnonzero(table.has_metric("train_time", 108)), "train_time", 108)
    out["ours"]["NB101"] = {**stats_of(np.asarray(tt) / 108),
                            "source": "train_time at 108 epochs / 108, TPU v2, "
                                      f"{len(tt)} cells of {table.source}"}
    for k, (mn, me, sd, mx) in PAPER_TABLE1.items():
        out["paper"][k] = {"min": mn, "mean": me, "std": sd, "max": mx}
    out["paper"]["machine"] = "AMD Ryzen 9 5900X (paper, Table 1); NB101 row: TPU v2"
    s = out["ours"]["NB101"]
    print(f"NB101 (TPU v2, 108-epoch time / 108): min {s['min']:.3f}  mean {s['mean']:.3f} +- "
          f"{s['std']:.3f}  max {s['max']:.3f}")
    print("wrote", harness.save_json(args.results / "table1_inner_epoch.json", out))


if __name__ == "__main__":
    main()
