"""Keep the reproduction's runs in the repository, so that they outlive the machine.

Development machines here are not kept between sessions, and ``runs/`` is not
tracked: on 2026-11-29 the run directories behind REPORT.md were lost with the
machine that held them (their numbers survive in the committed JSON
summaries, their per-epoch logs do not).  A run *record* is the part of a run
directory that the summaries need, committed under
``benchmarks/results/runs/NAME/``:

* ``config.yaml``, ``metrics.json``, ``predictions.json`` as they are, ``train_set.json``
  lzma-compressed, the ``/usr/bin/time -v`` log ``RUN_DIR.time.log`` as ``time.log``
  when it exists;
* the outer-epoch log in lzma-compressed segments of 100 outer epochs
  (``log.e000.jsonl.xz``, ``log.e100.jsonl.xz``; a full-protocol log is 2.5-2.8 MB of
  text);
* while the run is unfinished (no ``metrics.json`` yet), also what ``--resume``
  continues from: the fit's ``checkpoint.pt``, or ``dish.pt`` and
  ``query_progress.jsonl`` once the held-out query has begun, so that a long run goes
  on in a later session on another machine.  The ``.pt`` file is kept as JSON plus one
  ``.npy`` file per large tensor (the pixels, Adam's moments) without its history,
  which is the log; ``restore`` rebuilds it;
* ``record.json``: what was saved, when, and the SHA-256 of every file.

No file of a record exceeds 1 MiB (the repository's limit); ``save`` refuses otherwise.
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
import hashlib
import io
import json
import lzma
import os
import shutil
import sys
from pathlib import Path

from naslib_petridish.rundir import LOG
from naslib_petridish.plots import LOG_SEGMENT, LOG_SEGMENT_EPOCHS, read_log_text

RECORDS = Path(__file__).resolve().parent / "results" / "runs"
RECORD = "record.json"
FORMAT = "naslib-petridish-run-record"
FORMAT_VERSION = 2
PLAIN = ("config.yaml", "metrics.json", "predictions.json")
COMPRESSED = ("train_set.json",)
QUERY_PROGRESS = "query_progress.jsonl"
# The repository keeps no file over 1 MiB; a record that would need one is refused.
MAX_FILE_BYTES = 1 << 20
# Tensors with at least this many elements go to .npy files, smaller ones into JSON.
NPY_MIN_ELEMENTS = 1024


class RecordError(ValueError):
    """A record or run directory that cannot be saved or restored as asked."""


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


# --- torch resume state <-> JSON + .npy files -------------------------------------------
# checkpoint.pt and dish.pt hold the dish's pixels (and Adam's two moment buffers), 614 kB
# each, plus the whole outer-epoch history, which is the log again: together 2-4 MB.  A
# record keeps each large tensor as its own .npy file, the rest as JSON, and the history
# only once, as the log; restore() rebuilds the .pt file from them.  save() checks that the
# rebuilt state equals the original before it writes anything.

def _encode(obj, path: str, arrays: dict):
    import torch
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        if t.numel() >= NPY_MIN_ELEMENTS:
            arrays[f"{path}.npy"] = t
            return {"__npy__": f"{path}.npy"}
        return {"__tensor__": t.reshape(-1).tolist(), "dtype": str(t.dtype).split(".")[-1],
                "shape": list(t.shape)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{path}.{i}", arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{path}.{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, f"{path}.{k}", arrays) for k, v in obj.items()}
        if all(isinstance(k, (int, str)) for k in obj):  # e.g. an optimizer's {0: state}
            return {"__items__": [[k, _encode(v, f"{path}.{k}", arrays)] for k, v in obj.items()]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise RecordError(f"cannot keep a {type(obj).__name__} at {path} in a run record")


def _decode(obj, arrays: dict):
    import torch
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__npy__" in obj:
        return arrays[obj["__npy__"]]
    if "__tensor__" in obj:
        return torch.tensor(obj["__tensor__"], dtype=getattr(torch, obj["dtype"])).reshape(
            obj["shape"])
    if "__tuple__" in obj:
        return tuple(_decode(v, arrays) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {k: _decode(v, arrays) for k, v in obj["__items__"]}
    return {k: _decode(v, arrays) for k, v in obj.items()}


def _same(a, b) -> bool:
    import torch
    if isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and torch.equal(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


def _npy_bytes(t) -> bytes:
    import numpy as np
    buf = io.BytesIO()
    np.save(buf, t.numpy(), allow_pickle=False)
    return buf.getvalue()


def _split_state(name: str, state: dict) -> tuple[dict, str]:
    """``{file: bytes}`` of the state without its history, and the history as log text."""
    history = state.get("history") or []
    log = "".join(json.dumps(r) + "\n" for r in history)  # as outer.py writes log.jsonl
    arrays: dict = {}
    doc = _encode({**state, "history": None}, name, arrays)
    files = {f"{name}.json": (json.dumps(doc, indent=1) + "\n").encode()}
    files.update({n: _npy_bytes(t) for n, t in arrays.items()})
    rebuilt = _join_state(name, files, log)
    if not _same(rebuilt, {**state, "history": list(history)}):
        raise RecordError(f"{name}: the state does not survive the record format unchanged "
                          "(please report this); the record was not written")
    return files, log


def _join_state(name: str, files: dict, log: str) -> dict:
    import numpy as np
    import torch
    doc = json.loads(files[f"{name}.json"])
    arrays = {n: torch.from_numpy(np.load(io.BytesIO(b), allow_pickle=False))
              for n, b in files.items() if n.startswith(f"{name}.") and n.endswith(".npy")}
    state = _decode(doc, arrays)
    state["history"] = [json.loads(line) for line in log.splitlines() if line.strip()]
    return state


# --- save / read / restore -----------------------------------------------------------------

def save(run_dir: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Copy the record of ``run_dir`` to ``dest`` (default ``RECORDS/<run dir name>``).

    Saving the same run again (same ``config.yaml``) replaces its record: that is
    how an unfinished run's state moves forward.  A record of another run at
    ``dest`` is never overwritten."""
    import torch
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
        if old is None or old.get("config_sha256") != _sha256(config):
            raise RecordError(f"{dest} holds the record of another run; remove it or save "
                              "this one under another name (--dest)")
    finished = (run / "metrics.json").exists()
    files = {n: (run / n).read_bytes() for n in PLAIN if (run / n).exists()}
    files.update({f"{n}.xz": _xz((run / n).read_bytes()) for n in COMPRESSED
                  if (run / n).exists()})
    time_log = Path(f"{run}.time.log")
    if time_log.exists():
        files["time.log"] = time_log.read_bytes()
    # the resume state of an unfinished run: the fitted dish while the held-out query
    # runs, else the fit's checkpoint.  Its history is the authoritative log (log.jsonl
    # may lag it by the epoch an interruption cut short).
    state_name = None
    if not finished:
        state_name = next((n for n in ("dish.pt", "checkpoint.pt") if (run / n).exists()), None)
    if state_name is not None:
        try:
            state = torch.load(run / state_name, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged file: say which, not where torch failed
            raise RecordError(f"{run / state_name} is not readable ({type(exc).__name__}: "
                              f"{exc}); the run cannot be saved as resumable") from None
        state_files, log = _split_state(state_name, state)
        files.update(state_files)
        if state_name == "dish.pt" and (run / QUERY_PROGRESS).exists():
            files[QUERY_PROGRESS] = (run / QUERY_PROGRESS).read_bytes()
    else:
        log = (run / LOG).read_text() if (run / LOG).exists() else ""
    lines = [line + "\n" for line in log.splitlines() if line.strip()]
    for i in range(0, len(lines), LOG_SEGMENT_EPOCHS):
        files[LOG_SEGMENT.format(i)] = _xz("".join(lines[i:i + LOG_SEGMENT_EPOCHS]).encode())
    big = [f"{n} ({len(b) / 2**20:.2f} MiB)" for n, b in files.items() if len(b) > MAX_FILE_BYTES]
    if big:
        raise RecordError(f"{run}: {', '.join(big)} would exceed the repository's limit of "
                          "1 MiB per file; the record was not written")
    rec = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "run": run.resolve().name,
        "saved_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "finished": finished, "outer_epochs_done": len(lines),
        "resumable": state_name is not None, "resume_state": state_name,
        "config_sha256": _sha256(config),
        "files": {n: _sha256(b) for n, b in sorted(files.items())},
    }
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


