"""The ranking model: feature sources, models and self-training behind NASLib's contract.

Apart from the dish: the dish modules import nothing of this subpackage; the ranker asks
the dish code for one optional feature source, each cell's motif's learning curve on a dish.
Modules, each depending only on the ones above it:

* :mod:`.features` -- numeric features of cells (encodings, path counts, free statistics);
* :mod:`.graph` -- graph networks over the cell graphs with a pairwise ranking loss;
* :mod:`.trees` -- LightGBM on the ranks of the training accuracies;
* :mod:`.sources` -- the feature sources, registered by name (``encoding``, ``path``,
  ``free``, ``dish``);
* :mod:`.models` -- the models, registered by name (``trees``, ``graph``);
* :mod:`.config` -- :class:`RankerConfig` and the ranker presets;
* :mod:`.self_training` -- graph networks (and co-trained trees) taught by the fitted
  models on unlabelled cells;
* :mod:`.predictor` -- :class:`RankerPredictor` (fit / query / save / load).
"""
from __future__ import annotations

_EXPORTS = {"RankerPredictor": "predictor", "RankerConfig": "config",
            "resolve_ranker_config": "config", "preset_names": "config",
            "FeatureSource": "sources", "register_source": "sources", "SOURCES": "sources",
            "RankModel": "models", "register_model": "models", "MODELS": "models"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):  # PEP 562: torch and LightGBM load on first use
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
