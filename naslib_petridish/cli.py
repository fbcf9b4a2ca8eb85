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

from .errors import PetriDishError, UsageError


# -- subcommands --------------------------------------------------------------------
def _space(args: argparse.Namespace) -> str:
    """The space of the command: ``--space``, else inferred from the ground-truth file."""
    from .spaces import infer_space, space_name

    if getattr(args, "space", None):
        return space_name(args.space)
    if getattr(args, "nb201", None):
        return "nb201"
    return infer_space(args.nb101) if getattr(args, "nb101", None) else "nb101"


def _open_table(args: argparse.Namespace):
    from .spaces import open_table

    return open_table(_space(args), args.nb101, getattr(args, "nb201", None),
                      getattr(args, "dataset", None), progress=not args.quiet)


def cmd_info(args: argparse.Namespace) -> int:
    if _space(args) == "nb201":
        from .spaces.nb201 import load_file, locate_table

        print(load_file(locate_table(args.nb201 or args.nb101)).summary())
        return 0
    from .sources import locate_ground_truth, load_ground_truth

    path = locate_ground_truth(args.nb101)
    table = load_ground_truth(path, progress=not args.quiet)
    print(table.summary())
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .sources import load_ground_truth
    from .spaces import infer_space

    if not args.dst.endswith(".npz"):
        raise UsageError(f"DST must end in .npz, got {args.dst}")
    if os.path.exists(args.dst) and not args.force:
        raise UsageError(f"{args.dst} exists; pass --force to overwrite it")
    if (args.space or infer_space(args.src)) == "nb201":
        from .spaces.nb201 import load_file
        table = load_file(args.src)
    else:
        table = load_ground_truth(args.src, progress=not args.quiet)
    table.save(args.dst, overwrite=args.force)
    print(f"wrote {args.dst}: {len(table.arch if hasattr(table, 'arch') else table):,} cells")
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
    from .spaces import get_space

    space = _space(args)
    metric = args.metric or (None if space == "nb101" else "val")  # NB201: val, as published
    preset = args.preset or get_space(space).recommended_ranker
    cfg = resolve_any(preset, args.config, args.set, seed=args.seed,
                      train_size=args.train_size, metric=metric, workers=args.workers,
                      space=space, dataset=args.dataset or None)
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

    cfg = _config_from_args(args)
    table = _open_table(args)
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
    if not pred.generates_dish:  # the seeded dish: no outer epoch was run
        print(f"untrained dish written to {args.out}/dish.pt (no outer epoch run), "
              f"calibration slope {cal.get('slope', float('nan')):+.3g} "
              f"(r {cal.get('pearson_r', float('nan')):+.3f} on {cal.get('n', 0)} training "
              f"cells), {pred.fit_seconds:.1f} s")
        return 0
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

    from .factory import load_fitted
    from .spaces import as_cells
    from .rundir import check_output_file, write_or_keep
    from .runner import check_workers

    if args.output:  # before any work: a failed write would lose every trained motif
        check_output_file(args.output, force=args.force)
    if args.workers is not None:
        check_workers(args.workers)
    archs = _read_archs(args.archs)
    pred = load_fitted(args.dish, progress=not args.quiet, workers=args.workers)
    space = pred.config.space
    table = None  # only to resolve NB101 hashes and NB201 indices
    if args.nb101 or args.nb201 or any(
            isinstance(a, int if space == "nb201" else str) for a in archs):
        table = _open_table(argparse.Namespace(**{**vars(args), "space": space}))
        pred.table = table
    cells = as_cells(archs, space, table)
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

    check_test_size(args.test_size)
    cfg = _config_from_args(args)
    table = _open_table(args)
    res = run_evaluation(table, cfg, args.test_size, args.out, resume=args.resume,
                         force=args.force, progress=not args.quiet, target=args.target)
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


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import FIGURE, format_compare, plot_compare, run_compare
    from .evaluate import check_test_size
    from .runner import check_workers

    check_test_size(args.test_size)
    if args.workers is not None:
        check_workers(args.workers)
    dish, ranker = (None if p.lower() == "none" else p for p in (args.dish, args.ranker))
    table = _open_table(args)
    res = run_compare(table, args.out, dish=dish, ranker=ranker, train_size=args.train_size,
                      test_size=args.test_size, seed=args.seed, metric=args.metric,
                      target=args.target, workers=args.workers, resume=args.resume,
                      force=args.force, progress=not args.quiet, dish_set=args.set_dish,
                      ranker_set=args.set_ranker)
    print(format_compare(res))
    print(f"results written to {os.path.join(args.out, 'compare.json')}")
    if not args.no_plot:
        from .errors import OptionalDependencyError
        try:
            print(f"figure: {plot_compare(res, os.path.join(args.out, FIGURE))}")
        except OptionalDependencyError as exc:  # the results are written; the figure is extra
            print(f"no figure: {exc}", file=sys.stderr)
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
                                    protocol=args.protocol, nb201=args.nb201,
                                    space=args.space, dataset=args.dataset)
    print(f"NASLib errors.json written to {path}")
    _print_split_stats(path)
    return 0