def read_file(path: str | os.PathLike, name: str) -> bytes | None:
    """The bytes of ``name`` (``log.jsonl``, ``train_set.json``, ...) from a run directory
    or a record directory (decompressed, the log's segments joined), or None."""
    p = Path(path)
    if (p / name).exists():
        return (p / name).read_bytes()
    if name == LOG:
        try:
            return read_log_text(p).encode()
        except FileNotFoundError:
            return None
    if (p / f"{name}.xz").exists():
        return lzma.decompress((p / f"{name}.xz").read_bytes())
    return None


def restore(record: str | os.PathLike, run_dir: str | os.PathLike) -> Path:
    """Unpack a record into a new run directory that ``--resume`` continues."""
    import torch
    src, run = record_dir(record), Path(run_dir)
    rec = read_record(src)
    if rec is None:
        raise RecordError(f"{src} is not a run record (no {RECORD}); records live in {RECORDS}")
    if rec.get("lost"):
        raise RecordError(f"{src} is the record of a lost run: it has numbers, not a run to "
                          "restore")
    if rec.get("format_version") != FORMAT_VERSION:
        raise RecordError(f"{src}: record format {rec.get('format_version')}, this script reads "
                          f"{FORMAT_VERSION}; use the commit that wrote it")
    if run.exists() and any(run.iterdir()):
        raise RecordError(f"{run} already exists and is not empty: restore into a new directory")
    stored = {}
    for n, digest in rec["files"].items():
        f = src / n
        b = f.read_bytes() if f.is_file() else None
        if b is None or _sha256(b) != digest:
            raise RecordError(f"{src}: {n} is missing or does not match record.json "
                              "(a damaged record)")
        stored[n] = b
    log = read_log_text(src) if any(n.startswith("log.") for n in stored) else ""
    out = {n: b for n, b in stored.items() if n in PLAIN or n == QUERY_PROGRESS}
    out.update({n[:-3]: lzma.decompress(b) for n, b in stored.items()
                if n[:-3] in COMPRESSED and n.endswith(".xz")})
    out[LOG] = log.encode()
    state_name = rec.get("resume_state")
    run.mkdir(parents=True, exist_ok=True)
    if state_name is not None:
        buf = io.BytesIO()
        torch.save(_join_state(state_name, stored, log), buf)
        out[state_name] = buf.getvalue()
    for n, b in out.items():
        (run / n).write_bytes(b)
    if "time.log" in stored:
        Path(f"{run}.time.log").write_bytes(stored["time.log"])
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
