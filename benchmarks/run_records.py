"""Run records: the summaries of the reproduction's runs, kept in git to outlive machines.

Development machines here are not kept between sessions, and ``runs/`` is not
tracked: on 2026-11-29 the run directories behind REPORT.md were lost with the
machine that held them (their numbers survive in the committed JSON
summaries, their per-epoch logs do not).  A run *record* is the part of a run
directory that the summaries and figures need, committed under
``benchmarks/results/runs/NAME/``:

* ``config.yaml``, ``metrics.json``, ``predictions.json`` as they are, ``train_set.json``
  lzma-compressed, the ``/usr/bin/time -v`` log ``RUN_DIR.time.log`` as ``time.log``
  when it exists;
* the outer-epoch log in lzma-compressed segments of 100 outer epochs
  (``log.e000.jsonl.xz``, ``log.e100.jsonl.xz``; a full-protocol log is 2.5-2.8 MB of
  text);
* ``record.json``: what was saved, when, and the SHA-256 of every file.

A record never holds resume state (``checkpoint.pt``, ``dish.pt``, the held-out query's
progress) nor any other tensor: git keeps every version of a file forever, and records
that carried the pixels and Adam's moments of unfinished runs made up about 21 MB of the
repository's 27 MB packed history.  An unfinished run can be saved (its summaries so far),
and its record says ``"resumable": false``: the run continues only from its own run
directory.
No file of a record exceeds 1 MiB; ``save`` refuses otherwise.

``paper_experiments`` and ``heldout_ranking`` read a record directory as they read a run
directory (:func:`read_log`, :func:`read_file`); ``unpack`` writes a record back as a run
directory for tools that need one, such as ``naslib-petridish plot`` (it has no
checkpoint, so ``--resume`` refuses it).  A record of a lost run (``"lost": true``)
holds only the per-seed numbers from the summaries, with their provenance; the scripts
use those numbers and cannot redraw its curves.

    python -m benchmarks.run_records save runs/paper-b-s2    # after (or during) a run
    python -m benchmarks.run_records unpack paper-b-s2 /tmp/paper-b-s2   # for plots
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import lzma
import os
import shutil
import sys
from pathlib import Path

from naslib_petridish import plots
from naslib_petridish.rundir import CONFIG, LOG

RECORDS = Path(__file__).resolve().parent / "results" / "runs"
RECORD = "record.json"
FORMAT = "naslib-petridish-run-record"
# 3: never resume state.  Finished records of version 2 hold the same files.
FORMAT_VERSION = 3
READABLE_VERSIONS = (2, 3)
PLAIN = (CONFIG, "metrics.json", "predictions.json")
COMPRESSED = ("train_set.json",)
TIME_LOG = "time.log"
LOG_SEGMENT = "log.e{:03d}.jsonl.xz"
LOG_SEGMENT_EPOCHS = 100
# The repository keeps no file over 1 MiB; a record that would need one is refused.
MAX_FILE_BYTES = 1 << 20


class RecordError(ValueError):
    """A record or run directory that cannot be saved or unpacked as asked."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _xz(data: bytes) -> bytes:
    # lzma, not gzip: a full-protocol log shrinks to about 0.28 of its size against 0.38
    # (B seed 2 at 150 outer epochs: 2.49 MB -> 691 kB, gzip -9: 950 kB); no timestamp in
    # the container, so the same bytes give the same file and git sees no change.
    return lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)


def record_dir(name_or_dir: str | os.PathLike) -> Path:
    """``paper-b-s2`` -> ``benchmarks/results/runs/paper-b-s2``; a path stays a path."""
    p = Path(name_or_dir)
    return p if (p.is_dir() or os.sep in str(name_or_dir)) else RECORDS / p


def read_record(path: str | os.PathLike) -> dict | None:
    """The ``record.json`` of a record directory, or None for a plain run directory."""
    f = Path(path) / RECORD
    return json.loads(f.read_text()) if f.exists() else None


# --- the log: log.jsonl in a run directory, lzma segments in a record ---------------------

def _segments(path: Path) -> list[Path]:
    return sorted(path.glob(LOG_SEGMENT.replace("{:03d}", "*")),
                  key=lambda f: int(f.name.split(".")[1][1:]))  # e100 after e099


def _segments_text(path: Path) -> str:
    return "".join(lzma.decompress(f.read_bytes()).decode() for f in _segments(path))


def read_log(path: str | os.PathLike) -> list[dict]:
    """The outer-epoch records of a run directory or of a record."""
    p = Path(path)
    if (p / LOG).exists() or not _segments(p):
        return plots.read_log(p)  # a run directory; plots says what is missing
    return [json.loads(line) for line in _segments_text(p).splitlines() if line.strip()]


def read_file(path: str | os.PathLike, name: str) -> bytes | None:
    """The bytes of ``name`` (``log.jsonl``, ``train_set.json``, ...) from a run directory
    or a record directory (decompressed, the log's segments joined), or None."""
    p = Path(path)
    if (p / name).exists():
        return (p / name).read_bytes()
    if name == LOG and _segments(p):
        return _segments_text(p).encode()
    if (p / f"{name}.xz").exists():
        return lzma.decompress((p / f"{name}.xz").read_bytes())
    return None


# --- save / unpack -------------------------------------------------------------------------

