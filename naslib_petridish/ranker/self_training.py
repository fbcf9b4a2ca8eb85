"""Self-training: graph networks that first learn a teacher's order of unlabelled cells.

After the ranker's models are fitted, they (as the teacher) order ``N`` unlabelled cells
drawn at random (NASLib's sampler, seeded by the run seed, none of the training cells);
new graph networks learn that order (pairwise loss, :data:`~.graph.PRETRAIN_EPOCHS`), are
fine-tuned on the training cells (:data:`~.graph.FINETUNE_EPOCHS`) and replace the
teacher's.  The unlabelled cells cost no ground truth; sources that train motifs (the
dish) are left out of the teacher's trees, which are then fitted again without them (a
motif per unlabelled cell would cost minutes).  At 100 training cells this lifts the
graph networks from Kendall 0.610 to 0.642 and the whole ranker from 0.659 to 0.671;
above 400 cells it adds almost nothing (RANKING.md).
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
from scipy.stats import rankdata

from ..cells import Cell
from .models import GraphNetworks, RankModel, Trees, rank_target


def unlabelled_cells(n: int, exclude: set[str], seed: int) -> list[Cell]:
    """``n`` distinct random cells (NASLib's sampler), none of them in ``exclude``; the
    same for the same seed."""
    from ..cells import random_cell
    from ..seeds import UNLABELLED, rng

    r = rng(seed, UNLABELLED)
    out: dict[str, Cell] = {}
    while len(out) < n:
        c = random_cell(r)
        if c.hash not in exclude:
            out.setdefault(c.hash, c)
    return list(out.values())


def self_train(models: list[RankModel], sources, cells: Sequence[Cell], y: np.ndarray,
               seed: int, n_unlabelled: int) -> dict:
    """Replace the weights of the ``graph`` model among ``models`` by students taught by all
    of ``models`` on ``n_unlabelled`` cells; returns what was done (for the record)."""
    from .graph import FINETUNE_EPOCHS, PRETRAIN_EPOCHS, fit_graph_ranker, pretrain_states
    from .sources import feature_matrix

    t0 = time.perf_counter()
    graph = next(m for m in models if isinstance(m, GraphNetworks))
    pool = unlabelled_cells(n_unlabelled, {c.hash for c in cells}, seed)
    free = [s for s in sources if not s.trains_motifs]
    parts, teachers = [rankdata(graph.scores(pool))], []
    for m in models:
        if isinstance(m, Trees) and free:
            booster = m._booster
            if len(free) != len(sources):  # the unlabelled cells have no motif features
                from .trees import train_trees
                booster = train_trees(*feature_matrix(free, cells), target=rank_target(y),
                                      seed=seed)
            parts.append(rankdata(booster.predict(feature_matrix(free, pool)[0],
                                                  num_threads=1)))
            teachers.append("trees on " + "+".join(s.name for s in free))
        elif m is not graph and not isinstance(m, Trees):
            parts.append(rankdata(m.rank(pool, feature_matrix(free, pool)[0])))
            teachers.append(m.name)
    teacher = np.mean(parts, axis=0)
    members = graph.config.graph_members
    init = pretrain_states(pool, teacher, members, seed=seed)
    graph.model = fit_graph_ranker(cells, y, members, seed=seed, epochs=FINETUNE_EPOCHS,
                                   init=init)
    return {"unlabelled": int(n_unlabelled), "sampler": "random_cell (NASLib's)",
            "teacher": " + ".join(teachers + [f"{members} graph networks"]),
            "pretrain_epochs": PRETRAIN_EPOCHS, "finetune_epochs": FINETUNE_EPOCHS,
            "seconds": round(time.perf_counter() - t0, 2)}
