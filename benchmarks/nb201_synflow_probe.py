"""Issue 55, part 1: does a zero-cost proxy (synflow) add to the ranker's trees on NB201?

``scores`` computes log10 synflow (:mod:`naslib_petridish.zero_cost`) of the full network
of one cell per NB201 function (6,466; about 25 minutes on one core; resumable, saved every
250 functions into WORK/scores.json, outside git).  ``probe`` fits the presets' trees
(``naslib_petridish.ranker.trees``, on the ranks of the 200-epoch validation accuracy; the
free, path and encoding features) with and without the score as one more column, on the
development trials 10-12 of ``benchmarks.nb201_ranking`` (the same training draws), and
scores the held-out cells against the test accuracy; it also ranks all cells by synflow
alone.  Writes ``nb201_synflow_probe.json``; NB201.md has the prose.

    python -m benchmarks.nb201_synflow_probe scores --work runs/nb201_synflow
    python -m benchmarks.nb201_synflow_probe probe --work runs/nb201_synflow
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from benchmarks import harness

TRIALS = (10, 11, 12)
SIZES = (78, 156, 469, 781)
DATASETS = ("cifar10", "cifar100")


def _scores(args) -> int:
    from naslib_petridish.rundir import write_atomic
    from naslib_petridish.spaces.nb201.cell import all_cells
    from naslib_petridish.zero_cost import synflow_scores

    path = os.path.join(args.work, "scores.json")
    os.makedirs(args.work, exist_ok=True)
    have = {}
    if os.path.exists(path):
        with open(path) as fh:
            have = json.load(fh)
    first: dict = {}
    for c in all_cells():
        first.setdefault(c.key, c)
    todo = [k for k in first if k not in have]
    for i in range(0, len(todo), 250):
        part = todo[i:i + 250]
        have.update(zip(part, synflow_scores([first[k] for k in part]).tolist()))
        write_atomic(path, json.dumps(have))
        print(f"{len(have)} / {len(first)} functions", flush=True)
    return 0


def _probe(args) -> int:
    from scipy.stats import kendalltau, spearmanr

    from naslib_petridish.ranker.models import rank_target
    from naslib_petridish.ranker.trees import train_trees
    from benchmarks.nb201_ranking import split
    from naslib_petridish.spaces import get_space
    from naslib_petridish.spaces.nb201 import load_file, locate_table

    with open(os.path.join(args.work, "scores.json")) as fh:
        scores = json.load(fh)
    sp, f = get_space("nb201"), load_file(locate_table(args.nb201))
    out: dict = {"trials": list(TRIALS), "sizes": list(SIZES), "datasets": {}}
    for ds in DATASETS:
        t = f.dataset(ds)
        cells = t.cells(range(len(t)))
        missing = sum(c.key not in scores for c in cells)
        if missing:
            sys.exit(f"error: {missing} cells have no synflow score in {args.work}: run "
                     f"'scores' first")
        mats = [sp.free_features(cells), sp.path_encoding(cells), sp.encoding(cells)]
        base, names = np.hstack([m[0] for m in mats]), sum([m[1] for m in mats], [])
        s = np.array([scores[c.key] for c in cells])
        test = t.metric(np.arange(len(t)), "test")
        d = {"synflow_alone": {"kendall_all": float(kendalltau(s, test).statistic),
                               "spearman_all": float(spearmanr(s, test).statistic)},
             "trees": {}, "trees_synflow": {}, "difference": {}}
        for size in SIZES:
            k = {"trees": [], "trees_synflow": []}
            for trial in TRIALS:
                train, held = split(t, trial, size)  # nb201_ranking's draws
                target = rank_target(t.metric(train, "val"))
                for name, X, nm in (("trees", base, names),
                                    ("trees_synflow", np.hstack([base, s[:, None]]),
                                     names + ["log10_synflow"])):
                    p = train_trees(X[train], nm, target, trial).predict(X)
                    k[name].append(float(kendalltau(p[held], test[held]).statistic))
            for name in k:
                d[name][str(size)] = harness.seed_stats(k[name])
            d["difference"][str(size)] = harness.seed_stats(
                np.subtract(k["trees_synflow"], k["trees"]))
            print(ds, size, {n: round(float(np.mean(v)), 3) for n, v in k.items()}, flush=True)
        out["datasets"][ds] = d
        print(ds, "synflow alone:", d["synflow_alone"], flush=True)
    harness.save_json(args.results / "nb201_synflow_probe.json", out)
    return 0


def main() -> int:
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn in (("scores", _scores), ("probe", _probe)):
        p = sub.add_parser(name)
        p.add_argument("--work", default="runs/nb201_synflow")
        p.add_argument("--nb201", help="NB201 table (default: $NASLIB_PETRIDISH_NB201)")
        p.set_defaults(fn=fn)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
