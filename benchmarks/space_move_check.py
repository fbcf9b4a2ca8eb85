"""Check that re-rooting the package on search spaces left every NB101 number as it was.

Regenerates, with the current package, committed NB101 records and compares them exactly:

* ranker rows of ``ranking_presets_rows.jsonl`` (each preset's predictions and Kendall tau
  on a protocol (c) split);
* guided-search runs of ``guided_runs.jsonl`` (every query's incumbent and the answer).

Writes ``benchmarks/results/space_move_check.json``:

    python -m benchmarks.space_move_check
"""
from __future__ import annotations

import json
import time
from pathlib import Path

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


def main() -> int:
    ap = harness.argument_parser(__doc__)
    harness.add_nb101_argument(ap)
    ap.add_argument("--work", default="runs/space_move_check")
    args = ap.parse_args()
    table = harness.ground_truth(args.nb101)
    res = {"ranker_rows": ranker_checks(table),
           "guided_runs": guided_checks(table, Path(args.work))}
    res["all_identical"] = all(r["predictions_identical"] for r in res["ranker_rows"]) and all(
        r["incumbent_identical"] and r["best_hash_now"] == r["best_hash_committed"]
        for r in res["guided_runs"])
    harness.save_json(RESULTS / "space_move_check.json", res)
    print("all identical:", res["all_identical"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
