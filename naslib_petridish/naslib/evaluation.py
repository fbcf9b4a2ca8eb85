"""NASLib's predictor-evaluation flow (its ``PredictorEvaluator``, config format and
``errors.json``) on NB101 ground truth, and the config loading it shares with search."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError
from .compat import import_naslib
from .dataset import make_dataset_api, open_table
from .predictors import get_predictor


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
    predictor = get_predictor(cfg.predictor, cfg, table=table)
    evaluator = nl.PredictorEvaluator(predictor, config=cfg)
    evaluator.adapt_search_space(nl.NasBench101SearchSpace(), load_labeled=False, dataset_api=api)
    try:
        evaluator.evaluate()
    finally:
        if hasattr(predictor, "close"):
            predictor.close()
    return Path(cfg.save) / "errors.json"
