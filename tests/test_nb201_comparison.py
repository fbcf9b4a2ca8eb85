"""benchmarks/nb201_comparison.py without NASLib: the record takes each finished size of a
job once (a resumed job adds only its new sizes), and the report tables every predictor per
protocol with its trial count, from the record alone."""
import json

import numpy as np

from benchmarks import nb201_comparison as nc


def _evaluated(folder, job, sizes, tau):
    """What ``naslib-evaluate`` leaves in a job's folder: one line per finished size."""
    d = folder / job["dataset"] / "predictors" / job["predictor"] / str(job["trial"])
    d.mkdir(parents=True, exist_ok=True)
    lines = [{"key": f"n{n}-f5", "run": "x", "data": "y",
              "result": {"train_size": n, "kendalltau": tau + 0.0001 * n, "spearman": tau,
                         "fit_time": 0.01 * n, "query_time": 1e-4, "train_in_test": 0,
                         "test_distinct": 200, "train_distinct": n, "mae": float("nan")}}
             for n in sizes]
    (d / "evaluated_sizes.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_record_takes_each_size_once_and_report_reads_the_record(tmp_path):
    res = tmp_path / "res"
    res.mkdir()
    for pred, tau in (("xgb", 0.3), ("ranker-cell-features-trees", 0.6)):
        for trial in (0, 1):
            job = {"dataset": "cifar10", "protocol": "uniform", "predictor": pred,
                   "trial": trial}
            out = tmp_path / pred / str(trial)
            _evaluated(out, job, nc.SIZES[:2], tau + 0.01 * trial)  # killed after 2 sizes
            assert nc.record_job(res, out, job, "test machine") == 2
            _evaluated(out, job, nc.SIZES, tau + 0.01 * trial)  # resumed to the end
            assert nc.record_job(res, out, job, "test machine") == len(nc.SIZES) - 2
            assert nc.record_job(res, out, job, "test machine") == 0
    rows = [json.loads(x) for x in (res / nc.RECORD).read_text().splitlines()]
    assert len(rows) == 2 * 2 * len(nc.SIZES)
    assert all(r["machine"] == "test machine" and "mae" not in r for r in rows)
    assert nc.main(["--results", str(res), "report"]) == 0
    page = (res / "NB201.md").read_text()
    # ours first, then NASLib's; the mean over both trials at the smallest size
    trees, xgb = page.index("| ranker-cell-features-trees | 2 |"), page.index("| xgb | 2 |")
    assert trees < xgb
    tau = np.mean([0.6 + 0.0001 * nc.SIZES[0], 0.61 + 0.0001 * nc.SIZES[0]])
    assert f"+{tau:.3f} ± " in page[trees:xgb]
    assert (res / "nb201_comparison_cifar10_uniform.png").stat().st_size > 0
    summ = json.loads((res / "nb201_comparison.json").read_text())["summary"]
    assert {s["predictor"] for s in summ} == {"xgb", "ranker-cell-features-trees"}
