"""Read NASLib's NAS-Bench-201 pickles into the compact ``nb201-table-v1`` arrays.

NASLib (``naslib/utils/get_dataset_api.py``, ``get_nasbench201_api``) loads one file per
data set -- ``nb201_cifar10_full_training.pickle``, ``nb201_cifar100_full_training.pickle``,
``nb201_ImageNet16_full_training.pickle`` -- into ``dataset_api["nb201_data"]``, a dict::

    {arch_str: {naslib_key: {"train_acc1es": [200 floats], "eval_acc1es": [200 floats],
                             "train_losses": [...], "eval_losses": [...],
                             "cost_info": {"flops", "params", "latency", "train_time"}}}}

``arch_str`` is the official architecture string; ``naslib_key`` is ``"cifar10-valid"`` for
CIFAR-10 (``NasBench201SearchSpace.query`` in ``naslib/search_spaces/nasbench201/graph.py``
maps ``cifar10`` to it) and the data set's own name otherwise (``"cifar100"``,
``"ImageNet16-120"``).  The lists are per-epoch curves of NB201's 200-epoch schedule, in
percent (``query(..., epoch=-1)`` reads the last one).  The file has no architecture index.

What :func:`read_naslib_nb201` takes, per data set (NASLib's convention):

* ``val_acc`` and ``test_acc`` are both ``eval_acc1es`` of the data set's key: NASLib maps
  ``Metric.VAL_ACCURACY`` and ``Metric.TEST_ACCURACY`` to that one curve.  For CIFAR-10 it
  is the ``cifar10-valid`` run (trained on the train split, scored on the valid split), not
  the official test accuracy of the run trained on train+valid.  So in a table read from
  NASLib's files ``test_acc == val_acc``, unlike the shipped ``nb201_table.npz``.
* epoch 200: ``eval_acc1es[199]``; epoch 12: ``eval_acc1es[11]``, the 12th epoch of the
  200-epoch schedule (its learning rate has barely decayed), the best the file offers.
  The shipped table's 12-epoch values come from NB201's separate 12-epoch schedule, so
  the two differ.  A value the file lacks (a shorter curve, a missing key) is NaN.
* values are divided by 100 (fractions).

Rows follow the order in which the files list the architecture strings (first file
first, then strings only later files hold), not a verified official index: the file does
not record the index.  NASLib's one published converter to this layout
(``scripts/prestore_nasbench360.py``, for NinaPro) walks NATS-Bench's ``arch2infos`` in
index order; the converter of the CIFAR / ImageNet files is not in NASLib's repository,
so their order is likely, not certainly, the official one.
Files are read through :func:`naslib_petridish.safe_pickle.load`: a crafted pickle is
refused instead of run.
"""
from __future__ import annotations

import os
import pickle
from typing import Mapping, Sequence

import numpy as np

from ... import safe_pickle
from ...errors import GroundTruthError, InvalidCellError
from .cell import OPS, Cell, parse_arch

FORMAT = "nb201-table-v1"
EPOCHS = (12, 200)
#: index into NASLib's 200-epoch curve for each epoch of :data:`EPOCHS`
CURVE_INDEX = (11, 199)
CURVE = "eval_acc1es"
#: data set name (as the package uses it) -> the key NASLib's file holds it under
NASLIB_KEYS = {"cifar10": "cifar10-valid", "cifar100": "cifar100",
               "ImageNet16-120": "ImageNet16-120"}
#: data set name -> NASLib's file name
NASLIB_FILES = {"cifar10": "nb201_cifar10_full_training.pickle",
                "cifar100": "nb201_cifar100_full_training.pickle",
                "ImageNet16-120": "nb201_ImageNet16_full_training.pickle"}


def naslib_key(dataset: str) -> str:
    """The key of ``dataset`` in NASLib's file (other names are taken as they are)."""
    return NASLIB_KEYS.get(dataset, dataset)


def _curve_values(curve, where: str) -> list[float]:
    """Epoch 12 / 200 of a per-epoch accuracy curve, as fractions (NaN when absent)."""
    try:
        vals = [float(v) for v in curve]
    except (TypeError, ValueError) as exc:
        raise GroundTruthError(f"{where}: '{CURVE}' is not a list of accuracies "
                               f"({type(exc).__name__}: {exc})") from exc
    return [vals[i] / 100.0 if i < len(vals) else float("nan") for i in CURVE_INDEX]


