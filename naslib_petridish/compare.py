"""The main job: the paper's dish, the recommended ranker and the free baselines on one split.

:func:`run_compare` fits each predictor on the same uniform training cells and queries the
same held-out cells (one :func:`naslib_petridish.evaluate.run_evaluation` per predictor,
in ``OUT/<name>/``, with one seed, training size and metric, so that
:func:`~naslib_petridish.evaluate.draw_split` draws one split for all), then reads the
baselines on those cells - the full network's parameter count and a seeded random score -
and writes ``compare.json`` (one row per predictor: Kendall tau, Spearman, fit seconds,
query milliseconds per cell) and ``compare.png`` (each predictor's rank of the held-out
cells against their true rank).  Each sub-run checkpoints and resumes as ``evaluate``
does; a finished one is reused by ``resume``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from . import __version__, rundir, seeds
from .correlation import correlations, fmt
from .errors import OutputExistsError, UsageError
from .evaluate import (PREDICTIONS_FILE, check_test_size, draw_split,
                       machine_description, run_evaluation)

RESULT, FIGURE = "compare.json", "compare.png"
#: the paper's method in its few-minute form, and the ranker the package recommends
#: (``recommended``: the space's ``recommended_ranker``)
DISH, RANKER = "quick", "recommended"
MEANING = ("Kendall tau: how well each predictor orders the held-out cells by their true "
           "accuracy (1 = the true order, 0 = chance). The baselines cost nothing, so a "
           "predictor is worth its fit only where it beats them.")


def run_compare(table, out_dir: str | os.PathLike, dish: str = DISH, ranker: str = RANKER,
                train_size: int = 100, test_size: int = 200, seed: int = 0,
                metric: str = "val", target: str = "test", workers: int | None = None,
                resume: bool = False, force: bool = False, progress: bool = True,
                dish_set=(), ranker_set=()) -> dict:
    """Fit ``dish`` and ``ranker`` (preset names; either may be None to leave it out;
    ``ranker="recommended"``: the table's space's recommended ranker preset) on one
    split of ``table`` and write ``compare.json``; returns its content.  ``dish_set`` /
    ``ranker_set``: ``KEY=VALUE`` overrides of each preset's config fields."""
    from .factory import resolve_any

    test_size = check_test_size(test_size)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a directory for the run")
    if (out / RESULT).exists() and not (resume or force):
        raise OutputExistsError(f"{out / RESULT} exists; pass --resume to reuse it or --force "
                                "to run again")
    space, dataset = table.space, getattr(table, "dataset", "") or None
    if ranker == "recommended":
        from .spaces import get_space
        ranker = get_space(space).recommended_ranker
    names = {"dish": f"dish ({dish})", "ranker": f"ranker ({ranker})"}
    cfgs = {}
    for role, preset, sets in (("dish", dish, dish_set), ("ranker", ranker, ranker_set)):
        if preset:
            cfgs[role] = resolve_any(preset, None, list(sets), seed=seed, train_size=train_size,
                                     metric=metric, workers=workers, space=space,
                                     dataset=dataset)
    if not cfgs:
        raise UsageError("nothing to compare: give a dish preset, a ranker preset or both")
    epochs = next(iter(cfgs.values())).metric_epochs
    train, test = draw_split(table, train_size, test_size, metric, epochs, seed)
    y_test = table.metric(test, target, epochs)
    rows = []
    for role, cfg in cfgs.items():
        sub = out / role
        res = run_evaluation(table, cfg, test_size, sub, resume=resume, force=force,
                             progress=progress, target=target)
        preds = json.loads((sub / PREDICTIONS_FILE).read_text())
        if [p["hash"] for p in preds] != [str(table.hashes[r]) for r in test]:
            raise UsageError(f"{sub} holds another split; use another --out or --force")
        label = res["predictor"]
        rows.append({"name": names[role], "role": role,
                     "scores": [p["prediction"] for p in preds], **res[label],
                     "fit_seconds": res["fit_seconds"],
                     "query_ms_per_cell": 1000 * res["query_seconds_per_arch"]})
    params = np.log10(table.params[test].astype(float))
    rand = seeds.rng(seed, seeds.RANDOM_BASELINE).random(len(test))
    for name, score in (("params (baseline)", params), ("random (baseline)", rand)):
        rows.append({"name": name, "role": "baseline", "scores": score.tolist(),
                     **correlations(score, y_test), "fit_seconds": 0.0,
                     "query_ms_per_cell": 0.0})
    result = {"package_version": __version__, "machine": machine_description(),
              "space": space, "dataset": dataset or "cifar10",
              "metric": metric, "target": target, "metric_epochs": epochs, "seed": seed,
              "train_size": int(len(train)), "test_size": int(len(test)),
              "ground_truth": str(table.source),
              "configs": {r: c.to_dict() for r, c in cfgs.items()},
              "test_hashes": [str(table.hashes[r]) for r in test],
              "truth": [float(v) for v in y_test], "rows": rows}
    with rundir.hold(out):
        rundir.write_atomic(out / RESULT, json.dumps(result, indent=1))
    return result


def format_compare(res: dict) -> str:
    """The console table of a :func:`run_compare` result."""
    w = max([40] + [len(r["name"]) for r in res["rows"]])  # the name column fits every name
    lines = [f"{res['space']} {res['dataset']}: {res['test_size']} held-out cells, "
             f"{res['train_size']} training cells (seed {res['seed']}); learned from "
             f"{res['metric']} accuracy, scored against {res['target']} accuracy "
             f"@{res['metric_epochs']} epochs",
             f"  {'predictor':<{w}} {'Kendall':>8} {'Spearman':>9} {'fit s':>8} "
             f"{'query ms/cell':>14}"]
    for r in res["rows"]:
        d = r.get("defined", True)
        lines.append(f"  {r['name']:<{w}} {fmt(r['kendall_tau'], d):>8} "
                     f"{fmt(r['spearman'], d):>9} {r['fit_seconds']:>8.1f} "
                     f"{r['query_ms_per_cell']:>14.2f}")
    lines.append(MEANING)
    lines.append(f"({res['machine']})")
    return "\n".join(lines)


def plot_compare(res: dict, path: str | os.PathLike) -> Path:
    """Each predictor's rank of the held-out cells against their true rank (percentiles:
    what Kendall tau measures, and unaffected by a few failed cells' outlying accuracy)."""
    from scipy.stats import rankdata

    from .plots import _pyplot, _save

    plt = _pyplot()
    rows = res["rows"]
    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.4), sharey=True)
    n = len(res["truth"])
    truth = 100 * rankdata(res["truth"]) / n
    for ax, r in zip(np.atleast_1d(axes), rows):
        ax.scatter(truth, 100 * rankdata(r["scores"]) / n, s=6, alpha=0.6)
        ax.plot([0, 100], [0, 100], color="grey", lw=0.8, ls="--")
        ax.set(title=f"{r['name']}\nKendall {fmt(r['kendall_tau'], r.get('defined', True))}",
               xlabel=f"true rank by {res['target']} accuracy (%)", xlim=(0, 101),
               ylim=(0, 101))
        ax.title.set_fontsize(9)
    np.atleast_1d(axes)[0].set_ylabel("predicted rank (%)")
    fig.suptitle(f"{res['space']} {res['dataset']}: {res['test_size']} held-out cells, "
                 f"{res['train_size']} training cells, seed {res['seed']}", fontsize=10)
    return _save(fig, Path(path))


__all__ = ["run_compare", "format_compare", "plot_compare", "DISH", "RANKER", "RESULT",
           "FIGURE"]
