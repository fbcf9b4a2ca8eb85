"""Held-out evaluation of a dish, with free baselines from the same sample.

Draws disjoint uniform training and test sets of distinct NB101 cells (only
among cells that have the chosen ground-truth metric), fits the predictor on
the training set, queries the test set and reports Kendall tau, Spearman and
Pearson against the ground truth, the fit time and the query time per
architecture, next to two baselines computed on the same test set: the
trainable parameter count of the full network and a seeded random score.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy import stats

from . import __version__
from .config import PetriDishConfig
from .outer import DISH
from .predictor import SyntheticPetriDishPredictor
from .tables import NB101Table

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.json"


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}"


def correlations(pred, truth) -> dict:
    p, t = np.asarray(pred, float), np.asarray(truth, float)
    if len(p) < 2 or np.ptp(p) == 0 or np.ptp(t) == 0:
        return {"kendall_tau": 0.0, "spearman": 0.0, "pearson": 0.0, "defined": False}
    return {"kendall_tau": float(stats.kendalltau(p, t).statistic),
            "spearman": float(stats.spearmanr(p, t).statistic),
            "pearson": float(stats.pearsonr(p, t).statistic), "defined": True}


def draw_split(table: NB101Table, train_size: int, test_size: int, metric: str,
               epochs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint uniform train/test rows among cells having ``metric``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xE7A1]))
    train = table.sample(train_size, rng, metric=metric, epochs=epochs)
    test = table.sample(test_size, rng, metric=metric, epochs=epochs, exclude=train)
    return train, test


def run_evaluation(table: NB101Table, cfg: PetriDishConfig, test_size: int,
                   out_dir: str | os.PathLike, resume: bool = False, force: bool = False,
                   progress: bool = True) -> dict:
    out = Path(out_dir)
    train, test = draw_split(table, cfg.train_size, test_size, cfg.metric, cfg.metric_epochs,
                             cfg.seed)
    y_train = table.metric(train, cfg.metric, cfg.metric_epochs)
    y_test = table.metric(test, cfg.metric, cfg.metric_epochs)
    refit = not (resume and (out / DISH).exists())  # else: the fit finished before an interruption
    if refit:
        pred = SyntheticPetriDishPredictor(config=cfg, table=table, out_dir=out, progress=progress)
    else:
        pred = SyntheticPetriDishPredictor.load(out, table=table, progress=progress,
                                                workers=cfg.workers)
    try:
        if refit:
            pred.fit(table.cells(train), y_train, resume=resume, force=force)
        t0 = time.perf_counter()
        y_pred = pred.query(table.cells(test))
        query_s = (time.perf_counter() - t0) / len(test)
        scores = np.array([r.score for r in pred.last_results])
        max_acc = np.array([r.max_acc for r in pred.last_results])
    finally:
        pred.close()
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0x4A4D]))
    params = table.params[test].astype(float)
    res = {
        "package_version": __version__, "machine": machine_description(),
        "config": cfg.to_dict(), "ground_truth": table.source,
        "metric": cfg.metric, "metric_epochs": cfg.metric_epochs,
        "train_size": int(len(train)), "test_size": int(len(test)),
        "fit_seconds": pred.fit_seconds, "query_seconds_per_arch": query_s,
        "petridish": correlations(y_pred, y_test),
        "petridish_raw_score": correlations(scores, y_test),
        "petridish_motif_max_acc": correlations(max_acc, y_test),
        "baseline_params": correlations(np.log10(params), y_test),
        "baseline_random": correlations(rng.random(len(test)), y_test),
        "calibration": {k: v for k, v in (pred.dish.calibration or {}).items()
                        if k not in ("hashes", "scores", "accuracies")},
    }
    if cfg.metric != "test" and table.has_metric("test", cfg.metric_epochs)[test].all():
        y_t = table.metric(test, "test", cfg.metric_epochs)
        res["against_test_accuracy"] = {
            "petridish": correlations(y_pred, y_t),
            "baseline_params": correlations(np.log10(params), y_t)}
    (out / METRICS_FILE).write_text(json.dumps(res, indent=2))
    (out / PREDICTIONS_FILE).write_text(json.dumps(
        [{"hash": str(table.hashes[r]), "prediction": float(p), "score": float(s),
          "motif_max_acc": float(m), "ground_truth": float(g)}
         for r, p, s, m, g in zip(test, y_pred, scores, max_acc, y_test)], indent=1))
    return res


def format_metrics(res: dict) -> str:
    def row(name, c):
        return (f"  {name:<22} Kendall tau {c['kendall_tau']:+.3f}   Spearman {c['spearman']:+.3f}"
                f"   Pearson {c['pearson']:+.3f}")

    lines = [f"held-out evaluation: {res['test_size']} test cells, {res['train_size']} training "
             f"cells, ground truth {res['metric']} accuracy @{res['metric_epochs']} epochs",
             row("petridish", res["petridish"]),
             row("raw score", res["petridish_raw_score"]),
             row("motif max accuracy", res["petridish_motif_max_acc"]),
             row("params (baseline)", res["baseline_params"]),
             row("random (baseline)", res["baseline_random"]),
             f"  fit {res['fit_seconds']:.1f} s, query {res['query_seconds_per_arch']:.2f} s per "
             f"architecture ({res['machine']})"]
    if "against_test_accuracy" in res:
        lines.append(row("petridish vs test acc", res["against_test_accuracy"]["petridish"]))
    return "\n".join(lines)
