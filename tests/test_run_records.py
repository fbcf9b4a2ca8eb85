"""Run records (benchmarks/run_records.py): a run saved mid-way on one machine and restored
on another continues to the result of an uninterrupted run; summaries read records."""
import json
import shutil
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
    names = sorted(p.name for p in rec_dir.iterdir())
    assert "log.e000.jsonl.xz" in names and "log.jsonl" not in names and "time.log" in names
    # the checkpoint is kept as JSON plus one .npy file per large tensor, without the
    # history (that is the log), and no file of a record exceeds 1 MiB
    assert "checkpoint.pt" not in names and "checkpoint.pt.json" in names
    assert {"checkpoint.pt.images.npy", "checkpoint.pt.optimizer.state.0.exp_avg.npy",
            "checkpoint.pt.optimizer.state.0.exp_avg_sq.npy"} <= set(names)
    assert json.loads((rec_dir / "checkpoint.pt.json").read_text())["history"] is None
    assert max(p.stat().st_size for p in rec_dir.iterdir()) <= run_records.MAX_FILE_BYTES
    # the summaries read the compressed log of a record as they read a run's
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
    assert run_records._same(torch.load(run2 / "checkpoint.pt", weights_only=True),
                             torch.load(run / "checkpoint.pt", weights_only=True))
    resumed = fit_dish(cfg, cells, acc, out_dir=run2, resume=True, progress=False)
    assert torch.equal(resumed.images, full.images)
    assert [r["loss"] for r in read_log(run2)] == [r["loss"] for r in read_log(tmp_path / "full")]


def test_log_segments_and_a_log_lagging_its_checkpoint(pool, tmp_path, monkeypatch):
    """The log is kept in segments, read back in epoch order; the checkpoint's history
    wins over a log.jsonl that an interruption left one epoch short."""
    cells, acc = pool
    monkeypatch.setattr(run_records, "LOG_SEGMENT_EPOCHS", 2)
    run = tmp_path / "r"
    fit_dish(tiny(outer_epochs=6), cells, acc, out_dir=run, progress=False, stop_after=5)
    log = (run / "log.jsonl").read_text().splitlines(keepends=True)
    (run / "log.jsonl").write_text("".join(log[:4]))  # killed between checkpoint and log
    rec_dir = run_records.save(run, tmp_path / "rec")
    assert sorted(p.name for p in rec_dir.glob("log.*")) == [
        "log.e000.jsonl.xz", "log.e002.jsonl.xz", "log.e004.jsonl.xz"]
    assert run_records.read_record(rec_dir)["outer_epochs_done"] == 5
    assert run_records.read_file(rec_dir, "log.jsonl").decode() == "".join(log)
    assert [r["epoch"] for r in read_log(rec_dir)] == [0, 1, 2, 3, 4]


def test_record_of_an_interrupted_held_out_query_resumes_it(table, tmp_path):
    """A run saved while its held-out query runs keeps the fitted dish and the answers so
    far; restored elsewhere, the query reuses them and ends with the uninterrupted result."""
    from naslib_petridish.evaluate import QUERY_PROGRESS, run_evaluation

    cfg = tiny(outer_epochs=2, seed=6)
    a = tmp_path / "a"
    run_evaluation(table, cfg, 7, a, progress=False, query_chunk=3)
    preds_a = json.loads((a / "predictions.json").read_text())
    run = tmp_path / "m1" / "paper-q-s6"
    shutil.copytree(a, run)
    for f in ("metrics.json", "predictions.json"):
        (run / f).unlink()
    head, *recs = (a / QUERY_PROGRESS).read_text().splitlines()
    first = json.loads(recs[0])
    first["score"] = 0.123456  # an answer that must be reused, not recomputed
    (run / QUERY_PROGRESS).write_text("\n".join([head, json.dumps(first), recs[1]]) + "\n")
    rec_dir = run_records.save(run, tmp_path / "rec")
    rec = run_records.read_record(rec_dir)
    assert rec["resume_state"] == "dish.pt" and not rec["finished"]
    assert "dish.pt.json" in rec["files"] and QUERY_PROGRESS in rec["files"]

    run2 = tmp_path / "m2" / "paper-q-s6"
    run_records.restore(rec_dir, run2)
    restored, original = Dish.load(run2 / "dish.pt"), Dish.load(a / "dish.pt")
    assert torch.equal(restored.images, original.images)
    assert restored.calibration == original.calibration and restored.history == original.history
    run_evaluation(table, cfg, 7, run2, resume=True, progress=False, query_chunk=3)
    preds = json.loads((run2 / "predictions.json").read_text())
    assert [p["hash"] for p in preds] == [p["hash"] for p in preds_a]
    for pa, pb in zip(preds_a, preds):
        assert pb["score"] == (0.123456 if pa["hash"] == first["hash"] else pa["score"])
    assert run_records.read_record(run_records.save(run2, rec_dir))["finished"] is True


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
        "config.yaml", "log.e000.jsonl.xz", "metrics.json", "record.json", "train_set.json.xz"]
    assert Dish.load(run).history == read_log(rec_dir)


def test_damaged_or_lost_records_are_refused_clearly(pool, tmp_path):
    cells, acc = pool
    run = tmp_path / "r"
    fit_dish(tiny(), cells, acc, out_dir=run, progress=False, stop_after=1)
    rec_dir = run_records.save(run, tmp_path / "rec")
    (rec_dir / "checkpoint.pt.images.npy").write_bytes(b"not the pixels")
    with pytest.raises(run_records.RecordError, match="checkpoint.pt.images.npy .*does not match"):
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
