"""Run directories: one process at a time, never overwritten by surprise.

A run directory (``fit --out DIR``, ``evaluate --out DIR``) holds a run's
config, log, checkpoint and results.  This module

* locks it: :func:`hold` takes an advisory ``flock`` on ``DIR/.lock`` for as
  long as the run works in it.  A second process is refused at once with a
  line naming the holder (pid, host, command, start time).  The kernel drops
  the lock when its holder dies, however it dies, so a crash never leaves a
  stale lock behind that would block ``--resume``.  The lock is reentrant
  within a process (an evaluation holds it while its fit takes it again);
* decides what an existing directory may be used for (:func:`prepare`): a
  fresh run needs an empty or new directory (or ``force``), a resumed one
  needs a checkpoint written with the same config;
* checks output paths before the work (:func:`check_output_file`) and writes
  files atomically (:func:`write_atomic`).
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from .errors import OutputExistsError, RunDirError, RunLockedError, UsageError

LOCK = ".lock"
CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"
DISH = "dish.pt"
CONFIG = "config.yaml"
TRAIN_SET = "train_set.json"
#: what a fit writes before its first checkpoint (a resume of such a run starts it again)
STARTED_FILES = {CONFIG, TRAIN_SET, LOG, CHECKPOINT + ".tmp"}
#: what a fresh run may overwrite with ``force``
RUN_FILES = (CHECKPOINT, LOG, DISH, CONFIG, TRAIN_SET, "metrics.json", "predictions.json",
             "query_progress.jsonl")

_held: dict[str, list] = {}  # real path -> [fd, depth] of the locks this process holds
_held_guard = threading.Lock()


def _holder_line() -> str:
    cmd = " ".join([os.path.basename(sys.argv[0] or "python")] + sys.argv[1:])[:200]
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": cmd,
                       "since": time.strftime("%Y-%m-%d %H:%M:%S")})


def _describe_holder(text: str) -> str:
    try:
        h = json.loads(text)
        return (f"process {h['pid']} on {h['host']} ('{h['command']}', since {h['since']})")
    except (ValueError, KeyError, TypeError):
        return "another process"


def _read_holder(fd: int, patience: float = 1.0) -> str:
    """Describe the holder of the lock file open at ``fd``.

    A holder that has just taken the lock writes its line a moment later, so an empty
    or half-written file is read again for up to ``patience`` seconds."""
    deadline = time.monotonic() + patience
    while True:
        described = _describe_holder(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
        if described != "another process" or time.monotonic() >= deadline:
            return described
        time.sleep(0.02)


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create directory ``path`` (and its parents), or say in one line why not."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{out} is a file, not a directory; give --out a directory path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create the run directory {out}: {exc.strerror or exc}") from exc
    return out


@contextlib.contextmanager
def hold(path: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of run directory ``path`` (created if missing) inside the block."""
    import fcntl

    out = ensure_dir(path)
    key = os.path.realpath(out)
    with _held_guard:
        if key in _held:
            _held[key][1] += 1
            fd = None
        else:
            fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise RunDirError(f"cannot lock {out}: {exc}") from exc
                holder = _read_holder(fd)
                os.close(fd)
                raise RunLockedError(
                    f"{out} is in use by {holder}; wait for it to finish or "
                    "stop it (its work is checkpointed), or use another --out") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, (_holder_line() + "\n").encode(), 0)
            _held[key] = [fd, 1]
    try:
        yield out
    finally:
        with _held_guard:
            _held[key][1] -= 1
            if _held[key][1] == 0:
                os.close(_held.pop(key)[0])  # closing the descriptor drops the flock


def is_held(path: str | os.PathLike) -> bool:
    """Whether this process holds the lock of ``path``."""
    return os.path.realpath(path) in _held


def contents(out: Path) -> list[str]:
    """Names in a run directory, the lock file left out."""
    return sorted(p.name for p in out.iterdir() if p.name != LOCK) if out.is_dir() else []


def prepare(out: Path, resume: bool, force: bool) -> bool:
    """Check what a run may do with ``out`` (held by this process); returns whether
    there is a checkpoint to resume from."""
    names = contents(out)
    if not names:  # new or empty: a resume starts the run (nothing was done yet)
        return False
    if resume:
        if CHECKPOINT in names:
            return True
        if DISH in names:
            raise RunDirError(f"{out} holds a finished fit (dish.pt) and nothing to resume")
        if set(names) <= STARTED_FILES:  # stopped before its first checkpoint: start again
            return False
        raise RunDirError(f"{out} has no {CHECKPOINT} to resume from")
    if not force:
        raise RunDirError(
            f"{out} already exists; pass --resume to continue it or --force to overwrite it")
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    return False


def check_output_file(path: str | os.PathLike, force: bool = False) -> Path:
    """Check, before any work, that ``path`` can be written: its folder exists and is
    writable, and it is not an existing file (unless ``force``) or a directory."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{p} is a directory; give a file path")
    if p.exists() and not force:
        raise OutputExistsError(f"{p} exists; pass --force to overwrite it")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {p}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {p}: the folder {parent} is not writable")
    return p


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so that a
    reader (or a kill) never sees a half-written file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_or_keep(path: str | os.PathLike, text: str, fallback_dir: str | os.PathLike
                  ) -> tuple[Path, OSError | None]:
    """Write results to ``path``; if that fails at the end of long work (the folder was
    removed, the disk is full), keep them in ``fallback_dir`` instead of losing them.
    Returns where they were written and the error that forced the fallback, if any."""
    try:
        write_atomic(path, text)
        return Path(path), None
    except OSError as exc:
        kept = Path(fallback_dir) / f"{Path(path).stem}-{os.getpid()}{Path(path).suffix}"
        write_atomic(kept, text)
        return kept, exc


def append_line(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line and flush it to disk; a last line cut short by a kill is
    ended first, so that it spoils only itself, not the record appended after it."""
    with open(path, "ab") as f:
        if f.tell() > 0:
            with open(path, "rb") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    f.write(b"\n")
        f.write((json.dumps(record) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())
