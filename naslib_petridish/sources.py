"""Find and open NAS-Bench-101 ground truth, whatever the file format.

``load_ground_truth(path)`` reads the compact ``.npz`` table, the official
``.tfrecord`` release or NASLib's ``.pkl`` into one :class:`NB101Table`.
``locate_ground_truth(path)`` applies the lookup order every command uses:
the explicit path (``--nb101``), else ``$NASLIB_PETRIDISH_NB101``, else the
cache directory that ``naslib-petridish download`` fills.
"""
from __future__ import annotations

import os
from pathlib import Path

from .tables import GroundTruthError, NB101Table

ENV_VAR = "NASLIB_PETRIDISH_NB101"
CACHE_ENV_VAR = "NASLIB_PETRIDISH_CACHE"
CACHED_TABLE = "nb101_table.npz"


def cache_dir() -> Path:
    """``$NASLIB_PETRIDISH_CACHE``, else ``$XDG_CACHE_HOME/naslib-petridish``,
    else ``~/.cache/naslib-petridish``."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "naslib-petridish"


def detect_format(path: str | os.PathLike) -> str:
    """``npz``, ``tfrecord`` or ``pickle``, by extension, else by content."""
    p = os.fspath(path).lower()
    if p.endswith(".npz"):
        return "npz"
    if p.endswith((".tfrecord", ".tfrecords")):
        return "tfrecord"
    if p.endswith((".pkl", ".pickle")):
        return "pickle"
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        return "npz"
    if head[:1] == b"\x80":
        return "pickle"
    return "tfrecord"


def load_ground_truth(path: str | os.PathLike, progress: bool = True) -> NB101Table:
    """Read any supported NB101 ground-truth file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise GroundTruthError(f"ground-truth file not found: {path}")
    if os.path.isdir(path):
        raise GroundTruthError(
            f"{path} is a directory; pass the file itself (nb101_table.npz, "
            "nasbench_only108.tfrecord or nasbench_only108.pkl)")
    fmt = detect_format(path)
    if fmt == "npz":
        return NB101Table.load(path)
    if fmt == "tfrecord":
        from .tfrecord import read_nb101_tfrecord
        return read_nb101_tfrecord(path, progress=progress)
    from .naslib_pickle import read_naslib_pickle
    return read_naslib_pickle(path, progress=progress)


def locate_file(path, option: str, env_var: str, cached: str, missing: str) -> str:
    """The lookup order every command uses for a ground-truth file: the explicit path
    (``option``), else ``$env_var``, else ``cached`` in the cache directory; else the
    one-line ``missing`` (``{cache}`` becomes the cache directory)."""
    if path:
        if not os.path.exists(path):
            raise GroundTruthError(f"ground-truth file not found: {path} (given with {option})")
        return os.fspath(path)
    env = os.environ.get(env_var)
    if env:
        if not os.path.exists(env):
            raise GroundTruthError(f"${env_var} points to {env}, which does not exist")
        return env
    p = cache_dir() / cached
    if p.exists():
        return str(p)
    raise GroundTruthError(missing.format(cache=cache_dir(), cached=p))


def locate_ground_truth(path: str | os.PathLike | None = None) -> str:
    """Resolve the ground-truth path: explicit, env var, cache; or say what to do."""
    return locate_file(
        path, "--nb101", ENV_VAR, CACHED_TABLE,
        "no NAS-Bench-101 ground truth found. Either pass --nb101 PATH (an nb101_table.npz, "
        f"nasbench_only108.tfrecord or NASLib's nasbench_only108.pkl), set ${ENV_VAR}, or run "
        "'naslib-petridish download' to fetch the official file into {cache}")


def open_ground_truth(path: str | os.PathLike | None = None, progress: bool = True) -> NB101Table:
    return load_ground_truth(locate_ground_truth(path), progress=progress)
