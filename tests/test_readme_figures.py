"""README.md is a front door that does not drift: every figure of its "Where it stands" table
equals the committed record under ``benchmarks/results/`` it comes from, rounded as printed;
its other facts match their sources; every page of ``docs/`` is linked from it and says what
it is for; every relative link of README.md and ``docs/*.md`` resolves.

Reads only committed files (no ground truth, no NASLib): a README number edited without its
record, or a record regenerated without the README, fails here.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))

#: a printed number: optional sign, digits with optional thousands commas, optional decimals
NUMBER = re.compile(r"(?<![\w.])[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])")


def _json(name: str):
    return json.loads((RESULTS / name).read_text())


def _jsonl(name: str) -> list[dict]:
    return [json.loads(x) for x in (RESULTS / name).read_text().splitlines() if x.strip()]


def _one(rows: list[dict], **match) -> dict:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"{len(found)} records match {match}"
    return found[0]


# --- what each row of "Where it stands" says, computed from its record ----------------------

def _ranking_presets(size: int) -> list[float]:
    """ranking_presets.json (``python -m benchmarks.ranking_presets report``): the
    recommended preset, test-trained, trials 3-7; and the published row beside it."""
    d = _json("ranking_presets.json")
    s = _one(d["summary"], preset="cell-features-self-trained", metric="test", size=size)
    out = [s["kendall"]["mean"], s["kendall"]["std"], len(s["trials"])]
    pinat = d["literature"]["PINAT, pairwise ranking loss (supplement, Table 9)"]
    return out + ([pinat[str(size)]] if str(size) in pinat else [])


def _dish_study() -> list[float]:
    """dish_study.json (``python -m benchmarks.dish_study report``): the paired difference of
    the recipe that came closest (``meta-residual``) against its untrained control, with its
    95 % interval, at 100 and 424 training cells."""
    diffs = _json("dish_study.json")["differences"]
    out, trials = [], set()
    for size in (100, 424):
        d = _one(diffs, recipe="meta-residual", against="untrained-meta", size=size)
        out += [d["mean"], d["ci_low"], d["ci_high"]]
        trials.add(d["trials"])
    assert len(trials) == 1, trials
    return out + [trials.pop()]


def _comparison() -> list[float]:
    """comparison.json (``python -m benchmarks.predictor_comparison report``), protocol (c),
    1,000 training cells: the recommended preset, the best of NASLib's predictors (checked to
    be SemiNAS), the parameter count (zero-cost, no training set) and the paper's dish."""
    rows = [s for s in _json("comparison.json")["summary"] if s["protocol"] == "c"]
    ours = _one(rows, predictor="petridish-cell-features-self-trained", train_size=1000)
    naslib = {s["predictor"]: s["kendalltau"]["mean"] for s in rows
              if s["train_size"] == 1000 and not s["predictor"].startswith("petridish")}
    assert max(naslib, key=naslib.get) == "seminas", naslib
    return [ours["kendalltau"]["mean"], len(ours["trials"]), naslib["seminas"],
            _one(rows, predictor="params", train_size=0)["kendalltau"]["mean"],
            _one(rows, predictor="petridish", train_size=1000)["kendalltau"]["mean"]]


def _guided_runs() -> dict[str, dict[int, dict]]:
    """Guided search's runs by label and seed, the longest budget of a seed kept (as
    ``benchmarks.guided_search.by_seed``: a shorter run is a prefix of the longer)."""
    out: dict[str, dict[int, dict]] = {}
    for path in sorted(RESULTS.glob("guided_runs*.jsonl")):
        for r in _jsonl(path.name):
            have = out.setdefault(r["label"], {}).get(r["seed"])
            if have is None or have["budget"] < r["budget"]:
                out[r["label"]][r["seed"]] = r
    return out