def save(run_dir: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Copy the record of ``run_dir`` to ``dest`` (default ``RECORDS/<run dir name>``).

    Saving the same run again (same ``config.yaml``) replaces its record: that is
    how an unfinished run's summaries move forward.  A record of another run at
    ``dest`` is never overwritten."""
    run = Path(run_dir)
    if not (run / CONFIG).exists():
        raise RecordError(f"{run} is not a run directory (no {CONFIG}): give the --out "
                          "directory of a 'naslib-petridish fit' or 'evaluate' run")
    dest = Path(dest) if dest is not None else RECORDS / run.resolve().name
    config = (run / CONFIG).read_bytes()
    old = read_record(dest) if dest.exists() else None
    if dest.exists() and any(dest.iterdir()):
        if old is not None and old.get("lost"):
            raise RecordError(f"{dest} holds the record of a lost run of that name; remove it "
                              "(git rm -r) to replace it with this run, or use --dest")
        if old is None or old.get("config_sha256") != _sha256(config):
            raise RecordError(f"{dest} holds the record of another run; remove it or save "
                              "this one under another name (--dest)")
    # Only these named summaries are copied: whatever else the run directory holds
    # (checkpoint.pt, dish.pt, query_progress.jsonl) stays out of git.
    files = {n: (run / n).read_bytes() for n in PLAIN if (run / n).exists()}
    files.update({f"{n}.xz": _xz((run / n).read_bytes()) for n in COMPRESSED
                  if (run / n).exists()})
    time_log = Path(f"{run}.time.log")
    if time_log.exists():
        files[TIME_LOG] = time_log.read_bytes()
    log = (run / LOG).read_text() if (run / LOG).exists() else ""
    lines = [line + "\n" for line in log.splitlines() if line.strip()]
    for i in range(0, len(lines), LOG_SEGMENT_EPOCHS):
        files[LOG_SEGMENT.format(i)] = _xz("".join(lines[i:i + LOG_SEGMENT_EPOCHS]).encode())
    big = [f"{n} ({len(b) / 2**20:.2f} MiB)" for n, b in files.items() if len(b) > MAX_FILE_BYTES]
    if big:
        raise RecordError(f"{run}: {', '.join(big)} would exceed the repository's limit of "
                          "1 MiB per file; the record was not written")
    finished = (run / "metrics.json").exists()
    rec = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "run": run.resolve().name,
        "saved_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "finished": finished, "outer_epochs_done": len(lines), "resumable": False,
        "config_sha256": _sha256(config),
        "files": {n: _sha256(b) for n, b in sorted(files.items())},
    }
    if not finished:
        rec["note"] = (f"no metrics.json yet (an unfinished or fit-only run): its summaries so "
                       f"far; records keep no resume state, continue it from its run "
                       f"directory ({run}) with --resume")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for n, b in files.items():
        (tmp / n).write_bytes(b)
    (tmp / RECORD).write_text(json.dumps(rec, indent=1) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest


def unpack(record: str | os.PathLike, run_dir: str | os.PathLike) -> Path:
    """Write a record's summaries into a new directory laid out as a run directory
    (``config.yaml``, ``log.jsonl``, ...) for tools that read one; it cannot be resumed."""
    src, run = record_dir(record), Path(run_dir)
    rec = read_record(src)
    if rec is None:
        raise RecordError(f"{src} is not a run record (no {RECORD}); records live in {RECORDS}")
    if rec.get("lost"):
        raise RecordError(f"{src} is the record of a lost run: it has numbers, not a run to "
                          "unpack")
    if rec.get("format_version") not in READABLE_VERSIONS:
        raise RecordError(f"{src}: record format {rec.get('format_version')}, this script reads "
                          f"{', '.join(map(str, READABLE_VERSIONS))}; use the commit that wrote it")
    if run.exists() and any(run.iterdir()):
        raise RecordError(f"{run} already exists and is not empty: unpack into a new directory")
    stored = {}
    for n, digest in rec["files"].items():
        f = src / n
        b = f.read_bytes() if f.is_file() else None
        if b is None or _sha256(b) != digest:
            raise RecordError(f"{src}: {n} is missing or does not match record.json "
                              "(a damaged record)")
        stored[n] = b
    out = {n: b for n, b in stored.items() if n in PLAIN}
    out.update({n[:-3]: lzma.decompress(b) for n, b in stored.items()
                if n.endswith(".xz") and n[:-3] in COMPRESSED})
    out[LOG] = _segments_text(src).encode()
    run.mkdir(parents=True, exist_ok=True)
    for n, b in out.items():
        (run / n).write_bytes(b)
    if TIME_LOG in stored:
        Path(f"{run}.time.log").write_bytes(stored[TIME_LOG])
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_records",
                                 description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save", help="copy a run directory's record into benchmarks/results/runs")
    s.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    s.add_argument("--dest", help="record directory (one run only; default: "
                                  "benchmarks/results/runs/<name of RUN_DIR>)")
    u = sub.add_parser("unpack", help="write a record's summaries as a run directory (for "
                                      "naslib-petridish plot; not resumable)")
    u.add_argument("record", help="record name (e.g. paper-b-s2) or directory")
    u.add_argument("run_dir", metavar="RUN_DIR")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "save":
            if args.dest and len(args.run_dirs) > 1:
                ap.error("--dest takes one RUN_DIR")
            for d in args.run_dirs:
                out = save(d, args.dest)
                rec = read_record(out)
                state = "finished" if rec["finished"] else (
                    f"unfinished, {rec['outer_epochs_done']} outer epochs; resume it from {d}")
                print(f"saved {d} -> {out} ({state})")
        else:
            print(f"unpacked {unpack(args.record, args.run_dir)} (summaries only)")
    except (RecordError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
