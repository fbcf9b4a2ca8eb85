"""Run records (benchmarks/run_records.py) hold small summaries only, never resume state
or tensors; the benchmark summaries read records as they read run directories."""
import json
import lzma
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import run_records
from naslib_petridish import plots
from naslib_petridish.dish import Dish
from naslib_petridish.errors import RunDirError
from naslib_petridish.outer import fit_dish
from naslib_petridish.rundir import CHECKPOINT, prepare

from tests.helpers import tiny

REPO = Path(__file__).resolve().parents[1]
#: every file a record may hold, besides its log segments
SUMMARIES = {"config.yaml", "metrics.json", "predictions.json", "train_set.json.xz", "time.log",
             "record.json"}


def assert_summaries_only(rec_dir: Path) -> None:
    """No checkpoint, .npy/.pt file or other tensor, and no file over 1 MiB."""
    for f in rec_dir.iterdir():
        segment = f.name.startswith("log.e") and f.name.endswith(".jsonl.xz")
        assert f.name in SUMMARIES or segment, f
        head = f.read_bytes()[:6]
        assert head != b"\x93NUMPY" and head[:2] != b"PK", f"{f} is a tensor file"  # .npy / torch
        assert f.stat().st_size <= run_records.MAX_FILE_BYTES, f


@pytest.fixture(scope="module")
def pool(table):
    rows = table.sample(12, rng=5, metric="val")
    return table.cells(rows)[:9], table.metric(rows, "val")[:9]


def test_unfinished_run_is_saved_without_its_resume_state(pool, tmp_path):
    """A record of an unfinished run holds its summaries so far and says it cannot be
    resumed; the run goes on from its own directory and its record follows it."""
    cells, acc = pool
    cfg = tiny(outer_epochs=4)
    run = tmp_path / "machine1" / "paper-x-s3"
    fit_dish(cfg, cells, acc, out_dir=run, progress=False, stop_after=2)
    Path(f"{run}.time.log").write_text("Maximum resident set size (kbytes): 123\n")
    rec_dir = run_records.save(run, tmp_path / "records" / "paper-x-s3")
    rec = run_records.read_record(rec_dir)
    assert rec["finished"] is False and rec["resumable"] is False
    assert rec["outer_epochs_done"] == 2 and "--resume" in rec["note"]
    assert sorted(p.name for p in rec_dir.iterdir()) == [
        "config.yaml", "log.e000.jsonl.xz", "record.json", "time.log", "train_set.json.xz"]
    assert_summaries_only(rec_dir)
    assert (run / CHECKPOINT).exists()  # the resume state stays in the run directory
    # the summaries read the compressed log of a record as they read a run's
    assert run_records.read_log(rec_dir) == plots.read_log(run)

    fit_dish(cfg, cells, acc, out_dir=run, resume=True, progress=False)
    rec = run_records.read_record(run_records.save(run, rec_dir))  # the same run: updated
    assert rec["outer_epochs_done"] == 4
    assert run_records.read_log(rec_dir) == plots.read_log(run)
    # ... but a record of another run is never overwritten
    other = tmp_path / "other"
    fit_dish(cfg.replace(seed=4), cells, acc, out_dir=other, progress=False, stop_after=1)
    with pytest.raises(run_records.RecordError, match="another run"):
        run_records.save(other, rec_dir)


def test_log_segments_are_read_in_epoch_order(pool, tmp_path, monkeypatch):
    cells, acc = pool
    monkeypatch.setattr(run_records, "LOG_SEGMENT_EPOCHS", 2)
    run = tmp_path / "r"
    fit_dish(tiny(outer_epochs=6), cells, acc, out_dir=run, progress=False, stop_after=5)
    rec_dir = run_records.save(run, tmp_path / "rec")
    assert sorted(p.name for p in rec_dir.glob("log.*")) == [
        "log.e000.jsonl.xz", "log.e002.jsonl.xz", "log.e004.jsonl.xz"]
    assert run_records.read_record(rec_dir)["outer_epochs_done"] == 5
    assert run_records.read_file(rec_dir, "log.jsonl") == (run / "log.jsonl").read_bytes()
    assert [r["epoch"] for r in run_records.read_log(rec_dir)] == [0, 1, 2, 3, 4]


