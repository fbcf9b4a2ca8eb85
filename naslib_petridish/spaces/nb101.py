"""NAS-Bench-101 as a search space: the contract of :mod:`.base` over the NB101 modules.

The cell (:mod:`naslib_petridish.cells`), its ground truth (:mod:`naslib_petridish.tables`)
and networks (:mod:`naslib_petridish.motifs`) stay the modules they were; this adapter
names them through the space contract.  The ranker's NB101 features are
:mod:`.nb101_features` (imported lazily).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import cells as C
from .base import SearchSpace

#: the compact table's hidden-op labels as graph labels: input, 3 ops, output
_N_LABELS = 5


class NB101Space(SearchSpace):
    name = "nb101"
    naslib_name = "nasbench101"
    epochs = (4, 12, 36, 108)
    final_epochs = 108
    default_metric = "val"
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

    # -- features and graph form ---------------------------------------------
    def encoding(self, cells: Sequence):
        from . import nb101_features as F
        return F.encoding(cells)

    def path_encoding(self, cells: Sequence):
        from . import nb101_features as F
        return F.path_encoding(cells)

    def free_features(self, cells: Sequence):
        from . import nb101_features as F
        return F.free_features(cells)

    def graph(self, cells: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """The padded 7x7 cell (output at vertex 6) and one-hot labels over input, the
        three operations and output (padding vertices all zero)."""
        from . import nb101_features as F

        x = F.encoding(cells)[0]
        n, v = len(cells), C.MAX_VERTICES
        iu = np.triu_indices(v, 1)
        a = np.zeros((n, v, v), np.float32)
        a[:, iu[0], iu[1]] = x[:, :len(iu[0])]
        h = np.zeros((n, v, _N_LABELS), np.float32)
        h[:, 0, 0] = 1
        h[:, v - 1, _N_LABELS - 1] = 1
        h[:, 1:v - 1, 1:_N_LABELS - 1] = x[:, len(iu[0]):].reshape(n, v - 2, 3)
        return a, h

    # -- networks ------------------------------------------------------------
    def motif_shape(self, spec: Any):
        from ..motifs import motif_shape
        return motif_shape(spec)

    def build_network(self, cell, shape: Any = "C", **kwargs):
        from ..motifs import build_network
        return build_network(cell, shape, **kwargs)

    def count_parameters(self, cell, shape: Any = "full") -> int:
        from ..motifs import count_parameters
        return count_parameters(cell, shape)

    # -- ground truth --------------------------------------------------------
    def load_table(self, path: str, dataset: str | None = None):
        """The NB101 table of ``path`` (any format :mod:`naslib_petridish.sources` reads);
        NB101 has one data set (CIFAR-10)."""
        if dataset not in (None, "", "cifar10"):
            from ..errors import UsageError
            raise UsageError(f"NAS-Bench-101 has the data set cifar10 only, not '{dataset}'")
        from ..sources import open_ground_truth
        return open_ground_truth(path)
