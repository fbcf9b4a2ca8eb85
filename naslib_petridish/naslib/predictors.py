"""Predictors by name: the dish's and the ranker's presets as NASLib ``Predictor``s, and
NASLib's built-in predictors, constructed as NASLib's ``runners/predictors/runner.py`` does."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from ..tables import NB101Table
from .compat import import_naslib


def _registry() -> tuple[dict[str, str], dict[str, str]]:
    """Predictor name -> dish preset (``petridish-<preset>``; ``petridish`` = paper-c) and
    predictor name -> ranker preset (``ranker-<preset>``), from the shipped presets."""
    from ..presetfiles import preset_names

    dish = {"petridish": "paper-c", "petridish-a": "paper-a", "petridish-b": "paper-b",
            "petridish-c": "paper-c", "petridish-a-short": "paper-a-short",
            "petridish-b-short": "paper-b-short"}
    for p in preset_names("dish"):
        if not p.startswith("paper-"):
            dish[f"petridish-{p}"] = p
    return dish, {f"ranker-{p}": p for p in preset_names("ranker")}


#: predictor name -> preset of the dish
PETRIDISH_PRESETS, RANKER_PRESETS = _registry()
#: names of versions < 0.5, when the ranker was a calibration of the dish: they keep working
#: and name the ranker's preset (a note is logged)
RANKER_ALIASES = {f"petridish-{p}": name for name, p in RANKER_PRESETS.items()}
#: every preset-backed predictor name (aliases included) -> its preset
PRESET_PREDICTORS = {**PETRIDISH_PRESETS, **RANKER_PRESETS,
                     **{a: RANKER_PRESETS[n] for a, n in RANKER_ALIASES.items()}}

_CLASS = None
_RANKER_CLASS = None


def predictor_class() -> type:
    """``PetriDishNASLibPredictor``: a subclass of NASLib's ``Predictor`` (built on first
    use, since its base class exists only once NASLib is imported)."""
    global _CLASS
    if _CLASS is None:
        from ..predictor import SyntheticPetriDishPredictor

        nl = import_naslib()

        class PetriDishNASLibPredictor(SyntheticPetriDishPredictor, nl.Predictor):
            """The Synthetic Petri Dish as a NASLib predictor."""

            method_type = "petridish"

        _CLASS = PetriDishNASLibPredictor
    return _CLASS


def ranker_class() -> type:
    """``RankerNASLibPredictor``: the ranker as a subclass of NASLib's ``Predictor``."""
    global _RANKER_CLASS
    if _RANKER_CLASS is None:
        from ..ranker.predictor import RankerPredictor

        nl = import_naslib()

        class RankerNASLibPredictor(RankerPredictor, nl.Predictor):
            """The ranking model (trees + graph networks on cell features) as a NASLib
            predictor."""

            method_type = "ranker"

        _RANKER_CLASS = RankerNASLibPredictor
    return _RANKER_CLASS


def canonical_name(name: str) -> str:
    """``name``, or the ranker's name for an alias of version < 0.5 (logged once)."""
    if name in RANKER_ALIASES:
        import logging

        logging.getLogger("naslib_petridish").info(
            "predictor '%s' is now '%s' (the ranking model trains no dish; the old name "
            "keeps working)", name, RANKER_ALIASES[name])
        return RANKER_ALIASES[name]
    return name


def _petridish_overrides(config, section: str = "petridish") -> dict:
    """The options of the config's ``section`` (``petridish:`` for the dish; ``ranker:``
    for the ranker, else its ``petridish:`` section as before 0.5), and its seed."""
    if config is not None and section == "ranker" and "ranker" not in config:
        section = "petridish"
    over = dict(config.get(section, {}) or {}) if config is not None else {}
    if config is not None and "seed" in config and "seed" not in over:
        over["seed"] = int(config.seed)
    return over


