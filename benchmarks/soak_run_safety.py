"""Soak check of run safety: kill (SIGKILL, SIGINT) and resume small fits many times, race
processes on one run directory, and count what went wrong.

Each run is a small ``naslib-petridish fit`` (motif C, 40 images, 40 outer epochs of 3
motifs, 6 inner epochs, 2 worker processes, about 25 s) started in a process of its own,
killed at a random moment
(during start-up, an outer epoch or the calibration) with SIGKILL or SIGINT, checked, and
resumed with ``--resume`` until it finishes; its dish must be bitwise equal to that of an
uninterrupted run with the same seed.  After every kill the worker processes of the killed
process must be gone within ``--orphan-wait`` seconds, and the log must hold whole JSON
lines of consecutive outer epochs (a last line cut short by the kill counts as torn; the
resume rewrites it).  The races start two fresh fits on one directory at once (exactly one
may run) and two ``--resume`` of one interrupted fit at once (exactly one may run, and the
finished log has each epoch once).

    python -m benchmarks.soak_run_safety --runs 4 --kills-per-run 5 --races 4

writes ``soak_run_safety.json`` to ``benchmarks/results``.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks import harness
from naslib_petridish.dish import Dish

OUTER_EPOCHS = 40
FIT = ["--preset", "quick", "--set", "dish_size=40", "--set", "inner_epochs=6",
       "--set", f"outer_epochs={OUTER_EPOCHS}", "--set", "outer_batch=3",
       "--set", "calibration_size=3", "--train-size", "9", "--workers", "2"]


def _sigint_default() -> None:
    """Let the child take SIGINT as Ctrl-C even where this process was started with SIGINT
    ignored (a shell's background job, some CI runners): Python keeps an inherited SIG_IGN."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(nb101: str, out: Path, seed: int, resume: bool = False) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "naslib_petridish.cli", "-q", "fit", "--nb101", nb101,
           "--out", str(out), "--seed", str(seed), *FIT] + (["--resume"] if resume else [])
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_sigint_default)


def descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (workers and the resource tracker), from /proc."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def check_log(run: Path, finished: bool) -> tuple[bool, bool]:
    """(corrupted, torn): whole lines must be JSON records of epochs 0, 1, 2, ... (each
    once); a last line without its newline is torn (cut by the kill)."""
    p = run / "log.jsonl"
    if not p.exists():
        return False, False
    text = p.read_text()
    lines = text.split("\n")
    torn = bool(lines[-1])  # text after the last newline
    try:
        epochs = [json.loads(line)["epoch"] for line in lines[:-1]]
    except (ValueError, KeyError):
        return True, torn
    bad = epochs != list(range(len(epochs))) or (finished and (torn or len(epochs) != OUTER_EPOCHS))
    return bad, torn


#: how a run is stopped: SIGKILL (the OOM killer), SIGINT to the main process, and SIGINT to
#: the whole process group (Ctrl-C in a terminal, which reaches the workers too)
STOPS = ("SIGKILL", "SIGINT", "SIGINT-group")


def kill_and_check(proc: subprocess.Popen, how: str, orphan_wait: float) -> dict:
    kids = descendants(proc.pid)
    if how == "SIGINT-group":
        os.killpg(proc.pid, signal.SIGINT)  # the run is a session (and group) leader
    else:
        proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
    try:
        rc = proc.wait(60)
    except subprocess.TimeoutExpired:  # SIGINT not honoured: that is a failure too
        proc.kill()
        rc = proc.wait()
    end = time.monotonic() + orphan_wait
    while time.monotonic() < end and any(alive(k) for k in kids):
        time.sleep(0.1)
    left = [k for k in kids if alive(k)]
    for k in left:  # do not leave them for the next cycle
        try:
            os.kill(k, signal.SIGKILL)
        except ProcessLookupError:
            pass
    err = proc.stderr.read()
    return {"signal": how, "rc": rc, "children": len(kids), "orphans": len(left),
            "resume_hint": how == "SIGKILL" or rc == 0 or "--resume" in err,
            "traceback": "Traceback" in err,
            **({"stderr_tail": err[-600:]} if "Traceback" in err else {})}