def _print_split_stats(errors_json) -> None:
    """One line per training-set size: how many distinct cells the evaluation saw (NASLib's
    own protocol repeats cells and overlaps train with test on NB101)."""
    import json
    from pathlib import Path

    try:
        rows = json.loads(Path(errors_json).read_text())
    except (OSError, ValueError):
        return
    test_size = rows[0].get("test_size", "?") if rows and isinstance(rows[0], dict) else "?"
    for r in rows[1:]:
        if isinstance(r, dict) and "test_distinct" in r:
            print(f"train size {r.get('train_size', '?')}: kendall tau "
                  f"{r.get('kendalltau', float('nan')):+.3f}; protocol "
                  f"{r['sampling_protocol']}: {r['test_distinct']} distinct test cells of "
                  f"{r.get('test_size', test_size)}, {r['train_distinct']} distinct training "
                  f"cells, {r['train_in_test']} training architectures also in the test set")


def cmd_naslib_search(args: argparse.Namespace) -> int:
    from .naslib import run_search

    summary = run_search(args.config, nb101=args.nb101, metric=args.metric, out_dir=args.out,
                         nb201=args.nb201, space=args.space, dataset=args.dataset)
    # a few lines here; the trajectory and the costs are in the files
    gt = summary["ground_truth"]
    print(f"{summary['optimizer']} with {summary['predictor']}: best true test accuracy "
          f"{summary['best_true_test_accuracy']} (validation "
          f"{summary['best_true_validation_accuracy']}, queries read {gt['metric']}) after "
          f"{summary['ground_truth_queries']} ground-truth queries "
          f"({summary['distinct_cells_queried']} distinct cells), "
          f"{summary['predictor_queries']} predictions, {summary['search_seconds']:.1f} s")
    print(f"best cell {summary['best_hash']}")
    print(f"summary (trajectory, costs): "
          f"{Path(summary['errors_json']).with_name('petridish_search.json')}; NASLib's "
          f"errors.json beside it")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .factory import search_options
    from .guided import GuidedConfig, read_options, run_guided

    space = _space(args)
    cfg = GuidedConfig(budget=args.budget, init=args.init, batch=args.batch,
                       pool=(args.pool if args.pool is not None
                             else 20000 if space == "nb101" else 0),
                       mutations=args.mutations, top_k=args.top_k,
                       metric=args.metric or ("test" if space == "nb101" else "val"),
                       seed=args.seed)
    options = search_options(args.predictor, read_options(args.set))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a directory for the run")
    table = _open_table(args)
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


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (:mod:`.cli_parser`) wired to its function here."""
    from .cli_parser import build_parser as build

    return build({name[4:].replace("_", "-"): f for name, f in globals().items()
                  if name.startswith("cmd_")})


def _resume_hint(args: argparse.Namespace) -> str:
    """The command that continues an interrupted fit or evaluation (also when the
    interruption came before the arguments were parsed)."""
    argv = [a for a in (args.argv or []) if a not in ("--resume", "--force")]
    command = args.command or next((a for a in argv if a in ("fit", "evaluate", "compare")),
                                   None)
    if command not in ("fit", "evaluate", "compare") or "--out" not in " ".join(argv):
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
