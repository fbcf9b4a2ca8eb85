"""A synthetic NAS-Bench-201 table for tests: every cell, made-up accuracies, any data sets."""
from __future__ import annotations

import numpy as np

from naslib_petridish.spaces.nb201.cell import OPS, all_cells
from naslib_petridish.spaces.nb201.table import FORMAT, NB201File


def synthetic_nb201(datasets=("cifar10", "cifar100"), seed: int = 0,
                    n: int | None = None) -> NB201File:
    """All 15,625 cells (or the first ``n`` of a seeded shuffle), in a seeded order, with
    accuracies that rise with the convolutions of the cell plus noise; validation and test
    differ by noise; NaN nowhere."""
    rng = np.random.default_rng(seed)
    cells = all_cells()
    order = rng.permutation(len(cells))[:n]
    cells = [cells[i] for i in order]
    conv = np.array([sum(o.startswith("nor_conv") for o in c.ops) for c in cells], float)
    skip = np.array([c.ops.count("skip_connect") for c in cells], float)
    d, e = len(datasets), 2
    base = 0.5 + 0.06 * conv[:, None, None] + 0.01 * skip[:, None, None]
    val = base + rng.normal(0, 0.03, (len(cells), e, d))
    test = val + rng.normal(0, 0.02, (len(cells), e, d))
    val[:, 0] -= 0.1
    test[:, 0] -= 0.1
    arrays = {"format": np.array([FORMAT]), "arch": np.array([c.arch for c in cells]),
              "unique": np.array([c.unique() for c in cells]),
              "ops": np.array([c.codes for c in cells], np.int8), "op_names": np.array(OPS),
              "datasets": np.array(list(datasets)), "epochs": np.array([12, 200], np.int16),
              "val_acc": np.clip(val, 0, 1).astype(np.float32),
              "test_acc": np.clip(test, 0, 1).astype(np.float32)}
    return NB201File(arrays, source="<synthetic nb201>")