def naslib_builtin_factories(config=None) -> dict[str, Callable[[], Any]]:
    """NASLib's predictors by name, constructed as its ``runners/predictors/runner.py`` does."""
    import_naslib()
    from naslib import predictors as P
    from naslib.search_spaces.core.query_metrics import Metric
    from naslib.utils.encodings import EncodingType

    hp = getattr(config, "hparams_from_file", None) if config is not None else None
    ss = getattr(config, "search_space", "nasbench101") if config is not None else "nasbench101"
    aoh = EncodingType.ADJACENCY_ONE_HOT
    f = {
        "bananas": lambda: P.Ensemble(predictor_type="bananas", num_ensemble=3, hpo_wrapper=True),
        "bayes_lin_reg": lambda: P.BayesianLinearRegression(encoding_type=aoh),
        "bohamiann": lambda: P.BOHAMIANN(encoding_type=aoh, hparams_from_file=hp),
        "bonas": lambda: P.BonasPredictor(encoding_type=EncodingType.BONAS, hpo_wrapper=True),
        "dngo": lambda: P.DNGOPredictor(encoding_type=aoh),
        "gcn": lambda: P.GCNPredictor(encoding_type=EncodingType.GCN, hpo_wrapper=True),
        "gp": lambda: P.GPPredictor(encoding_type=aoh, hparams_from_file=hp),
        "gpwl": lambda: P.GPWLPredictor(ss_type=ss, kernel_type="wloa", optimize_gp_hyper=True,
                                        h="auto"),
        "lce": lambda: P.LCEPredictor(metric=Metric.VAL_ACCURACY),
        "lce_m": lambda: P.LCEMPredictor(metric=Metric.VAL_ACCURACY),
        "lcsvr": lambda: P.SVR_Estimator(metric=Metric.VAL_ACCURACY, all_curve=False,
                                         require_hyper=False),
        "lgb": lambda: P.LGBoost(encoding_type=aoh, hpo_wrapper=False),
        "mlp": lambda: P.MLPPredictor(encoding_type=aoh, hpo_wrapper=False, hparams_from_file=hp),
        "nao": lambda: P.SemiNASPredictor(encoding_type=EncodingType.SEMINAS, semi=False,
                                          hpo_wrapper=False, hparams_from_file=hp),
        "ngb": lambda: P.NGBoost(encoding_type=aoh, hpo_wrapper=False),
        "rf": lambda: P.RandomForestPredictor(encoding_type=aoh, hpo_wrapper=False,
                                              hparams_from_file=hp),
        "seminas": lambda: P.SemiNASPredictor(encoding_type=EncodingType.SEMINAS, semi=True,
                                              hpo_wrapper=False, hparams_from_file=hp),
        "sotl": lambda: P.SoLosspredictor(metric=Metric.TRAIN_LOSS, sum_option="SoTL"),
        "sotle": lambda: P.SoLosspredictor(metric=Metric.TRAIN_LOSS, sum_option="SoTLE"),
        "sotlema": lambda: P.SoLosspredictor(metric=Metric.TRAIN_LOSS, sum_option="SoTLEMA"),
        "sparse_gp": lambda: P.SparseGPPredictor(encoding_type=aoh, optimize_gp_hyper=True),
        "valacc": lambda: P.EarlyStopping(metric=Metric.VAL_ACCURACY),
        "valloss": lambda: P.EarlyStopping(metric=Metric.VAL_LOSS),
        "var_sparse_gp": lambda: P.VarSparseGPPredictor(encoding_type=aoh, optimize_gp_hyper=True),
        "xgb": lambda: P.XGBoost(encoding_type=aoh, hpo_wrapper=False, hparams_from_file=hp),
        "bayes_lin_reg_path": lambda: P.BayesianLinearRegression(encoding_type=EncodingType.PATH),
        "bohamiann_path": lambda: P.BOHAMIANN(encoding_type=EncodingType.PATH),
        "dngo_path": lambda: P.DNGOPredictor(encoding_type=EncodingType.PATH),
        "gp_path": lambda: P.GPPredictor(encoding_type=EncodingType.PATH),
        "lgb_path": lambda: P.LGBoost(encoding_type=EncodingType.PATH, hpo_wrapper=False),
        "ngb_path": lambda: P.NGBoost(encoding_type=EncodingType.PATH, hpo_wrapper=False),
    }
    seed = int(getattr(config, "seed", 0) or 0) if config is not None else 0
    for zc in ZERO_COST:
        f[zc] = (lambda m: (lambda: zero_cost_predictor(m, seed)))(zc)
    return f


