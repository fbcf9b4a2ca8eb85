"""What every benchmark script shares: where results go, what a result says about the run
that made it, the ground-truth table, and the paper's published numbers.

* :func:`argument_parser` gives each script ``--results DIR`` (default
  ``benchmarks/results``), so that a rerun can write elsewhere and be compared with the
  committed results;
* :func:`save_json` writes a result with its :func:`provenance` (machine, command line,
  package version, UTC time); :func:`save_figure` draws through matplotlib's Agg backend
  and closes the figure;
* :func:`add_nb101_argument`, :func:`ground_truth` and :func:`random_cells`: the
  ``--nb101`` table and the cells drawn from it;
* :func:`pm` formats a mean ± std for the Markdown tables; :func:`write_section` /
  :func:`write_sections` rewrite the generated parts of a Markdown page (between their
  ``<!-- NAME: begin ... -->`` and ``<!-- NAME: end -->`` markers) and keep everything
  around them: the prose of a results page lives in the page, not in the script;
* ``PAPER_*``: the values the paper publishes, in one place, for every script that
  compares against them.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import re
import shlex
import sys
from pathlib import Path

import numpy as np

from naslib_petridish import __version__
from naslib_petridish.cells import Cell
from naslib_petridish.errors import require
from naslib_petridish.evaluate import machine_description
from naslib_petridish.rundir import write_atomic
from naslib_petridish.sources import open_ground_truth
from naslib_petridish.tables import NB101Table

RESULTS = Path(__file__).resolve().parent / "results"

# --- the paper's published values ----------------------------------------------------------

#: Sections 5.1-5.3, per setting ("-short": 16 inner epochs instead of 100): the mean of the
#: motifs' maximum accuracy over the first / last 5 outer epochs, the share of outer epochs
#: in which all motifs were perfect, the mean outer Kendall tau (undefined epochs as 0 /
#: left out)
PAPER_SECTION5 = {
    "A": {"mean_max_acc_last5": 0.9781, "all_perfect_share": 0.1471,
          "kendall_mean_with_undefined_as_0": 0.092, "kendall_mean_defined_only": 0.108},
    "B": {"mean_max_acc_last5": 0.9943, "all_perfect_share": 0.4353,
          "kendall_mean_with_undefined_as_0": 0.152, "kendall_mean_defined_only": 0.270},
    "C": {"mean_max_acc_first5": 0.485, "mean_max_acc_last5": 0.645, "all_perfect_share": 0.0,
          "kendall_mean_with_undefined_as_0": -0.002, "kendall_mean_defined_only": -0.002},
    "A-short": {"mean_max_acc_last5": 0.5927, "all_perfect_share": 0.0,
                "kendall_mean_with_undefined_as_0": 0.043},
    "B-short": {"mean_max_acc_last5": 0.8513, "all_perfect_share": 0.0,
                "kendall_mean_with_undefined_as_0": 0.209},
}
#: Table 1, seconds per inner epoch (min, mean, std, max); motifs on an AMD Ryzen 9 5900X,
#: NB101 = the 108-epoch training time of the full network (TPU v2) / 108
PAPER_TABLE1 = {"A": (0.193, 4.282, 2.078, 10.361), "B": (0.174, 3.471, 1.701, 10.397),
                "C": (0.075, 1.427, 0.628, 3.259), "NB101": (2.632, 17.893, 8.508, 51.511)}
#: Table 2: initialization (6 motifs x 170 outer epochs x 100 inner epochs) and query time
PAPER_TABLE2 = {"A": {"init_days": 5, "init_seconds": 436.764e3, "query_seconds": 428.2},
                "B": {"init_days": 4, "init_seconds": 354.042e3, "query_seconds": 347.1},
                "C": {"init_days": 2, "init_seconds": 145.554e3, "query_seconds": 142.7}}

# --- processes -----------------------------------------------------------------------------


def one_thread() -> int:
    """Give this process (and the processes it starts) one BLAS/OpenMP thread, unless
    ``OMP_NUM_THREADS`` is set, and return the count.  Torch is imported before any command
    runs (this module imports the package), so the environment variable alone reaches only
    child processes: ``torch.set_num_threads`` applies it here too.  Small models on a
    shared machine run far slower with more threads: NASLib's BANANAS MLP fitted 100 epochs
    in 1.2 s with one thread and 19 s with two beside a two-process dish run (2 cores)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import torch

    n = int(os.environ["OMP_NUM_THREADS"])
    torch.set_num_threads(n)
    return n


