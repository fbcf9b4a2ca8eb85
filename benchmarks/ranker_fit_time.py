"""Fit time of a ranker preset now against a reference checkout, side by side (issue 44).

Before 0.5 ``cell-features-boosted`` was a dish preset: every fit ran one logged outer epoch
of 6 motifs it never used.  This times the same fits (protocol c trial 0, the first N
training cells, seed 0) with this tree's package and with a reference checkout of the
package (``git worktree add /tmp/old 7ece6f4``), each fit in a fresh process, the two
alternating so that both see the same load on a shared machine.

    python -m benchmarks.ranker_fit_time --reference /tmp/old --sizes 100 424 --repeats 3
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import harness

#: one fit in a fresh process: the reference's classes took ranker presets as dish presets
_FIT = """
import json, sys, time
from naslib_petridish.protocols import split_uniform
from naslib_petridish.sources import open_ground_truth
preset, n, nb101 = sys.argv[1], int(sys.argv[2]), sys.argv[3]
table = open_ground_truth(nb101, progress=False)
s = split_uniform(table, 200, 1000, 0)
tr = [table.cell(x["hash"]) for x in s["train"][:n]]
y = table.metric(table.indices([c.hash for c in tr]), "test")
if sys.argv[4] == "factory":
    from naslib_petridish.factory import make_predictor
    p = make_predictor(preset, table=table, workers=1)
else:  # before 0.5 (no factory): a ranker preset was a dish preset
    from naslib_petridish.predictor import SyntheticPetriDishPredictor
    p = SyntheticPetriDishPredictor(preset=preset, table=table, workers=1)
import naslib_petridish
assert naslib_petridish.__file__.startswith(sys.argv[5]), naslib_petridish.__file__
t0 = time.perf_counter()
p.fit(tr, y)
seconds = time.perf_counter() - t0
p.close()
print(json.dumps({"seconds": seconds}))
"""


def one_fit(tree: Path, preset: str, n: int, nb101: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # the tree's own modules only (an editable install would fill in modules it lacks)
    kind = "factory" if (tree / "naslib_petridish" / "factory.py").exists() else "dish"
    out = subprocess.run([sys.executable, "-c", _FIT, preset, str(n), nb101, kind, str(tree)],
                         cwd=tree, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"the fit in {tree} failed: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = harness.argument_parser(__doc__)
    ap.add_argument("--reference", required=True, type=Path,
                    help="a checkout of the package before the change (git worktree add)")
    ap.add_argument("--preset", default="cell-features-boosted")
    ap.add_argument("--sizes", nargs="+", type=int, default=[100, 424])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    harness.add_nb101_argument(ap)
    args = ap.parse_args()
    nb101 = str(harness.ground_truth(args.nb101).source)
    here = Path(__file__).resolve().parents[1]
    trees = {"reference": args.reference.resolve(), "now": here}
    rows = []
    for n in args.sizes:
        times: dict[str, list] = {k: [] for k in trees}
        for _ in range(args.repeats):
            for name, tree in trees.items():  # alternating: both see the same load
                times[name].append(one_fit(tree, args.preset, n, nb101)["seconds"])
        row = {"size": n, **{f"{k}_seconds": [round(x, 2) for x in v] for k, v in times.items()},
               **{f"{k}_median": round(float(np.median(v)), 2) for k, v in times.items()}}
        rows.append(row)
        print(row, flush=True)
    rev = subprocess.run(["git", "-C", str(args.reference), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    harness.save_json(args.results / "ranker_fit_time.json", {
        "preset": args.preset, "reference": rev or str(args.reference),
        "protocol": "c, trial 0, first N training cells, seed 0, one worker, each fit in a "
                    "fresh process, reference and now alternating", "note": args.note,
        "rows": rows})


if __name__ == "__main__":
    main()