#: NASLib's zero-cost measures (``naslib.predictors.ZeroCost``)
ZERO_COST = ("fisher", "flops", "grad_norm", "grasp", "jacov", "params", "snip", "synflow",
             "nwot", "epe_nas", "zen")


def zero_cost_predictor(method: str, seed: int = 0):
    """NASLib's zero-cost measure ``method`` as a predictor over NB101 architectures.

    NASLib's ``ZeroCost.query`` scores one parsed network per call and needs a data
    loader, while its ``PredictorEvaluator`` hands predictors a list of architectures:
    called directly it fails.  This wrapper builds NASLib's full NB101 network of each
    architecture, parses it (as NASLib's zero-cost runner does) and scores it on one
    batch of RANDOM tensors (64 x 3 x 32 x 32, seeded), not CIFAR-10, which is not
    available here: ``flops``, ``params`` and ``synflow`` do not depend on the data
    (synflow feeds ones); the data-dependent measures are computed on that random batch
    and must be labelled so wherever they are reported."""
    import torch

    nl = import_naslib()
    from naslib.predictors import ZeroCost

    zc = ZeroCost(method_type=method)
    gen = torch.Generator().manual_seed(int(seed))
    loader = [(torch.randn(64, 3, 32, 32, generator=gen),
               torch.randint(0, 10, (64,), generator=gen))]

    class ZeroCostPerArchitecture(nl.Predictor):
        method_type = method
        data = "random tensors (64x3x32x32), not CIFAR-10"

        def fit(self, xtrain, ytrain, info=None):
            return None

        def query(self, xtest, info=None):
            out = []
            for x in xtest:
                graph = nl.NasBench101SearchSpace()
                graph.set_spec(x.get_spec())
                graph.parse()
                out.append(zc.query(graph, dataloader=loader))
            return np.asarray(out, dtype=np.float64)

    return ZeroCostPerArchitecture()


def table_params_predictor(table: NB101Table):
    """:class:`~naslib_petridish.controls.TableParams` as a NASLib ``Predictor``: the
    parameter count of the full network, read from the ground-truth table (log scale).

    The ranking of NASLib's zero-cost ``params`` (which counts NASLib's own build of the
    network: within 0.5 % of the table, Pearson 0.99999 on log scale), but NASLib builds
    and parses the whole network of every architecture, 0.31 s each against 0.2 ms for
    the lookup (2-vCPU EPYC VM, 5 random cells): that matters where hundreds of children
    are scored (regularized evolution with the parameter count as fitness)."""
    from ..controls import TableParams

    nl = import_naslib()

    class NASLibTableParams(TableParams, nl.Predictor):
        """Parameter count of the full network (log), from the ground-truth table."""

        def __init__(self, table):
            nl.Predictor.__init__(self)
            TableParams.__init__(self, table)

    return NASLibTableParams(table)


def training_mean_predictor(seed: int = 0, space: str = "nb101"):
    """:class:`~naslib_petridish.controls.TrainingMean` as a NASLib ``Predictor``: every
    architecture gets the mean accuracy of the training set, the control for a
    predictor-driven search (in regularized evolution with this fitness the truly evaluated
    members above the mean win every tournament they are in); its tie-breaking jitter is a
    function of the seed and the cell, as in guided search."""
    from ..controls import TrainingMean

    nl = import_naslib()

    class NASLibTrainingMean(TrainingMean, nl.Predictor):
        """The training set's mean accuracy (+ a tie-breaking jitter < 1e-9)."""

        def __init__(self, seed, space):
            nl.Predictor.__init__(self)
            TrainingMean.__init__(self, seed, space)

    return NASLibTrainingMean(seed, space)


def predictor_names() -> list[str]:
    """Every name :func:`get_predictor` takes (aliases of versions < 0.5 left out)."""
    return (sorted(PETRIDISH_PRESETS) + sorted(RANKER_PRESETS)
            + sorted([*naslib_builtin_factories(), "mean"]))