# --- command line --------------------------------------------------------------------------


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser described by the first line of the script's docstring, with ``--results``."""
    ap = argparse.ArgumentParser(prog=_prog(), description=(doc or "").strip().split("\n")[0])
    ap.add_argument("--results", type=Path, default=RESULTS, metavar="DIR",
                    help="folder for the JSON and figures (default: benchmarks/results)")
    return ap


def lane_parser(doc: str | None, work, trials, run, report
                ) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """A parser with a ``run`` command (``--work``: one folder per process, a lane) and a
    ``report`` command (``--work``: the lanes' folders to merge; ``--reps`` bootstrap
    draws), both with ``--trials`` and ``--nb101``, calling ``run(args)`` / ``report(args)``;
    returns it and the ``run`` parser (for the script's own options)."""
    ap = argument_parser(doc)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--work", default=str(work),
                   help="one folder per process: run two lanes with two folders")
    rp = sub.add_parser("report")
    rp.add_argument("--reps", type=int, default=2000)
    rp.add_argument("--work", nargs="+", default=[str(work)],
                    help="the run folders to merge (each lane's)")
    for p in (r, rp):
        p.add_argument("--trials", nargs="+", type=int, default=list(trials))
        add_nb101_argument(p)
    r.set_defaults(fn=run)
    rp.set_defaults(fn=report)
    return ap, r


def labelled_dirs(ap: argparse.ArgumentParser, item: str) -> tuple[str, list[str]]:
    """``LABEL=DIR[,DIR...]`` (one directory per seed) -> (label, directories)."""
    label, _, dirs = item.partition("=")
    if not label or not dirs:
        ap.error(f"'{item}' must look like LABEL=DIR[,DIR...]")
    return label, dirs.split(",")


def _prog() -> str:
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    return f"python -m {spec.name}" if spec is not None else f"python {sys.argv[0]}"


def command_line() -> str:
    """The command that runs this process, as ``python -m benchmarks.NAME ARGS``."""
    return " ".join([_prog()] + [shlex.quote(a) for a in sys.argv[1:]])


# --- results -------------------------------------------------------------------------------


def provenance() -> dict:
    """Where and how a result was made."""
    return {"machine": machine_description(), "command": command_line(),
            "naslib_petridish": __version__,
            "utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def save_json(path: str | os.PathLike, data: dict) -> Path:
    """Write ``data`` to ``path`` (folders created) after a ``provenance`` entry."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"provenance": provenance(), **data}, indent=1) + "\n")
    return path


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only, no display needed)."""
    matplotlib = require("matplotlib", "plot", "drawing figures")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 90) -> Path:
    """Lay out, write and close ``fig`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


def timed_fit_query(predictor, train, y, test) -> tuple:
    """``predictor.fit(train, y)`` then ``predictor.query(test)``: the predictions and the
    wall seconds of each."""
    import time

    t0 = time.perf_counter()
    predictor.fit(train, y)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = predictor.query(test)
    return p, fit_s, time.perf_counter() - t0


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The records of a JSON-lines file (none when it does not exist)."""
    path = Path(path)
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] \
        if path.exists() else []


def write_jsonl(path: str | os.PathLike, rows) -> Path:
    """Write ``rows`` as a JSON-lines file (one compact record per line), atomically: a
    committed record is never left half written."""
    path = Path(path)
    write_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))
    return path