def _read_one(path: str, dataset: str) -> dict[str, list[float]]:
    """arch string -> [acc at epoch 12, acc at epoch 200] of one data set of one file."""
    data = safe_pickle.load(path)
    if not isinstance(data, Mapping) or not data:
        raise GroundTruthError(f"{path}: expected a non-empty dict arch string -> results "
                               "(NASLib's nb201_<dataset>_full_training.pickle)")
    key = naslib_key(dataset)
    out: dict[str, list[float]] = {}
    found = set()
    for arch, entry in data.items():
        try:
            norm = Cell(parse_arch(arch)).arch
        except InvalidCellError as exc:
            raise GroundTruthError(f"{path}: key {str(arch)[:80]!r} is not an NB201 "
                                   f"architecture string ({exc})") from exc
        if not isinstance(entry, Mapping):
            raise GroundTruthError(f"{path}: entry {norm!r} is {type(entry).__name__}, "
                                   "not a dict data set -> results")
        found.update(str(k) for k in entry)
        res = entry.get(key)
        if isinstance(res, Mapping) and CURVE in res:
            out[norm] = _curve_values(res[CURVE], f"{path}: entry {norm!r}, {key!r}")
        else:
            out[norm] = [float("nan")] * len(EPOCHS)
    if not any(np.isfinite(v).any() for v in out.values()):
        raise GroundTruthError(
            f"{path}: no '{CURVE}' curve of {EPOCHS[0]}+ epochs under {key!r} (data set "
            f"{dataset!r}); the file holds {', '.join(sorted(found)) or 'no data sets'}")
    return out


def read_naslib_nb201(paths: Mapping[str, str | os.PathLike]) -> dict[str, np.ndarray]:
    """The ``nb201-table-v1`` arrays of NASLib's NB201 files, ``paths``: data set name
    (``cifar10``, ``cifar100``, ``ImageNet16-120``, ...) -> file.  One file may serve
    several names when it holds their keys.  See the module doc for what is taken."""
    if not paths:
        raise GroundTruthError("no NASLib NB201 file given (data set name -> path)")
    datasets = [str(d) for d in paths]
    per_set = {}
    for d, p in paths.items():
        p = os.fspath(p)
        if not os.path.exists(p):
            raise GroundTruthError(f"NASLib NB201 pickle not found: {p} (data set {d!r}; "
                                   f"NASLib names it {NASLIB_FILES.get(d, '...')})")
        per_set[str(d)] = _read_one(p, str(d))
    archs: dict[str, None] = {}
    for d in datasets:
        archs.update(dict.fromkeys(per_set[d]))
    cells = [Cell(parse_arch(a)) for a in archs]
    acc = np.full((len(cells), len(EPOCHS), len(datasets)), np.nan, dtype=np.float32)
    for j, d in enumerate(datasets):
        for i, c in enumerate(cells):
            vals = per_set[d].get(c.arch)
            if vals is not None:
                acc[i, :, j] = vals
    return {
        "format": np.array([FORMAT]),
        "arch": np.array([c.arch for c in cells]),
        "unique": np.array([c.unique() for c in cells]),
        "ops": np.array([c.codes for c in cells], dtype=np.int8).reshape(len(cells), 6),
        "op_names": np.array(OPS),
        "datasets": np.array(datasets),
        "epochs": np.array(EPOCHS, dtype=np.int16),
        "val_acc": acc,
        "test_acc": acc.copy(),
    }


def write_naslib_nb201(path: str | os.PathLike,
                       records: Mapping[str, Mapping[str, Sequence[float]]]) -> None:
    """Write a file in NASLib's NB201 layout (for tests).  ``records``: arch string ->
    data set name -> its ``eval_acc1es`` curve in percent (200 values for a full one).
    Data set names are stored under NASLib's keys (``cifar10`` as ``cifar10-valid``);
    the other lists are filled from the curve and ``cost_info`` with zeros."""
    data = {}
    for arch, sets in records.items():
        cell = Cell(parse_arch(arch))
        entry = {}
        for d, curve in sets.items():
            curve = [float(v) for v in curve]
            entry[naslib_key(d)] = {
                "train_losses": [1.0 - v / 100.0 for v in curve],
                "eval_losses": [1.0 - v / 100.0 for v in curve],
                "train_acc1es": list(curve),
                CURVE: curve,
                "cost_info": {"flops": 0.0, "params": 0.0, "latency": 0.0, "train_time": 0.0},
            }
        data[cell.arch] = entry
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