def test_records_of_a_held_out_query_keep_its_results_not_its_state(table, tmp_path):
    """Interrupted in its held-out query, a run's record has neither the fitted dish nor
    the answers so far; once finished, it has the metrics and predictions."""
    from naslib_petridish.evaluate import QUERY_PROGRESS, run_evaluation

    cfg = tiny(outer_epochs=2, seed=6)
    done = tmp_path / "paper-q-s6"
    run_evaluation(table, cfg, 7, done, progress=False, query_chunk=3)
    run = tmp_path / "m1" / "paper-q-s6"
    shutil.copytree(done, run)
    for f in ("metrics.json", "predictions.json"):
        (run / f).unlink()
    assert (run / QUERY_PROGRESS).exists() and (run / "dish.pt").exists()
    rec_dir = run_records.save(run, tmp_path / "rec")
    rec = run_records.read_record(rec_dir)
    assert not rec["finished"] and not rec["resumable"]
    assert set(rec["files"]) == {"config.yaml", "log.e000.jsonl.xz", "train_set.json.xz"}
    assert_summaries_only(rec_dir)

    rec = run_records.read_record(run_records.save(done, rec_dir))
    assert rec["finished"] is True
    assert set(rec["files"]) == {"config.yaml", "log.e000.jsonl.xz", "metrics.json",
                                 "predictions.json", "train_set.json.xz"}
    assert_summaries_only(rec_dir)
    assert (rec_dir / "predictions.json").read_bytes() == (done / "predictions.json").read_bytes()


def test_finished_record_unpacks_as_a_run_directory_that_cannot_resume(pool, tmp_path):
    cells, acc = pool
    run = tmp_path / "done"
    dish = fit_dish(tiny(), cells, acc, out_dir=run, progress=False)
    dish.save(run / "dish.pt")
    (run / "metrics.json").write_text(json.dumps({"petridish": {"kendall_tau": 0.1}}))
    Path(f"{run}.time.log").write_text("Maximum resident set size (kbytes): 123\n")
    assert (run / CHECKPOINT).exists() and (run / "dish.pt").exists()
    rec_dir = run_records.save(run, tmp_path / "rec")
    assert run_records.read_record(rec_dir)["finished"] is True
    assert sorted(p.name for p in rec_dir.iterdir()) == [
        "config.yaml", "log.e000.jsonl.xz", "metrics.json", "record.json", "time.log",
        "train_set.json.xz"]
    assert Dish.load(run).history == run_records.read_log(rec_dir)

    out = run_records.unpack(rec_dir, tmp_path / "unpacked" / "done")
    assert plots.read_log(out) == run_records.read_log(rec_dir)
    for name in ("config.yaml", "metrics.json", "train_set.json"):
        assert (out / name).read_bytes() == (run / name).read_bytes()
    assert Path(f"{out}.time.log").read_text().startswith("Maximum resident")
    assert not (out / CHECKPOINT).exists() and not (out / "dish.pt").exists()
    with pytest.raises(RunDirError, match=f"no {CHECKPOINT}"):
        prepare(out, resume=True, force=False)
    with pytest.raises(run_records.RecordError, match="not empty"):
        run_records.unpack(rec_dir, out)


def test_damaged_or_lost_records_are_refused_clearly(pool, tmp_path):
    cells, acc = pool
    run = tmp_path / "r"
    fit_dish(tiny(), cells, acc, out_dir=run, progress=False, stop_after=1)
    rec_dir = run_records.save(run, tmp_path / "rec")
    (rec_dir / "config.yaml").write_text("motif: Z\n")
    with pytest.raises(run_records.RecordError, match="config.yaml .*does not match"):
        run_records.unpack(rec_dir, tmp_path / "new")
    lost = run_records.RECORDS / "paper-b-s0"  # a committed record of a lost run
    assert run_records.read_record(lost)["lost"] is True
    with pytest.raises(run_records.RecordError, match="lost run"):
        run_records.unpack(lost, tmp_path / "new")
    with pytest.raises(run_records.RecordError, match="lost run of that name"):
        run_records.save(run, lost)
    with pytest.raises(run_records.RecordError, match="not a run directory"):
        run_records.save(tmp_path / "nowhere", tmp_path / "rec2")
    # the command line says what was wrong, without a traceback
    p = subprocess.run([sys.executable, "-m", "benchmarks.run_records", "unpack", "paper-b-s0",
                        str(tmp_path / "new")], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 2 and "lost run" in p.stderr and "Traceback" not in p.stderr


def test_committed_records_hold_summaries_only():
    records = sorted(p for p in run_records.RECORDS.iterdir() if p.is_dir())
    assert len(records) >= 15
    for rec_dir in records:
        assert_summaries_only(rec_dir)
        rec = run_records.read_record(rec_dir)
        if not rec.get("lost"):
            assert not rec["resumable"] and set(rec["files"]) | {"record.json"} == {
                p.name for p in rec_dir.iterdir()}
            assert run_records.read_log(rec_dir)  # every log segment decompresses
            assert all(lzma.decompress((rec_dir / n).read_bytes()) for n in rec["files"]
                       if n.endswith(".xz"))
