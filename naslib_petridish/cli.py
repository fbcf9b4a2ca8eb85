"""The ``naslib-petridish`` command line.

Every subcommand turns bad input into one clear line on stderr and a
non-zero exit status; tracebacks are for bugs only.
"""
from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path

from . import __version__
from .errors import PetriDishError, UsageError


#: the preset of ``fit`` and ``evaluate`` when none is given (the paper's protocol, motif C)
DEFAULT_PRESET = "paper-c"


# -- subcommands --------------------------------------------------------------------
def cmd_info(args: argparse.Namespace) -> int:
    from .sources import locate_ground_truth, load_ground_truth

    path = locate_ground_truth(args.nb101)
    table = load_ground_truth(path, progress=not args.quiet)
    print(table.summary())
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .sources import load_ground_truth

    if not args.dst.endswith(".npz"):
        raise UsageError(f"DST must end in .npz, got {args.dst}")
    if os.path.exists(args.dst) and not args.force:
        raise UsageError(f"{args.dst} exists; pass --force to overwrite it")
    table = load_ground_truth(args.src, progress=not args.quiet)
    table.save(args.dst, overwrite=args.force)
    print(f"wrote {args.dst}: {len(table):,} cells")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from .download import OFFICIAL_URL, download_nb101

    path = download_nb101(url=args.url or OFFICIAL_URL, directory=args.dir,
                          progress=not args.quiet, force=args.force)
    print(f"NAS-Bench-101 table ready: {path}")
    return 0


def _config_from_args(args: argparse.Namespace):
    """The run's config, with the worker count and the run directory checked before
    any work (loading the ground truth takes seconds, a fit hours)."""
    from .factory import resolve_any
    from .runner import check_workers

    cfg = resolve_any(args.preset, args.config, args.set, seed=args.seed,
                      train_size=args.train_size, metric=args.metric, workers=args.workers)
    if getattr(cfg, "backend", "process") == "process" and getattr(cfg, "trains_motifs", True):
        check_workers(cfg.workers)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a directory for the run")
    return cfg


def _training_pool(table, cfg):
    """The same training cells ``evaluate`` draws for this seed."""
    from .evaluate import draw_split

    rows, _ = draw_split(table, cfg.train_size, 0, cfg.metric, cfg.metric_epochs, cfg.seed)
    return rows, table.metric(rows, cfg.metric, cfg.metric_epochs)


def cmd_fit(args: argparse.Namespace) -> int:
    from .factory import make_predictor
    from .sources import open_ground_truth

    cfg = _config_from_args(args)
    table = open_ground_truth(args.nb101, progress=not args.quiet)
    rows, y = _training_pool(table, cfg)
    pred = make_predictor(config=cfg, table=table, out_dir=args.out, progress=not args.quiet)
    try:
        cal = pred.fit(table.cells(rows), y, resume=args.resume, force=args.force)
    finally:
        pred.close()
    if pred.label == "ranker":
        print(f"ranker written to {args.out}/{pred.fit_file}: {pred.describe()}; "
              f"{pred.motifs_trained} motifs trained, {pred.fit_seconds:.1f} s")
        return 0
    from .correlation import fmt

    hist = pred.dish.history
    taus = [h["kendall_tau"] for h in hist if h.get("kendall_defined", True)]
    tau = fmt(sum(taus) / len(taus) if taus else 0.0, bool(taus))
    print(f"dish written to {args.out}/dish.pt: {len(hist)} outer epochs, mean outer Kendall tau "
          f"{tau} (over the {len(taus)} epochs where it is defined), calibration slope "
          f"{cal.get('slope', float('nan')):+.3g} (r {cal.get('pearson_r', float('nan')):+.3f} "
          f"on {cal.get('n', 0)} training cells), {pred.fit_seconds:.1f} s")
    return 0


def _read_archs(path: str) -> list:
    import json

    if not os.path.exists(path):
        raise UsageError(f"architecture file not found: {path}")
    try:
        with open(path) as f:
            archs = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid JSON ({exc})") from exc
    if isinstance(archs, dict):
        archs = [archs]
    if not isinstance(archs, list):
        raise UsageError(f"{path} must hold a JSON list of cells "
                         '({"matrix": ..., "ops": ...}) or hashes')
    if not archs:
        raise UsageError(f"{path} holds an empty list: no architectures to predict")
    return archs


