"""Self- and co-training: models that learn a teacher's order of unlabelled cells.

After the ranker's models are fitted, they (as the teacher) order ``N`` unlabelled cells
drawn at random (NASLib's sampler, seeded by the run seed, none of the training cells);
new graph networks learn that order (pairwise loss, :data:`~.graph.PRETRAIN_EPOCHS`), are
fine-tuned on the training cells (:data:`~.graph.FINETUNE_EPOCHS`) and replace the
teacher's.  Co-training (``self_training_trees`` > 0) then refits the trees on the training
cells' ranks plus the ranks that the trees and the new networks give the unlabelled cells;
``self_training_rounds`` repeats it, each round's models teaching the next.  The
unlabelled cells cost no ground truth; sources that train motifs (the dish) are left out
of the teacher's trees, which are then fitted again without them (a motif per unlabelled
cell would cost minutes), and co-training needs sources without motifs.  What each step
gives: RANKING.md (self-training lifts the graph networks at 100 training cells from
Kendall 0.61 to 0.64; co-training lifts the trees from 0.68 to 0.70 on the development
trials, much less the mean of trees and networks; more rounds gave nothing).
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
from scipy.stats import rankdata

from ..cells import Cell
from .models import GraphNetworks, RankModel, Trees, rank_target


def unlabelled_cells(n: int, exclude: set[str], seed: int, space: str = "nb101") -> list[Cell]:
    """``n`` distinct random cells of ``space`` (NASLib's sampler), none computing the same
    function as a cell whose key is in ``exclude``; the same for the same seed.  Where the
    space enumerates fewer such cells than ``n`` (NB201), all of them."""
    from ..seeds import UNLABELLED, rng
    from ..spaces import get_space

    sp = get_space(space)
    every = sp.all_cells()
    if every is not None:
        pool = [c for c in every if c.key not in exclude]
        if n >= len(pool):
            return pool
    r = rng(seed, UNLABELLED)
    out: dict[str, Cell] = {}
    while len(out) < n:
        c = sp.random_cell(r)
        if c.key not in exclude:
            out.setdefault(c.hash, c)
    return list(out.values())


def _teacher(models: list[RankModel], pool: Sequence[Cell], Xp, trees_booster) -> np.ndarray:
    """The mean rank the fitted ``models`` give each unlabelled cell (the trees through
    ``trees_booster``: the ranker's own, or one refitted without motif features)."""
    parts = []
    for m in models:
        if isinstance(m, GraphNetworks):
            parts.append(rankdata(m.scores(pool)))
        elif isinstance(m, Trees):
            if trees_booster is not None:
                parts.append(rankdata(trees_booster.predict(Xp, num_threads=1)))
        else:
            parts.append(rankdata(m.rank(pool, Xp)))
    return np.mean(parts, axis=0)


def self_train(models: list[RankModel], sources, cells: Sequence[Cell], y: np.ndarray,
               X: np.ndarray, seed: int, n_unlabelled: int, rounds: int = 1,
               tree_weight: float = 0.0, space: str = "nb101",
               warm: dict | None = None,
               graph_train: tuple[Sequence[Cell], np.ndarray] | None = None) -> dict:
    """Replace the weights of the ``graph`` model among ``models`` by students taught by all
    of ``models`` on ``n_unlabelled`` cells, ``rounds`` times (each round's students are the
    next round's teacher); with ``tree_weight`` > 0 the ``trees`` are refitted too, each
    round after the new graph networks, on the training cells' ranks and the ranks that the
    trees and the new networks give the unlabelled cells, the training cells together
    weighing ``tree_weight`` times the unlabelled ones (co-training; every source must then
    be free of motifs).  ``X``: the training cells' feature matrix (every source's columns,
    as the models were fitted on).  ``warm`` (a warm refit's state, kept by the ranker
    between fits): the unlabelled cells and their features of the first fit are kept (less
    the cells trained on since), and each round's students continue from the last fit's
    for ``WARM_PRETRAIN_EPOCHS``.  ``graph_train``: the cells and accuracies the students
    are fine-tuned on (None: ``cells`` and ``y``; the ranker's ``isomorphs_graph``).
    Returns what was done (for the record)."""
    from .graph import (FINETUNE_EPOCHS, PRETRAIN_EPOCHS, WARM_PRETRAIN_EPOCHS,
                        fit_graph_ranker, pretrain_states)
    from .sources import feature_matrix

    t0 = time.perf_counter()
    graph = next(m for m in models if isinstance(m, GraphNetworks))
    trees = next((m for m in models if isinstance(m, Trees)), None)
    free = [s for s in sources if not s.trains_motifs]
    if tree_weight > 0 and (trees is None or len(free) != len(sources)):
        raise ValueError("co-training the trees needs the 'trees' model and sources that "
                         "train no motif")
    if warm is not None and "pool" in warm:  # the first fit's cells less the trained ones
        trained = {c.key for c in cells}
        keep = [i for i, c in enumerate(warm["pool"]) if c.key not in trained]
        pool = [warm["pool"][i] for i in keep]
        Xp, names = (None if warm["Xp"] is None else warm["Xp"][keep]), warm["names"]
    else:
        pool = unlabelled_cells(n_unlabelled, {c.key for c in cells}, seed, space)
        Xp, names = feature_matrix(free, pool) if free else (None, [])
        if warm is not None:
            warm.update(pool=pool, Xp=Xp, names=names)
    students = [] if warm is None else warm.setdefault("students", [])
    booster, teachers = None, []
    if trees is not None and free:
        booster = trees._booster
        if len(free) != len(sources):  # the unlabelled cells have no motif features
            from .trees import train_trees
            booster = train_trees(*feature_matrix(free, cells), target=rank_target(y),
                                  seed=seed)
        teachers.append("trees on " + "+".join(s.name for s in free))
    teachers += [m.name for m in models if not isinstance(m, (Trees, GraphNetworks))]
    members = graph.config.graph_members
    if tree_weight > 0:  # every source is free of motifs: X has the pool's columns
        Xc = np.vstack([X, Xp])
        weight = np.concatenate([np.full(len(cells), tree_weight * len(pool) / len(cells)),
                                 np.ones(len(pool))])
    layers, attention = graph.config.graph_layers, graph.config.graph_attention
    gcells, gy = (cells, y) if graph_train is None else graph_train
    for r in range(rounds):
        teacher = _teacher(models, pool, Xp, booster)
        cont = students[r] if r < len(students) else None
        init = pretrain_states(pool, teacher, members, seed=seed, round_=r, layers=layers,
                               attention=attention, init=cont,
                               epochs=PRETRAIN_EPOCHS if cont is None else WARM_PRETRAIN_EPOCHS)
        if warm is not None:
            students[r:r + 1] = [init]
        student = fit_graph_ranker(gcells, gy, members, seed=seed, epochs=FINETUNE_EPOCHS,
                                   init=init, layers=layers, attention=attention)
        graph.model = student
        if tree_weight > 0:  # the trees learn from the teacher with the new students in it
            pseudo = rankdata(_teacher(models, pool, Xp, booster))
            pseudo = (pseudo - 1) / max(1, len(pool) - 1)
            trees.learn(Xc, names, np.concatenate([rank_target(y), pseudo]), seed, weight)
            booster = trees._booster
    return {"unlabelled": int(n_unlabelled), "sampler": "random_cell (NASLib's)",
            "teacher": " + ".join(teachers + [f"{members} graph networks"]),
            "rounds": int(rounds), "tree_weight": float(tree_weight),
            "pretrain_epochs": PRETRAIN_EPOCHS if cont is None else WARM_PRETRAIN_EPOCHS,
            "finetune_epochs": FINETUNE_EPOCHS,
            **({"warm_start": cont is not None, "unlabelled_used": len(pool)}
               if warm is not None else {}),
            "seconds": round(time.perf_counter() - t0, 2)}
