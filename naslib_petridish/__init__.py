"""naslib-petridish: the Synthetic Petri Dish performance predictor on NAS-Bench-101.

Layers, each depending only on the ones above it:

* :mod:`~naslib_petridish.cells` -- the NB101 cell space (validity, pruning,
  official hash, conversions, sampling, mutation);
* :mod:`~naslib_petridish.tables` / :mod:`~naslib_petridish.sources` -- ground
  truth (compact table, official tfrecord, NASLib pickle);
* :mod:`~naslib_petridish.motifs` -- NB101 networks of any size (motifs A/B/C).
"""
__version__ = "0.1.0"

from .cells import Cell, InvalidCellError, as_cell, as_cells, mutate, random_cell  # noqa: E402
from .tables import GroundTruthError, NB101Table, UnknownCellError  # noqa: E402

__all__ = ["Cell", "InvalidCellError", "as_cell", "as_cells", "mutate", "random_cell",
           "GroundTruthError", "NB101Table", "UnknownCellError", "__version__"]
