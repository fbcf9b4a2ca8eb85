"""NASLib glue: the dish as a NASLib predictor, NB101 ground truth as NASLib's
dataset API, predictor evaluation and predictor-driven search.

NASLib (github automl/NASLib, branch Develop) is not on PyPI and refuses
``pip install`` on Python > 3.9, so it is used from a checkout on ``sys.path``
and imported lazily here; nothing else in this package needs it.
:func:`import_naslib` also papers over NASLib's import-time incompatibilities
with Python >= 3.10 (``from collections import Iterable`` in its GP-WL code).

* :class:`TableNASBench` answers NASLib's ``dataset_api["nb101_data"]`` calls from
  any ground-truth source this package reads (compact table, tfrecord, NASLib pickle);
* :func:`get_predictor` resolves ``petridish``, ``petridish-a``, ... and every NASLib
  built-in predictor name (the table of NASLib's ``runners/predictors/runner.py``);
* :func:`run_predictor_evaluation` runs NASLib's own ``PredictorEvaluator`` on a NASLib
  predictor config file and writes NASLib's ``errors.json``;
* :func:`run_search` runs regularized evolution with dish fitness, or Bananas / Npenas
  with the dish as surrogate, through NASLib's ``Trainer``.
"""
from __future__ import annotations

import collections
import collections.abc
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .cells import as_cell
from .errors import ConfigError, InvalidCellError, NASLibNotAvailable
from .tables import NB101Table

NASLIB_HINT = (
    "NASLib is needed for this: it is not on PyPI, so clone github automl/NASLib (branch "
    "Develop) and put the checkout on sys.path, e.g. `echo /path/to/NASLib > "
    "$(python -c 'import site; print(site.getsitepackages()[0])')/naslib.pth`, then install "
    "its requirements with numpy<2.4 and scikit-learn<1.6 (README, 'Use with NASLib')")

#: predictor name -> preset of the dish
PETRIDISH_PRESETS = {
    "petridish": "paper-c", "petridish-a": "paper-a", "petridish-b": "paper-b",
    "petridish-c": "paper-c", "petridish-a-short": "paper-a-short",
    "petridish-b-short": "paper-b-short", "petridish-quick": "quick",
    "petridish-best": "best",
}


_NASLIB = None


