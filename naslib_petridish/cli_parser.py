"""The ``naslib-petridish`` command line's arguments: every subcommand's parser.

The functions that run the subcommands live in :mod:`.cli`, which passes them in.
"""
from __future__ import annotations

import argparse

from . import __version__

#: the preset of ``fit``, ``evaluate`` and ``compare`` when none is given: the space's
#: ``recommended_ranker`` (named here for the help text only; a test checks they agree).
#: The paper's dish, ``paper-c``, takes an hour to fit and ranks unseen cells at chance
#: level (benchmarks/results/DISH.md); it stays one name away, ``--preset paper-c``
DEFAULT_PRESET = "cell-features-self-trained"
DEFAULT_PRESET_NB201 = "cell-features-self-trained-isomorphs"


def _add_nb101(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", metavar="SPACE",
                   help="search space: nb101 or nb201 (default: inferred from the ground-truth "
                        "file, else nb101)")
    p.add_argument("--nb101", metavar="PATH",
                   help="NB101 ground truth (.npz table, official .tfrecord or NASLib .pkl); "
                        "default: $NASLIB_PETRIDISH_NB101, then the download cache")
    p.add_argument("--nb201", metavar="FILE",
                   help="NB201 ground truth (nb201_table.npz or NASLib's nb201_<dataset>_"
                        "full_training.pickle); default: $NASLIB_PETRIDISH_NB201, then the "
                        "cache")
    p.add_argument("--dataset", metavar="NAME",
                   help="data set of the ground truth (NB201: cifar10, cifar100, "
                        "ImageNet16-120 or any name in the file; default: the file's first)")


def _common(p: argparse.ArgumentParser) -> None:
    """Options every subcommand takes (also accepted before the subcommand)."""
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bars")


