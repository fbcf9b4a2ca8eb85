"""Issue 55, part 1: the ranker's presets on NAS-Bench-201, beside the published tables.

Protocol of the NB201 predictor papers (TNASP, PINAT, NAR-Former, NN-Former): per trial,
N training cells drawn uniformly from the 15,625 (distinct by NB201's canonical form; N =
78 / 156 / 469 / 781 / 1,563, 0.5-10 %; seeded by trial and N), trained on the 200-epoch
validation accuracy, Kendall tau against the 200-epoch test accuracy on the held-out cells
(every cell that computes no training cell's function) and, as PINAT's code scores, over
all 15,625 cells.  Each job (data set, preset, trial, size) fits the package's
``RankerPredictor`` (seed = trial) and is one row of WORK/rows.jsonl (resumable);
``report`` writes ``nb201_ranking.json`` and the table into NB201.md.  Data sets are taken
by name from the file (``--datasets``, default every one it holds).

    python -m benchmarks.nb201_ranking run --trials 0 1 2 3 4 --work runs/nb201r
    python -m benchmarks.nb201_ranking report --work runs/nb201r
    # --work also takes a rows file: the committed benchmarks/results/nb201_ranking_rows.jsonl
    python -m benchmarks.nb201_ranking ceiling --trials 0 1 2   # what validation can reach
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from benchmarks import harness

WORK = Path("runs/nb201_ranking")
RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (78, 156, 469, 781, 1563)
PRESETS = ["cell-features-boosted", "cell-features-self-trained"]
BEGIN, END = harness.markers("nb201-ranking", "python -m benchmarks.nb201_ranking report")
CEILING = harness.markers("nb201-ceiling", "python -m benchmarks.nb201_ranking ceiling")
DEVELOPMENT = harness.markers("nb201-ranking-dev", "python -m benchmarks.nb201_ranking report")
#: trials kept for choices (never reported as results)
DEV_TRIALS = tuple(range(10, 20))
#: the preset the ceiling fits on most of the space (trees only: minutes, not hours)
CEILING_PRESET = "cell-features-trees"
FOLDS = 5
#: PINAT (AAAI 2023) Table 1, CIFAR-10, Kendall over all cells
LITERATURE = {"Neural Predictor": (0.343, 0.413, 0.584, 0.634, 0.646),
              "TNASP": (0.539, 0.589, 0.640, 0.689, 0.724),
              "PINAT": (0.549, 0.631, 0.706, 0.761, 0.784)}
GOAL = (0.80, 0.82, 0.87, 0.89, 0.91)
#: zero-cost proxies (Abdelfattah et al., ICLR 2021): Spearman over all 15,625 cells against
#: the 200-epoch test accuracy, one minibatch of 64 images, as printed by the authors'
#: notebooks/nasbench201_correlations.ipynb (mohsaied/zero-cost-nas, release v1.0.0)
ZERO_COST = {"cifar10": {"synflow": 0.737, "jacob_cov": 0.731, "snip": 0.596,
                         "grad_norm": 0.594},
             "cifar100": {"synflow": 0.763, "jacob_cov": 0.704, "snip": 0.637,
                          "grad_norm": 0.637}}


def _kendall(a, b) -> float:
    from scipy.stats import kendalltau
    return float(kendalltau(a, b).statistic)


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic)


def variant(preset: str, options: dict) -> str:
    """A row's predictor name: the preset and its config overrides (``--set``)."""
    extra = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
    return preset + (f" ({extra})" if extra else "")


