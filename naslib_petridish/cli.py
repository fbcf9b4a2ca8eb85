"""The ``naslib-petridish`` command line.

Every subcommand turns bad input into one clear line on stderr and a
non-zero exit status; tracebacks are for bugs only.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


def _known_errors() -> tuple[type[BaseException], ...]:
    from .cells import InvalidCellError
    from .download import DownloadError
    from .tables import GroundTruthError, UnknownCellError

    from .config import ConfigError
    from .dish import DishFileError
    from .inner import DeviceNotAvailable
    from .naslib import NASLibNotAvailable
    from .outer import RunDirError
    from .predictor import NotFittedError

    return (UsageError, InvalidCellError, GroundTruthError, UnknownCellError, DownloadError,
            ConfigError, DishFileError, RunDirError, NotFittedError, NASLibNotAvailable,
            DeviceNotAvailable, FileExistsError,
            FileNotFoundError, IsADirectoryError, PermissionError)


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
    from .config import resolve_config

    return resolve_config(args.preset, args.config, args.set, seed=args.seed,
                          train_size=args.train_size, metric=args.metric, workers=args.workers)


def _training_pool(table, cfg):
    """The same training cells ``evaluate`` draws for this seed."""
    from .evaluate import draw_split

    rows, _ = draw_split(table, cfg.train_size, 0, cfg.metric, cfg.metric_epochs, cfg.seed)
    return rows, table.metric(rows, cfg.metric, cfg.metric_epochs)


def cmd_fit(args: argparse.Namespace) -> int:
    from .predictor import SyntheticPetriDishPredictor
    from .sources import open_ground_truth

    cfg = _config_from_args(args)
    table = open_ground_truth(args.nb101, progress=not args.quiet)
    rows, y = _training_pool(table, cfg)
    pred = SyntheticPetriDishPredictor(config=cfg, table=table, out_dir=args.out,
                                       progress=not args.quiet)
    try:
        cal = pred.fit(table.cells(rows), y, resume=args.resume, force=args.force)
    finally:
        pred.close()
    hist = pred.dish.history
    tau = sum(h["kendall_tau"] for h in hist) / len(hist)
    print(f"dish written to {args.out}/dish.pt: {len(hist)} outer epochs, mean outer Kendall tau "
          f"{tau:+.3f}, calibration slope {cal.get('slope', float('nan')):+.3g} "
          f"(r {cal.get('pearson_r', float('nan')):+.3f} on {cal.get('n', 0)} training cells), "
          f"{pred.fit_seconds:.1f} s")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    import json

    from .cells import as_cells
    from .predictor import SyntheticPetriDishPredictor

    if args.out and os.path.exists(args.out) and not args.force:
        raise UsageError(f"{args.out} exists; pass --force to overwrite it")
    if not os.path.exists(args.archs):
        raise UsageError(f"architecture file not found: {args.archs}")
    try:
        with open(args.archs) as f:
            archs = json.load(f)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{args.archs} is not valid JSON ({exc})") from None
    if isinstance(archs, dict):
        archs = [archs]
    if not isinstance(archs, list) or not archs:
        raise UsageError(f"{args.archs} must hold a JSON list of cells "
                         '({"matrix": ..., "ops": ...}) or hashes')
    table = None
    if args.nb101 or any(isinstance(a, str) for a in archs):
        from .sources import open_ground_truth
        table = open_ground_truth(args.nb101, progress=not args.quiet)
    cells = as_cells(archs, table)
    pred = SyntheticPetriDishPredictor.load(args.dish, table=table, progress=not args.quiet,
                                            workers=args.workers)
    try:
        y = pred.query(cells)
    finally:
        pred.close()
    out = [{"hash": c.hash, "prediction": float(p), "score": float(r.score),
            "motif_max_acc": float(r.max_acc)} for c, p, r in zip(cells, y, pred.last_results)]
    text = json.dumps(out, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
        print(f"wrote {len(out)} predictions to {args.out} "
              f"({pred.last_query_seconds_per_arch:.2f} s per architecture)", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import format_metrics, run_evaluation
    from .sources import open_ground_truth

    cfg = _config_from_args(args)
    table = open_ground_truth(args.nb101, progress=not args.quiet)
    res = run_evaluation(table, cfg, args.test_size, args.out, resume=args.resume,
                         force=args.force, progress=not args.quiet)
    print(format_metrics(res))
    print(f"metrics written to {os.path.join(args.out, 'metrics.json')}")
    if not args.no_plot:
        from .plots import plot_run
        files = plot_run(args.out)
        print("figures: " + ", ".join(str(f) for f in files))
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

    path = run_predictor_evaluation(args.config_file, nb101=args.nb101, metric=args.metric,
                                    out_dir=args.out_dir)
    print(f"NASLib errors.json written to {path}")
    return 0


def cmd_naslib_search(args: argparse.Namespace) -> int:
    import json

    from .naslib import run_search

    summary = run_search(args.config_file, nb101=args.nb101, metric=args.metric,
                         out_dir=args.out_dir)
    print(json.dumps({k: v for k, v in summary.items() if k != "best_cell"}, indent=1))
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from .config import load_preset, preset_names, resolve_config

    if args.name:
        print(resolve_config(args.name).to_yaml(), end="")
        return 0
    for name in preset_names():
        d = load_preset(name)
        print(f"{name:<16} motif {d.get('motif')}, {d.get('inner_epochs')} inner x "
              f"{d.get('outer_epochs')} outer epochs")
    return 0


# -- parser -------------------------------------------------------------------------
def _add_nb101(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nb101", metavar="PATH",
                   help="NB101 ground truth (.npz table, official .tfrecord or NASLib .pkl); "
                        "default: $NASLIB_PETRIDISH_NB101, then the download cache")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="naslib-petridish",
        description="Synthetic Petri Dish performance prediction on NAS-Bench-101.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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

    def run_options(p, default_preset="paper-c"):
        _add_nb101(p)
        p.add_argument("--preset", default=default_preset,
                       help=f"shipped preset (default {default_preset}); see 'presets'")
        p.add_argument("--config", metavar="FILE", help="YAML file of config fields (over the preset)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one config field, e.g. --set inner_epochs=16 (repeatable)")
        p.add_argument("--train-size", type=int, help="training architectures with ground truth")
        p.add_argument("--seed", type=int, help="random seed of the run")
        p.add_argument("--metric", choices=["val", "test"],
                       help="ground truth: 108-epoch validation (paper) or test accuracy")
        p.add_argument("--workers", type=int, help="worker processes (0 = one per core)")
        p.add_argument("--out", required=True, metavar="DIR", help="run directory")
        p.add_argument("--resume", action="store_true", help="continue an interrupted run in DIR")
        p.add_argument("--force", action="store_true", help="overwrite an existing run in DIR")

    p = sub.add_parser("fit", help="generate a dish (the outer loop) on NB101 ground truth")
    run_options(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("evaluate", help="fit on a uniform training set, query a disjoint test "
                                        "set, report correlations and baselines")
    run_options(p, default_preset="quick")
    p.add_argument("--test-size", type=int, default=200, help="held-out cells (default 200)")
    p.add_argument("--no-plot", action="store_true", help="skip the figures")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("query", help="predict architectures with a fitted dish")
    p.add_argument("--dish", required=True, metavar="DIR", help="directory holding dish.pt")
    p.add_argument("--archs", required=True, metavar="FILE",
                   help='JSON list of cells ({"matrix": ..., "ops": ...}) or hashes')
    p.add_argument("--out", metavar="FILE", help="write predictions here (default: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.add_argument("--workers", type=int, help="worker processes (0 = one per core)")
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
        p.add_argument("--config-file", required=True, help="NASLib YAML config")
        _add_nb101(p)
        p.add_argument("--metric", choices=["val", "test"],
                       help="what NASLib's accuracy queries read (default: validation where "
                            "the source has it for every cell, else test)")
        p.add_argument("--out-dir", help="overrides the config's out_dir")
        p.set_defaults(func=func)

    p = sub.add_parser("presets", help="list presets, or print one resolved")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_presets)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("naslib-petridish: interrupted", file=sys.stderr)
        return 130
    except _known_errors() as exc:
        msg = str(exc).strip() or type(exc).__name__
        print(f"naslib-petridish {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
