"""Every random stream of a run, derived from the run's seed and a named tag.

A run has one integer seed.  Each random choice draws from its own stream,
``SeedSequence([seed, TAG])``, so adding a draw to one stream never shifts
another, and a resumed or parallel run draws exactly what an uninterrupted
serial run draws.  The tags are fixed: changing one changes every result.
"""
from __future__ import annotations

import numpy as np

#: the dish's initial pixels and its balanced labels (``dish.Dish.create``)
DISH = 0xD15
#: which training architectures each outer epoch takes (``outer.outer_schedule``)
SCHEDULE = 0x5C4ED
#: which training architectures are re-scored for the calibration (``predictor.fit``)
CALIBRATION = 0xCA1
#: the uniform train/test split of a held-out evaluation (``evaluate.draw_split``)
SPLIT = 0xE7A1
#: the random-score baseline of a held-out evaluation (``evaluate.run_evaluation``)
RANDOM_BASELINE = 0x4A4D
#: motifs trained to be scored without gradient (queries and calibration): their seed
#: depends on the run seed and the cell's hash only (``outer.score_cells``)
QUERY = 0x51E27
#: the unlabelled cells the ranker's self-training learns from (``ranker.self_training``)
UNLABELLED = 0x5E1F
#: predictor-guided search (``guided``): the initial cells, each round's candidate pool and
#: its mutations of the best queried cells
GUIDED_INIT = 0x61A1
GUIDED_POOL = 0x61B0


def rng(seed: int, tag: int) -> np.random.Generator:
    """The generator of stream ``tag`` of run ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(tag)]))


def motif_seed(*keys: int) -> int:
    """A 63-bit torch seed from integer keys (run seed, outer epoch, slot, ...)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)[0] >> 1)


def hash_key(h: str) -> int:
    """An integer key from a cell's hash: the first 60 bits of an NB101 hash (hex), of the
    md5 of any other (an NB201 architecture string)."""
    try:
        return int(h[:15], 16)
    except ValueError:
        import hashlib
        return int(hashlib.md5(h.encode("utf-8")).hexdigest()[:15], 16)


def query_seed(run_seed: int, cell_hash: str) -> int:
    """The motif seed of a cell that is scored without gradient."""
    return motif_seed(run_seed, QUERY, hash_key(cell_hash))


def outer_seed(run_seed: int, epoch: int, slot: int) -> int:
    """The motif seed of slot ``slot`` of outer epoch ``epoch``."""
    return motif_seed(run_seed, epoch, slot)