def get_predictor(name: str, config=None, table: NB101Table | None = None, **overrides):
    """A predictor by name: ``petridish*`` (the dish; options from the config's
    ``petridish:`` section and ``overrides``) or ``ranker-*`` (the ranker; options from its
    ``ranker:`` section, else from ``petridish:``), or any NASLib
    built-in; ``params`` with a ``table`` is :func:`table_params_predictor` (without one,
    NASLib's zero-cost ``params``), ``mean`` :func:`training_mean_predictor`."""
    name = canonical_name(name)
    if name in PETRIDISH_PRESETS:
        opts = {**_petridish_overrides(config), **overrides}
        return predictor_class()(preset=PETRIDISH_PRESETS[name], table=table, **opts)
    if name in RANKER_PRESETS:
        opts = {**_petridish_overrides(config, "ranker"), **overrides}
        return ranker_class()(preset=RANKER_PRESETS[name], table=table, **opts)
    if name == "params" and table is not None:
        return table_params_predictor(table)
    if name == "mean":
        return training_mean_predictor(int(getattr(config, "seed", 0) or 0)
                                       if config is not None else 0,
                                       getattr(table, "space", "nb101"))
    factories = naslib_builtin_factories(config)
    if name not in factories:
        raise ConfigError(f"unknown predictor '{name}'; available: {', '.join(predictor_names())}")
    return float64_queries(factories[name]())


def naslib_cells_predictor(name: str, table: NB101Table, seed: int = 0, config=None):
    """NASLib's predictor ``name`` (as :func:`get_predictor` builds it) taking the package's
    cells: each cell becomes NASLib's NB101 architecture of the same hash (its spec read
    through :func:`~naslib_petridish.naslib.dataset.make_dataset_api`), so that a loop over
    cells, such as ``guided.GuidedSearch``, can fit and query any of NASLib's predictors."""
    from ..spaces import as_cells, get_space
    from .dataset import make_dataset_api

    nl = import_naslib()
    space = getattr(table, "space", "nb101")
    inner = get_predictor(name, config=config, table=table)
    if hasattr(inner, "set_ss_type"):
        inner.set_ss_type(get_space(space).naslib_name)
    api = make_dataset_api(table, metric="test")

    def archs(xs):
        out = []
        for c in as_cells(xs, space, table):
            a = nl.NasBench101SearchSpace() if space == "nb101" else nl.NasBench201SearchSpace()
            # the spec only: NASLib's predictors read nothing else, and building the torch
            # network of every candidate took ~110 ms each (0.1 ms without; 20,000
            # candidates a round in guided search)
            a.instantiate_model = False
            a.set_spec(c.hash if space == "nb101" else list(c.naslib_tuple()), dataset_api=api)
            out.append(a)
        return out

    class NASLibOnCells:
        """NASLib's ``{name}`` predictor, on cells."""

        method_type = name

        def fit(self, xtrain, ytrain, info=None):
            _seed_globals(seed * 100003 + len(xtrain))  # NASLib's models draw from them
            return inner.fit(archs(xtrain), np.asarray(ytrain, np.float64))

        def query(self, xtest, info=None):
            out = np.asarray(inner.query(archs(xtest)), dtype=np.float64)
            if out.ndim == 2 and out.shape[1] == len(xtest):
                # an ensemble (NASLib's bananas: one row per member): their mean, as
                # NASLib's own evaluator scores it
                out = out.mean(axis=0)
            return out.reshape(-1)

    return NASLibOnCells()


def _seed_globals(seed: int) -> None:
    """Seed the global generators NASLib's predictors draw from (random, NumPy, torch)."""
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def float64_queries(predictor):
    """Make ``predictor.query`` return float64: some NASLib predictors (the Bananas
    ensemble) return float32, which NASLib's own ``PredictorEvaluator`` then fails to
    write to ``errors.json``."""
    original = predictor.query

    def query(xtest, info=None):
        return np.asarray(original(xtest, info), dtype=np.float64)

    predictor.query = query
    return predictor