def split(t, trial: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The training rows of one job (``size`` uniform distinct cells, seeded by trial and
    size) and its held-out rows (every cell of another function)."""
    train = t.sample(size, np.random.default_rng([trial, size, 201]), metric="val")
    keys = set(t.keys[train])
    return train, np.array([r for r in range(len(t)) if t.keys[r] not in keys])


def run_job(file, dataset: str, preset: str, trial: int, size: int,
            options: dict | None = None) -> dict:
    from naslib_petridish.ranker import RankerPredictor
    from naslib_petridish.spaces import get_space

    t = file.dataset(dataset)
    train, held = split(t, trial, size)
    y = t.metric(train, "val")
    test_all = t.metric(np.arange(len(t)), "test")
    r = RankerPredictor(preset=preset, table=t, seed=trial, **(options or {}))
    t0 = time.perf_counter()
    r.fit(t.cells(train), y)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    p_all = r.query(t.cells(range(len(t))))
    query_s = time.perf_counter() - t0
    r.close()
    free = get_space("nb201").free_features(t.cells(range(len(t))))
    names = free[1]
    out = {"dataset": dataset, "preset": variant(preset, options or {}), "trial": trial,
           "size": size, "options": options or {},
           "kendall_heldout": _kendall(p_all[held], test_all[held]),
           "kendall_all": _kendall(p_all, test_all), "heldout": int(len(held)),
           "fit_seconds": fit_s, "query_ms_per_cell": 1000 * query_s / len(t)}
    params = free[0][:, names.index("log10_params")]
    out["params_heldout"] = _kendall(params[held], test_all[held])
    out["val_heldout"] = _kendall(t.metric(held, "val"), test_all[held])
    # Spearman over all cells: the measure of the zero-cost proxies' papers
    out["spearman_all"] = _spearman(p_all, test_all)
    out["spearman_heldout"] = _spearman(p_all[held], test_all[held])
    out["params_spearman_all"] = _spearman(params, test_all)
    return out


def cmd_run(args) -> int:
    harness.one_thread()
    from naslib_petridish.guided import read_options
    from naslib_petridish.spaces.nb201 import load_file, locate_table

    options = read_options(args.set)
    file = load_file(locate_table(args.nb201))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "rows.jsonl"
    key = ("dataset", "preset", "trial", "size")
    done = {tuple(r[k] for k in key) for r in harness.read_jsonl(path)}
    for dataset in args.datasets or file.datasets:
        for size in args.sizes:
            for trial in args.trials:
                for preset in args.presets:
                    if (dataset, variant(preset, options), trial, size) in done:
                        continue
                    row = run_job(file, dataset, preset, trial, size, options)
                    harness.append_jsonl(path, row)
                    print(f"{dataset} {preset} trial {trial} n={size}: held-out "
                          f"{row['kendall_heldout']:+.3f}, all {row['kendall_all']:+.3f}, "
                          f"fit {row['fit_seconds']:.0f} s", flush=True)
    return 0


def cmd_report(args) -> int:
    every = {}  # a job read twice (a lane and the committed record) counts once
    for w in map(Path, args.work):
        for r in harness.read_jsonl(w if w.is_file() else w / "rows.jsonl"):
            every[tuple(r[k] for k in ("dataset", "preset", "trial", "size"))] = r
    every = list(every.values())
    rows = [r for r in every if r["trial"] in args.trials]
    dev = [r for r in every if r["trial"] in args.dev_trials]
    presets = PRESETS + sorted({r["preset"] for r in rows} - set(PRESETS))
    summary = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        for preset in [*presets, "params", "val"]:
            for size in SIZES:
                src = preset if preset in presets else PRESETS[0]
                got = [r for r in rows if (r["dataset"], r["preset"], r["size"]) ==
                       (dataset, src, size)]
                if not got:
                    continue
                col = {"params": "params_heldout",
                       "val": "val_heldout"}.get(preset, "kendall_heldout")
                entry = {"dataset": dataset, "preset": preset, "size": size,
                         "trials": [g["trial"] for g in got],
                         "kendall_heldout": harness.seed_stats([g[col] for g in got])}
                if preset in presets:
                    entry["kendall_all"] = harness.seed_stats([g["kendall_all"] for g in got])
                    entry["fit_seconds"] = harness.seed_stats([g["fit_seconds"] for g in got])
                    entry["query_ms_per_cell"] = harness.seed_stats(
                        [g["query_ms_per_cell"] for g in got])
                summary.append(entry)
    choices = development(dev)
    harness.save_json(RESULTS / "nb201_ranking.json", {"summary": summary,
                                                       "development": choices})
    harness.write_jsonl(RESULTS / "nb201_ranking_rows.jsonl", rows + dev)
    lines = ["| data set | predictor | Kendall, held-out " + " | ".join(
        f"{n:,}" for n in SIZES) + " |", "|---|---|" + "---|" * len(SIZES)]
    for dataset in dict.fromkeys(s["dataset"] for s in summary):
        for preset in [*presets, "params", "val"]:
            by = {s["size"]: s for s in summary if (s["dataset"], s["preset"]) ==
                  (dataset, preset)}
            if not by:
                continue
            name = {"params": "parameter count (free)",
                    "val": "validation accuracy itself"}.get(preset, preset)
            cells = [harness.pm(by[n]["kendall_heldout"]["mean"], by[n]["kendall_heldout"]["std"])
                     if n in by else "" for n in SIZES]
            lines.append(f"| {dataset} | {name} | " + " | ".join(cells) + " |")
    lines.append("| cifar10 | goal (issue 55) | " + " | ".join(f"{g:.2f}" for g in GOAL) + " |")
    lines += ["", "Over all 15,625 cells, training cells included (PINAT's scoring), beside "
              "PINAT's Table 1 (CIFAR-10):", "",
              "| data set | predictor | " + " | ".join(f"{n:,}" for n in SIZES) + " |",
              "|---|---|" + "---|" * len(SIZES)]
    for dataset in dict.fromkeys(s["dataset"] for s in summary):
        for preset in presets:
            by = {s["size"]: s for s in summary if (s["dataset"], s["preset"]) ==
                  (dataset, preset)}
            if by:
                lines.append(f"| {dataset} | {preset} | " + " | ".join(
                    harness.pm(by[n]["kendall_all"]["mean"], by[n]["kendall_all"]["std"])
                    if n in by else "" for n in SIZES) + " |")
    for name, vals in LITERATURE.items():
        lines.append(f"| cifar10 | {name} (PINAT, Table 1) | "
                     + " | ".join(f"{v:.3f}" for v in vals) + " |")
    lines += spearman_markdown(rows, presets)
    harness.write_section(RESULTS / "NB201.md", BEGIN, END, "\n".join(lines))
    dev_lines = development_markdown(choices)
    if dev_lines:
        harness.write_section(RESULTS / "NB201.md", *DEVELOPMENT, "\n".join(dev_lines))
    print("\n".join(lines + [""] + dev_lines))
    return 0


def spearman_markdown(rows: list[dict], presets: list[str]) -> list[str]:
    """Spearman over all cells (the zero-cost proxies' measure) for the presets whose rows
    hold it, beside the parameter count and the published proxies of ``ZERO_COST``."""
    have = [r for r in rows if "spearman_all" in r]
    if not have:
        return []
    lines = ["", "Spearman over all 15,625 cells against the test accuracy, as the zero-cost "
             "proxies are measured (their figures: the authors' released notebook, one "
             "minibatch, no training cell):", "",
             "| data set | predictor | " + " | ".join(f"{n:,}" for n in SIZES) + " |",
             "|---|---|" + "---|" * len(SIZES)]
    for dataset in dict.fromkeys(r["dataset"] for r in have):
        for preset in presets:
            cells = []
            for n in SIZES:
                got = [r["spearman_all"] for r in have
                       if (r["dataset"], r["preset"], r["size"]) == (dataset, preset, n)]
                st = harness.seed_stats(got) if got else None
                cells.append(harness.pm(st["mean"], st["std"]) if st else "")
            if any(cells):
                lines.append(f"| {dataset} | {preset} | " + " | ".join(cells) + " |")
        p = harness.seed_stats([r["params_spearman_all"] for r in have
                                if r["dataset"] == dataset])
        lines.append(f"| {dataset} | parameter count (free, no training cell) | "
                     + " | ".join([f"{p['mean']:.3f}"] * len(SIZES)) + " |")
        for name, v in ZERO_COST.get(dataset, {}).items():
            lines.append(f"| {dataset} | {name} (zero-cost, Abdelfattah et al.) | "
                         + " | ".join([f"{v:.3f}"] * len(SIZES)) + " |")
    return lines


def development(rows: list[dict]) -> list[dict]:
    """The development trials' rows by (data set, variant, size): mean held-out Kendall and,
    for a variant with ``--set`` options, its paired difference to the same preset run with
    the option at its default (the ``=0`` variant, or the bare preset), trial by trial."""
    out = []
    key = {(r["dataset"], r["preset"], r["size"]): [] for r in rows}
    for r in rows:
        key[(r["dataset"], r["preset"], r["size"])].append(r)
    for (dataset, preset, size), got in key.items():
        e = {"dataset": dataset, "preset": preset, "size": size,
             "trials": sorted(g["trial"] for g in got),
             "kendall_heldout": harness.seed_stats([g["kendall_heldout"] for g in
                                                    sorted(got, key=lambda g: g["trial"])])}
        base = preset.split(" (")[0]
        ref = next((k for k in key if k[0] == dataset and k[2] == size and k[1] != preset
                    and (k[1] == base or k[1].startswith(base + " (") and "=0" in k[1])), None)
        if ref is not None and "=0" not in preset and preset != base:
            other = {g["trial"]: g["kendall_heldout"] for g in key[ref]}
            d = [g["kendall_heldout"] - other[g["trial"]] for g in got if g["trial"] in other]
            if d:
                e["against"] = ref[1]
                e["difference"] = harness.seed_stats(d)
        out.append(e)
    return out


def development_markdown(choices: list[dict]) -> list[str]:
    if not choices:
        return []
    trials = sorted({t for c in choices for t in c["trials"]})
    lines = [f"Development trials {', '.join(map(str, trials))} (held-out Kendall, mean over "
             "trials; in brackets the paired difference to the same preset without the "
             "option, mean and smallest):", "",
             "| data set | variant | " + " | ".join(f"{n:,}" for n in SIZES) + " |",
             "|---|---|" + "---|" * len(SIZES)]
    for dataset in dict.fromkeys(c["dataset"] for c in choices):
        for preset in sorted({c["preset"] for c in choices if c["dataset"] == dataset},
                             key=lambda p: [int(x) if x.isdigit() else x
                                            for x in re.split(r"(\d+)", p)]):
            by = {c["size"]: c for c in choices if (c["dataset"], c["preset"]) ==
                  (dataset, preset)}
            cells = []
            for n in SIZES:
                if n not in by:
                    cells.append("")
                    continue
                c = by[n]
                txt = f"{c['kendall_heldout']['mean']:.3f}"
                if "difference" in c:
                    d = c["difference"]
                    txt += f" ({d['mean']:+.3f}, min {min(d['values']):+.3f})"
                cells.append(txt)
            lines.append(f"| {dataset} | {preset} | " + " | ".join(cells) + " |")
    return lines


def ceiling_of(t, trial: int) -> dict:
    """How well anything trained on the validation accuracy can rank the test accuracy, on
    one data set: Kendall against the test accuracy of (a) the validation accuracy itself,
    (b) the mean validation accuracy of the cell's function (every cell with the same
    canonical form: the validation accuracy with its run-to-run noise averaged away where a
    function has copies), (c) ``CEILING_PRESET`` fitted on the validation accuracy of four
    fifths of the functions (about 12,500 cells, 8x the largest size of the protocol) and
    scored on the other fifth, over ``FOLDS`` folds (every cell predicted once, by a model
    that saw none of its function); and, on the cells whose function has other copies, (d)
    the mean test accuracy of those other copies (how well the test accuracy predicts
    itself across independent runs: the ceiling of any predictor) beside (e) their mean
    validation accuracy.  Folds are seeded by ``[trial, 201, FOLDS]``."""
    from naslib_petridish.ranker import RankerPredictor

    n = len(t)
    rows = np.arange(n)
    val, test = t.metric(rows, "val"), t.metric(rows, "test")
    _, inv = np.unique(np.asarray(t.keys), return_inverse=True)
    count = np.bincount(inv)
    sum_val, sum_test = np.bincount(inv, val), np.bincount(inv, test)
    copies = count[inv] >= 2
    others = np.maximum(count[inv] - 1, 1)
    fold = np.random.default_rng([trial, 201, FOLDS]).integers(0, FOLDS, len(count))[inv]
    pred = np.zeros(n)
    cells = t.cells(rows)
    t0 = time.perf_counter()
    for k in range(FOLDS):
        train, held = rows[fold != k], rows[fold == k]
        r = RankerPredictor(preset=CEILING_PRESET, table=t, seed=trial)
        r.fit([cells[i] for i in train], val[train])
        pred[held] = r.query([cells[i] for i in held])
        r.close()
    return {"dataset": t.dataset, "trial": trial, "cells": n, "functions": int(len(count)),
            "cells_with_copies": int(copies.sum()),
            "val": _kendall(val, test),
            "function_mean_val": _kendall((sum_val / count)[inv], test),
            "trees_cv": _kendall(pred, test),
            "trees_cv_train_cells": int(round(n * (FOLDS - 1) / FOLDS)),
            "trees_cv_seconds": time.perf_counter() - t0,
            "copies_test": _kendall(((sum_test[inv] - test) / others)[copies], test[copies]),
            "copies_val": _kendall(((sum_val[inv] - val) / others)[copies], test[copies]),
            "own_val_on_copies": _kendall(val[copies], test[copies])}


def cmd_ceiling(args) -> int:
    """``ceiling_of`` for every data set of the file and ``--trials``: nb201_ceiling.json and
    the table in NB201.md (the fold split is the only random part: the trials vary it)."""
    harness.one_thread()
    from naslib_petridish.spaces.nb201 import load_file, locate_table

    file = load_file(locate_table(args.nb201))
    rows = []
    for dataset in args.datasets or file.datasets:
        for trial in args.trials:
            rows.append(ceiling_of(file.dataset(dataset), trial))
            print(json.dumps(rows[-1]), flush=True)
    harness.save_json(RESULTS / "nb201_ceiling.json", {"rows": rows})
    lines = ["| data set | what ranks the test accuracy | cells | Kendall |", "|---|---|---|---|"]
    what = [("val", "the validation accuracy itself", "cells"),
            ("function_mean_val", "the mean validation accuracy of the cell's function "
             "(all its isomorphic copies)", "cells"),
            ("trees_cv", f"`{CEILING_PRESET}` on the validation accuracy of about 12,500 "
             f"cells ({FOLDS}-fold over functions)", "cells"),
            ("own_val_on_copies", "the validation accuracy itself, cells with copies",
             "cells_with_copies"),
            ("copies_val", "the mean validation accuracy of the cell's other copies",
             "cells_with_copies"),
            ("copies_test", "the mean test accuracy of the cell's other copies (the noise "
             "ceiling)", "cells_with_copies")]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        got = [r for r in rows if r["dataset"] == dataset]
        for col, name, n in what:
            st = harness.seed_stats([r[col] for r in got])
            lines.append(f"| {dataset} | {name} | {got[0][n]:,} | "
                         f"{harness.pm(st['mean'], st['std'])} |")
    lines.append(f"\nTrials {', '.join(str(x) for x in args.trials)} (fold splits); only "
                 "the cross-validated row varies with them.")
    harness.write_section(RESULTS / "NB201.md", *CEILING, "\n".join(lines))
    print("\n".join(lines))
    return 0


def main() -> int:
    ap, r = harness.lane_parser(__doc__, WORK, (0, 1, 2, 3, 4), cmd_run, cmd_report)
    for p in ap._subparsers._group_actions[0].choices.values():
        p.add_argument("--nb201", help="NB201 ground truth (default $NASLIB_PETRIDISH_NB201)")
    r.add_argument("--datasets", nargs="+")
    r.add_argument("--presets", nargs="+", default=PRESETS)
    r.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    rp = ap._subparsers._group_actions[0].choices["report"]
    rp.add_argument("--dev-trials", nargs="+", type=int, default=list(DEV_TRIALS),
                    help="trials of the choices table (never among the reported ones)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of every preset (e.g. isomorphs=8); the rows name it")
    sub = ap._subparsers._group_actions[0]
    c = sub.add_parser("ceiling", help="what a predictor of the validation accuracy can reach")
    c.add_argument("--trials", nargs="+", type=int, default=[0, 1, 2])
    c.add_argument("--datasets", nargs="+")
    c.add_argument("--nb201", help="NB201 ground truth (default $NASLIB_PETRIDISH_NB201)")
    c.set_defaults(fn=cmd_ceiling)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
