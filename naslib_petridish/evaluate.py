"""Held-out evaluation of a predictor (the dish or the ranker), with free baselines.

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

import contextlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from . import __version__, rundir, seeds
from .correlation import correlations, fmt
from .errors import UsageError
from .factory import predictor_class
from .runner import default_workers
from .tables import NB101Table

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.json"
QUERY_PROGRESS = "query_progress.jsonl"
#: the fewest held-out cells a correlation is computed on
MIN_TEST_SIZE = 3


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


def draw_split(table: NB101Table, train_size: int, test_size: int, metric: str,
               epochs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint uniform train/test rows among cells having ``metric``."""
    rng = seeds.rng(seed, seeds.SPLIT)
    train = table.sample(train_size, rng, metric=metric, epochs=epochs)
    test = table.sample(test_size, rng, metric=metric, epochs=epochs, exclude=train)
    return train, test


def check_test_size(test_size) -> int:
    if isinstance(test_size, bool) or not isinstance(test_size, (int, np.integer)) \
            or test_size < MIN_TEST_SIZE:
        raise UsageError(f"--test-size must be an integer of at least {MIN_TEST_SIZE} (a "
                         f"correlation needs several held-out cells), got {test_size!r}")
    return int(test_size)


def run_evaluation(table: NB101Table, cfg, test_size: int,
                   out_dir: str | os.PathLike, resume: bool = False, force: bool = False,
                   progress: bool = True, query_chunk: int | None = None,
                   target: str = "test") -> dict:
    """Fit the predictor of ``cfg`` (a PetriDishConfig: the dish; a RankerConfig: the
    ranker) (or, with ``resume``, continue or reuse the fit in ``out_dir``), query the
    held-out cells (checkpointed every ``query_chunk`` cells; default 8 per worker, at
    least 16) and write ``metrics.json`` and ``predictions.json``.  The predictor learns
    from ``cfg.metric`` and is scored against ``target`` (``val`` or ``test``), both drawn
    from ``table`` (any space's, one data set).

    Sizes, the split and the run directory are checked before any work; the run
    directory stays locked until the results are written."""
    test_size = check_test_size(test_size)
    if str(target).lower() not in ("val", "test"):
        raise UsageError(f"target must be 'val' or 'test', got {target!r}")
    target = str(target).lower()
    if getattr(cfg, "space", "nb101") != getattr(table, "space", "nb101"):
        raise UsageError(f"the config is for {cfg.space} cells but the ground truth is "
                         f"{table.space}'s: set space: {table.space} (--space {table.space})")
    train, test = draw_split(table, cfg.train_size, test_size, cfg.metric, cfg.metric_epochs,
                             cfg.seed)
    y_train = table.metric(train, cfg.metric, cfg.metric_epochs)
    y_test = table.metric(test, target, cfg.metric_epochs)  # what the predictions face
    cls = predictor_class(cfg)
    with rundir.hold(out_dir) as out, contextlib.ExitStack() as stack:
        refit = not (resume and (out / cls.fit_file).exists())  # else the fit finished earlier
        if refit:
            pred = cls(config=cfg, table=table, out_dir=out, progress=progress)
        else:
            pred = cls.load_finished(out, cfg, table, progress)
        stack.callback(pred.close)
        if refit:
            pred.fit(table.cells(train), y_train, resume=resume, force=force)
        y_pred, scores, max_acc, query_s = _query_checkpointed(
            pred, table.cells(test), out / QUERY_PROGRESS, resume=resume and not refit,
            chunk=query_chunk, progress=progress)
        res = _metrics(table, cfg, pred, train, test, y_pred, scores, max_acc, y_test, query_s,
                       target)
        rundir.write_atomic(out / METRICS_FILE, json.dumps(res, indent=2))
        rundir.write_atomic(out / PREDICTIONS_FILE, json.dumps(
            [{"hash": str(table.hashes[r]), "prediction": float(p), "score": float(s),
              "motif_max_acc": float(m), "ground_truth": float(g)}
             for r, p, s, m, g in zip(test, y_pred, scores, max_acc, y_test)], indent=1))
    return res