def build_parser(handlers: dict) -> argparse.ArgumentParser:
    """The parser; ``handlers`` maps each subcommand's name to its function."""
    from .runner import WORKER_MEMORY_MB

    parser = argparse.ArgumentParser(
        prog="naslib-petridish",
        description="Synthetic Petri Dish and ranking predictors on NAS-Bench-101 and -201. "
                    "--out is always the directory a command writes into.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    workers_help = (f"worker processes (0 = one per core); each needs about {WORKER_MEMORY_MB} "
                    "MB of memory, and more workers than cores gain nothing")

    p = sub.add_parser("compare", help="the main job: the paper's dish (quick), the "
                       "recommended ranker and the free baselines fitted and scored on one "
                       "held-out split; one table and one figure")
    _add_nb101(p)
    p.add_argument("--dish", default="quick", metavar="PRESET",
                   help="dish preset (default quick, the paper's method in minutes; "
                        "'none' leaves it out)")
    p.add_argument("--ranker", default="recommended", metavar="PRESET",
                   help=f"ranker preset (default: the space's recommended one, {DEFAULT_PRESET} "
                        f"on NB101, {DEFAULT_PRESET_NB201} on NB201; 'none' leaves it out)")
    for role in ("dish", "ranker"):
        p.add_argument(f"--set-{role}", action="append", default=[], metavar="KEY=VALUE",
                       help=f"override one config field of the {role} preset (repeatable)")
    p.add_argument("--train-size", type=int, default=100,
                   help="training cells, the same for every predictor (default 100)")
    p.add_argument("--test-size", type=int, default=200, help="held-out cells (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the fits (0)")
    p.add_argument("--metric", choices=["val", "test"], default="val",
                   help="what the predictors learn from (default val)")
    p.add_argument("--target", choices=["val", "test"], default="test",
                   help="what the predictions are scored against (default test)")
    p.add_argument("--workers", type=int, help=workers_help)
    p.add_argument("--out", required=True, metavar="DIR", help="run directory")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in DIR (finished fits are reused)")
    p.add_argument("--force", action="store_true", help="run again over an existing DIR")
    p.add_argument("--no-plot", action="store_true", help="skip the figure")
    p.set_defaults(func=handlers["compare"])

    p = sub.add_parser("info", help="print what the ground-truth file holds")
    _add_nb101(p)
    p.set_defaults(func=handlers["info"])

    p = sub.add_parser("convert", help="convert an official .tfrecord or NASLib .pkl to the "
                                       "compact .npz table")
    p.add_argument("src", help="nasbench_only108.tfrecord, nasbench_full.tfrecord or "
                               "nasbench_only108.pkl")
    p.add_argument("dst", help="output .npz")
    p.add_argument("--force", action="store_true", help="overwrite DST")
    p.add_argument("--space", help="nb101 or nb201 (default: from SRC's name and format)")
    p.set_defaults(func=handlers["convert"])

    p = sub.add_parser("download", help="download the official nasbench_only108.tfrecord, "
                                        "verify it and convert it into the cache")
    p.add_argument("--url", help="alternative address of the tfrecord file")
    p.add_argument("--dir", help="cache directory (default: $NASLIB_PETRIDISH_CACHE or "
                                 "~/.cache/naslib-petridish)")
    p.add_argument("--force", action="store_true", help="download and convert again")
    p.set_defaults(func=handlers["download"])

    def run_options(p):
        _add_nb101(p)
        p.add_argument("--preset", default=None,
                       help=f"shipped preset (default: the space's recommended ranker, "
                            f"{DEFAULT_PRESET} on NB101, {DEFAULT_PRESET_NB201} on NB201; "
                            "the paper's dish is --preset paper-c); "
                            "see 'presets'")
        p.add_argument("--config", metavar="FILE",
                       help="YAML file of config fields (over the preset)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one config field, e.g. --set inner_epochs=16 (repeatable)")
        p.add_argument("--train-size", type=int, help="training architectures with ground truth")
        p.add_argument("--seed", type=int, help="random seed of the run")
        p.add_argument("--metric", choices=["val", "test"],
                       help="what the predictor learns from: validation (NB101: the paper's "
                            "108-epoch; NB201's default) or test accuracy (default: the "
                            "preset's on NB101, val on NB201)")
        p.add_argument("--workers", type=int, help=workers_help)
        p.add_argument("--out", required=True, metavar="DIR", help="run directory")
        p.add_argument("--resume", action="store_true", help="continue an interrupted run in DIR")
        p.add_argument("--force", action="store_true", help="overwrite an existing run in DIR")

    p = sub.add_parser("fit", help="fit a preset on the ground truth: generate a dish (the "
                                   "outer loop), or fit the ranker")
    run_options(p)
    p.set_defaults(func=handlers["fit"])

    p = sub.add_parser("evaluate", help="fit on a uniform training set, query a disjoint test "
                                        "set, report correlations and baselines")
    run_options(p)
    p.add_argument("--test-size", type=int, default=200, help="held-out cells (default 200)")
    p.add_argument("--target", choices=["val", "test"], default="test",
                   help="what the predictions are scored against (default test)")
    p.add_argument("--no-plot", action="store_true", help="skip the figures")
    p.set_defaults(func=handlers["evaluate"])

    p = sub.add_parser("query", help="predict architectures with a fitted dish or ranker")
    p.add_argument("--dish", "--run", dest="dish", required=True, metavar="DIR",
                   help="a fit's directory (holding dish.pt or ranker.json)")
    p.add_argument("--archs", required=True, metavar="FILE",
                   help='JSON list of cells ({"matrix": ..., "ops": ...}) or hashes')
    p.add_argument("--output", metavar="FILE", help="write predictions to this JSON file "
                                                    "(default: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite --output")
    p.add_argument("--workers", type=int, help=workers_help)
    _add_nb101(p)
    p.set_defaults(func=handlers["query"])

    p = sub.add_parser("plot", help="figures of a fit (like the paper's Figures 2-7)")
    p.add_argument("dir", help="fit or evaluate directory")
    p.add_argument("--out", metavar="DIR", help="where to write the PNGs (default: DIR)")
    p.set_defaults(func=handlers["plot"])

    for name, what in (
            ("naslib-evaluate",
             "NASLib's PredictorEvaluator on NB101 or NB201 with a NASLib predictor config "
             "(predictor: petridish, bananas, xgb, ...); needs NASLib"),
            ("naslib-search",
             "regularized evolution / Bananas / Npenas driven by the dish, through NASLib's "
             "Trainer; needs NASLib")):
        p = sub.add_parser(name, help=what)
        p.add_argument("--config", "--config-file", dest="config", required=True, metavar="FILE",
                       help="NASLib YAML config")
        _add_nb101(p)
        p.add_argument("--metric", choices=["val", "test"],
                       help="what NASLib's accuracy queries read (default: validation where "
                            "the source has it for every cell, else test)")
        p.add_argument("--out", "--out-dir", dest="out", metavar="DIR",
                       help="overrides the config's out_dir")
        if name == "naslib-evaluate":
            p.add_argument("--resume", action="store_true",
                           help="continue an interrupted run: keep its finished training-set "
                                "sizes, continue a dish being generated")
            p.add_argument("--force", action="store_true",
                           help="replace the results of an earlier run in the same folder")
            p.add_argument("--protocol", choices=["naslib", "distinct", "uniform", "a", "b",
                                                  "c"],
                           help="how test and training architectures are drawn: naslib (a, "
                                "the default: NASLib's sampler as is, which on NB101 repeats "
                                "cells and overlaps training with test), distinct (b: the same "
                                "sampler without repeats, disjoint), uniform (c: distinct "
                                "cells drawn uniformly, disjoint); also the config's "
                                "sampling_protocol")
        p.set_defaults(func=handlers[name])

    p = sub.add_parser("search", help="predictor-guided search on the ground truth: fit on every "
                                      "queried cell, query the best-predicted new cells")
    _add_nb101(p)
    p.add_argument("--predictor", required=True,
                   help="a shipped preset (cell-features-boosted, ...), params or mean (controls), "
                        "or with NASLib any of its predictors (xgb, gcn, ...)")
    p.add_argument("--budget", type=int, default=150, help="ground-truth queries (default 150)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric", choices=["val", "test"],
                   help="what a query reads and the incumbent is chosen by (default: test on "
                        "NB101, val on NB201; the reported test accuracy is the incumbent's)")
    p.add_argument("--init", type=int, default=20, help="uniform cells queried first (20)")
    p.add_argument("--batch", type=int, default=10, help="cells queried per round (10)")
    p.add_argument("--pool", type=int,
                   help="uniform candidates scored per round (NB101: 20000; NB201: 0 = every "
                        "cell)")
    p.add_argument("--mutations", type=int, default=0,
                   help="also score this many mutants of each of the --top-k best queried cells")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a predictor option (a config field of the preset), repeatable; a "
                        "self-training preset continues from the last round unless "
                        "warm_start=false")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory")
    p.add_argument("--resume", action="store_true", help="continue an interrupted search in DIR")
    p.add_argument("--force", action="store_true", help="replace a finished search in DIR")
    p.set_defaults(func=handlers["search"])

    p = sub.add_parser("presets", help="list presets, or print one resolved")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=handlers["presets"])
    for p in sub.choices.values():
        _common(p)
    return parser