def _re_at(n: int) -> np.ndarray:
    """NASLib's regularized evolution after ``n`` ground-truth queries: its 300-query runs in
    search_runs.jsonl and search_refs_runs.jsonl (as ``benchmarks.guided_search`` reads
    them), each run's incumbent read off its trajectory as a step function."""
    rows = {}
    for name in ("search_runs.jsonl", "search_refs_runs.jsonl"):
        for r in _jsonl(name):
            rows[(r["method"], int(r["budget"]), int(r["seed"]))] = r
    vals = []
    for (method, budget, _), r in rows.items():
        if method == "re" and budget == 300:
            tr = r["trajectory"]
            i = int(np.searchsorted(tr["ground_truth_queries"], n, side="right")) - 1
            v = tr["best_true_test_accuracy"][i] if i >= 0 else None
            if v is not None:
                vals.append(v)
    return np.array(vals)


def _guided(n: int, warm: bool = False) -> list[float]:
    """The guided loop with ``cell-features-boosted`` after ``n`` queries (% and seeds), with
    ``warm`` also with the recommended preset warm-started (the default of ``search``),
    regularized evolution, and the same loop driven by the parameter count (SEARCH.md)."""
    runs = _guided_runs()

    def at(label):
        v = np.array([r["incumbent"][n - 1] for r in runs[label].values()
                      if len(r["incumbent"]) >= n])
        return v

    ours = [at("cell-features-boosted")]
    if warm:
        ours.append(at("cell-features-self-trained (warm_start=True)"))
    return [x for v in ours for x in (100 * v.mean(), len(v))] + [
        100 * _re_at(n).mean(), 100 * at("params").mean()]


#: ``cell-features-self-trained-isomorphs`` as nb201_ranking.json names it (the measured
#: variant; tests/test_ranker.py checks that the two are one config)
SELF_TRAINED_ISOMORPHS = "cell-features-self-trained (isomorphs=8, isomorphs_graph=1)"


def _nb201(dataset: str) -> list[float]:
    """nb201_ranking.json (``python -m benchmarks.nb201_ranking report``): the NB201 ranking
    preset's, the fast NB201 preset's and the NB101 recommendation's held-out Kendall at
    each size, their trials, and the parameter count's range."""
    rows = [s for s in _json("nb201_ranking.json")["summary"] if s["dataset"] == dataset]
    out, trials = [], set()
    for preset in (SELF_TRAINED_ISOMORPHS, "cell-features-isomorphs",
                   "cell-features-self-trained"):
        ours = sorted((s for s in rows if s["preset"] == preset), key=lambda s: s["size"])
        assert [s["size"] for s in ours] == [78, 156, 469, 781, 1563]
        trials |= {len(s["trials"]) for s in ours}
        out += [s["kendall_heldout"]["mean"] for s in ours]
    assert len(trials) == 1, trials
    params = [s["kendall_heldout"]["mean"] for s in rows if s["preset"] == "params"]
    return out + [trials.pop(), min(params), max(params)]


def _nb201_search() -> list[float]:
    """nb201_search.json (``python -m benchmarks.nb201_search report``): the guided loop with
    ``cell-features-trees`` after 100 queries on CIFAR-10 / CIFAR-100 (%), its seeds;
    NASLib's RE after 100 and after 300 queries; the same loop on the parameter count."""
    summ = _json("nb201_search.json")["summary"]

    def at(ds, m, n):
        return 100 * summ[ds]["methods"][m]["at"][str(n)]["mean"]

    seeds = {len(summ[ds]["methods"]["cell-features-trees"]["at"]["100"]["values"])
             for ds in ("cifar10", "cifar100")}
    assert len(seeds) == 1, seeds
    return [at("cifar10", "cell-features-trees", 100), at("cifar100", "cell-features-trees", 100),
            seeds.pop(), at("cifar10", "re", 100), at("cifar100", "re", 100), 300,
            at("cifar10", "re", 300), at("cifar100", "re", 300),
            at("cifar10", "params", 100), at("cifar100", "params", 100)]