def import_naslib():
    """Import the NASLib pieces this module uses (once), or raise
    :class:`NASLibNotAvailable` with instructions."""
    global _NASLIB
    if _NASLIB is not None:
        return _NASLIB
    # NASLib's gpwl_utils does `from collections import Iterable` (removed in Python 3.10)
    for name in ("Iterable", "Mapping", "MutableMapping", "Sequence", "Callable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    try:
        import naslib  # noqa: F401
    except ImportError as exc:
        raise NASLibNotAvailable(f"NASLib is not importable. {NASLIB_HINT}") from exc
    try:
        from types import SimpleNamespace

        import naslib.utils as nl_utils
        import naslib.utils.nb101_api as nb101_api
        from naslib.defaults.predictor_evaluator import PredictorEvaluator
        from naslib.defaults.trainer import Trainer
        from naslib.optimizers import Bananas, Npenas, RegularizedEvolution
        from naslib.predictors import Predictor
        from naslib.search_spaces import NasBench101SearchSpace
        from naslib.search_spaces.core.query_metrics import Metric
    except ImportError as exc:
        raise NASLibNotAvailable(
            f"NASLib is on the path but failed to import ({exc}). {NASLIB_HINT}") from exc
    _NASLIB = SimpleNamespace(utils=nl_utils, nb101_api=nb101_api, Trainer=Trainer,
                              PredictorEvaluator=PredictorEvaluator, Predictor=Predictor,
                              NasBench101SearchSpace=NasBench101SearchSpace, Metric=Metric,
                              RegularizedEvolution=RegularizedEvolution, Bananas=Bananas,
                              Npenas=Npenas, root=Path(naslib.__file__).parent)
    return _NASLIB


# -- ground truth as NASLib's dataset API ------------------------------------------------
class TableNASBench:
    """NASLib's ``nb101_data`` (``naslib/utils/nb101_api.NASBench``) over an NB101Table.

    ``metric`` decides what NASLib's accuracy queries read: with ``"val"`` the
    ``validation_accuracy`` key is the validation accuracy, with ``"test"`` it is
    the test accuracy (for sources where validation accuracy is partial, such as
    the shared table).  Values are means over the repeats the source has (NASLib's
    own loader draws a random repeat and reseeds ``random``; this one is
    deterministic).  Cells that lack the metric are reported as not valid, so
    NASLib's samplers and mutations stay among cells with ground truth.
    """

    def __init__(self, table: NB101Table, metric: str = "val"):
        from .tables import metric_key

        self.table = table
        self.metric = "val" if metric_key(metric) == "val_acc" else "test"
        self.config = {"module_vertices": 7, "max_edges": 9, "num_repeats": 3,
                       "available_ops": ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]}
        self.valid_epochs = {int(e) for e in table.epochs
                             if table.has_metric(self.metric, int(e)).any()}
        self._has = table.has_metric(self.metric, 108)
        self.queries = 0

    def _row(self, model_spec) -> int | None:
        try:
            cell = as_cell(model_spec)
        except InvalidCellError:
            return None
        try:
            return self.table.index(cell)
        except KeyError:
            return None

    def is_valid(self, model_spec) -> bool:
        r = self._row(model_spec)
        return r is not None and bool(self._has[r])

    def query(self, model_spec, epochs: int = 108, stop_halfway: bool = False) -> dict:
        r = self._row(model_spec)
        if r is None:
            from naslib.utils.nb101_api import OutOfDomainError
            raise OutOfDomainError("cell not in the NB101 ground truth")
        self.queries += 1
        q = self.table.query(r, epochs)
        cell = self.table.cell(r)
        test = q.test_accuracy
        val = q.validation_accuracy if self.metric == "val" else test
        return {"module_adjacency": cell.matrix.copy(), "module_operations": list(cell.ops),
                "trainable_parameters": q.trainable_parameters,
                "training_time": q.training_time, "train_accuracy": float("nan"),
                "validation_accuracy": val, "test_accuracy": test}

    def get_metrics_from_hash(self, module_hash: str):
        r = self.table.index(module_hash)
        cell = self.table.cell(r)
        fixed = {"module_adjacency": cell.matrix.copy(), "module_operations": list(cell.ops),
                 "trainable_parameters": int(self.table.params[r])}
        computed = {}
        for e, ep in enumerate(self.table.epochs):
            reps = []
            for k in range(3):
                v = float(self.table.val_acc[r, e, k])
                t = float(self.table.test_acc[r, e, k])
                if np.isnan(v) and np.isnan(t):
                    continue
                reps.append({"final_validation_accuracy": v if self.metric == "val" else t,
                             "final_test_accuracy": t,
                             "final_training_time": float(self.table.train_time[r, e, k])})
            if reps:
                computed[int(ep)] = reps
        return fixed, computed

    def get_metrics_from_spec(self, model_spec):
        r = self._row(model_spec)
        if r is None:
            from naslib.utils.nb101_api import OutOfDomainError
            raise OutOfDomainError("cell not in the NB101 ground truth")
        return self.get_metrics_from_hash(str(self.table.hashes[r]))

    def hash_iterator(self):
        return [str(h) for h, ok in zip(self.table.hashes, self._has) if ok]


def default_metric(table: NB101Table) -> str:
    """Validation accuracy where the source has it for every cell, else test."""
    return "val" if table.has_metric("val", 108).all() else "test"


def naslib_pickle_path() -> Path | None:
    try:
        nl = import_naslib()
    except NASLibNotAvailable:
        return None
    p = nl.root / "data" / "nasbench_only108.pkl"
    return p if p.exists() else None


def open_table(nb101: str | None) -> NB101Table:
    """``--nb101``, else NASLib's own pickle when it exists, else the usual lookup."""
    from .sources import load_ground_truth, open_ground_truth

    if nb101:
        return load_ground_truth(nb101)
    p = naslib_pickle_path()
    if p is not None and not os.environ.get("NASLIB_PETRIDISH_NB101"):
        return load_ground_truth(p)
    return open_ground_truth(None)


