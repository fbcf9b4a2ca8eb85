"""Predictors and configs by preset name: the dish's or the ranker's, whichever it names.

The command line, the evaluation and NASLib's registry take any shipped preset; this module
knows which class each kind belongs to (:func:`naslib_petridish.presetfiles.preset_kind`),
so that neither the dish code nor the ranker needs to know the other.
"""
from __future__ import annotations

from typing import Any

from .config import PetriDishConfig
from .presetfiles import preset_kind


def resolve_any(preset: str, config_file: str | None = None, overrides=None, **explicit):
    """The resolved config of ``preset`` (a PetriDishConfig or a RankerConfig), as
    :func:`naslib_petridish.config.resolve_config` does for the dish."""
    if preset_kind(preset) == "ranker":
        from .ranker.config import resolve_ranker_config
        return resolve_ranker_config(preset, config_file, overrides, **explicit)
    from .config import resolve_config
    return resolve_config(preset, config_file, overrides, **explicit)


def predictor_class(config) -> type:
    """The predictor class of a resolved config."""
    if isinstance(config, PetriDishConfig):
        from .predictor import SyntheticPetriDishPredictor
        return SyntheticPetriDishPredictor
    from .ranker.predictor import RankerPredictor
    return RankerPredictor


def make_predictor(preset: str | None = None, config=None, **kwargs: Any):
    """A predictor of ``config`` (resolved) or of ``preset`` (with ``kwargs``' config
    overrides, as the classes take them)."""
    if config is None:
        if preset_kind(preset) == "ranker":
            from .ranker.predictor import RankerPredictor
            return RankerPredictor(preset=preset, **kwargs)
        from .predictor import SyntheticPetriDishPredictor
        return SyntheticPetriDishPredictor(preset=preset, **kwargs)
    return predictor_class(config)(config=config, **kwargs)


def load_fitted(directory, **kwargs: Any):
    """The predictor a finished fit left in ``directory`` (``dish.pt`` or ``ranker.json``)."""
    import os

    from .ranker.predictor import FIT_FILE

    if os.path.isdir(directory) and os.path.exists(os.path.join(directory, FIT_FILE)) or \
            str(directory).endswith(".json"):
        from .ranker.predictor import RankerPredictor
        return RankerPredictor.load(directory, **kwargs)
    from .predictor import SyntheticPetriDishPredictor
    return SyntheticPetriDishPredictor.load(directory, **kwargs)


def describe_preset(name: str) -> str:
    """One line on what a shipped preset does, from its fields."""
    kind = preset_kind(name)
    if kind == "ranker":
        from .ranker.config import resolve_ranker_config

        c = resolve_ranker_config(name)
        models = " + ".join(f"{c.graph_members} graph networks" if m == "graph" else m
                            for m in c.models)
        st = f", self-trained on {c.self_training} unlabelled cells" if c.self_training else ""
        motif = (f"; motif {c.dish_config().motif} trains {c.dish_config().inner_epochs} epochs "
                 "on the untrained dish per cell" if c.trains_motifs else "; trains no motif")
        return f"{models}{st} on {', '.join(c.features)}{motif}"
    from .config import load_preset

    d = load_preset(name)
    what = ("the dish is NOT trained (outer_lr 0)" if d.get("outer_lr", 1) == 0
            else "not the paper's protocol" if not name.startswith("paper-")
            else "the paper's protocol")
    return (f"motif {d.get('motif')}, {d.get('inner_epochs')} inner x "
            f"{d.get('outer_epochs')} outer epochs; {what}")


def search_options(name: str, options: dict | None = None) -> dict:
    """The predictor options a search loop fits ``name`` with: ``options`` over the search's
    defaults.  A ranker preset that self-trains refits its graph networks and their students
    every round on a grown training set, so a search continues them from the last round
    (``warm_start: true``: about 2.5x the time of ``cell-features-boosted`` instead of 4.5-8x,
    no worse at 150 queries; SEARCH.md, "warm starts") unless ``options`` set ``warm_start``
    (``false``: the cold fit every round).  Any other predictor's options are returned as
    given."""
    from . import presetfiles

    options = dict(options or {})
    if "warm_start" in options or name not in presetfiles.preset_names("ranker"):
        return options
    if options.get("self_training", resolve_any(name).self_training):
        options["warm_start"] = True
    return options


def search_predictor(name: str, table, seed: int = 0, options: dict | None = None):
    """A predictor for a search loop by name: a control (``params``, ``mean``:
    :mod:`.controls`), a shipped preset (ranker or dish; ``options`` are its config fields)
    or, with NASLib, any of NASLib's predictors (``xgb``, ``gcn``, ``bananas``, ...)."""
    from . import presetfiles
    from .controls import CONTROLS, TableParams, TrainingMean
    from .errors import NASLibNotAvailable, UsageError

    options = dict(options or {})
    if name == "params":
        return TableParams(table)
    if name == "mean":
        return TrainingMean(seed, getattr(table, "space", "nb101"))
    if name in presetfiles.preset_names():
        return make_predictor(name, table=table, **{"seed": seed, **options})
    try:
        from .naslib.predictors import PRESET_PREDICTORS, naslib_cells_predictor
        if name in PRESET_PREDICTORS:
            return search_predictor(PRESET_PREDICTORS[name], table, seed, options)
        return naslib_cells_predictor(name, table, seed)
    except NASLibNotAvailable as exc:
        raise UsageError(f"unknown predictor '{name}' for search: use a shipped preset "
                         f"({', '.join(presetfiles.preset_names())}), {' or '.join(CONTROLS)}"
                         f", or install NASLib for its predictors ({exc})") from exc