def _nb201_comparison() -> list[float]:
    """nb201_comparison.json (``python -m benchmarks.nb201_comparison report``), CIFAR-10,
    protocol uniform, 1,000 training cells: the recommended NB201 preset and its trials, the best
    of NASLib's predictors (its name checked against the README's), the parameter count."""
    rows = [s for s in _json("nb201_comparison.json")["summary"]
            if s["dataset"] == "cifar10" and s["protocol"] == "uniform"
            and s["train_size"] == 1000]
    ours = _one(rows, predictor="ranker-cell-features-self-trained-isomorphs")
    naslib = {s["predictor"]: s["kendalltau"][0] for s in rows
              if s["predictor"] != "params" and not s["predictor"].startswith(
                  ("ranker-", "petridish"))}
    best = max(naslib, key=naslib.get)
    assert f"{best}, the best of NASLib's" in README.read_text(), best
    return [ours["kendalltau"][0], len(ours["trials"]), naslib[best],
            _one(rows, predictor="params")["kendalltau"][0]]


def _nb201_dish() -> list[float]:
    """nb201_dish.json (``python -m benchmarks.nb201_dish report``), CIFAR-10: the trained
    ``quick``, ``paper-b-short`` and ``paper-c`` dishes minus their untrained controls, each
    with its 95 % interval and trials; then the dishes' own Kendall, then the parameter
    count's on the same cells (each recipe's trials)."""
    d = _json("nb201_dish.json")["summary"]["cifar10"]
    out, dishes, params = [], [], []
    for r in ("quick", "paper-b-short", "paper-c"):
        pair, own = d["pairs"][f"{r} - {r}-untrained"], d["recipes"][r]
        out += [pair["mean"], *pair["ci95"], len(pair["trials"])]
        dishes.append(own["mean"])
        params.append(own["params"]["mean"])
    return out + dishes + params


#: every row of README's "Where it stands", by its first cell: the numbers its "figure" and
#: "beside it" cells print, in order, computed from the records
ROWS = {
    "NB101 held-out ranking, 100 training cells": lambda: _ranking_presets(100),
    "NB101 held-out ranking, 424 training cells": lambda: _ranking_presets(424),
    "NB101 held-out ranking, 1,000 training cells": lambda: _ranking_presets(1000),
    "NB101, a dish trained by the full meta-gradient minus its untrained control, 100 / 424 "
    "training cells (Kendall, 95 % CI)": _dish_study,
    "NB101 in NASLib's `PredictorEvaluator`, 1,000 training cells": _comparison,
    "NB101 guided search, best test accuracy after 150 queries": lambda: _guided(150, warm=True),
    "NB101 guided search, best test accuracy after 300 queries": lambda: _guided(300),
    "NB201 CIFAR-10 held-out ranking, 78 / 156 / 469 / 781 / 1,563 training cells":
        lambda: _nb201("cifar10"),
    "NB201 CIFAR-100 held-out ranking, 78 / 156 / 469 / 781 / 1,563 training cells":
        lambda: _nb201("cifar100"),
    "NB201 search, CIFAR-10 / CIFAR-100: test accuracy of the incumbent (best queried cell "
    "by validation accuracy) after 100 queries": _nb201_search,
    "NB201 CIFAR-10 in NASLib's `PredictorEvaluator`, 1,000 training cells":
        _nb201_comparison,
    "NB201 CIFAR-10, a trained dish minus its untrained control, 100 training cells "
    "(Kendall, 95 % CI)": _nb201_dish,
}


def _section(text: str, heading: str) -> str:
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f'README.md has no section "{heading}"'
    return m.group(1)


def _table(section: str) -> tuple[list[str], list[list[str]]]:
    lines = [ln.strip() for ln in section.splitlines() if ln.strip().startswith("|")]
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    return cells[0], cells[2:]


def _numbers(text: str) -> list[tuple[float, int, str]]:
    """Every number printed in ``text``: value, decimals, as printed."""
    out = []
    for m in NUMBER.finditer(text):
        s = m.group(0)
        out.append((float(s.replace(",", "")), len(s.partition(".")[2]), s))
    return out


def _where_it_stands() -> dict[str, list[tuple[float, int, str]]]:
    header, rows = _table(_section(README.read_text(), "Where it stands"))
    cols = [header.index("figure"), header.index("beside it")]
    return {r[0]: [n for c in cols for n in _numbers(r[c])] for r in rows}


