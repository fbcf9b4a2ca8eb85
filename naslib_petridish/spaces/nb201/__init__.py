"""NAS-Bench-201 as a search space: cells, ground truth, features, networks (:mod:`..base`).

Modules: :mod:`.cell` (the cell, its forms, canonical string, sampling, mutation),
:mod:`.table` (the ``nb201-table-v1`` file and one data set of it), :mod:`.features` (the
ranker's encodings and graph form), :mod:`.network` (NB201's network and the motifs),
:mod:`.naslib_pickle` (NASLib's ``nb201_<dataset>_full_training.pickle``).
"""
from __future__ import annotations

import os
from typing import Any, Sequence

from ..base import SearchSpace
from . import cell as C

ENV_VAR = "NASLIB_PETRIDISH_NB201"
CACHED_TABLE = "nb201_table.npz"


def locate_table(path: str | os.PathLike | None = None) -> str:
    """``--nb201 FILE``, else ``$NASLIB_PETRIDISH_NB201``, else the cache's
    ``nb201_table.npz``; or say what to do."""
    from ...sources import locate_file

    return locate_file(
        path, "--nb201", ENV_VAR, CACHED_TABLE,
        "no NAS-Bench-201 ground truth found: pass --nb201 FILE (an nb201_table.npz, or "
        f"NASLib's nb201_<dataset>_full_training.pickle), set ${ENV_VAR}, or put the table "
        "at {cached}")


def load_file(path: str | os.PathLike):
    """The :class:`~.table.NB201File` of a compact table or of NASLib's pickle."""
    from ...sources import detect_format
    from .table import NB201File

    path = os.fspath(path)
    if not os.path.exists(path):
        from ...errors import GroundTruthError
        raise GroundTruthError(f"ground-truth file not found: {path}")
    if detect_format(path) == "pickle":
        from .naslib_pickle import read_naslib_nb201
        return NB201File(read_naslib_nb201({_pickle_dataset(path): path}), source=path)
    return NB201File.load(path)


def _pickle_dataset(path: str) -> str:
    """The data set of NASLib's ``nb201_<dataset>_full_training.pickle`` by its name."""
    base = os.path.basename(path).lower()
    for key, name in (("cifar100", "cifar100"), ("cifar10", "cifar10"),
                      ("imagenet", "ImageNet16-120")):
        if key in base:
            return name
    from ...errors import GroundTruthError
    raise GroundTruthError(f"{path}: cannot tell the data set of a NASLib NB201 pickle from "
                           "its name (expected nb201_<cifar10|cifar100|ImageNet16>_"
                           "full_training.pickle)")


class NB201Space(SearchSpace):
    name = "nb201"
    naslib_name = "nasbench201"
    epochs = (12, 200)
    final_epochs = 200
    default_metric = "val"
    #: best or level with the best at every size on CIFAR-10 and CIFAR-100 (NB201.md)
    recommended_ranker = "cell-features-self-trained-isomorphs"
    cell_type = C.Cell
    ops = C.OPS

    def as_cell(self, x: Any, table=None):
        return C.as_cell(x, table)

    def random_cell(self, rng=None):
        return C.random_cell(rng)

    def mutate(self, cell, rng=None, mutation_rate: float = 1.0):
        return C.mutate(cell, rng, mutation_rate)

    def neighbours(self, cell):
        return C.neighbours(cell)

    def all_cells(self):
        return C.all_cells()

    def copies(self, cell):
        return C.copies(cell)

    def encoding(self, cells: Sequence):
        from .features import encoding
        return encoding(cells)

    def path_encoding(self, cells: Sequence):
        from .features import path_encoding
        return path_encoding(cells)

    def free_features(self, cells: Sequence):
        from .features import free_features
        return free_features(cells)

    def graph(self, cells: Sequence):
        from .features import graph
        return graph(cells)

    def motif_shape(self, spec: Any):
        from .network import motif_shape
        return motif_shape(spec)

    def build_network(self, cell, shape: Any = "C", **kwargs):
        from .network import build_network
        return build_network(cell, shape, **kwargs)

    def count_parameters(self, cell, shape: Any = "full") -> int:
        from .network import count_parameters
        return count_parameters(cell, shape)

    def load_table(self, path: str | None = None, dataset: str | None = None):
        """One data set (``None``: the file's first) of the file found by
        :func:`locate_table`."""
        return load_file(locate_table(path)).dataset(dataset)
