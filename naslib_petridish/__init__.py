"""naslib-petridish: Synthetic Petri Dish and ranking predictors on NAS-Bench-101 and -201.

Modules, each depending only on the ones above it (data flows one way):

* :mod:`.errors` -- every error, under :class:`~.errors.PetriDishError`;
  :mod:`.seeds` -- the named random streams of a run; :mod:`.threads` -- torch threads;
* :mod:`.spaces` -- the search spaces (NB101, NB201) every layer above asks for cells,
  ground truth, features and networks; imports neither the dish nor the ranker;
* :mod:`.cells` -- the NB101 cell space (validity, pruning, official hash,
  conversions, sampling, mutation);
* :mod:`.tables`, :mod:`.tfrecord`, :mod:`.naslib_pickle`, :mod:`.sources`,
  :mod:`.download` -- ground truth (compact table, official tfrecord, NASLib pickle);
* :mod:`.motifs` -- NB101 networks of any size (motifs A/B/C);
* :mod:`.presetfiles` -- the shipped presets of both kinds by name, strict YAML;
* :mod:`.fields` -- config plumbing both kinds share (fields, overrides, space);
* :mod:`.config` -- every setting of a dish run, and the dish presets;
* :mod:`.dish` -- the synthetic dataset and its file;
* :mod:`.inner` -- train one motif on the dish and score it (the inner loop);
* :mod:`.runner` -- train many motifs in worker processes or on Ray;
* :mod:`.rundir` -- run directories: lock, overwrite rules, atomic writes;
* :mod:`.correlation` -- Kendall, Spearman, Pearson;
* :mod:`.outer` -- generate the dish (the outer loop);
* :mod:`.calibration` -- the paper's score -> accuracy maps;
* :mod:`.contract` -- the hooks of NASLib's predictor contract;
* :mod:`.predictor` -- the dish behind NASLib's contract (fit / query);
* :mod:`.ranker` -- the ranking model (feature sources, models, self-training, its own
  predictor), a peer of the dish: no dish module imports it, and it imports the dish only
  in its learning-curve sources;
* :mod:`.controls` -- the controls ``params`` and ``mean``;
* :mod:`.factory` -- a predictor by preset name, of either kind; a search's predictor;
* :mod:`.evaluate` -- held-out evaluation with baselines;
* :mod:`.naslib` -- NASLib glue (needs NASLib, imported lazily);
* :mod:`.plots` -- figures of a run (needs the ``plot`` extra);
* :mod:`.cli`, :mod:`.cli_parser` -- the ``naslib-petridish`` command line.
"""
__version__ = "0.8.1"

#: public names, imported on first use (PEP 562) so that ``import naslib_petridish`` and
#: the command line start without loading numpy or torch
_EXPORTS = {"Cell": "cells", "as_cell": "cells", "as_cells": "cells", "mutate": "cells",
            "random_cell": "cells", "NB101Table": "tables", "GroundTruthError": "errors",
            "InvalidCellError": "errors", "PetriDishError": "errors",
            "UnknownCellError": "errors"}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'naslib_petridish' has no attribute '{name}'")
