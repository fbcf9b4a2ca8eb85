"""NAS-Bench-101 ground truth in one object, read from the compact table.

:class:`NB101Table` holds, for every cell of a ground-truth source, the pruned
cell (padded adjacency and op codes), the trainable parameter count of the
full network and the validation/test accuracy and training time per epoch
budget (4/12/36/108) and repeat (3), NaN where a value is missing.  It is the
in-memory form of the ``nb101-table-v1`` ``.npz`` file; the readers of the
official tfrecord release and of NASLib's pickle (``naslib_petridish.sources``)
produce the same object.

Queries take a cell in any form :func:`naslib_petridish.cells.as_cell`
accepts, or a row index, and answer per repeat or as the mean over the
repeats that exist (:meth:`NB101Table.query` says which repeats those were).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from .cells import HASH_LEN, Cell, as_cell
from .errors import (GroundTruthError, InvalidCellError, OutputExistsError, UnknownCellError,
                     one_line)

FORMAT = "nb101-table-v1"
EPOCHS = (4, 12, 36, 108)
NUM_REPEATS = 3
METRICS = ("val_acc", "test_acc", "train_time")
#: Accepted spellings of the metric names.
METRIC_ALIASES = {
    "val": "val_acc", "valid": "val_acc", "validation": "val_acc", "val_acc": "val_acc",
    "validation_accuracy": "val_acc",
    "test": "test_acc", "test_acc": "test_acc", "test_accuracy": "test_acc",
    "time": "train_time", "train_time": "train_time", "training_time": "train_time",
}
REQUIRED_KEYS = ("format", "hashes", "num_vertices", "adjacency", "ops", "params",
                 "epochs", "val_acc", "test_acc", "train_time")


def metric_key(metric: str) -> str:
    """Normalize a metric name (``val``, ``test``, ``train_time``, ...)."""
    try:
        return METRIC_ALIASES[str(metric).lower()]
    except KeyError as exc:
        raise GroundTruthError(
            f"unknown metric '{metric}': use 'val' (validation accuracy), 'test' (test "
            "accuracy) or 'train_time'") from exc


def epoch_index(epochs: int) -> int:
    try:
        return EPOCHS.index(int(epochs))
    except ValueError as exc:
        raise GroundTruthError(f"epoch budget must be one of {EPOCHS}, got {epochs}") from exc


@dataclass(frozen=True)
class QueryResult:
    """Answer of :meth:`NB101Table.query` for one cell and epoch budget."""

    hash: str
    epochs: int
    trainable_parameters: int
    #: per repeat (length 3, NaN = missing)
    validation_accuracy_per_repeat: tuple[float, ...]
    test_accuracy_per_repeat: tuple[float, ...]
    training_time_per_repeat: tuple[float, ...]

    @staticmethod
    def _mean(values: Sequence[float]) -> float:
        v = np.asarray(values, dtype=np.float64)
        ok = ~np.isnan(v)
        return float(v[ok].mean()) if ok.any() else float("nan")

    @property
    def validation_accuracy(self) -> float:
        """Mean over the repeats present (see ``repeats_present``)."""
        return self._mean(self.validation_accuracy_per_repeat)

    @property
    def test_accuracy(self) -> float:
        return self._mean(self.test_accuracy_per_repeat)

    @property
    def training_time(self) -> float:
        return self._mean(self.training_time_per_repeat)

    def repeats_present(self, metric: str) -> list[int]:
        vals = {"val_acc": self.validation_accuracy_per_repeat,
                "test_acc": self.test_accuracy_per_repeat,
                "train_time": self.training_time_per_repeat}[metric_key(metric)]
        return [i for i, v in enumerate(vals) if not np.isnan(v)]

    def as_dict(self) -> dict:
        out = {
            "hash": self.hash, "epochs": self.epochs,
            "trainable_parameters": self.trainable_parameters,
            "validation_accuracy": self.validation_accuracy,
            "test_accuracy": self.test_accuracy,
            "training_time": self.training_time,
        }
        for m in METRICS:
            present = self.repeats_present(m)
            out[f"{m}_repeats"] = present
            out[f"{m}_complete"] = len(present) == NUM_REPEATS
        return out


def save_npz(path: str | os.PathLike, arrays: dict, overwrite: bool = False) -> None:
    """Write a compact ground-truth table (any space's) as a compressed ``.npz``, through a
    temporary file; an existing file only with ``overwrite``."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise GroundTruthError(f"output must be a .npz file, got {path}")
    if os.path.exists(path) and not overwrite:
        raise OutputExistsError(f"{path} exists; remove it or pass overwrite/--force")
    tmp = path[:-4] + ".partial.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


class RowLookup:
    """What every ground-truth table shares: rows by ``index`` (which subclasses define),
    ``cells`` by ``cell``; :meth:`rows` resolves one cell or many for a metric query."""

    def __len__(self) -> int:
        return len(self.hashes)

    def __contains__(self, x: Any) -> bool:
        try:
            self.index(x)
        except (UnknownCellError, InvalidCellError):
            return False
        return True

    def indices(self, xs: Iterable[Any]) -> np.ndarray:
        return np.array([self.index(x) for x in xs], dtype=np.int64)

    def cells(self, xs: Iterable[Any]) -> list:
        return [self.cell(x) for x in xs]

    def rows(self, xs: Any) -> tuple[np.ndarray, bool]:
        """The rows of one cell or many (any form, or integer rows), and whether one was
        asked for."""
        single = not isinstance(xs, (list, tuple, np.ndarray))
        if single:
            return np.array([self.index(xs)]), True
        if isinstance(xs, np.ndarray) and np.issubdtype(xs.dtype, np.integer):
            return xs.astype(np.int64), False
        return self.indices(xs), False


class NB101Table(RowLookup):
    """NAS-Bench-101 ground truth for a set of cells (rows sorted by hash)."""

    space = "nb101"
    dataset = "cifar10"

    def __init__(self, arrays: dict[str, np.ndarray], source: str = "<memory>"):
        missing = [k for k in REQUIRED_KEYS if k not in arrays]
        if missing:
            raise GroundTruthError(
                f"{source}: not an {FORMAT} table, missing arrays {missing}")
        fmt = str(np.asarray(arrays["format"]).reshape(-1)[0])
        if fmt != FORMAT:
            raise GroundTruthError(
                f"{source}: format '{fmt}' is not supported (expected '{FORMAT}')")
        hashes = np.asarray(arrays["hashes"]).astype(f"<U{HASH_LEN}")
        n = len(hashes)
        shapes = {"num_vertices": (n,), "adjacency": (n, 7, 7), "ops": (n, 7), "params": (n,),
                  "val_acc": (n, 4, 3), "test_acc": (n, 4, 3), "train_time": (n, 4, 3)}
        for k, shape in shapes.items():
            if np.shape(arrays[k]) != shape:
                raise GroundTruthError(
                    f"{source}: array '{k}' has shape {np.shape(arrays[k])}, expected {shape} "
                    "(file truncated or corrupted?)")
        if tuple(int(e) for e in np.asarray(arrays["epochs"])) != EPOCHS:
            raise GroundTruthError(f"{source}: epochs must be {EPOCHS}")
        order = np.argsort(hashes, kind="stable")
        if not np.array_equal(order, np.arange(n)):
            arrays = {k: (np.asarray(v)[order] if k in shapes or k == "hashes" else v)
                      for k, v in arrays.items()}
            hashes = hashes[order]
        if n > 1 and np.any(hashes[1:] == hashes[:-1]):
            raise GroundTruthError(f"{source}: duplicate hashes in table")
        self.source = source
        self.hashes = hashes
        self.num_vertices = np.asarray(arrays["num_vertices"], dtype=np.int8)
        self.adjacency = np.asarray(arrays["adjacency"], dtype=np.int8)
        self.ops = np.asarray(arrays["ops"], dtype=np.int8)
        self.params = np.asarray(arrays["params"], dtype=np.int64)
        self.epochs = np.asarray(EPOCHS, dtype=np.int16)
        self.val_acc = np.asarray(arrays["val_acc"], dtype=np.float32)
        self.test_acc = np.asarray(arrays["test_acc"], dtype=np.float32)
        self.train_time = np.asarray(arrays["train_time"], dtype=np.float32)
        for name in ("val_acc", "test_acc"):
            a = getattr(self, name)
            bad = ~np.isnan(a) & ((a < 0) | (a > 1) | ~np.isfinite(a))
            if bad.any():
                i = tuple(int(k) for k in np.argwhere(bad)[0])
                raise GroundTruthError(f"{source}: {name} {a[i]!r} of cell {hashes[i[0]]} is "
                                       "not a fraction in [0, 1] (percent values? divide them "
                                       "by 100)")

    # -- construction and persistence --------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike) -> "NB101Table":
        """Read an ``nb101-table-v1`` ``.npz`` file (about a second for all 423,624 cells)."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise GroundTruthError(f"ground-truth file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                # read each array once: np.load decompresses on every access
                arrays = {k: z[k] for k in z.files}
        except Exception as exc:
            raise GroundTruthError(
                f"{path}: not an {FORMAT} .npz file, or a truncated or corrupted one "
                f"({one_line(exc)})") from exc
        return cls(arrays, source=path)

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write the table as a compressed ``nb101-table-v1`` ``.npz``."""
        save_npz(path, self.arrays(), overwrite)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"format": np.array([FORMAT]), "hashes": self.hashes,
                "num_vertices": self.num_vertices, "adjacency": self.adjacency, "ops": self.ops,
                "params": self.params, "epochs": self.epochs, "val_acc": self.val_acc,
                "test_acc": self.test_acc, "train_time": self.train_time}

    @classmethod
    def from_records(cls, records: Iterable[dict], source: str = "<records>") -> "NB101Table":
        """Build a table from per-cell records.

        Each record: ``hash``, ``matrix``, ``ops`` (pruned cell), ``params`` and
        ``metrics``: ``{epochs: [ {"val_acc", "test_acc", "train_time"}, ... per repeat ]}``.
        """
        records = list(records)
        n = len(records)
        arr = {
            "format": np.array([FORMAT]),
            "hashes": np.empty(n, dtype=f"<U{HASH_LEN}"),
            "num_vertices": np.zeros(n, dtype=np.int8),
            "adjacency": np.zeros((n, 7, 7), dtype=np.int8),
            "ops": np.zeros((n, 7), dtype=np.int8),
            "params": np.zeros(n, dtype=np.int64),
            "epochs": np.asarray(EPOCHS, dtype=np.int16),
            **{m: np.full((n, 4, 3), np.nan, dtype=np.float32) for m in METRICS},
        }
        for i, r in enumerate(records):
            cell = Cell(r["matrix"], r["ops"])
            arr["hashes"][i] = r["hash"]
            arr["num_vertices"][i] = cell.num_vertices
            arr["adjacency"][i], arr["ops"][i] = cell.padded()
            arr["params"][i] = int(r["params"])
            for ep, repeats in r["metrics"].items():
                e = epoch_index(ep)
                if len(repeats) > NUM_REPEATS:
                    raise GroundTruthError(
                        f"{source}: cell {r['hash']} has {len(repeats)} repeats at {ep} epochs "
                        f"(max {NUM_REPEATS})")
                for k, rep in enumerate(repeats):
                    for m in METRICS:
                        v = rep.get(m)
                        if v is not None:
                            arr[m][i, e, k] = v
        return cls(arr, source=source)

    # -- lookup --------------------------------------------------------------
    def index(self, x: Any) -> int:
        """Row of a cell (any form), hash or row index."""
        if isinstance(x, (int, np.integer)):
            if not 0 <= int(x) < len(self):
                raise UnknownCellError(f"row {x} out of range (table has {len(self)} rows)")
            return int(x)
        if isinstance(x, str) and len(x) == HASH_LEN:
            h = x.lower()
        else:
            h = as_cell(x, self).hash
        i = int(np.searchsorted(self.hashes, h))
        if i >= len(self) or self.hashes[i] != h:
            raise UnknownCellError(
                f"cell {h} is not in the ground-truth table {self.source} "
                f"({len(self)} cells)")
        return i

    def cell(self, x: Any) -> Cell:
        i = self.index(x)
        c = Cell.from_codes(self.adjacency[i], self.ops[i])
        c._hash = str(self.hashes[i])  # the stored hash is the official one
        return c

    # -- metrics -------------------------------------------------------------
    def _metric_array(self, metric: str) -> np.ndarray:
        return getattr(self, metric_key(metric))

    def has_metric(self, metric: str = "val", epochs: int = 108,
                   repeat: int | str = "any") -> np.ndarray:
        """Boolean mask over rows: the metric exists (for ``repeat``: an int,
        ``"any"`` or ``"all"``)."""
        a = ~np.isnan(self._metric_array(metric)[:, epoch_index(epochs), :])
        if repeat == "any":
            return a.any(axis=1)
        if repeat == "all":
            return a.all(axis=1)
        return a[:, int(repeat)]

    def metric(self, xs: Any, metric: str = "val", epochs: int = 108,
               repeat: int | str = "mean", strict: bool = True) -> np.ndarray | float:
        """Metric for one cell (returns float) or many (returns float64 array).

        ``repeat``: an int picks one repeat; ``"mean"`` averages the repeats
        that exist.  With ``strict`` a missing value raises a
        :class:`GroundTruthError` naming the cell; otherwise it is NaN.
        """
        rows, single = self.rows(xs)
        vals = self._metric_array(metric)[rows, epoch_index(epochs), :].astype(np.float64)
        if repeat == "mean":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out = np.nanmean(vals, axis=1)
        else:
            r = int(repeat)
            if not 0 <= r < NUM_REPEATS:
                raise GroundTruthError(
                    f"repeat must be 0..{NUM_REPEATS - 1} or 'mean', got {repeat}")
            out = vals[:, r]
        if strict and np.isnan(out).any():
            bad = rows[np.isnan(out)]
            avail = int(self.has_metric(metric, epochs).sum())
            raise GroundTruthError(
                f"{metric_key(metric)} at {epochs} epochs (repeat {repeat}) is not available for "
                f"{len(bad)} of the requested cells (first: {self.hashes[bad[0]]}); this table has "
                f"it for {avail} of {len(self)} cells. Choose another metric (e.g. --metric test) "
                "or draw cells with sample(..., metric=...)")
        return float(out[0]) if single else out

    def query(self, x: Any, epochs: int = 108) -> QueryResult:
        """Everything the table knows about one cell at one epoch budget."""
        i = self.index(x)
        e = epoch_index(epochs)
        return QueryResult(
            hash=str(self.hashes[i]), epochs=int(epochs),
            trainable_parameters=int(self.params[i]),
            validation_accuracy_per_repeat=tuple(float(v) for v in self.val_acc[i, e]),
            test_accuracy_per_repeat=tuple(float(v) for v in self.test_acc[i, e]),
            training_time_per_repeat=tuple(float(v) for v in self.train_time[i, e]),
        )

    # -- sampling ------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator | int | None = None,
               metric: str | None = None, epochs: int = 108, repeat: int | str = "any",
               exclude: Iterable[int] | None = None) -> np.ndarray:
        """Draw ``n`` distinct rows uniformly, optionally only among cells that
        have ``metric`` at ``epochs`` and not among ``exclude`` rows."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise GroundTruthError(f"the number of cells to draw must be a non-negative "
                                   f"integer, got {n!r}")
        rng = np.random.default_rng(rng)
        mask = (np.ones(len(self), dtype=bool) if metric is None
                else self.has_metric(metric, epochs, repeat))
        if exclude is not None:
            ex = np.fromiter(exclude, dtype=np.int64)
            mask[ex[(ex >= 0) & (ex < len(self))]] = False
        pool = np.flatnonzero(mask)
        if n > len(pool):
            what = "" if metric is None else f" with {metric_key(metric)} at {epochs} epochs"
            raise GroundTruthError(
                f"cannot draw {n} distinct cells: only {len(pool)} cells{what} are available")
        return np.sort(rng.choice(pool, size=n, replace=False)) if n else np.zeros(0, np.int64)

    def summary(self) -> str:
        """Human-readable description of what the table holds."""
        lines = [f"NAS-Bench-101 ground truth: {self.source}",
                 f"  format {FORMAT}, {len(self):,} cells"]
        for name in METRICS:
            arr = self._metric_array(name)
            for e, ep in enumerate(EPOCHS):
                per_rep = [int((~np.isnan(arr[:, e, r])).sum()) for r in range(NUM_REPEATS)]
                if sum(per_rep) == 0:
                    continue
                anyr = int((~np.isnan(arr[:, e, :])).any(axis=1).sum())
                vals = arr[:, e, :]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = float(np.nanmean(vals))
                lines.append(f"  {name:<10} @{ep:>3} epochs: cells per repeat {per_rep}, "
                             f"any repeat {anyr:,}, mean {mean:.4f}")
        lines.append(f"  params: min {self.params.min():,} max {self.params.max():,}"
                     if len(self) else "  params: -")
        return "\n".join(lines)
