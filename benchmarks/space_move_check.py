"""Check that re-rooting the package on search spaces left every NB101 number as it was.

Regenerates, with the current package, committed NB101 records and compares them exactly:

* ranker rows of ``ranking_presets_rows.jsonl`` (each preset's predictions and Kendall tau
  on a protocol (c) split);
* guided-search runs of ``guided_runs.jsonl`` (every query's incumbent and the answer);
* with ``--naslib-work DIR``, NASLib searches rerun by ``python -m
  benchmarks.search_comparison --results EMPTY run --work DIR --budgets 150 --seeds 1
  --methods ...`` in the NASLib venv against ``search_runs.jsonl``;
* with ``--before DIR`` (a checkout of the commit before the move: ``git worktree add DIR
  5a3c3f7``), motif training time: the same cells' motifs A/B/C trained by the inner loop
  (one thread, 5 inner epochs) by the old and the new package in alternating processes.

Writes ``benchmarks/results/space_move_check.json``:

    python -m benchmarks.space_move_check [--before /tmp/before] [--skip-records]
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks import harness

RESULTS = Path(__file__).resolve().parent / "results"
RANKER_ROWS = [("cell-features-boosted", "test", 3, 100),
               ("cell-features-self-trained", "test", 3, 100),
               ("cell-features-co-trained", "test", 3, 100),
               ("cell-features-boosted", "test", 4, 424),
               ("cell-features-self-trained", "test", 4, 424)]
GUIDED = [("params", 0), ("mean", 0), ("cell-features-boosted", 0)]


def ranker_checks(table) -> list[dict]:
    from benchmarks.ranking_presets import run_job

    old = {(r["preset"], r["metric"], r["trial"], r["size"]): r
           for r in harness.read_jsonl(RESULTS / "ranking_presets_rows.jsonl")}
    out = []
    for key in RANKER_ROWS:
        new = run_job(table, *key)
        out.append({"preset": key[0], "metric": key[1], "trial": key[2], "size": key[3],
                    "kendall_committed": old[key]["kendall"], "kendall_now": new["kendall"],
                    "predictions_identical": new["predictions"] == old[key]["predictions"],
                    "fit_seconds": round(new["fit_seconds"], 1)})
        print(json.dumps(out[-1]), flush=True)
    return out


def guided_checks(table, work: Path) -> list[dict]:
    from naslib_petridish.guided import GuidedConfig, run_guided

    old = {(r["predictor"], r["seed"]): r for r in harness.read_jsonl(
        RESULTS / "guided_runs.jsonl") if r["label"] == r["predictor"] and r["budget"] == 150}
    out = []
    for pred, seed in GUIDED:
        t0 = time.time()
        s = run_guided(table, pred, GuidedConfig(budget=150, seed=seed, metric="test"),
                       work / f"{pred}-{seed}", force=True)
        inc = [round(float(a), 7) for a in s["incumbent"]]
        ref = old[(pred, seed)]
        out.append({"predictor": pred, "seed": seed, "best_hash_committed": ref["best_hash"],
                    "best_hash_now": s["best_hash"], "incumbent_identical": inc == ref["incumbent"],
                    "queries": len(inc), "seconds": round(time.time() - t0, 1)})
        print(json.dumps(out[-1]), flush=True)
    return out


TIMING = r"""
import json, sys, time
import numpy as np
from naslib_petridish.config import PetriDishConfig
from naslib_petridish.dish import Dish
from naslib_petridish.inner import train_motif
from naslib_petridish.cells import random_cell
out = {}
for motif in ("C", "B", "A"):
    cfg = PetriDishConfig(motif=motif, inner_epochs=5, seed=0, workers=1)
    dish = Dish.create(cfg)
    rng = np.random.default_rng(7)
    cells = [random_cell(rng) for _ in range(8)]
    t0 = time.perf_counter()
    for i, c in enumerate(cells):
        train_motif(c, dish.images.detach(), dish.labels, cfg, i, False)
    out[motif] = (time.perf_counter() - t0) / len(cells)