def make_dataset_api(table: NB101Table, metric: str | None = None) -> dict:
    nl = import_naslib()
    return {"api": nl.nb101_api, "nb101_data": TableNASBench(table, metric or default_metric(table))}


# -- predictors -----------------------------------------------------------------------------
_CLASS = None


def predictor_class():
    """``PetriDishNASLibPredictor``: a subclass of NASLib's ``Predictor`` (built on first use)."""
    global _CLASS
    if _CLASS is None:
        from .predictor import SyntheticPetriDishPredictor

        nl = import_naslib()

        class PetriDishNASLibPredictor(SyntheticPetriDishPredictor, nl.Predictor):
            """The Synthetic Petri Dish as a NASLib predictor."""

            method_type = "petridish"

        _CLASS = PetriDishNASLibPredictor
    return _CLASS


def __getattr__(name: str):  # PEP 562: PetriDishNASLibPredictor on demand
    if name == "PetriDishNASLibPredictor":
        return predictor_class()
    raise AttributeError(name)


def _petridish_overrides(config) -> dict:
    over = dict(config.get("petridish", {}) or {}) if config is not None else {}
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
        "seminas": lambda: P.SemiNASPredictor(encoding_type="seminas", semi=True,
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
    for zc in ("fisher", "flops", "grad_norm", "grasp", "jacov", "params", "snip", "synflow",
               "nwot", "epe_nas", "zen"):
        f[zc] = (lambda m: (lambda: P.ZeroCost(method_type=m)))(zc)
    return f


def predictor_names() -> list[str]:
    return sorted(PETRIDISH_PRESETS) + sorted(naslib_builtin_factories())


def get_predictor(name: str, config=None, table: NB101Table | None = None, **overrides):
    """A predictor by name: ``petridish*`` (options from the config's ``petridish:``
    section and ``overrides``) or any NASLib built-in."""
    if name in PETRIDISH_PRESETS:
        opts = {**_petridish_overrides(config), **overrides}
        return predictor_class()(preset=PETRIDISH_PRESETS[name], table=table, **opts)
    factories = naslib_builtin_factories(config)
    if name not in factories:
        raise ValueError(f"unknown predictor '{name}'; available: {', '.join(predictor_names())}")
    return float64_queries(factories[name]())


def float64_queries(predictor):
    """Make ``predictor.query`` return float64: some NASLib predictors (the Bananas
    ensemble) return float32, which NASLib's own ``PredictorEvaluator`` then fails to
    write to ``errors.json``."""
    original = predictor.query

    def query(xtest, info=None):
        return np.asarray(original(xtest, info), dtype=np.float64)

    predictor.query = query
    return predictor


# -- NASLib configs ----------------------------------------------------------------------------
def load_naslib_config(path: str, config_type: str):
    """NASLib's default config of ``config_type`` overlaid with the user's file, with
    ``save`` set as NASLib's ``get_config_from_args`` does."""

    nl = import_naslib()
    if not os.path.exists(path):
        raise ConfigError(f"config file not found: {path}")
    default = nl.utils.load_default_config(config_type=config_type)
    try:
        user = nl.utils.load_config(path)
    except Exception as exc:
        raise ConfigError(f"{path}: not a NASLib config ({type(exc).__name__}: {exc})") from exc
    # like NASLib's get_config_from_args: the user's file is the config; keys it lacks
    # (and sub-keys of `search`) come from NASLib's defaults, without yacs' type checks
    user.set_new_allowed(True)
    for k, v in default.items():
        if k not in user:
            user[k] = v
        elif k == "search" and isinstance(v, dict):
            for k2, v2 in v.items():
                if k2 not in user.search:
                    user.search[k2] = v2
    cfg = user
    cfg.search_space = cfg.get("search_space", "nasbench101")
    if cfg.search_space != "nasbench101":
        raise ConfigError(f"{path}: search_space is '{cfg.search_space}'; naslib-petridish "
                          "supports nasbench101 only")
    cfg.dataset = "cifar10"
    cfg.search.seed = cfg.seed
    return cfg


def run_predictor_evaluation(config_file: str, nb101: str | None = None,
                             metric: str | None = None, out_dir: str | None = None) -> Path:
    """NASLib's predictor-evaluation flow on NB101; returns the path of ``errors.json``."""
    nl = import_naslib()

    cfg = load_naslib_config(config_file, "predictor")
    if out_dir:
        cfg.out_dir = out_dir
    cfg.save = f"{cfg.out_dir}/{cfg.dataset}/predictors/{cfg.predictor}/{cfg.seed}"
    table = open_table(nb101)
    api = make_dataset_api(table, metric)
    # recorded in errors.json (NASLib writes the config as its first entry)
    cfg.ground_truth_source = str(table.source)
    cfg.ground_truth_metric = api["nb101_data"].metric
    os.makedirs(cfg.save, exist_ok=True)
    nl.utils.setup_logger(cfg.save + "/log.log")
    nl.utils.set_seed(cfg.seed)
    try:
        predictor = get_predictor(cfg.predictor, cfg, table=table)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    evaluator = nl.PredictorEvaluator(predictor, config=cfg)
    evaluator.adapt_search_space(nl.NasBench101SearchSpace(), load_labeled=False, dataset_api=api)
    try:
        evaluator.evaluate()
    finally:
        if hasattr(predictor, "close"):
            predictor.close()
    return Path(cfg.save) / "errors.json"


# -- search ------------------------------------------------------------------------------------
def _optimizer_classes():
    nl = import_naslib()
    import torch

    class PetriDishRegularizedEvolution(nl.RegularizedEvolution):
        """Regularized evolution whose fitness is the dish's prediction.

        The first ``population_size`` architectures are evaluated on the benchmark
        (the ground-truth budget) and the dish is fitted on them; children are scored
        by the dish only.  With ``refit_every`` > 0, every that many epochs the best
        predicted child is evaluated on the benchmark, added to the training set, and
        the dish is refitted.
        """

        def __init__(self, config, predictor, refit_every: int = 0):
            super().__init__(config)
            self.predictor = predictor
            self.refit_every = int(refit_every)
            self.ground_truth_queries = 0
            self.predictor_queries = 0
            self.train_x: list = []
            self.train_y: list = []

        def _true(self, arch):
            self.ground_truth_queries += 1
            return arch.query(self.performance_metric, self.dataset, dataset_api=self.dataset_api)

        def _fit(self):
            self.predictor.fit(list(self.train_x), list(self.train_y))

        def new_epoch(self, epoch: int):
            if epoch < self.population_size:
                model = torch.nn.Module()
                model.arch = self.search_space.clone()
                model.arch.sample_random_architecture(dataset_api=self.dataset_api)
                model.accuracy = self._true(model.arch)
                self.train_x.append(model.arch)
                self.train_y.append(model.accuracy)
                self.population.append(model)
                self._update_history(model)
                if epoch == self.population_size - 1:
                    self._fit()
                return
            sample = [np.random.choice(list(self.population)) for _ in range(self.sample_size)]
            parent = max(sample, key=lambda x: x.accuracy)
            child = torch.nn.Module()
            child.arch = self.search_space.clone()
            child.arch.mutate(parent.arch, dataset_api=self.dataset_api)
            child.accuracy = float(self.predictor.query([child.arch])[0])
            self.predictor_queries += 1
            if self.refit_every and (epoch - self.population_size + 1) % self.refit_every == 0:
                best = max(self.population, key=lambda x: x.accuracy)
                if all(best.arch is not a for a in self.train_x):
                    self.train_x.append(best.arch)
                    self.train_y.append(self._true(best.arch))
                    self._fit()
            self.population.append(child)
            self._update_history(child)

    def surrogate(base):
        class WithDish(base):
            """``base`` with the dish as its surrogate model."""

            def __init__(self, config, predictor, **kw):
                super().__init__(config, **kw)
                self.predictor = predictor
                self.ground_truth_queries = 0
                self.predictor_queries = 0

            def _set_scores(self, model):
                self.ground_truth_queries += 1
                return super()._set_scores(model)

            def _get_ensemble(self):
                self._ensemble = DishEnsemble(self.predictor)
                return self._ensemble

            def _get_best_candidates(self, candidates, acq_fn):
                # one batched (parallel) query instead of one motif per acq_fn call
                preds = self._ensemble.predict([m.arch for m in candidates])
                self.predictor_queries += len(candidates)
                order = np.argsort(preds)
                return [candidates[i] for i in order[-self.k:]]

        WithDish.__name__ = f"PetriDish{base.__name__}"
        return WithDish

    return PetriDishRegularizedEvolution, surrogate(nl.Bananas), surrogate(nl.Npenas)


def _finite_or_none(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


class DishEnsemble:
    """What Bananas/Npenas expect of their ensemble: ``fit``, ``query`` and the
    pre-computation hook.  One dish, so the acquisition reduces to exploitation of
    its predictions (candidates are predicted in one parallel batch)."""

    def __init__(self, predictor):
        self.predictor = predictor

    def set_pre_computations(self, **kw):
        pass

    def fit(self, xtrain, ytrain, train_info=None):
        return self.predictor.fit(xtrain, ytrain)

    def predict(self, archs) -> np.ndarray:
        return self.predictor.query(archs)

    def query(self, xtest, info=None) -> np.ndarray:
        return self.predictor.query(xtest)[None, :]


def run_search(config_file: str, nb101: str | None = None, metric: str | None = None,
               out_dir: str | None = None) -> dict:
    """Run ``optimizer: re | bananas | npenas`` with the dish through NASLib's Trainer."""
    nl = import_naslib()

    cfg = load_naslib_config(config_file, "nas_predictor")
    if out_dir:
        cfg.out_dir = out_dir
    opt_name = str(cfg.get("optimizer", "re"))
    pred_name = str(cfg.get("predictor", "petridish"))
    cfg.save = f"{cfg.out_dir}/{cfg.dataset}/nas_predictors/nasbench101/{opt_name}-{pred_name}/{cfg.seed}"
    if pred_name not in PETRIDISH_PRESETS:
        raise ConfigError(f"predictor must be one of {sorted(PETRIDISH_PRESETS)}, got '{pred_name}'")
    table = open_table(nb101)
    api = make_dataset_api(table, metric)
    for sub in ("search", "eval"):  # the Trainer checkpoints into these (NASLib's runner makes them)
        os.makedirs(os.path.join(cfg.save, sub), exist_ok=True)
    nl.utils.setup_logger(cfg.save + "/log.log")
    nl.utils.set_seed(cfg.seed)
    predictor = get_predictor(pred_name, cfg, table=table)
    predictor.set_ss_type("nasbench101")
    RE, BananasDish, NpenasDish = _optimizer_classes()
    if opt_name == "re":
        optimizer = RE(cfg, predictor, refit_every=int(cfg.get("petridish_refit_every", 0)))
    elif opt_name == "bananas":
        optimizer = BananasDish(cfg, predictor)
    elif opt_name == "npenas":
        optimizer = NpenasDish(cfg, predictor)
    else:
        raise ConfigError(f"optimizer must be re, bananas or npenas, got '{opt_name}'")
    optimizer.adapt_search_space(nl.NasBench101SearchSpace(), dataset_api=api)
    t0 = time.perf_counter()
    trainer = nl.Trainer(optimizer, cfg, lightweight_output=True)
    try:
        trainer.search(resume_from="", summary_writer=None, report_incumbent=True)
    finally:
        predictor.close()
    best = optimizer.get_final_architecture()
    cell = as_cell(best)
    q = table.query(cell)
    summary = {
        "optimizer": opt_name, "predictor": pred_name, "epochs": int(cfg.search.epochs),
        "seed": int(cfg.seed), "ground_truth": {"source": table.source,
                                                "metric": api["nb101_data"].metric},
        "best_hash": cell.hash, "best_cell": cell.to_dict(),
        # null where the source lacks the value (e.g. validation accuracy in the shared table)
        "best_true_validation_accuracy": _finite_or_none(q.validation_accuracy),
        "best_true_test_accuracy": _finite_or_none(q.test_accuracy),
        "ground_truth_queries": int(optimizer.ground_truth_queries),
        "predictor_queries": int(optimizer.predictor_queries),
        "search_seconds": time.perf_counter() - t0,
        "errors_json": str(Path(cfg.save) / "errors.json"),
    }
    (Path(cfg.save) / "petridish_search.json").write_text(json.dumps(summary, indent=2))
    return summary