def append_jsonl(path: str | os.PathLike, *rows: dict) -> Path:
    """Append ``rows`` to a JSON-lines record, one line each: how a resumable benchmark
    records each finished job as it finishes."""
    path = Path(path)
    with open(path, "a") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    return path


def seed_stats(values) -> dict:
    """Mean and std (ddof 1; None for a single seed) of one number over seeds."""
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else None,
            "values": v.tolist()}


# --- ground truth --------------------------------------------------------------------------


def add_nb101_argument(ap: argparse.ArgumentParser, help: str | None = None) -> None:
    ap.add_argument("--nb101", metavar="PATH", default=None, help=help or (
        "NB101 ground-truth table (default: $NASLIB_PETRIDISH_NB101, then the cache)"))


def ground_truth(path: str | os.PathLike | None) -> NB101Table:
    """The ``--nb101`` table, loaded without a progress bar."""
    return open_ground_truth(path, progress=False)


def random_cells(table: NB101Table, n: int, seed: int) -> list[Cell]:
    """``n`` distinct cells drawn uniformly from the whole table."""
    return table.cells(table.sample(n, rng=np.random.default_rng(seed))) if n else []


# --- Markdown --------------------------------------------------------------------------------


def pm(mean: float | None, std: float | None = None, digits: int = 3, scale: float = 1.0,
       sign: bool = False) -> str:
    """``mean ± std``, both times ``scale`` with ``digits`` decimals (``sign``: the mean
    with its + or -); the std is left out where it is None or NaN (one seed), and a mean
    of None is "-"."""
    if mean is None:
        return "-"
    text = f"{mean * scale:{'+' if sign else ''}.{digits}f}"
    if std is None or math.isnan(std):
        return text
    return text + f" ± {std * scale:.{digits}f}"


def markers(name: str, command: str = "") -> tuple[str, str]:
    """The BEGIN and END comments around a page's generated part ``name``; ``command``
    (e.g. ``python -m benchmarks.search_comparison report``) says what writes it."""
    return (f"<!-- {name}: begin{f' ({command})' if command else ''} -->",
            f"<!-- {name}: end -->")


def replace_section(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with what lies between the line ``begin`` and the line ``end`` replaced by
    ``body`` (no trailing newline needed), the markers kept and all around them unchanged;
    where ``text`` has no such part, the block is appended after an empty line."""
    block = f"{begin}\n{body}\n{end}"
    i = text.find(begin)
    j = text.find(end, i + len(begin)) if i >= 0 else -1
    if j >= 0:
        return text[:i] + block + text[j + len(end):]
    return (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n"


_BLOCK = re.compile(r"^(<!-- ([\w.-]+): begin[^\n]*-->)\n(.*?)\n(<!-- \2: end -->)$",
                    re.S | re.M)


def sections(page: str) -> list[tuple[str, str, str]]:
    """The (begin, end, body) of every marked part of a generated ``page``."""
    return [(m.group(1), m.group(4), m.group(3)) for m in _BLOCK.finditer(page)]


def write_section(path: str | os.PathLike, begin: str, end: str, body: str) -> Path:
    """:func:`replace_section` in the file ``path`` (created if missing)."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, replace_section(text, begin, end, body))
    return path


def write_sections(path: str | os.PathLike, page: str) -> Path:
    """Write a generated ``page`` made of marked parts into the file ``path``: each part
    replaces its namesake there (missing ones are appended), so what the file holds
    outside them (the notes of a results page) stays; a missing file becomes ``page``."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, page)
        return path
    text = path.read_text()
    parts = sections(page)
    if not parts:
        raise ValueError(f"nothing marked in the page for {path}: it would replace nothing")
    for begin, end, body in parts:
        text = replace_section(text, begin, end, body)
    write_atomic(path, text)
    return path
