"""Run directories and worker processes under concurrency, kills and odd arguments: real
second processes, real SIGKILL and SIGINT, and the one-line errors of bad input."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from naslib_petridish import rundir
from naslib_petridish.cli import main
from naslib_petridish.dish import Dish
from naslib_petridish.errors import (InvalidCellError, OutputExistsError, PetriDishError,
                                     UsageError, WorkerError)
from naslib_petridish.predictor import SyntheticPetriDishPredictor
from naslib_petridish.runner import WORKER_MEMORY_MB, check_workers, default_workers
from tests.helpers import tiny

TINY = ["--preset", "quick", "--set", "dish_size=40", "--set", "inner_epochs=2",
        "--set", "outer_batch=3", "--set", "calibration_size=3", "--train-size", "9"]


def _sigint_default() -> None:
    """Let the child take SIGINT as Ctrl-C even where this process was started with SIGINT
    ignored (a shell's background job, some CI runners): Python keeps an inherited SIG_IGN."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli(table_path, *args, **kw):
    """Start the command line in a process of its own."""
    env = {**os.environ, "NASLIB_PETRIDISH_NB101": table_path, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "naslib_petridish.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_default, **kw)


def wait_for(cond, timeout=60.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def log_lines(run: Path) -> int:
    p = run / "log.jsonl"
    return len(p.read_text().splitlines()) if p.exists() else 0


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# -- 1. one process per run directory ------------------------------------------------------
def test_second_process_on_a_run_directory_is_refused_and_a_kill_leaves_no_stale_lock(
        table_path, tmp_path, capsys):
    run = tmp_path / "run"
    slow = TINY + ["--set", "outer_epochs=400", "--workers", "1", "--seed", "5"]
    holder = cli(table_path, "-q", "fit", "--out", str(run), *slow)
    try:
        wait_for(lambda: log_lines(run) >= 1, what="the first outer epoch")
        # a resume and a fresh run on the same directory: refused, naming the holder
        for extra in (["--resume"], ["--force"]):
            assert main(["-q", "fit", "--out", str(run), "--nb101", table_path, *slow, *extra]) == 2
            err = capsys.readouterr().err.strip()
            assert err.count("\n") == 0 and f"is in use by process {holder.pid}" in err
            assert "fit --out" in err
        os.kill(holder.pid, signal.SIGKILL)  # as the OOM killer does
        holder.wait(10)
    finally:
        holder.kill()
    # the kernel dropped the lock with its holder: the run resumes at once
    done = log_lines(run)
    assert main(["-q", "fit", "--out", str(run), "--nb101", table_path, *TINY,
                 "--set", "outer_epochs=" + str(done + 2), "--workers", "1", "--seed", "5",
                 "--resume"]) == 2  # another outer_epochs is another run ...
    assert "differs in ['outer_epochs']" in capsys.readouterr().err
    with rundir.hold(run):  # ... but the lock is free
        assert rundir.is_held(run)


def test_two_fresh_runs_racing_for_one_directory(table_path, tmp_path):
    run = tmp_path / "race"
    args = ["-q", "fit", "--out", str(run), *TINY, "--set", "outer_epochs=2", "--workers", "1"]
    procs = [cli(table_path, *args) for _ in range(2)]
    results = [(p.wait(120), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    loser = next(err for rc, err in results if rc == 2)
    assert "is in use by process" in loser or "already exists" in loser
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [0, 1]


def test_a_holder_that_has_not_yet_written_its_line_is_still_named(tmp_path):
    """The loser of a race can open the lock file between the winner's flock and its
    write; it waits for the line instead of reporting 'another process'."""
    import threading
    lock = tmp_path / rundir.LOCK
    lock.write_text("")
    fd = os.open(lock, os.O_RDONLY)
    line = json.dumps({"pid": 4242, "host": "h", "command": "fit", "since": "now"})
    writer = threading.Timer(0.2, lock.write_text, args=(line + "\n",))
    writer.start()
    try:
        assert rundir._read_holder(fd).startswith("process 4242 on h")
    finally:
        writer.join()
        os.close(fd)
    empty = tmp_path / "empty"
    empty.write_text("")
    fd = os.open(empty, os.O_RDONLY)
    try:
        assert rundir._read_holder(fd, patience=0.1) == "another process"
    finally:
        os.close(fd)


def test_lock_is_reentrant_in_one_process_and_exclusive_across(tmp_path):
    d = tmp_path / "d"
    with rundir.hold(d), rundir.hold(d):  # an evaluation holds it while its fit takes it
        assert rundir.is_held(d)
        probe = subprocess.run(
            [sys.executable, "-c", "import sys; from naslib_petridish import rundir\n"
             "try:\n  rundir.hold(sys.argv[1]).__enter__()\n"
             "except Exception as e:\n  print(type(e).__name__, e)", str(d)],
            capture_output=True, text=True, timeout=60)
        assert (probe.stdout.startswith("RunLockedError")
                and f"process {os.getpid()}" in probe.stdout)
    assert not rundir.is_held(d)
    (tmp_path / "file").write_text("x")
    with pytest.raises(PetriDishError, match="is a file, not a directory"):
        with rundir.hold(tmp_path / "file"):
            pass


# -- 2. workers die with their parent ----------------------------------------------------
def test_workers_exit_when_the_main_process_is_killed(table_path, tmp_path):
    run = tmp_path / "run"
    proc = cli(table_path, "-q", "fit", "--out", str(run), *TINY, "--set", "outer_epochs=400",
               "--set", "inner_epochs=20", "--workers", "2")
    try:
        wait_for(lambda: len(children(proc.pid)) >= 3, what="the workers and resource tracker")
        wait_for(lambda: log_lines(run) >= 1, what="an outer epoch")
        kids = children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        wait_for(lambda: not any(alive(k) for k in kids), timeout=15,
                 what=f"workers {kids} to exit after their parent was killed")
    finally:
        proc.kill()


# -- 3. worker counts the machine cannot hold ----------------------------------------------
def test_worker_counts_are_checked_against_memory_and_cores(caplog):
    with pytest.raises(WorkerError, match=f"{WORKER_MEMORY_MB} MB per worker process"):
        check_workers(100_000)
    with pytest.raises(WorkerError, match="non-negative"):
        check_workers(-1)
    assert 1 <= check_workers(0) <= default_workers()
    with caplog.at_level("WARNING", logger="naslib_petridish"):
        assert check_workers(default_workers() + 1) == default_workers() + 1
    assert "motifs will share cores" in caplog.text


def test_cli_refuses_too_many_workers_before_any_work(table_path, tmp_path, capsys):
    assert main(["-q", "fit", "--out", str(tmp_path / "w"), "--nb101", table_path, *TINY,
                 "--workers", "100000"]) == 2
    err = capsys.readouterr().err
    assert "needs about" in err and err.strip().count("\n") == 0
    assert not (tmp_path / "w").exists()
    helptext = subprocess.run([sys.executable, "-m", "naslib_petridish.cli", "fit", "--help"],
                              capture_output=True, text=True).stdout
    assert f"about {WORKER_MEMORY_MB} MB of memory" in " ".join(helptext.split())


# -- 4. sizes checked before the work --------------------------------------------------------
@pytest.mark.parametrize("size", ["0", "1", "-5"])
def test_evaluate_test_size_is_checked_first(size, table_path, tmp_path, capsys):
    t0 = time.perf_counter()
    assert main(["-q", "evaluate", "--out", str(tmp_path / "e"), "--nb101", table_path, *TINY,
                 "--test-size", size]) == 2
    err = capsys.readouterr().err.strip()
    assert "--test-size must be an integer of at least 3" in err and err.count("\n") == 0
    assert not (tmp_path / "e").exists() and time.perf_counter() - t0 < 5


def test_undefined_correlations_print_as_undefined():
    from naslib_petridish.evaluate import format_metrics

    undef = {"kendall_tau": 0.0, "spearman": 0.0, "pearson": 0.0, "defined": False}
    ok = {"kendall_tau": 0.5, "spearman": 0.6, "pearson": 0.7, "defined": True}
    text = format_metrics({"test_size": 3, "train_size": 9, "metric": "val",
                           "metric_epochs": 108, "petridish": undef,
                           "petridish_raw_score": undef, "petridish_motif_max_acc": ok,
                           "baseline_params": ok, "baseline_random": ok, "fit_seconds": 1.0,
                           "query_seconds_per_arch": 0.1, "machine": "m"})
    line = next(x for x in text.splitlines() if x.strip().startswith("petridish "))
    assert "undefined" in line and "+0.000" not in line
    assert "+0.500" in text


# -- 5. output paths checked before the work, results kept when the write fails ---------------
def test_query_output_is_checked_before_training(tmp_path, capsys):
    Dish.create(tiny()).save(tmp_path / "dish.pt")
    archs = tmp_path / "a.json"
    archs.write_text(json.dumps([{"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"]}]))
    for out, needle in ((tmp_path / "missing" / "p.json", "folder"),
                        (tmp_path, "is a directory")):
        assert main(["-q", "query", "--dish", str(tmp_path), "--archs", str(archs),
                     "--output", str(out)]) == 2
        assert needle in capsys.readouterr().err
    archs.write_text("[]")
    assert main(["-q", "query", "--dish", str(tmp_path), "--archs", str(archs)]) == 2
    assert "holds an empty list: no architectures" in capsys.readouterr().err


def test_results_are_kept_when_the_final_write_fails(tmp_path):
    where, failed = rundir.write_or_keep(tmp_path / "gone" / "p.json", "[1]", tmp_path)
    assert isinstance(failed, OSError) and where.parent == tmp_path
    assert where.read_text() == "[1]" and where.name.startswith("p-")
    where, failed = rundir.write_or_keep(tmp_path / "ok.json", "[2]", tmp_path)
    assert failed is None and where.read_text() == "[2]"


# -- 6. one-line errors instead of tracebacks ---------------------------------------------------
def test_fit_out_naming_a_file_is_one_line(table_path, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["-q", "fit", "--out", str(f), "--nb101", table_path, *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a file; give a directory" in err and err.count("\n") == 0


def test_api_misuse_raises_package_errors(table, tmp_path):
    rows = table.sample(9, rng=1, metric="val")
    p = SyntheticPetriDishPredictor(config=tiny(outer_epochs=1))
    try:
        p.fit(table.cells(rows), table.metric(rows, "val"))
        with pytest.raises(InvalidCellError, match="expected a list of architectures, got "
                                                   "NoneType"):
            p.query(None)
        with pytest.raises(InvalidCellError, match="wrap a single architecture in a list"):
            p.query(table.cell(rows[0]))
        (tmp_path / "f").write_text("x")
        with pytest.raises(UsageError, match="is a file"):
            p.save(tmp_path / "f")
        p.save(tmp_path / "d")
        with pytest.raises(OutputExistsError, match="overwrite=True"):
            p.save(tmp_path / "d")
        p.save(tmp_path / "d", overwrite=True)
    finally:
        p.close()


def test_random_bytes_are_not_a_dish_or_table_in_one_line(tmp_path, capsys):
    junk = np.random.default_rng(0).bytes(4096)
    (tmp_path / "dish.pt").write_bytes(junk)
    (tmp_path / "t.npz").write_bytes(b"PK" + junk)
    archs = tmp_path / "a.json"
    archs.write_text(json.dumps([{"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"]}]))
    assert main(["-q", "query", "--dish", str(tmp_path), "--archs", str(archs)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a dish file of naslib-petridish" in err and err.count("\n") == 0
    assert "weights_only" not in err
    assert main(["info", "--nb101", str(tmp_path / "t.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not an nb101-table-v1 .npz file" in err and err.count("\n") == 0


# -- 7. smaller things ---------------------------------------------------------------------------
def test_quiet_flag_after_the_subcommand(table_path, capsys):
    assert main(["info", "--nb101", table_path, "-q"]) == 0
    assert main(["presets", "-q"]) == 0
    assert "untrained-dish-tse" in capsys.readouterr().out


def test_ctrl_c_names_the_resume_command_and_resuming_gives_the_same_dish(table_path, tmp_path):
    args = TINY + ["--set", "outer_epochs=6", "--workers", "1", "--seed", "2"]
    ref = cli(table_path, "-q", "fit", "--out", str(tmp_path / "ref"), *args)
    assert ref.wait(120) == 0, ref.stderr.read()
    run = tmp_path / "run"
    proc = cli(table_path, "-q", "fit", "--out", str(run), *args)
    wait_for(lambda: log_lines(run) >= 2, what="two outer epochs")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    err = proc.stderr.read().strip().splitlines()[-1]
    assert "interrupted" in err and "--resume" in err and f"--out {run}" in err
    again = cli(table_path, *err.split("continue with: naslib-petridish ", 1)[1].split())
    assert again.wait(120) == 0, again.stderr.read()
    assert torch.equal(Dish.load(run).images, Dish.load(tmp_path / "ref").images)


def test_evaluate_shows_one_query_progress_bar(table, tmp_path, capsys):
    from naslib_petridish.evaluate import run_evaluation

    run_evaluation(table, tiny(outer_epochs=1), 7, tmp_path / "e", progress=True, query_chunk=3)
    err = capsys.readouterr().err
    assert err.count("query:   0%") <= 1 and "7/7" in err


def test_evaluate_resume_refuses_a_dish_fitted_with_another_config(table, table_path, tmp_path,
                                                                   capsys):
    run = tmp_path / "run"
    base = ["-q", "--nb101", table_path, "--out", str(run)] + TINY + ["--set", "outer_epochs=1",
                                                                      "--workers", "1"]
    assert main(["fit", *base, "--seed", "1"]) == 0
    assert main(["evaluate", *base, "--seed", "2", "--test-size", "5", "--resume",
                 "--no-plot"]) == 2
    err = capsys.readouterr().err.strip()
    assert "differs in ['seed']" in err and err.count("\n") == 0
    assert not (run / "metrics.json").exists()


def test_predictor_resume_continues_a_killed_fit_and_reuses_a_finished_one(table, tmp_path):
    """NASLib's evaluator calls fit(xtrain, ytrain) only: with ``resume=True`` on the
    predictor, a fit killed after its first outer epoch continues from its checkpoint to
    the dish an uninterrupted fit makes, and a later fit reuses the finished dish."""
    from naslib_petridish.outer import fit_dish

    rows = table.sample(9, rng=2, metric="val")
    cells, acc = table.cells(rows), table.metric(rows, "val")
    cfg = tiny(outer_epochs=3)
    whole = SyntheticPetriDishPredictor(config=cfg)
    try:
        whole.fit(cells, acc)
        y_whole = whole.query(cells[:4])
    finally:
        whole.close()
    run = tmp_path / "run"
    fit_dish(cfg, cells, acc, out_dir=run, progress=False, stop_after=1)  # "killed" here
    assert (run / rundir.CHECKPOINT).exists() and not (run / rundir.DISH).exists()
    with pytest.raises(PetriDishError, match="--resume"):  # without resume: refused
        SyntheticPetriDishPredictor(config=cfg, out_dir=run).fit(cells, acc)
    p = SyntheticPetriDishPredictor(config=cfg, out_dir=run, resume=True)
    try:
        p.fit(cells, acc)
        assert p.fit_start == "resumed at epoch 1"
        torch.testing.assert_close(p.dish.images, whole.dish.images, rtol=0, atol=0)
        np.testing.assert_array_equal(p.query(cells[:4]), y_whole)
    finally:
        p.close()
    again = SyntheticPetriDishPredictor(config=cfg.replace(workers=2), out_dir=run, resume=True)
    try:
        again.fit(cells, acc)
        assert again.fit_start == "reused" and again.motifs_trained == 0
        assert again.fit_seconds == pytest.approx(p.fit_seconds)
        np.testing.assert_array_equal(again.query(cells[:4]), y_whole)
    finally:
        again.close()
    with pytest.raises(PetriDishError, match="other training architectures"):
        SyntheticPetriDishPredictor(config=cfg, out_dir=run, resume=True).fit(
            cells[::-1], acc[::-1])
    with pytest.raises(PetriDishError, match="other settings.*inner_epochs"):
        SyntheticPetriDishPredictor(config=cfg.replace(inner_epochs=3), out_dir=run,
                                    resume=True).fit(cells, acc)


def test_append_line_after_a_line_cut_short_by_a_kill(tmp_path):
    from naslib_petridish import rundir
    p = tmp_path / "log.jsonl"
    rundir.append_line(p, {"epoch": 0})
    with open(p, "a") as f:
        f.write('{"epoch": 1, "lo')                  # killed while writing
    rundir.append_line(p, {"epoch": 2})
    lines = p.read_text().splitlines()
    assert lines[0] == '{"epoch": 0}' and lines[2] == '{"epoch": 2}'
    assert p.read_text().endswith("\n")
