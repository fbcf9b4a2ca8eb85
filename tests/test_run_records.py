"""Run records (benchmarks/run_records.py): a run saved mid-way on one machine and restored
on another continues to the result of an uninterrupted run; summaries read records."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from naslib_petridish.dish import Dish
from naslib_petridish.outer import fit_dish
from naslib_petridish.plots import read_log

from helpers import tiny  # noqa: E402  (tests/ is on sys.path)

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import run_records  # noqa: E402


@pytest.fixture(scope="module")
def pool(table):
    rows = table.sample(12, rng=5, metric="val")
    return table.cells(rows)[:9], table.metric(rows, "val")[:9]


def test_saved_unfinished_run_resumes_elsewhere_to_the_same_dish(pool, tmp_path):
    cells, acc = pool
    cfg = tiny(outer_epochs=4)
    full = fit_dish(cfg, cells, acc, out_dir=tmp_path / "full", progress=False)

    run = tmp_path / "machine1" / "paper-x-s3"
    fit_dish(cfg, cells, acc, out_dir=run, progress=False, stop_after=2)
    Path(f"{run}.time.log").write_text("Maximum resident set size (kbytes): 123\n")
    rec_dir = run_records.save(run, tmp_path / "records" / "paper-x-s3")
    rec = run_records.read_record(rec_dir)
    assert rec["finished"] is False and rec["resumable"] is True
    assert rec["outer_epochs_done"] == 2
    assert (rec_dir / "log.jsonl.gz").exists() and not (rec_dir / "log.jsonl").exists()
    assert (rec_dir / "checkpoint.pt").exists() and (rec_dir / "time.log").exists()
    # the summaries read the gzipped log of a record as they read a run's
    assert read_log(rec_dir) == read_log(run)

    # saving the same run again (further along) updates its record ...
    run_records.save(run, rec_dir)
    # ... but a record of another run is never overwritten
    other = tmp_path / "other"
    fit_dish(cfg.replace(seed=4), cells, acc, out_dir=other, progress=False, stop_after=1)
    with pytest.raises(run_records.RecordError, match="another run"):
        run_records.save(other, rec_dir)

    # "another machine": restore, then resume to the end
    run2 = tmp_path / "machine2" / "paper-x-s3"
    run_records.restore(rec_dir, run2)
    assert Path(f"{run2}.time.log").read_text().startswith("Maximum resident")
    with pytest.raises(run_records.RecordError, match="not empty"):
        run_records.restore(rec_dir, run2)
    resumed = fit_dish(cfg, cells, acc, out_dir=run2, resume=True, progress=False)
    assert torch.equal(resumed.images, full.images)
    assert [r["loss"] for r in read_log(run2)] == [r["loss"] for r in read_log(tmp_path / "full")]


def test_finished_run_record_keeps_results_not_resume_state(pool, tmp_path):
    cells, acc = pool
    run = tmp_path / "done"
    dish = fit_dish(tiny(), cells, acc, out_dir=run, progress=False)
    dish.save(run / "dish.pt")
    (run / "checkpoint.pt").unlink()
    (run / "metrics.json").write_text(json.dumps({"petridish": {"kendall_tau": 0.1}}))
    rec_dir = run_records.save(run, tmp_path / "rec")
    rec = run_records.read_record(rec_dir)
    assert rec["finished"] is True and rec["resumable"] is False
    assert sorted(p.name for p in rec_dir.iterdir()) == [
        "config.yaml", "log.jsonl.gz", "metrics.json", "record.json", "train_set.json.gz"]
    assert Dish.load(run).history == read_log(rec_dir)


def test_damaged_or_lost_records_are_refused_clearly(pool, tmp_path):
    cells, acc = pool
    run = tmp_path / "r"
    fit_dish(tiny(), cells, acc, out_dir=run, progress=False, stop_after=1)
    rec_dir = run_records.save(run, tmp_path / "rec")
    (rec_dir / "checkpoint.pt").write_bytes(b"not the checkpoint")
    with pytest.raises(run_records.RecordError, match="checkpoint.pt .*does not match"):
        run_records.restore(rec_dir, tmp_path / "new")
    lost = run_records.RECORDS / "paper-b-s0"  # a committed record of a lost run
    assert run_records.read_record(lost)["lost"] is True
    with pytest.raises(run_records.RecordError, match="lost run"):
        run_records.restore(lost, tmp_path / "new")
    with pytest.raises(run_records.RecordError, match="lost run of that name"):
        run_records.save(run, lost)
    with pytest.raises(run_records.RecordError, match="not a run directory"):
        run_records.save(tmp_path / "nowhere", tmp_path / "rec2")
    # the command line says what was wrong, without a traceback
    p = subprocess.run([sys.executable, str(BENCH / "run_records.py"), "restore", "paper-b-s0",
                        str(tmp_path / "new")], capture_output=True, text=True)
    assert p.returncode == 2 and "lost run" in p.stderr and "Traceback" not in p.stderr


def test_committed_records_reproduce_the_committed_summaries():
    """Every lost-run record carries the numbers of the summaries it came from."""
    held = json.loads((BENCH / "results" / "heldout_ranking.json").read_text())
    for label, v in held.items():
        for i, run in enumerate(v["runs"]):
            rec = run_records.read_record(BENCH.parent / run)
            if rec is None or not rec.get("lost"):
                continue
            assert rec["heldout"]["seed"] == v["seeds"][i]
            for row, r in v["rows"].items():
                assert rec["heldout"]["rows"][row] == r["values"][i], (run, row)