print(json.dumps(out))
"""


def motif_timing(before: str, rounds: int = 3) -> dict:
    """Seconds per motif (inner loop, 5 epochs, one thread) of the package before and after
    the move, in alternating processes (``rounds`` each); the medians and their ratio."""
    import os
    import subprocess
    import sys

    here = str(Path(__file__).resolve().parents[1])
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for _ in range(rounds):
        for name, root in (("before", before), ("after", here)):
            res = subprocess.run([sys.executable, "-c", TIMING], capture_output=True, text=True,
                                 env={**env, "PYTHONPATH": root}, cwd=root, check=True)
            runs[name].append(json.loads(res.stdout.strip().splitlines()[-1]))
    med = {n: {m: float(np.median([r[m] for r in rs])) for m in ("A", "B", "C")}
           for n, rs in runs.items()}
    return {"seconds_per_motif": med, "runs": runs,
            "after_over_before": {m: med["after"][m] / med["before"][m] for m in ("A", "B", "C")}}


FIELDS = ("best_hash", "best_true_test_accuracy", "ground_truth_queries",
          "distinct_cells_queried", "predictor_queries", "refits", "known_cell_hits")
TRAJECTORY = ("epoch", "ground_truth_queries", "predictor_queries", "best_true_test_accuracy",
              "train_seconds")


def naslib_search_checks(work: Path) -> list[dict]:
    """NASLib searches rerun with ``benchmarks.search_comparison run --work WORK`` (in the
    NASLib venv) against their committed rows: the answer, the counts and the trajectory
    but its measured seconds."""
    from benchmarks.search_comparison import compact, run_key

    old = {run_key(r): r for r in harness.read_jsonl(RESULTS / "search_runs.jsonl")}
    out = []
    for path in sorted((work / "results").glob("*.json")):
        new = compact(json.loads(path.read_text()))
        ref = old[run_key(new)]
        same = {f: new.get(f) == ref.get(f) for f in FIELDS}
        traj = all(new["trajectory"].get(k) == ref["trajectory"].get(k) for k in TRAJECTORY)
        out.append({"method": new["method"], "budget": new["budget"], "seed": new["seed"],
                    "identical_fields": all(same.values()),
                    "identical_trajectory_except_seconds": traj,
                    "differing": sorted(f for f, v in same.items() if not v),
                    "best_true_test_accuracy": [ref["best_true_test_accuracy"],
                                                new["best_true_test_accuracy"]]})
        print(json.dumps(out[-1]), flush=True)
    return out


def main() -> int:
    ap = harness.argument_parser(__doc__)
    harness.add_nb101_argument(ap)
    ap.add_argument("--work", default="runs/space_move_check")
    ap.add_argument("--before", help="a checkout of the package before the move")
    ap.add_argument("--rounds", type=int, default=3, help="alternating timing processes each")
    ap.add_argument("--naslib-work", help="the work folder of a search_comparison rerun of "
                                          "committed runs (NASLib venv), to compare")
    ap.add_argument("--skip-records", action="store_true",
                    help="keep the record checks of the committed result, time only")
    args = ap.parse_args()
    path = RESULTS / "space_move_check.json"
    res = {}
    if args.skip_records and path.exists():
        res = {k: v for k, v in json.loads(path.read_text()).items() if k != "provenance"}
    else:
        table = harness.ground_truth(args.nb101)
        res = {"ranker_rows": ranker_checks(table),
               "guided_runs": guided_checks(table, Path(args.work))}
        res["all_identical"] = all(r["predictions_identical"] for r in res["ranker_rows"]) \
            and all(r["incumbent_identical"] and r["best_hash_now"] == r["best_hash_committed"]
                    for r in res["guided_runs"])
    if args.naslib_work:
        res["naslib_search_runs"] = naslib_search_checks(Path(args.naslib_work))
        res["naslib_note"] = (
            "every NASLib optimizer's run is identical but the 'mean' controls (re-mean-fixed, "
            "npenas-mean): their tie-breaking jitter is now the guided search's (a function of "
            "seed and cell, controls.TrainingMean) instead of a seeded stream; those runs were "
            "rerun at every committed budget and seed and SEARCH.md regenerated")
    if args.before:
        res["motif_timing"] = motif_timing(args.before, args.rounds)
        print(json.dumps(res["motif_timing"]["after_over_before"]))
    harness.save_json(path, res)
    print("all identical:", res.get("all_identical"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