def test_where_it_stands_has_exactly_the_checked_rows():
    rows = _where_it_stands()
    unchecked, missing = sorted(set(rows) - set(ROWS)), sorted(set(ROWS) - set(rows))
    assert not unchecked and not missing, \
        f"rows without a record check: {unchecked}; rows missing from README.md: {missing}"
    assert len(rows) <= 12


@pytest.mark.parametrize("row", list(ROWS))
def test_each_figure_equals_its_record_rounded_as_printed(row):
    printed = _where_it_stands()[row]
    want = ROWS[row]()
    assert len(printed) == len(want), \
        f"{row}: README prints {[p[2] for p in printed]}, the record gives {len(want)} numbers"
    for (value, decimals, text), rec in zip(printed, want):
        assert value == float(f"{rec:.{decimals}f}"), \
            f"{row}: README says {text}, the record says {rec:.{decimals}f} ({rec!r})"


def test_the_other_facts_of_the_readme_match_their_sources():
    text = " ".join(README.read_text().split())  # whatever the line breaks
    real = json.loads((ROOT / "tests" / "data" / "nb101_reference_cells.json").read_text())
    m = re.search(r"against (\d+) real cells in `tests/data/`", text)
    assert m and int(m.group(1)) == len(real["cells"])
    m = re.search(r"the whole ([\d,]+)-cell table", text)
    assert m and int(m.group(1).replace(",", "")) == _json("nb101_table_check.json")["cells"]
    py = (ROOT / "pyproject.toml").read_text()
    m = re.search(r'requires-python = ">=([\d.]+)"', py)
    assert m and f"Python >= {m.group(1)}." in text
    m = re.search(r'"torch>=([\d.]+)"', py)
    assert m and f"any PyTorch >= {m.group(1)} works" in text


# --- docs/ and links -----------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _relative_links(path: Path) -> list[tuple[str, Path]]:
    out = []
    for target in LINK.findall(_prose(path.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor of the page itself
        out.append((target, (path.parent / target.partition("#")[0]).resolve()))
    return out


def test_docs_exist_and_every_page_is_linked_from_the_readme():
    assert DOCS, "docs/ has no pages"
    linked = {p for _, p in _relative_links(README)}
    missing = [p.name for p in DOCS if p.resolve() not in linked]
    assert not missing, f"docs pages not linked from README.md: {missing}"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    broken = [t for t, p in _relative_links(page) if not p.exists()]
    assert not broken, f"{page.relative_to(ROOT)}: links to missing files {broken}"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_docs_page_opens_with_what_it_is_for(page):
    blocks = [b.strip() for b in page.read_text().split("\n\n") if b.strip()]
    assert blocks[0].startswith("# "), f"{page.name} has no title"
    assert blocks[1].startswith("What this page is for:"), \
        f"{page.name}: the first paragraph should say what the page is for and who needs it"


def test_the_main_job_part_is_what_its_records_print():
    # what README shows the main job printing is the table of the committed records
    # (``python -m benchmarks.main_job`` writes both), and the commands are the README's
    from benchmarks import harness, main_job
    from naslib_petridish.spaces import get_space  # the ranker: the space's recommended one

    text = README.read_text()
    parts = {b: body for b, _, body in harness.sections(text)}
    records = [_json(f"main_job_{space}.json") for space, _, _ in main_job.JOBS]
    assert parts[main_job.BEGIN] == main_job.readme_block(records)
    assert main_job.JOBS[0][2] in text.split("```bash", 2)[1]  # the first command runs it
    for (space, dataset, _), rec in zip(main_job.JOBS, records):
        assert rec["space"] == space and rec["test_size"] == 200 and rec["train_size"] == 100
        assert (RESULTS / f"main_job_{space}.png").exists()
        names = [r["name"] for r in rec["rows"]]
        assert names == ["dish (quick)", f"ranker ({get_space(space).recommended_ranker})",
                         "params (baseline)", "random (baseline)"]
