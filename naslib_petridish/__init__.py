"""naslib-petridish: the Synthetic Petri Dish performance predictor on NAS-Bench-101.

Modules, each depending only on the ones above it (data flows one way):

* :mod:`.errors` -- every error, under :class:`~.errors.PetriDishError`;
  :mod:`.seeds` -- the named random streams of a run;
* :mod:`.cells` -- the NB101 cell space (validity, pruning, official hash,
  conversions, sampling, mutation);
* :mod:`.tables`, :mod:`.tfrecord`, :mod:`.naslib_pickle`, :mod:`.sources`,
  :mod:`.download` -- ground truth (compact table, official tfrecord, NASLib pickle);
* :mod:`.motifs` -- NB101 networks of any size (motifs A/B/C);
* :mod:`.config` -- every setting of a run, and the presets;
* :mod:`.dish` -- the synthetic dataset and its file;
* :mod:`.inner` -- train one motif on the dish and score it (the inner loop);
* :mod:`.runner` -- train many motifs in worker processes or on Ray;
* :mod:`.rundir` -- run directories: lock, overwrite rules, atomic writes;
* :mod:`.correlation` -- Kendall, Spearman, Pearson;
* :mod:`.outer` -- generate the dish (the outer loop);
* :mod:`.calibration` -- the score -> accuracy map;
* :mod:`.predictor` -- the NASLib predictor contract (fit / query);
* :mod:`.evaluate` -- held-out evaluation with baselines;
* :mod:`.naslib` -- NASLib glue (needs NASLib, imported lazily);
* :mod:`.plots` -- figures of a run (needs the ``plot`` extra);
* :mod:`.cli` -- the ``naslib-petridish`` command line.
"""
__version__ = "0.2.0"

from .cells import Cell, as_cell, as_cells, mutate, random_cell  # noqa: E402
from .errors import (GroundTruthError, InvalidCellError, PetriDishError,  # noqa: E402
                     UnknownCellError)
from .tables import NB101Table  # noqa: E402

__all__ = ["Cell", "InvalidCellError", "as_cell", "as_cells", "mutate", "random_cell",
           "GroundTruthError", "NB101Table", "PetriDishError", "UnknownCellError",
           "__version__"]
