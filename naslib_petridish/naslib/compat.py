"""Importing NASLib: lazily, once, with the shims it needs on Python >= 3.10.

NASLib (github automl/NASLib, branch Develop) is not on PyPI and refuses
``pip install`` on Python > 3.9, so it is used from a checkout on ``sys.path``.
Only the functions of this subpackage that talk to NASLib call
:func:`import_naslib`; importing the subpackage never imports NASLib.
"""
from __future__ import annotations

import collections
import collections.abc
from pathlib import Path
from types import SimpleNamespace

from ..errors import NASLibNotAvailable

NASLIB_HINT = (
    "NASLib is needed for this: it is not on PyPI, so clone github automl/NASLib (branch "
    "Develop) and put the checkout on sys.path, e.g. `echo /path/to/NASLib > "
    "$(python -c 'import site; print(site.getsitepackages()[0])')/naslib.pth`, then install "
    "its requirements with numpy<2.4 and scikit-learn<1.6 (docs/naslib.md)")

_NASLIB: SimpleNamespace | None = None


def import_naslib() -> SimpleNamespace:
    """Import the NASLib pieces this subpackage uses (once), or raise
    :class:`NASLibNotAvailable` with instructions."""
    global _NASLIB
    if _NASLIB is not None:
        return _NASLIB
    # NASLib's gpwl_utils does `from collections import Iterable` (removed in Python 3.10)
    for name in ("Iterable", "Mapping", "MutableMapping", "Sequence", "Callable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    try:
        import naslib
    except ImportError as exc:
        raise NASLibNotAvailable(f"NASLib is not importable. {NASLIB_HINT}") from exc
    try:
        import naslib.utils as nl_utils
        import naslib.utils.nb101_api as nb101_api
        from naslib.defaults.predictor_evaluator import PredictorEvaluator
        from naslib.defaults.trainer import Trainer
        from naslib.optimizers import Bananas, Npenas, RegularizedEvolution
        from naslib.predictors import Predictor
        from naslib.search_spaces import NasBench101SearchSpace, NasBench201SearchSpace
        from naslib.search_spaces.core.query_metrics import Metric
    except ImportError as exc:
        raise NASLibNotAvailable(
            f"NASLib is on the path but failed to import ({exc}). {NASLIB_HINT}") from exc
    _NASLIB = SimpleNamespace(utils=nl_utils, nb101_api=nb101_api, Trainer=Trainer,
                              PredictorEvaluator=PredictorEvaluator, Predictor=Predictor,
                              NasBench101SearchSpace=NasBench101SearchSpace,
                              NasBench201SearchSpace=NasBench201SearchSpace, Metric=Metric,
                              RegularizedEvolution=RegularizedEvolution, Bananas=Bananas,
                              Npenas=Npenas, root=Path(naslib.__file__).parent)
    return _NASLIB
