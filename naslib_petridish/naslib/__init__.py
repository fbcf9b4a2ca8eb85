"""NASLib glue: the dish and the ranker as NASLib predictors, NB101 ground truth as
NASLib's dataset API, predictor evaluation and predictor-driven search.

NASLib is optional and imported lazily: importing this subpackage (or any of its
modules) never imports NASLib; only the functions that hand objects to NASLib call
:func:`import_naslib`.  Modules: ``compat`` (the import and its shims), ``dataset``
(:class:`TableNASBench`), ``predictors`` (:func:`get_predictor`), ``evaluation``
(:func:`run_predictor_evaluation`), ``cost`` (time models), ``search_rules`` (the
decisions, NASLib-free), ``search_methods`` (methods and budgets), ``search_optimizers``
(the mixins on NASLib's optimizers) and ``search`` (:func:`run_search`).
"""
from __future__ import annotations

from ..errors import ConfigError, NASLibNotAvailable
from .compat import NASLIB_HINT, import_naslib
from .dataset import (CellOutOfDomainError, TableNASBench, default_metric, make_dataset_api,
                      naslib_pickle_path, open_table, out_of_domain_error)
from .evaluation import load_naslib_config, run_predictor_evaluation
from .predictors import (PETRIDISH_PRESETS, PRESET_PREDICTORS, RANKER_PRESETS, float64_queries,
                         get_predictor, naslib_builtin_factories, predictor_class,
                         predictor_names, ranker_class)
from .search import (DishEnsemble, DishSurrogateMixin, PredictorFitnessEvolutionMixin,
                     optimizer_classes,
                     run_search)

# PetriDishNASLibPredictor is left out: a star import would need NASLib
__all__ = [
    "NASLIB_HINT", "import_naslib", "NASLibNotAvailable", "ConfigError",
    "TableNASBench", "CellOutOfDomainError", "out_of_domain_error", "default_metric",
    "naslib_pickle_path", "open_table", "make_dataset_api",
    "PETRIDISH_PRESETS", "RANKER_PRESETS", "PRESET_PREDICTORS", "predictor_class", "ranker_class",
    "naslib_builtin_factories", "predictor_names", "get_predictor", "float64_queries",
    "load_naslib_config", "run_predictor_evaluation",
    "DishEnsemble", "PredictorFitnessEvolutionMixin", "DishSurrogateMixin", "optimizer_classes",
    "run_search",
]


def __getattr__(name: str):  # PEP 562: NASLib's Predictor base exists only once NASLib is
    if name == "PetriDishNASLibPredictor":
        return predictor_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