def _metrics(table, cfg, pred, train, test, y_pred, scores, max_acc, y_test, query_s,
             target) -> dict:
    rng = seeds.rng(cfg.seed, seeds.RANDOM_BASELINE)
    params = table.params[test].astype(float)
    label = pred.label  # "petridish" (the dish) or "ranker"
    res = {
        "package_version": __version__, "machine": machine_description(),
        "predictor": label, "config": cfg.to_dict(), "ground_truth": table.source,
        "space": getattr(table, "space", "nb101"), "dataset": getattr(table, "dataset", ""),
        "metric": cfg.metric, "target": target, "metric_epochs": cfg.metric_epochs,
        "train_size": int(len(train)), "test_size": int(len(test)),
        "fit_seconds": pred.fit_seconds, "query_seconds_per_arch": query_s,
        label: correlations(y_pred, y_test)}
    if label == "petridish":  # what the motifs show on the dish before the calibration
        res["petridish_raw_score"] = correlations(scores, y_test)
        res["petridish_motif_max_acc"] = correlations(max_acc, y_test)
    res.update({"baseline_params": correlations(np.log10(params), y_test),
                "baseline_random": correlations(rng.random(len(test)), y_test),
                "calibration" if label == "petridish" else "model": pred.summary()})
    if cfg.metric != target and table.has_metric(cfg.metric, cfg.metric_epochs)[test].all():
        y_m = table.metric(test, cfg.metric, cfg.metric_epochs)
        res["against_training_metric"] = {
            label: correlations(y_pred, y_m),
            "baseline_params": correlations(np.log10(params), y_m)}
    if cfg.metric != "test" and table.has_metric("test", cfg.metric_epochs)[test].all():
        # the key of records written before --target existed (benchmarks read it)
        y_t = table.metric(test, "test", cfg.metric_epochs)
        res["against_test_accuracy"] = {
            label: correlations(y_pred, y_t),
            "baseline_params": correlations(np.log10(params), y_t)}
    return res


def _query_checkpointed(pred, cells: list, path: Path,
                        resume: bool, chunk: int | None = None, progress: bool = False
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Query ``cells`` in chunks, appending each chunk to ``path``; with ``resume``, reuse
    the answers of the same dish already there (a cell's answer does not depend on its
    chunk).  Returns predictions, raw scores, motif max accuracies (in the order of
    ``cells``) and the query wall time per architecture (summed over sessions)."""
    from tqdm.auto import tqdm

    digest = pred.digest()
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
    rundir.write_atomic(path, "".join(json.dumps(r) + "\n"
                                      for r in [{"dish": digest}, *done.values()]))
    todo = [c for c in cells if c.hash not in done]
    # chunks of a few cells per worker keep the workers busy and lose little on a stop
    chunk = chunk or max(16, 8 * (pred.config.workers or default_workers()))
    with tqdm(total=len(cells), initial=len(cells) - len(todo), desc="query",
              disable=not progress) as bar:
        for i in range(0, len(todo), chunk):
            part = todo[i:i + chunk]
            t0 = time.perf_counter()
            y = pred.query(part, progress=bar.update)
            per_cell = (time.perf_counter() - t0) / len(part)
            res = pred.last_results
            if res is None:  # a predictor that trains no motif (e.g. cell-features-boosted)
                bar.update(len(part))
                res = [None] * len(part)
            recs = [{"hash": c.hash, "prediction": float(p),
                     "score": None if r is None else float(r.score),
                     "max_acc": None if r is None else float(r.max_acc), "seconds": per_cell}
                    for c, p, r in zip(part, y, res)]
            with open(path, "a") as f:
                f.write("".join(json.dumps(r) + "\n" for r in recs))
                f.flush()
                os.fsync(f.fileno())
            done.update((r["hash"], r) for r in recs)
    rows = [done[c.hash] for c in cells]
    return (np.array([r["prediction"] for r in rows]),
            np.array([np.nan if r["score"] is None else r["score"] for r in rows]),
            np.array([np.nan if r["max_acc"] is None else r["max_acc"] for r in rows]),
            float(np.mean([r["seconds"] for r in rows])))


def format_metrics(res: dict) -> str:
    def row(name, c):
        d = c.get("defined", True)
        return (f"  {name:<22} Kendall tau {fmt(c['kendall_tau'], d):>9}   "
                f"Spearman {fmt(c['spearman'], d):>9}   Pearson {fmt(c['pearson'], d):>9}")

    label = res.get("predictor", "petridish")
    target = res.get("target", res["metric"])
    lines = [f"held-out evaluation on {res.get('space', 'nb101')} "
             f"{res.get('dataset') or 'cifar10'}: {res['test_size']} test cells, "
             f"{res['train_size']} training cells; learned from {res['metric']} accuracy, "
             f"scored against {target} accuracy @{res['metric_epochs']} epochs",
             row(label, res[label])]
    if "petridish_raw_score" in res:
        lines += [row("raw score", res["petridish_raw_score"]),
                  row("motif max accuracy", res["petridish_motif_max_acc"])]
    lines += [row("params (baseline)", res["baseline_params"]),
              row("random (baseline)", res["baseline_random"]),
              f"  fit {res['fit_seconds']:.1f} s, query {res['query_seconds_per_arch']:.2f} s per "
              f"architecture ({res['machine']})"]
    if "against_training_metric" in res:
        lines.append(row(f"{label} vs {res['metric']} acc",
                         res["against_training_metric"][label]))
    return "\n".join(lines)
