"""The README's main job, recorded: ``naslib-petridish compare`` on NB101 and on NB201.

Runs :func:`naslib_petridish.compare.run_compare` with the command's defaults (the ``quick``
dish, the recommended ranker and the free baselines; 100 training and 200 held-out cells,
seed 0) on NB101 and on NB201 CIFAR-10, resumable in WORK, writes each result as
``main_job_<space>.json`` with its figure ``main_job_<space>.png``, and the printed table
into README.md's ``main-job`` part (``tests/test_readme_figures.py`` checks that the README
shows what the records hold).

    python -m benchmarks.main_job --work runs/main_job
"""
from __future__ import annotations

from pathlib import Path

from benchmarks import harness

ROOT = Path(__file__).resolve().parent.parent
#: (space, data set, the command a user types)
JOBS = (("nb101", None, "naslib-petridish compare --out runs/main"),
        ("nb201", "cifar10",
         "naslib-petridish compare --space nb201 --dataset cifar10 --out runs/main-nb201"))
BEGIN, END = harness.markers("main-job", "python -m benchmarks.main_job")


def readme_block(records: list[dict]) -> str:
    """The README's part: each job's command and its printed table."""
    from naslib_petridish.compare import format_compare

    out = []
    for (space, dataset, command), rec in zip(JOBS, records):
        out += ["```text", f"$ {command}", format_compare(rec), "```"]
    return "\n".join(out)


def main() -> int:
    ap = harness.argument_parser(__doc__)
    ap.add_argument("--work", default="runs/main_job")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = ap.parse_args()
    from naslib_petridish.compare import plot_compare, run_compare
    from naslib_petridish.spaces import open_table

    records = []
    for space, dataset, _ in JOBS:
        table = open_table(space, None, None, dataset, progress=False)
        res = run_compare(table, Path(args.work) / space, resume=True, progress=False)
        path = harness.save_json(args.results / f"main_job_{space}.json", res)
        plot_compare(res, args.results / f"main_job_{space}.png")
        records.append(res)
        print(f"wrote {path}")
    harness.write_section(args.readme, BEGIN, END, readme_block(records))
    print(f"wrote the main-job part of {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
