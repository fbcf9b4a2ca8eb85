"""Check the cell space and network builder against the whole NB101 table.

For every one of the 423,624 cells: the official module hash recomputed from
the stored cell, and the full network's trainable parameter count (computed
analytically by ``count_parameters``); plus the real PyTorch ``full``
network, built on the meta device, for a random sample.  Writes
``nb101_table_check.json`` to ``benchmarks/results`` (``--results``).

    python -m benchmarks.check_nb101_table [--nb101 PATH] [--sample 2000]
"""
from __future__ import annotations

import json
import os
import time
from multiprocessing import Pool

import numpy as np

from benchmarks import harness
from naslib_petridish.cells import Cell
from naslib_petridish.motifs import build_network, count_parameters, trainable_parameters
from naslib_petridish.sources import locate_ground_truth
from naslib_petridish.tables import NB101Table

_T = None


def _init(path):
    global _T
    _T = NB101Table.load(path)


def _check(rows):
    bad_hash, bad_params = [], []
    for r in rows:
        c = Cell.from_codes(_T.adjacency[r], _T.ops[r])
        if c.hash != _T.hashes[r]:
            bad_hash.append(int(r))
        if count_parameters(c, "full") != _T.params[r]:
            bad_params.append(int(r))
    return bad_hash, bad_params


def main():
    ap = harness.argument_parser(__doc__)
    harness.add_nb101_argument(ap)
    ap.add_argument("--sample", type=int, default=2000, help="cells built as torch networks")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    path = locate_ground_truth(args.nb101)
    t0 = time.time()
    table = NB101Table.load(path)
    load_s = time.time() - t0
    chunks = np.array_split(np.arange(len(table)), 200)
    t0 = time.time()
    bad_hash, bad_params = [], []
    with Pool(args.workers, initializer=_init, initargs=(path,)) as pool:
        for bh, bp in pool.imap_unordered(_check, chunks):
            bad_hash += bh
            bad_params += bp
    full_s = time.time() - t0

    import torch
    rows = table.sample(args.sample, rng=0)
    t0 = time.time()
    bad_torch = []
    for r in rows:
        with torch.device("meta"):
            net = build_network(table.cell(r), "full")
        if trainable_parameters(net) != table.params[r]:
            bad_torch.append(int(r))
    torch_s = time.time() - t0
    res = {
        "table": path, "cells": len(table), "table_load_s": round(load_s, 3),
        "hash_mismatches": len(bad_hash), "param_mismatches": len(bad_params),
        "hash_and_params_s": round(full_s, 1),
        "torch_full_network_sample": int(args.sample), "torch_param_mismatches": len(bad_torch),
        "torch_s": round(torch_s, 1),
        "first_mismatches": {"hash": bad_hash[:5], "params": bad_params[:5],
                             "torch": bad_torch[:5]},
    }
    harness.save_json(args.results / "nb101_table_check.json", res)
    print(json.dumps(res, indent=2))
    return 0 if not (bad_hash or bad_params or bad_torch) else 1


if __name__ == "__main__":
    raise SystemExit(main())
