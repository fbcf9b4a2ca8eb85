"""Search decisions: parent choice, refit timing and picks, the incumbent, a surrogate's batch.

Plain functions of the members, predictions and benchmark answers an optimizer holds,
without NASLib: the optimizers of :mod:`.search_optimizers` call them, and they are
tested without NASLib.  A member's ``true_accuracy`` is None until the benchmark was
queried for it; ``predicted_accuracy`` is the predictor's score.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..cells import as_cell
from ..errors import InvalidCellError, UsageError


def fitness(member) -> float:
    """What evolution ranks a member by: its true accuracy where the benchmark was
    queried for it, else the dish's prediction."""
    true = getattr(member, "true_accuracy", None)
    return float(member.accuracy if true is None else true)


def select_parent(sample: Sequence[Any]):
    """The tournament winner: the fittest member of ``sample`` (first one on ties)."""
    return max(sample, key=fitness)


def refit_due(epoch: int, population_size: int, refit_every: int) -> bool:
    """Whether the dish is refitted after ``epoch``: every ``refit_every``-th child."""
    return (refit_every > 0 and epoch >= population_size
            and (epoch - population_size + 1) % refit_every == 0)


def refit_candidates(population: Sequence[Any], n: int) -> list:
    """Up to ``n`` members not yet evaluated on the benchmark, best prediction first
    (stable: the older member first on ties)."""
    pending = [m for m in population if getattr(m, "true_accuracy", None) is None]
    return sorted(pending, key=lambda m: -m.predicted_accuracy)[:max(0, n)]


def best_evaluated(evaluated: Sequence[tuple[Any, float]]):
    """The incumbent: the architecture with the best TRUE accuracy among ``evaluated``
    ``(arch, true accuracy)`` pairs (first one on ties).  Predictions never count."""
    if not evaluated:
        raise UsageError("no architecture has been evaluated on the benchmark yet")
    return max(evaluated, key=lambda e: e[1])[0]


def top_k_by_prediction(candidates: Sequence[Any], predictions, k: int) -> list:
    """The ``k`` candidates with the highest predictions, in ascending order of
    prediction (NASLib's Bananas/Npenas ``pop()`` the best one first)."""
    preds = np.asarray(predictions, dtype=np.float64).reshape(-1)
    if len(preds) != len(candidates):
        raise UsageError(f"{len(preds)} predictions for {len(candidates)} candidates")
    if k <= 0:
        return []
    order = np.argsort(preds, kind="stable")
    return [candidates[i] for i in order[-k:]]


def cell_key(arch) -> Any:
    """The canonical form of an architecture (so that isomorphic cells are one): NB101's
    hash, or NB201's canonical string for NASLib's NB201 graph (it answers
    ``get_op_indices``); the object's ``id`` where it cannot be read as a cell."""
    try:
        if callable(getattr(arch, "get_op_indices", None)):
            from ..spaces.nb201.cell import as_cell as as_nb201_cell
            return as_nb201_cell(arch).key
        return as_cell(arch).hash
    except InvalidCellError:
        return id(arch)