def cmd_query(args: argparse.Namespace) -> int:
    import json

    from .cells import as_cells
    from .factory import load_fitted
    from .rundir import check_output_file, write_or_keep
    from .runner import check_workers

    if args.output:  # before any work: a failed write would lose every trained motif
        check_output_file(args.output, force=args.force)
    if args.workers is not None:
        check_workers(args.workers)
    archs = _read_archs(args.archs)
    table = None
    if args.nb101 or any(isinstance(a, str) for a in archs):
        from .sources import open_ground_truth
        table = open_ground_truth(args.nb101, progress=not args.quiet)
    cells = as_cells(archs, table)
    pred = load_fitted(args.dish, table=table, progress=not args.quiet, workers=args.workers)
    try:
        y = pred.query(cells)
    finally:
        pred.close()
    res = pred.last_results or [None] * len(cells)  # None: the map reads no motif
    out = [{"hash": c.hash, "prediction": float(p), "score": None if r is None else float(r.score),
            "motif_max_acc": None if r is None else float(r.max_acc)}
           for c, p, r in zip(cells, y, res)]
    text = json.dumps(out, indent=1) + "\n"
    if not args.output:
        print(text, end="")
        return 0
    dish_dir = args.dish if os.path.isdir(args.dish) else os.path.dirname(args.dish) or "."
    where, failed = write_or_keep(args.output, text, dish_dir)
    if failed is not None:
        print(f"naslib-petridish query: could not write {args.output} "
              f"({failed.strerror or failed}); the predictions were saved to {where}",
              file=sys.stderr)
    print(f"wrote {len(out)} predictions to {where} "
          f"({pred.last_query_seconds_per_arch:.2f} s per architecture)", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import check_test_size, format_metrics, run_evaluation
    from .sources import open_ground_truth

    check_test_size(args.test_size)
    cfg = _config_from_args(args)
    table = open_ground_truth(args.nb101, progress=not args.quiet)
    res = run_evaluation(table, cfg, args.test_size, args.out, resume=args.resume,
                         force=args.force, progress=not args.quiet)
    print(format_metrics(res))
    print(f"metrics written to {os.path.join(args.out, 'metrics.json')}")
    if not args.no_plot:
        from .errors import OptionalDependencyError
        from .plots import plot_run
        try:
            files = plot_run(args.out)
            print("figures: " + ", ".join(str(f) for f in files))
        except OptionalDependencyError as exc:  # the results are written; figures are extra
            print(f"no figures: {exc}", file=sys.stderr)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .plots import plot_run

    if not os.path.isdir(args.dir):
        raise UsageError(f"{args.dir} is not a directory (give a fit or evaluate --out DIR)")
    for f in plot_run(args.dir, args.out):
        print(f)
    return 0


def cmd_naslib_evaluate(args: argparse.Namespace) -> int:
    from .naslib import run_predictor_evaluation

    path = run_predictor_evaluation(args.config, nb101=args.nb101, metric=args.metric,
                                    out_dir=args.out, resume=args.resume, force=args.force,
                                    protocol=args.protocol)
    print(f"NASLib errors.json written to {path}")
    _print_split_stats(path)
    return 0


def _print_split_stats(errors_json) -> None:
    """One line per training-set size: how many distinct cells the evaluation saw (NASLib's
    own protocol repeats cells and overlaps train with test on NB101)."""
    import json
    from pathlib import Path

    try:
        rows = json.loads(Path(errors_json).read_text())[1:]
    except (OSError, ValueError):
        return
    for r in rows:
        if isinstance(r, dict) and "test_distinct" in r:
            print(f"train size {r.get('train_size', '?')}: kendall tau "
                  f"{r.get('kendalltau', float('nan')):+.3f}; protocol "
                  f"{r['sampling_protocol']}: {r['test_distinct']} distinct test cells of "
                  f"{r.get('test_size', '?')}, {r['train_distinct']} distinct training cells, "
                  f"{r['train_in_test']} training architectures also in the test set")


def cmd_naslib_search(args: argparse.Namespace) -> int:
    import json

    from .naslib import run_search

    summary = run_search(args.config, nb101=args.nb101, metric=args.metric, out_dir=args.out)
    print(json.dumps({k: v for k, v in summary.items() if k != "best_cell"}, indent=1))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .guided import GuidedConfig, read_options, run_guided
    from .sources import open_ground_truth

    cfg = GuidedConfig(budget=args.budget, init=args.init, batch=args.batch, pool=args.pool,
                       mutations=args.mutations, top_k=args.top_k, metric=args.metric,
                       seed=args.seed)
    options = read_options(args.set)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a directory for the run")
    table = open_ground_truth(args.nb101, progress=not args.quiet)
    s = run_guided(table, args.predictor, cfg, out, options=options, resume=args.resume,
                   force=args.force, progress=not args.quiet)
    print(f"best {s['metric']} accuracy {s['best_accuracy']:.4f} "
          f"(test {s['best_test_accuracy']:.4f}) after {s['ground_truth_queries']} ground-truth "
          f"queries; summary in "
          f"{out / 'summary.json'}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from . import presetfiles
    from .factory import describe_preset, resolve_any

    if args.name:
        print(resolve_any(args.name).to_yaml(), end="")
        return 0
    for kind, what in (("dish", "dish presets (the Synthetic Petri Dish)"),
                       ("ranker", "ranker presets (the ranking model on cell features)")):
        print(f"{what}:")
        for name in presetfiles.preset_names(kind):
            print(f"  {name:<28}{describe_preset(name)}")
    return 0


# -- parser -------------------------------------------------------------------------
def _add_nb101(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nb101", metavar="PATH",
                   help="NB101 ground truth (.npz table, official .tfrecord or NASLib .pkl); "
                        "default: $NASLIB_PETRIDISH_NB101, then the download cache")


def _common(p: argparse.ArgumentParser) -> None:
    """Options every subcommand takes (also accepted before the subcommand)."""
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    from .runner import WORKER_MEMORY_MB

    parser = argparse.ArgumentParser(
        prog="naslib-petridish",
        description="Synthetic Petri Dish performance prediction on NAS-Bench-101. "
                    "--out is always the directory a command writes into.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    workers_help = (f"worker processes (0 = one per core); each needs about {WORKER_MEMORY_MB} "
                    "MB of memory, and more workers than cores gain nothing")

    p = sub.add_parser("info", help="print what the ground-truth file holds")
    _add_nb101(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="convert an official .tfrecord or NASLib .pkl to the "
                                       "compact .npz table")
    p.add_argument("src", help="nasbench_only108.tfrecord, nasbench_full.tfrecord or "
                               "nasbench_only108.pkl")
    p.add_argument("dst", help="output .npz")
    p.add_argument("--force", action="store_true", help="overwrite DST")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("download", help="download the official nasbench_only108.tfrecord, "
                                        "verify it and convert it into the cache")
    p.add_argument("--url", help="alternative address of the tfrecord file")
    p.add_argument("--dir", help="cache directory (default: $NASLIB_PETRIDISH_CACHE or "
                                 "~/.cache/naslib-petridish)")
    p.add_argument("--force", action="store_true", help="download and convert again")
    p.set_defaults(func=cmd_download)

    def run_options(p):
        _add_nb101(p)
        p.add_argument("--preset", default=DEFAULT_PRESET,
                       help=f"shipped preset (default {DEFAULT_PRESET}, the paper's protocol); "
                            "see 'presets'")
        p.add_argument("--config", metavar="FILE",
                       help="YAML file of config fields (over the preset)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one config field, e.g. --set inner_epochs=16 (repeatable)")
        p.add_argument("--train-size", type=int, help="training architectures with ground truth")
        p.add_argument("--seed", type=int, help="random seed of the run")
        p.add_argument("--metric", choices=["val", "test"],
                       help="ground truth: 108-epoch validation (paper) or test accuracy")
        p.add_argument("--workers", type=int, help=workers_help)
        p.add_argument("--out", required=True, metavar="DIR", help="run directory")
        p.add_argument("--resume", action="store_true", help="continue an interrupted run in DIR")
        p.add_argument("--force", action="store_true", help="overwrite an existing run in DIR")

    p = sub.add_parser("fit", help="fit a preset on NB101 ground truth: generate a dish (the "
                                   "outer loop), or fit the ranker")
    run_options(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("evaluate", help="fit on a uniform training set, query a disjoint test "
                                        "set, report correlations and baselines")
    run_options(p)
    p.add_argument("--test-size", type=int, default=200, help="held-out cells (default 200)")
    p.add_argument("--no-plot", action="store_true", help="skip the figures")
    p.set_defaults(func=cmd_evaluate)

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
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("plot", help="figures of a fit (like the paper's Figures 2-7)")
    p.add_argument("dir", help="fit or evaluate directory")
    p.add_argument("--out", metavar="DIR", help="where to write the PNGs (default: DIR)")
    p.set_defaults(func=cmd_plot)

    for name, func, what in (
            ("naslib-evaluate", cmd_naslib_evaluate,
             "NASLib's PredictorEvaluator on NB101 with a NASLib predictor config "
             "(predictor: petridish, bananas, xgb, ...); needs NASLib"),
            ("naslib-search", cmd_naslib_search,
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
        p.set_defaults(func=func)

    p = sub.add_parser("search", help="predictor-guided search on the ground truth: fit on every "
                                      "queried cell, query the best-predicted new cells")
    _add_nb101(p)
    p.add_argument("--predictor", required=True,
                   help="a shipped preset (cell-features-boosted, ...), params or mean (controls), "
                        "or with NASLib any of its predictors (xgb, gcn, ...)")
    p.add_argument("--budget", type=int, default=150, help="ground-truth queries (default 150)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric", choices=["val", "test"], default="test",
                   help="what a query reads (default test)")
    p.add_argument("--init", type=int, default=20, help="uniform cells queried first (20)")
    p.add_argument("--batch", type=int, default=10, help="cells queried per round (10)")
    p.add_argument("--pool", type=int, default=20000,
                   help="uniform candidates scored per round (20000; 0 = every cell)")
    p.add_argument("--mutations", type=int, default=0,
                   help="also score this many mutants of each of the --top-k best queried cells")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a predictor option (a config field of the preset), repeatable")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory")
    p.add_argument("--resume", action="store_true", help="continue an interrupted search in DIR")
    p.add_argument("--force", action="store_true", help="replace a finished search in DIR")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("presets", help="list presets, or print one resolved")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_presets)
    for p in sub.choices.values():
        _common(p)
    return parser


def _resume_hint(args: argparse.Namespace) -> str:
    """The command that continues an interrupted fit or evaluation (also when the
    interruption came before the arguments were parsed)."""
    argv = [a for a in (args.argv or []) if a not in ("--resume", "--force")]
    command = args.command or next((a for a in argv if a in ("fit", "evaluate")), None)
    if command not in ("fit", "evaluate") or "--out" not in " ".join(argv):
        return ""
    return ("; continue with: naslib-petridish " + " ".join(shlex.quote(a) for a in argv)
            + " --resume")


def _setup_logging(quiet: bool) -> None:
    """Warnings of the package as one line each on stderr."""
    log = logging.getLogger("naslib_petridish")
    if not any(getattr(h, "_petridish", False) for h in log.handlers):
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("naslib-petridish: %(levelname)s: %(message)s"))
        h._petridish = True
        log.addHandler(h)
        log.propagate = False
    log.setLevel(logging.ERROR if quiet else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = argparse.Namespace(command=None, argv=argv)
    try:  # everything, imports included: a Ctrl-C at any moment is handled below
        parser = build_parser()
        args = parser.parse_args(argv)
        args.argv = argv
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        _setup_logging(bool(getattr(args, "quiet", False)))
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"naslib-petridish {args.command or ''}: interrupted; finished work is saved"
              f"{_resume_hint(args)}", file=sys.stderr)
        return 130
    except PetriDishError as exc:
        msg = str(exc).strip() or type(exc).__name__
        print(f"naslib-petridish {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (``| head``): not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0
    except OSError as exc:  # the operating system's word (disk full, permissions, ...)
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"naslib-petridish {args.command}: error: {exc.strerror or exc}{where}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
