"""Held-out evaluation of a dish, with free baselines from the same sample.

Draws disjoint uniform training and test sets of distinct NB101 cells (only
among cells that have the chosen ground-truth metric), fits the predictor on
the training set, queries the test set and reports Kendall tau, Spearman and
Pearson against the ground truth, the fit time and the query time per
architecture, next to two baselines computed on the same test set: the
trainable parameter count of the full network and a seeded random score.

The query is checkpointed: each chunk of answered test cells is appended to
``query_progress.jsonl`` (tagged with a digest of the dish), and ``resume``
skips the cells already answered by the same dish.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy import stats

from . import __version__
from .config import PetriDishConfig
from .inner import default_workers
from .outer import DISH
from .predictor import SyntheticPetriDishPredictor
from .tables import NB101Table

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.json"
QUERY_PROGRESS = "query_progress.jsonl"


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
                   progress: bool = True, query_chunk: int | None = None) -> dict:
    """Fit (or, with ``resume``, continue or reuse the fit in ``out_dir``), query the
    held-out cells (checkpointed every ``query_chunk`` cells; default 8 per worker, at
    least 16) and write ``metrics.json`` and ``predictions.json``."""
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
        y_pred, scores, max_acc, query_s = _query_checkpointed(
            pred, table.cells(test), out / QUERY_PROGRESS, resume=resume and not refit,
            chunk=query_chunk)
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


def dish_digest(pred: SyntheticPetriDishPredictor) -> str:
    """Identity of a fitted dish (its pixels and calibration) for the query checkpoint."""
    dish = pred.dish
    h = hashlib.sha1(dish.images.detach().cpu().numpy().tobytes())
    h.update(json.dumps(dish.calibration, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _query_checkpointed(pred: SyntheticPetriDishPredictor, cells: list, path: Path,
                        resume: bool, chunk: int | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Query ``cells`` in chunks, appending each chunk to ``path``; with ``resume``, reuse
    the answers of the same dish already there (a cell's answer does not depend on its
    chunk).  Returns predictions, raw scores, motif max accuracies (in the order of
    ``cells``) and the query wall time per architecture (summed over sessions)."""
    digest = dish_digest(pred)
    done: dict[str, dict] = {}
    if resume and path.exists():
        lines = path.read_text().splitlines()
        try:
            same = lines and json.loads(lines[0]).get("dish") == digest
        except json.JSONDecodeError:
            same = False
        for line in lines[1:] if same else []:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by the interruption
                continue
            done[rec["hash"]] = rec
    # (re)write the file with only complete records of this dish, then append to it
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in [{"dish": digest}, *done.values()]))
    os.replace(tmp, path)
    todo = [c for c in cells if c.hash not in done]
    # chunks of a few cells per worker keep the workers busy and lose little on a stop
    chunk = chunk or max(16, 8 * (pred.config.workers or default_workers()))
    for i in range(0, len(todo), chunk):
        part = todo[i:i + chunk]
        t0 = time.perf_counter()
        y = pred.query(part)
        per_cell = (time.perf_counter() - t0) / len(part)
        recs = [{"hash": c.hash, "prediction": float(p), "score": float(r.score),
                 "max_acc": float(r.max_acc), "seconds": per_cell}
                for c, p, r in zip(part, y, pred.last_results)]
        with open(path, "a") as f:
            f.write("".join(json.dumps(r) + "\n" for r in recs))
        done.update((r["hash"], r) for r in recs)
    rows = [done[c.hash] for c in cells]
    return (np.array([r["prediction"] for r in rows]), np.array([r["score"] for r in rows]),
            np.array([r["max_acc"] for r in rows]),
            float(np.mean([r["seconds"] for r in rows])))


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
