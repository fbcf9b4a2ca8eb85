"""Read (and, for tests, write) NASLib's ``nasbench_only108.pkl``.

The file is a pickled dict ``hash -> (fixed_statistics, computed_statistics)``
as loaded by ``naslib/utils/nb101_api.py``: ``fixed_statistics`` holds
``module_adjacency``, ``module_operations`` and ``trainable_parameters``;
``computed_statistics[epochs][repeat]`` holds ``final_validation_accuracy``,
``final_test_accuracy``, ``final_training_time`` and friends.

The file is read through :func:`.safe_pickle.load`: a pickle that names any
global outside the few NASLib's files need (NumPy's array reconstruction) is
refused with a one-line :class:`GroundTruthError` instead of running code (plain
``pickle.load``, which NASLib itself uses, would run it).
"""
from __future__ import annotations

import os
import pickle

import numpy as np

from . import safe_pickle
from .tables import GroundTruthError, NB101Table

_KEYS = {"val_acc": "final_validation_accuracy", "test_acc": "final_test_accuracy",
         "train_time": "final_training_time"}


def read_naslib_pickle(path: str | os.PathLike, progress: bool = True) -> NB101Table:
    from tqdm.auto import tqdm

    path = os.fspath(path)
    if not os.path.exists(path):
        raise GroundTruthError(f"NASLib pickle not found: {path}")
    data = safe_pickle.load(path)  # GroundTruthError: refused global, truncated, corrupted
    if not isinstance(data, dict) or not data:
        raise GroundTruthError(f"{path}: expected a non-empty dict hash -> (fixed, computed) stats")
    records = []
    for h, stats in tqdm(data.items(), desc=f"reading {os.path.basename(path)}",
                         disable=not progress, total=len(data)):
        try:
            fixed, computed = stats
            records.append({
                "hash": str(h),
                "matrix": np.asarray(fixed["module_adjacency"]),
                "ops": list(fixed["module_operations"]),
                "params": int(fixed["trainable_parameters"]),
                "metrics": {int(ep): [{m: rep.get(k) for m, k in _KEYS.items()} for rep in reps]
                            for ep, reps in computed.items()},
            })
        except Exception as exc:
            raise GroundTruthError(
                f"{path}: entry {h!r} is not NASLib NB101 data "
                f"({type(exc).__name__}: {exc})") from exc
    return NB101Table.from_records(records, source=path)


def write_naslib_pickle(table: NB101Table, path: str | os.PathLike) -> None:
    """Write a table in NASLib's pickle layout (missing repeats are left out;
    used to build test files and for users who need NASLib's file)."""
    data = {}
    for i, h in enumerate(table.hashes):
        cell = table.cell(i)
        computed = {}
        for e, ep in enumerate(table.epochs):
            vals = {m: getattr(table, m)[i, e] for m in _KEYS}
            present = [r for r in range(len(vals["val_acc"]))
                       if not all(np.isnan(v[r]) for v in vals.values())]
            if present:  # repeats up to the last present one; NaN marks a missing value
                computed[int(ep)] = [{_KEYS[m]: float(v[r]) for m, v in vals.items()}
                                     for r in range(present[-1] + 1)]
        fixed = {"module_adjacency": cell.matrix.copy(), "module_operations": list(cell.ops),
                 "trainable_parameters": int(table.params[i])}
        data[str(h)] = (fixed, computed)
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
