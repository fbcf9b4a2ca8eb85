"""What a search space provides: the contract NB101, NB201 and any third space implement.

Every layer above (the dish, the ranker, evaluation, guided search, the command line and
the NASLib glue) reaches a space only through these members.

======================  ===============================================================
member                  what it is
======================  ===============================================================
``name``                registry name (``nb101``, ``nb201``)
``naslib_name``         NASLib's name of the space (``nasbench101``, ...)
``epochs``              epoch budgets of the ground truth; ``final_epochs`` the last
``default_metric``      what a predictor learns from by default (``val`` or ``test``)
``recommended_ranker``  the ranker preset the command line uses where none is named
``as_cell(x, table)``   every form a user meets -> the space's cell (raises
                        :class:`~naslib_petridish.errors.InvalidCellError`)
``cell.key``            canonical form: equal keys = the same function (distinctness)
``cell.hash``           identifier of a cell in the ground-truth table
``random_cell(rng)``    NASLib's sampler; ``mutate(cell, rng)``; ``neighbours(cell)``
``all_cells()``         enumeration (``None`` where the space is too large)
``copies(cell)``        the cells of the space that compute the same function (equal
                        ``key``), the cell itself first (``[cell]`` where none is known)
``encoding(cells)``     adjacency + one-hot encoding (float matrix, column names)
``path_encoding``       counts of input-output paths by operation sequence
``free_features``       what costs nothing: parameters, FLOPs, depth, op and path counts
``graph(cells)``        node-labelled DAG for graph networks: adjacency ``[n, V, V]``,
                        one-hot labels ``[n, V, K]``, output vertex last
``motif_shape(spec)``   a :class:`~naslib_petridish.motifs.MotifShape` by name (A/B/C/full)
``build_network``       the network of a cell at a shape (a ``torch.nn.Module``)
``count_parameters``    trainable parameters of the network at a shape, without building it
``load_table(path,      ground truth of one data set, with the interface of
dataset)``              :class:`~naslib_petridish.tables.NB101Table` (sample, metric,
                        cells, hashes, params, ...)
======================  ===============================================================
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np


class SearchSpace:
    """Base class: the shared helpers; subclasses fill in the members above."""

    name = ""
    naslib_name = ""
    epochs: tuple[int, ...] = ()
    final_epochs = 0
    default_metric = "val"
    #: the ranker preset ranking this space's cells best (NB101: RANKING.md)
    recommended_ranker = "cell-features-self-trained"

    def as_cell(self, x: Any, table=None):
        raise NotImplementedError

    def as_cells(self, xs: Iterable[Any], table=None) -> list:
        from ..cells import as_cells
        return as_cells(xs, table, self.as_cell)

    def all_cells(self) -> list | None:
        return None

    def copies(self, cell) -> list:
        """``cell`` and the other cells of the space with its ``key`` (the same function),
        the cell first: only ``[cell]`` here (NB101's tables hold one cell per function)."""
        return [cell]

    def log_params(self, cells: Sequence) -> np.ndarray:
        """log10 of the full network's parameter count of each cell (the free baseline)."""
        return np.log10([self.count_parameters(c, "full") for c in cells])

    def __repr__(self) -> str:
        return f"<search space {self.name}>"
