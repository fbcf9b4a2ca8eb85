"""Keep the reproduction's runs in the repository, so that they outlive the machine.

Development machines here are not kept between sessions, and ``runs/`` is not
tracked: on 2026-11-29 the run directories behind REPORT.md were lost with the
machine that held them (their numbers survive in the committed JSON
summaries, their per-epoch logs do not).  A run *record* is the part of a run
directory that the summaries need, committed under
``benchmarks/results/runs/NAME/``:

* ``config.yaml``, ``metrics.json``, ``predictions.json`` as they are,
  ``log.jsonl`` and ``train_set.json`` gzipped (a full-protocol log is about
  2.8 MB of text), the ``/usr/bin/time -v`` log ``RUN_DIR.time.log`` as
  ``time.log`` when it exists;
* while the run is unfinished (no ``metrics.json`` yet), also what
  ``--resume`` continues from: ``checkpoint.pt`` (fit in progress) or
  ``dish.pt`` and ``query_progress.jsonl`` (held-out query in progress), so
  that a long run goes on in a later session on another machine;
* ``record.json``: what was saved, when, and the SHA-256 of every file.

``paper_experiments.py`` and ``heldout_ranking.py`` read a record directory
as they read a run directory.  A record of a lost run (``"lost": true``)
holds only the per-seed numbers from the summaries, with their provenance;
the scripts use those numbers and cannot redraw its curves.

    python benchmarks/run_records.py save runs/paper-b-s2           # after (or during) a run
    python benchmarks/run_records.py restore paper-b-s2 runs/paper-b-s2   # on a new machine
    naslib-petridish -q evaluate --preset paper-b --seed 2 --test-size 200 \\
        --out runs/paper-b-s2 --resume                               # then continue it
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

RECORDS = Path(__file__).resolve().parent / "results" / "runs"
RECORD = "record.json"
FORMAT = "naslib-petridish-run-record"
PLAIN = ("config.yaml", "metrics.json", "predictions.json")
GZIPPED = ("log.jsonl", "train_set.json")
RESUME_STATE = ("checkpoint.pt", "dish.pt", "query_progress.jsonl")


class RecordError(ValueError):
    """A record or run directory that cannot be saved or restored as asked."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_dir(name_or_dir: str | os.PathLike) -> Path:
    """``paper-b-s2`` -> ``benchmarks/results/runs/paper-b-s2``; a path stays a path."""
    p = Path(name_or_dir)
    return p if (p.is_dir() or os.sep in str(name_or_dir)) else RECORDS / p


def read_record(path: str | os.PathLike) -> dict | None:
    """The ``record.json`` of a record directory, or None for a plain run directory."""
    f = Path(path) / RECORD
    return json.loads(f.read_text()) if f.exists() else None


def save(run_dir: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Copy the record of ``run_dir`` to ``dest`` (default ``RECORDS/<run dir name>``).

    Saving the same run again (same ``config.yaml``) replaces its record: that is
    how an unfinished run's state moves forward.  A record of another run at
    ``dest`` is never overwritten."""
    run = Path(run_dir)
    if not (run / "config.yaml").exists():
        raise RecordError(f"{run} is not a run directory (no config.yaml): give the --out "
                          "directory of a 'naslib-petridish fit' or 'evaluate' run")
    dest = Path(dest) if dest is not None else RECORDS / run.resolve().name
    config = (run / "config.yaml").read_bytes()
    old = read_record(dest) if dest.exists() else None
    if dest.exists() and any(dest.iterdir()):
        if old is not None and old.get("lost"):
            raise RecordError(f"{dest} holds the record of a lost run of that name; remove it "
                              "(git rm -r) to replace it with this run, or use --dest")
        if old is None or old["files"].get("config.yaml") != _sha256(config):
            raise RecordError(f"{dest} holds the record of another run; remove it or save "
                              "this one under another name (--dest)")
    finished = (run / "metrics.json").exists()
    names = list(PLAIN) + list(GZIPPED) + ([] if finished else list(RESUME_STATE))
    files = {n: (run / n).read_bytes() for n in names if (run / n).exists()}
    time_log = Path(f"{run}.time.log")
    if time_log.exists():
        files["time.log"] = time_log.read_bytes()
    log = files.get("log.jsonl", b"")
    rec = {
        "format": FORMAT, "format_version": 1, "run": run.resolve().name,
        "saved_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "finished": finished,
        "outer_epochs_done": sum(1 for line in log.splitlines() if line.strip()),
        "resumable": not finished and any(n in files for n in RESUME_STATE),
        "files": {n: _sha256(b) for n, b in sorted(files.items())},
    }
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for n, b in files.items():
        if n in GZIPPED:  # mtime=0: the same bytes give the same file, so git sees no change
            (tmp / f"{n}.gz").write_bytes(gzip.compress(b, mtime=0))
        else:
            (tmp / n).write_bytes(b)
    (tmp / RECORD).write_text(json.dumps(rec, indent=1) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest


def read_file(path: str | os.PathLike, name: str) -> bytes | None:
    """The bytes of ``name`` from a run or record directory (gunzipped), or None."""
    p = Path(path)
    if (p / name).exists():
        return (p / name).read_bytes()
    if (p / f"{name}.gz").exists():
        return gzip.decompress((p / f"{name}.gz").read_bytes())
    return None


def restore(record: str | os.PathLike, run_dir: str | os.PathLike) -> Path:
    """Unpack a record into a new run directory that ``--resume`` continues."""
    src, run = record_dir(record), Path(run_dir)
    rec = read_record(src)
    if rec is None:
        raise RecordError(f"{src} is not a run record (no {RECORD}); records live in {RECORDS}")
    if rec.get("lost"):
        raise RecordError(f"{src} is the record of a lost run: it has numbers, not a run to "
                          "restore")
    if run.exists() and any(run.iterdir()):
        raise RecordError(f"{run} already exists and is not empty: restore into a new directory")
    data = {}
    for n, digest in rec["files"].items():
        b = read_file(src, n)
        if b is None or _sha256(b) != digest:
            raise RecordError(f"{src}: {n} is missing or does not match record.json "
                              "(a damaged record)")
        data[n] = b
    run.mkdir(parents=True, exist_ok=True)
    for n, b in data.items():
        if n == "time.log":
            Path(f"{run}.time.log").write_bytes(b)
        else:
            (run / n).write_bytes(b)
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save", help="copy a run directory's record into benchmarks/results/runs")
    s.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    s.add_argument("--dest", help="record directory (one run only; default: "
                                  "benchmarks/results/runs/<name of RUN_DIR>)")
    r = sub.add_parser("restore", help="unpack a record into a run directory to --resume")
    r.add_argument("record", help="record name (e.g. paper-b-s2) or directory")
    r.add_argument("run_dir", metavar="RUN_DIR")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "save":
            if args.dest and len(args.run_dirs) > 1:
                ap.error("--dest takes one RUN_DIR")
            for d in args.run_dirs:
                out = save(d, args.dest)
                rec = read_record(out)
                state = "finished" if rec["finished"] else (
                    f"unfinished, {rec['outer_epochs_done']} outer epochs"
                    + (", resumable" if rec["resumable"] else ""))
                print(f"saved {d} -> {out} ({state})")
        else:
            out = restore(args.record, args.run_dir)
            print(f"restored {out}; continue it with the same command and --resume")
    except (RecordError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
