"""How the test and training architectures of a predictor evaluation are drawn.

White et al. (2021) evaluate predictors with NASLib's ``PredictorEvaluator``, whose
``load_dataset`` draws random 7x7 matrices. On NAS-Bench-101 small pruned cells have many
such forms, and NASLib's duplicate check is switched off (``if False:``), so its test set
repeats cells and its training set overlaps the test set, which inflates every figure
made with it. Three protocols, each named wherever a number is reported:

- ``naslib`` (a): NASLib's sampler as is (comparable with White et al.'s numbers);
- ``distinct`` (b): NASLib's sampler, a draw whose pruned cell was drawn before is
  skipped: distinct cells, training cells disjoint from the test cells;
- ``uniform`` (c): distinct NB101 cells drawn uniformly, disjoint (the protocol of
  GATES, TNASP and PINAT).

The functions here are NASLib-free: a sampler is passed in as a function.
"""
from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np

from .errors import UsageError

#: protocol -> what it does, in words
PROTOCOLS = {
    "naslib": "NASLib's load_dataset as is: random 7x7 matrices, duplicate cells kept, "
              "training cells may also be test cells",
    "distinct": "NASLib's sampler, a draw whose pruned cell was drawn before skipped: "
                "distinct cells, training disjoint from test",
    "uniform": "distinct NB101 cells drawn uniformly, training disjoint from test",
}
#: the letters COMPARISON.md uses
ALIASES = {"a": "naslib", "b": "distinct", "c": "uniform"}


def resolve_protocol(name: str) -> str:
    """``naslib | distinct | uniform`` (or ``a | b | c``) -> the protocol's name."""
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key not in PROTOCOLS:
        raise UsageError(f"unknown sampling protocol {name!r}; choose one of "
                         + ", ".join(f"{k} ({a})" for a, k in ALIASES.items()))
    return key


def split_uniform(table, n_test: int, n_train: int, seed: int,
                  metric: str | None = None) -> dict:
    """Protocol ``uniform``: ``n_test`` then ``n_train`` distinct cells drawn uniformly
    from the table (among cells that have ``metric``, if given), disjoint; both lists in
    random order (training-set sizes are prefixes)."""
    rng = np.random.default_rng([seed, 0xC])
    test = table.sample(n_test, rng=rng, metric=metric)
    train = table.sample(n_train, rng=rng, metric=metric, exclude=test)
    test, train = rng.permutation(test), rng.permutation(train)
    return {"test": [{"hash": str(table.hashes[r])} for r in test],
            "train": [{"hash": str(table.hashes[r])} for r in train]}


def draw_distinct(sample: Callable[[], dict], n: int, seen: set,
                  max_draws: int = 10_000_000) -> tuple[list, int]:
    """``n`` draws of ``sample()`` (-> a dict with the pruned cell's ``hash``) whose cell
    is not in ``seen``; ``seen`` is updated. Returns the items and the number of draws."""
    items, draws = [], 0
    while len(items) < n:
        draws += 1
        if draws > max_draws:
            raise UsageError(f"no {n} cells not drawn before after {max_draws} draws: the "
                             "space has too few distinct cells for these sizes")
        x = sample()
        if x["hash"] in seen:
            continue
        seen.add(x["hash"])
        items.append(x)
    return items, draws


def split_from_sampler(sample: Callable[[], dict], n_test: int, n_train: int,
                       distinct: bool, max_draws: int = 10_000_000) -> dict:
    """Protocols ``naslib`` / ``distinct``: draw with ``sample()`` -> ``{"hash", "matrix",
    "ops"}`` (the hash of the pruned cell) the test set, then the training set.
    ``distinct``: skip any draw whose cell was drawn before (test and train distinct and
    disjoint); else keep every draw as NASLib does. ``draws`` counts the draws."""
    seen: set[str] = set()
    out: dict = {}
    total = 0
    for part, n in (("test", n_test), ("train", n_train)):
        if distinct:
            out[part], k = draw_distinct(sample, n, seen, max_draws - total)
            total += k
        else:
            out[part] = [sample() for _ in range(n)]
            total += n
    out["draws"] = total
    return out


def overlap_stats(train: list[str], test: list[str]) -> dict:
    """Distinct test and training cells (by hash) and training entries that are test cells."""
    test_set = set(test)
    return {"test_distinct": len(test_set), "train_distinct": len(set(train)),
            "train_in_test": sum(h in test_set for h in train)}


def split_stats(split: dict) -> dict:
    """Sizes, distinct cells and train/test overlap of a split, and its fingerprint."""
    tr = [x["hash"] for x in split["train"]]
    te = [x["hash"] for x in split["test"]]
    return {"test": len(te), "train": len(tr), **overlap_stats(tr, te),
            "fingerprint": split_fingerprint(split)}


def split_fingerprint(split: dict) -> str:
    """A short digest of the test list and the training list (in order)."""
    h = hashlib.sha256()
    for part in ("test", "train"):
        h.update((part + ":" + ",".join(x["hash"] for x in split[part]) + ";").encode())
    return h.hexdigest()[:16]