def one_run(nb101: str, root: Path, seed: int, kills: int, orphan_wait: float,
            rng: random.Random, reference: Dish) -> dict:
    run = root / f"run-s{seed}"
    cycles, corrupted, torn, resumed = [], 0, 0, False
    while True:
        proc = start(nb101, run, seed, resume=resumed)
        if len(cycles) < kills:
            time.sleep(rng.uniform(1.0, 10.0))  # start-up (~3 s), outer epochs, calibration
            if proc.poll() is None:
                c = kill_and_check(proc, rng.choice(STOPS), orphan_wait)
                bad, t = check_log(run, finished=False)
                corrupted += bad
                torn += t
                c.update(log_corrupted=bad, log_torn=t)
                cycles.append(c)
                if (run / "dish.pt").exists() and not (run / "checkpoint.pt").exists():
                    break  # killed after the fit had finished
                resumed = True  # a resume before the first checkpoint starts the run again
                continue
        rc = proc.wait(600)
        if rc != 0:
            return {"seed": seed, "completed": False, "error": proc.stderr.read()[-500:],
                    "cycles": cycles}
        break
    bad, _ = check_log(run, finished=True)
    corrupted += bad
    equal = torch.equal(Dish.load(run).images, reference.images)
    return {"seed": seed, "completed": True, "dish_bitwise_equal": bool(equal),
            "kills": len(cycles), "orphans": sum(c["orphans"] for c in cycles),
            "corrupted_logs": corrupted, "torn_lines_repaired": torn,
            "sigint_without_resume_hint": sum(not c["resume_hint"] for c in cycles),
            "tracebacks": sum(c["traceback"] for c in cycles),
            "cycles": cycles}


def race(nb101: str, root: Path, k: int, seed: int, resume_race: bool) -> dict:
    run = root / f"race-{'resume' if resume_race else 'fresh'}-{k}"
    if resume_race:  # an interrupted fit first
        p = start(nb101, run, seed)
        while not (run / "log.jsonl").exists() or not (run / "log.jsonl").read_text():
            time.sleep(0.1)
        p.kill()
        p.wait()
    procs = [start(nb101, run, seed, resume=resume_race) for _ in range(2)]
    rcs = [p.wait(600) for p in procs]
    errs = [p.stderr.read() for p in procs]
    refused = [e for rc, e in zip(rcs, errs) if rc == 2]
    bad, _ = check_log(run, finished=0 in rcs)
    return {"kind": "resume" if resume_race else "fresh", "return_codes": rcs,
            "exactly_one_ran": sorted(rcs) == [0, 2],
            "refusal_names_holder": all("is in use by process" in e or "already exists" in e
                                        for e in refused),
            "log_corrupted": bad}


def main() -> None:
    ap = harness.argument_parser(__doc__)
    harness.add_nb101_argument(ap)
    ap.add_argument("--runs", type=int, default=4, help="fits, each killed and resumed")
    ap.add_argument("--kills-per-run", type=int, default=5)
    ap.add_argument("--races", type=int, default=4, help="races of each kind")
    ap.add_argument("--orphan-wait", type=float, default=5.0,
                    help="seconds the workers of a killed process may take to exit")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    nb101 = args.nb101 or os.environ.get("NASLIB_PETRIDISH_NB101")
    if not nb101:
        ap.error("give --nb101 or set NASLIB_PETRIDISH_NB101")
    rng = random.Random(args.seed)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        root = Path(tmp)
        runs = []
        for i in range(args.runs):
            seed = args.seed + i
            ref = start(nb101, root / f"ref-s{seed}", seed)
            if ref.wait(600) != 0:
                sys.exit(f"the uninterrupted reference run failed: {ref.stderr.read()[-500:]}")
            reference = Dish.load(root / f"ref-s{seed}")
            runs.append(one_run(nb101, root, seed, args.kills_per_run, args.orphan_wait, rng,
                                reference))
            print(json.dumps({k: v for k, v in runs[-1].items() if k != "cycles"}), flush=True)
        races = [race(nb101, root, k, args.seed, resume_race)
                 for resume_race in (False, True) for k in range(args.races)]
    summary = {
        "kill_resume_cycles": sum(r.get("kills", 0) for r in runs),
        **{f"stopped_by_{h}": sum(c["signal"] == h for r in runs for c in r["cycles"])
           for h in STOPS},
        "tracebacks_printed": sum(r.get("tracebacks", 0) for r in runs),
        "sigint_without_resume_hint": sum(r.get("sigint_without_resume_hint", 0) for r in runs),
        "runs": len(runs), "runs_completed": sum(r["completed"] for r in runs),
        "dishes_bitwise_equal_to_uninterrupted": sum(r.get("dish_bitwise_equal", False)
                                                     for r in runs),
        "orphaned_processes_left": sum(r.get("orphans", 0) for r in runs),
        "corrupted_logs": sum(r.get("corrupted_logs", 0) for r in runs)
        + sum(x["log_corrupted"] for x in races),
        "torn_last_lines_repaired_on_resume": sum(r.get("torn_lines_repaired", 0) for r in runs),
        "races": len(races), "races_with_exactly_one_run": sum(x["exactly_one_ran"] for x in races),
        "refusals_naming_the_holder": sum(x["refusal_names_holder"] for x in races),
        "seconds": round(time.time() - t0, 1),
    }
    path = harness.save_json(args.results / "soak_run_safety.json",
                             {"summary": summary, "fit": FIT, "runs": runs, "races": races})
    print(json.dumps(summary, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
