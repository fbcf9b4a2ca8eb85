"""NB201 ground truth as NASLib's dataset API (``dataset_api["nb201_data"]``).

NASLib's ``NasBench201SearchSpace.query`` reads ``dataset_api["nb201_data"][arch_str]
[key][name][epoch]`` (``naslib/search_spaces/nasbench201/graph.py``): ``key`` is the data
set, ``cifar10-valid`` for CIFAR-10; ``name`` is ``eval_acc1es`` for both validation and
test accuracy, ``train_acc1es``, ``eval_losses``, ...; ``epoch`` is -1 (the last) unless a
learning curve is asked for; ``cost_info`` holds ``params``, ``flops``, ``latency`` and
``train_time``.  :class:`TableNB201Data` answers those reads from an
:class:`~naslib_petridish.spaces.nb201.table.NB201File`, in percent as NASLib's files:
``eval_acc1es`` is the validation accuracy (``metric="val"``) or the test accuracy
(``"test"``) of the 200-epoch schedule at index 199 (and the 12-epoch schedule's at index
11, other epochs NaN: our files hold two budgets, not curves); ``params`` (MB) and
``flops`` (MFLOPs) are the package's exact counts; ``train_time`` and ``latency`` are not
in our files: NaN.  NASLib-free; :func:`make_dataset_api_201` adds NASLib's module.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..errors import UnknownCellError

#: NASLib's key of a data set (its query maps cifar10 to the cifar10-valid run)
NASLIB_KEYS = {"cifar10": "cifar10-valid"}
CURVE = 200


def naslib_key(dataset: str) -> str:
    return NASLIB_KEYS.get(dataset, dataset)


class TableNB201Data(Mapping):
    """``arch_str -> {naslib_key: {curve name: [200 values], "cost_info": {...}}}``."""

    def __init__(self, file, metric: str = "val"):
        self.file = file
        self.metric = "val" if str(metric).lower().startswith("val") else "test"
        self.queries = 0
        self._keys = {naslib_key(d): d for d in file.datasets}

    def __getitem__(self, arch: str) -> dict:
        try:
            row = self.file._row[arch]
        except KeyError:
            raise UnknownCellError(f"cell {arch} is not in the NB201 ground truth "
                                   f"{self.file.source}") from None
        self.queries += 1
        return {key: self._record(row, d) for key, d in self._keys.items()}

    def _record(self, row: int, dataset: str) -> dict:
        import dataclasses

        from ..spaces.nb201.network import count_flops, count_parameters, motif_shape
        from ..spaces.nb201.table import NUM_CLASSES

        d = self.file.datasets.index(dataset)
        acc = self.file.val_acc if self.metric == "val" else self.file.test_acc
        curve = [float("nan")] * CURVE
        for e, ep in enumerate(self.file.epochs):
            if ep <= CURVE:
                curve[ep - 1] = float(acc[row, e, d]) * 100
        cell = self.file._cells[row]
        shape = dataclasses.replace(motif_shape("full"),
                                    num_classes=NUM_CLASSES.get(dataset, 10))
        nan = [float("nan")] * CURVE
        return {"eval_acc1es": curve, "train_acc1es": nan, "eval_losses": nan,
                "train_losses": nan,
                "cost_info": {"params": count_parameters(cell, shape) / 1e6,
                              "flops": count_flops(cell, shape) / 1e6,
                              "latency": float("nan"), "train_time": float("nan")}}

    def __iter__(self):
        return iter(self.file.arch.tolist())

    def __len__(self) -> int:
        return len(self.file.arch)


def make_dataset_api_201(table, metric: str | None = None) -> dict:
    """What NASLib's ``get_dataset_api("nasbench201", dataset)`` returns, over ``table`` (an
    NB201 table of one data set; every data set of its file is served)."""
    return {"nb201_data": TableNB201Data(table.file, metric or "val")}


__all__ = ["TableNB201Data", "make_dataset_api_201", "naslib_key"]
