"""NAS-Bench-201 ground truth: the ``nb201-table-v1`` file, and one data set of it as a table.

:class:`NB201File` holds what the file holds for every data set (any names: the file's
``datasets`` array decides, nothing here lists them).  :meth:`NB201File.dataset` gives an
:class:`NB201Table`: one data set with the interface of
:class:`naslib_petridish.tables.NB101Table` that evaluation, guided search and the
predictors use (``sample``, ``metric``, ``has_metric``, ``cell``/``cells``, ``index``,
``hashes``, ``params``, ``source``, ``summary``).

Rows are NB201's official architecture indices.  ``hashes`` are the architecture strings
(a row's identity); ``keys`` the canonical strings (``unique``): :meth:`NB201Table.sample`
draws cells with distinct keys and, with ``exclude``, none that is isomorphic to an
excluded cell, so held-out cells never compute the same function as a training cell.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

import numpy as np

from ...errors import (GroundTruthError, InvalidCellError, UnknownCellError, UsageError,
                       one_line)
from ...tables import RowLookup, save_npz
from .cell import OPS, Cell, as_cell

FORMAT = "nb201-table-v1"
EPOCHS = (12, 200)
REQUIRED_KEYS = ("format", "arch", "ops", "datasets", "epochs", "val_acc", "test_acc")
#: classes of the data sets NB201 users meet (the classifier's width); others: 10
NUM_CLASSES = {"cifar10": 10, "cifar10-valid": 10, "cifar100": 100, "ImageNet16-120": 120}
METRICS = {"val": "val_acc", "valid": "val_acc", "validation": "val_acc", "val_acc": "val_acc",
           "test": "test_acc", "test_acc": "test_acc"}


def metric_key(metric: str) -> str:
    try:
        return METRICS[str(metric).lower()]
    except KeyError as exc:
        raise GroundTruthError(f"unknown metric '{metric}': NB201 tables have 'val' "
                               "(validation accuracy) and 'test' (test accuracy)") from exc


def check_fractions(*arrays: np.ndarray, source: str) -> None:
    """Accuracies of a ground-truth file are fractions in [0, 1] (NaN: missing)."""
    for a in arrays:
        bad = ~np.isnan(a) & ((a < 0) | (a > 1) | ~np.isfinite(a))
        if bad.any():
            i = tuple(int(k) for k in np.argwhere(bad)[0])
            raise GroundTruthError(f"{source}: accuracy {a[i]!r} at {i} is not a fraction in "
                                   "[0, 1] (percent values? divide them by 100)")


class NB201File:
    """Every data set of an ``nb201-table-v1`` archive (validated on construction)."""

    def __init__(self, arrays: dict[str, np.ndarray], source: str = "<memory>"):
        missing = [k for k in REQUIRED_KEYS if k not in arrays]
        if missing:
            raise GroundTruthError(f"{source}: not an {FORMAT} table, missing arrays {missing}")
        fmt = str(np.asarray(arrays["format"]).reshape(-1)[0])
        if fmt != FORMAT:
            raise GroundTruthError(f"{source}: format '{fmt}' is not supported (expected "
                                   f"'{FORMAT}')")
        self.source = source
        self.arch = np.asarray(arrays["arch"]).astype(str)
        n = len(self.arch)
        self.datasets = [str(d) for d in np.asarray(arrays["datasets"]).reshape(-1)]
        self.epochs = tuple(int(e) for e in np.asarray(arrays["epochs"]).reshape(-1))
        shape = (n, len(self.epochs), len(self.datasets))
        for k in ("val_acc", "test_acc"):
            if np.shape(arrays[k]) != shape:
                raise GroundTruthError(f"{source}: array '{k}' has shape {np.shape(arrays[k])}, "
                                       f"expected {shape} (file truncated or corrupted?)")
        if np.shape(arrays["ops"]) != (n, 6):
            raise GroundTruthError(f"{source}: array 'ops' has shape {np.shape(arrays['ops'])}, "
                                   f"expected {(n, 6)}")
        names = [str(o) for o in np.asarray(arrays.get("op_names", OPS)).reshape(-1)]
        if tuple(names) != OPS:
            raise GroundTruthError(f"{source}: op_names {names} differ from NB201's {list(OPS)}")
        if len(set(self.arch.tolist())) != n:
            raise GroundTruthError(f"{source}: duplicate architecture strings in the table")
        self.ops = np.asarray(arrays["ops"], dtype=np.int8)
        self.val_acc = np.asarray(arrays["val_acc"], dtype=np.float32)
        self.test_acc = np.asarray(arrays["test_acc"], dtype=np.float32)
        check_fractions(self.val_acc, self.test_acc, source=source)
        try:
            cells = [Cell(tuple(OPS[k] for k in row)) for row in self.ops]
        except (IndexError, InvalidCellError) as exc:
            raise GroundTruthError(f"{source}: bad op codes ({one_line(exc)})") from exc
        bad = [i for i, c in enumerate(cells) if c.arch != self.arch[i]]
        if bad:
            raise GroundTruthError(f"{source}: row {bad[0]}'s ops do not match its "
                                   f"architecture string {self.arch[bad[0]]!r}")
        self._cells = cells
        self.keys = np.array([c.unique() for c in cells])
        self._row = {a: i for i, a in enumerate(self.arch.tolist())}

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NB201File":
        path = os.fspath(path)
        if not os.path.exists(path):
            raise GroundTruthError(f"ground-truth file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}  # each array once (np.load decompresses)
        except Exception as exc:
            raise GroundTruthError(f"{path}: not an {FORMAT} .npz file, or a truncated or "
                                   f"corrupted one ({one_line(exc)})") from exc
        return cls(arrays, source=path)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"format": np.array([FORMAT]), "arch": self.arch, "unique": self.keys,
                "ops": self.ops, "op_names": np.array(OPS), "datasets": np.array(self.datasets),
                "epochs": np.asarray(self.epochs, np.int16), "val_acc": self.val_acc,
                "test_acc": self.test_acc}

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        save_npz(path, self.arrays(), overwrite)

    def dataset(self, name: str | None = None) -> "NB201Table":
        """The table of data set ``name`` (the file's first when ``None``)."""
        if name is None or name == "":
            name = self.datasets[0]
        if name not in self.datasets:
            raise UsageError(f"data set '{name}' is not in {self.source}: it has "
                             f"{', '.join(self.datasets)} (--dataset NAME)")
        return NB201Table(self, name)

    def summary(self) -> str:
        lines = [f"NAS-Bench-201 ground truth: {self.source}",
                 f"  format {FORMAT}, {len(self.arch):,} cells, {len(set(self.keys)):,} "
                 f"distinct functions, data sets {', '.join(self.datasets)}"]
        for d, name in enumerate(self.datasets):
            for e, ep in enumerate(self.epochs):
                for m in ("val_acc", "test_acc"):
                    v = getattr(self, m)[:, e, d]
                    ok = ~np.isnan(v)
                    if ok.any():
                        lines.append(f"  {name:<15} {m:<8} @{ep:>3} epochs: {int(ok.sum()):,} "
                                     f"cells, mean {v[ok].mean():.4f}, max {v[ok].max():.4f}")
        return "\n".join(lines)


class NB201Table(RowLookup):
    """One data set of an NB201 file, with the NB101 table's query interface."""

    space = "nb201"

    def __init__(self, file: NB201File, dataset: str):
        self.file = file
        self.dataset = dataset
        self.source = f"{file.source} [{dataset}]"
        self.hashes = file.arch
        self.keys = file.keys
        self.epochs = file.epochs
        d = file.datasets.index(dataset)
        self.val_acc = file.val_acc[:, :, d]
        self.test_acc = file.test_acc[:, :, d]
        self._params: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES.get(self.dataset, 10)

    @property
    def params(self) -> np.ndarray:
        """Trainable parameters of the full network (C=16, N=5) of each row."""
        if self._params is None:
            from .network import count_parameters, motif_shape
            import dataclasses
            shape = dataclasses.replace(motif_shape("full"), num_classes=self.num_classes)
            self._params = np.array([count_parameters(c, shape) for c in self.file._cells],
                                    np.int64)
        return self._params

    def index(self, x: Any) -> int:
        """Row of a cell (any form), architecture string or row index."""
        if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
            if not 0 <= int(x) < len(self):
                raise UnknownCellError(f"row {x} out of range (table has {len(self)} rows)")
            return int(x)
        if isinstance(x, str) and x in self.file._row:  # an architecture string, as stored
            return self.file._row[x]
        arch = x.arch if isinstance(x, Cell) else as_cell(x, self).arch
        try:
            return self.file._row[arch]
        except KeyError:
            raise UnknownCellError(f"cell {arch} is not in the ground-truth table "
                                   f"{self.source} ({len(self)} cells)") from None

    def cell(self, x: Any) -> Cell:
        return self.file._cells[self.index(x)]

    def _epoch(self, epochs: int | None) -> int:
        epochs = self.epochs[-1] if epochs is None else int(epochs)
        if epochs not in self.epochs:
            raise GroundTruthError(f"epoch budget must be one of {self.epochs} on NB201, got "
                                   f"{epochs}")
        return self.epochs.index(epochs)

    def has_metric(self, metric: str = "val", epochs: int | None = None,
                   repeat: int | str = "any") -> np.ndarray:
        return ~np.isnan(getattr(self, metric_key(metric))[:, self._epoch(epochs)])

    def metric(self, xs: Any, metric: str = "val", epochs: int | None = None,
               repeat: int | str = "mean", strict: bool = True) -> np.ndarray | float:
        """The seed-mean accuracy (a fraction) of one cell (float) or many (array);
        ``repeat`` is accepted for the NB101 interface (NB201's values are seed means)."""
        rows, single = self.rows(xs)
        out = getattr(self, metric_key(metric))[rows, self._epoch(epochs)].astype(np.float64)
        if strict and np.isnan(out).any():
            raise GroundTruthError(
                f"{metric_key(metric)} at {epochs} epochs is missing for "
                f"{int(np.isnan(out).sum())} of the requested cells of {self.source} (first: "
                f"{self.hashes[rows[np.isnan(out)][0]]})")
        return float(out[0]) if single else out

    def sample(self, n: int, rng: np.random.Generator | int | None = None,
               metric: str | None = None, epochs: int | None = None,
               repeat: int | str = "any", exclude: Iterable[int] | None = None) -> np.ndarray:
        """``n`` rows drawn uniformly with distinct canonical keys, none isomorphic to an
        ``exclude`` row, optionally only among rows that have ``metric``; sorted."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise GroundTruthError(f"the number of cells to draw must be a non-negative "
                                   f"integer, got {n!r}")
        rng = np.random.default_rng(rng)
        mask = (np.ones(len(self), bool) if metric is None
                else self.has_metric(metric, epochs))
        taken = set()
        if exclude is not None:
            taken = {self.keys[int(r)] for r in exclude}
        pool = np.flatnonzero(mask)
        avail = len(set(self.keys[pool].tolist()) - taken)
        if n > avail:
            what = "" if metric is None else (
                f" with {metric_key(metric)} at {self.epochs[self._epoch(epochs)]} epochs")
            raise GroundTruthError(f"cannot draw {n} distinct cells: only {avail} distinct "
                                   f"cells (by computation){what} are available in "
                                   f"{self.source}" + (" (choose another --metric)"
                                                       if metric is not None and not len(pool)
                                                       else ""))
        out = []
        for r in rng.permutation(pool):
            k = self.keys[r]
            if k not in taken:
                taken.add(k)
                out.append(int(r))
                if len(out) == n:
                    break
        return np.sort(np.array(out, np.int64))

    def summary(self) -> str:
        return self.file.summary()
