"""NB101 ground truth as NASLib's dataset API (``dataset_api["nb101_data"]``).

:class:`TableNASBench` answers the calls NASLib's ``NasBench101SearchSpace`` makes
(``is_valid``, ``query``, ``get_metrics_from_hash``, ``hash_iterator``) from any
ground-truth source this package reads (compact table, tfrecord, NASLib pickle),
without importing NASLib; only :func:`make_dataset_api` needs it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..cells import as_cell
from ..errors import InvalidCellError, NASLibNotAvailable, UnknownCellError
from ..tables import NB101Table, metric_key
from .compat import import_naslib


class CellOutOfDomainError(UnknownCellError):
    """A cell that is not in the ground truth behind :class:`TableNASBench`.

    Where NASLib is importable the error raised is also a NASLib
    ``OutOfDomainError`` (see :func:`out_of_domain_error`), so NASLib code that
    catches its own error keeps working."""


_OUT_OF_DOMAIN: type[CellOutOfDomainError] | None = None


def out_of_domain_error() -> type[CellOutOfDomainError]:
    """The class :class:`TableNASBench` raises for cells outside its table: a
    :class:`CellOutOfDomainError` that is also NASLib's ``OutOfDomainError`` where
    NASLib is importable (as NASLib's own ``nb101_api.NASBench`` raises)."""
    global _OUT_OF_DOMAIN
    if _OUT_OF_DOMAIN is None:
        try:
            base = import_naslib().nb101_api.OutOfDomainError
        except NASLibNotAvailable:
            _OUT_OF_DOMAIN = CellOutOfDomainError
        else:
            _OUT_OF_DOMAIN = type("CellOutOfDomainError", (CellOutOfDomainError, base),
                                  {"__module__": __name__, "__doc__": CellOutOfDomainError.__doc__})
    return _OUT_OF_DOMAIN


class TableNASBench:
    """NASLib's ``nb101_data`` (``naslib/utils/nb101_api.NASBench``) over an NB101Table.

    ``metric`` decides what NASLib's accuracy queries read: with ``"val"`` the
    ``validation_accuracy`` key is the validation accuracy, with ``"test"`` it is
    the test accuracy (for sources where validation accuracy is partial, such as
    the shared table).  Values are means over the repeats the source has (NASLib's
    own loader draws a random repeat and reseeds ``random``; this one is
    deterministic).  Cells that lack the metric are reported as not valid, so
    NASLib's samplers and mutations stay among cells with ground truth.
    """

    def __init__(self, table: NB101Table, metric: str = "val"):
        self.table = table
        self.metric = "val" if metric_key(metric) == "val_acc" else "test"
        self.config = {"module_vertices": 7, "max_edges": 9, "num_repeats": 3,
                       "available_ops": ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]}
        self.valid_epochs = {int(e) for e in table.epochs
                             if table.has_metric(self.metric, int(e)).any()}
        self._has = table.has_metric(self.metric, 108)
        self.queries = 0

    def _row(self, model_spec) -> int | None:
        try:
            cell = as_cell(model_spec)
        except InvalidCellError:
            return None
        try:
            return self.table.index(cell)
        except UnknownCellError:
            return None

    def _row_or_raise(self, model_spec) -> int:
        r = self._row(model_spec)
        if r is None:
            raise out_of_domain_error()(
                f"cell not in the NB101 ground truth {self.table.source}")
        return r

    def is_valid(self, model_spec) -> bool:
        r = self._row(model_spec)
        return r is not None and bool(self._has[r])

    def query(self, model_spec, epochs: int = 108, stop_halfway: bool = False) -> dict:
        r = self._row_or_raise(model_spec)
        self.queries += 1
        q = self.table.query(r, epochs)
        cell = self.table.cell(r)
        test = q.test_accuracy
        val = q.validation_accuracy if self.metric == "val" else test
        return {"module_adjacency": cell.matrix.copy(), "module_operations": list(cell.ops),
                "trainable_parameters": q.trainable_parameters,
                "training_time": q.training_time, "train_accuracy": float("nan"),
                "validation_accuracy": val, "test_accuracy": test}

    def get_metrics_from_hash(self, module_hash: str):
        r = self.table.index(module_hash)
        cell = self.table.cell(r)
        fixed = {"module_adjacency": cell.matrix.copy(), "module_operations": list(cell.ops),
                 "trainable_parameters": int(self.table.params[r])}
        computed = {}
        for e, ep in enumerate(self.table.epochs):
            reps = []
            for k in range(3):
                v = float(self.table.val_acc[r, e, k])
                t = float(self.table.test_acc[r, e, k])
                if np.isnan(v) and np.isnan(t):
                    continue
                reps.append({"final_validation_accuracy": v if self.metric == "val" else t,
                             "final_test_accuracy": t,
                             "final_training_time": float(self.table.train_time[r, e, k])})
            if reps:
                computed[int(ep)] = reps
        return fixed, computed

    def get_metrics_from_spec(self, model_spec):
        r = self._row_or_raise(model_spec)
        return self.get_metrics_from_hash(str(self.table.hashes[r]))

    def hash_iterator(self) -> list[str]:
        return [str(h) for h, ok in zip(self.table.hashes, self._has) if ok]


def default_metric(table: NB101Table) -> str:
    """Validation accuracy where the source has it for every cell, else test."""
    epochs = 108 if getattr(table, "space", "nb101") == "nb101" else None
    return "val" if table.has_metric("val", epochs).all() else "test"


def api_metric(api: dict) -> str:
    """What the dataset API's accuracy queries read (``val`` or ``test``)."""
    return (api.get("nb101_data") or api.get("nb201_data")).metric


def naslib_pickle_path() -> Path | None:
    """NASLib's own ``naslib/data/nasbench_only108.pkl``, where NASLib and the file exist."""
    try:
        nl = import_naslib()
    except NASLibNotAvailable:
        return None
    p = nl.root / "data" / "nasbench_only108.pkl"
    return p if p.exists() else None


def open_table(nb101: str | None, space: str = "nb101", nb201: str | None = None,
               dataset: str | None = None):
    """NB101: ``--nb101``, else NASLib's own pickle when it exists, else the usual lookup;
    NB201: the data set ``dataset`` of ``--nb201`` (else the usual lookup)."""
    from ..sources import load_ground_truth, open_ground_truth

    if space != "nb101":
        from ..spaces import open_table as open_space_table
        return open_space_table(space, nb101, nb201, dataset, progress=False)
    if nb101:
        return load_ground_truth(nb101)
    p = naslib_pickle_path()
    if p is not None and not os.environ.get("NASLIB_PETRIDISH_NB101"):
        return load_ground_truth(p)
    return open_ground_truth(None)


def make_dataset_api(table: NB101Table, metric: str | None = None) -> dict:
    """What NASLib's ``get_dataset_api`` returns for the table's space, over ``table``."""
    nl = import_naslib()
    if getattr(table, "space", "nb101") == "nb201":
        from .dataset201 import make_dataset_api_201
        return make_dataset_api_201(table, metric)
    return {"api": nl.nb101_api,
            "nb101_data": TableNASBench(table, metric or default_metric(table))}
