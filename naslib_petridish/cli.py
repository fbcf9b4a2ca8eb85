"""The ``naslib-petridish`` command line.

Every subcommand turns bad input into one clear line on stderr and a
non-zero exit status; tracebacks are for bugs only.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from . import __version__


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


def _known_errors() -> tuple[type[BaseException], ...]:
    from .cells import InvalidCellError
    from .download import DownloadError
    from .tables import GroundTruthError, UnknownCellError

    errs = [UsageError, InvalidCellError, GroundTruthError, UnknownCellError, DownloadError,
            FileExistsError, FileNotFoundError, IsADirectoryError, PermissionError]
    try:
        from .config import ConfigError
        errs.append(ConfigError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


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

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


#: Hooks that add more subcommands (fit, query, ...), registered by other modules.
_EXTRA_COMMANDS: list[Callable] = []


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
