"""Shared test settings and data made by the package itself, so that the tests run
on a fresh checkout without the NAS-Bench-101 files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from naslib_petridish.cells import random_cell
from naslib_petridish.config import PetriDishConfig
from naslib_petridish.motifs import count_parameters
from naslib_petridish.tables import EPOCHS, FORMAT, NB101Table

#: tiny dish settings: motif C, 40 images, a few epochs
TINY = dict(motif="C", dish_size=40, inner_epochs=2, outer_epochs=3, outer_batch=3,
            train_size=9, calibration_size=3, workers=1, seed=3)

#: official hashes, cells, parameter counts and a test accuracy of 24 real NB101 cells
REFERENCE_CELLS = Path(__file__).parent / "data" / "nb101_reference_cells.json"


def tiny(**kw) -> PetriDishConfig:
    return PetriDishConfig.from_dict({**TINY, **kw})


def reference_cells() -> list[dict]:
    return json.loads(REFERENCE_CELLS.read_text())["cells"]


def synthetic_table(n: int = 600, seed: int = 0, val_fraction: float = 0.6) -> NB101Table:
    """An NB101 table of ``n`` distinct random cells, laid out like the shared table.

    Cells come from :func:`random_cell` with their official hashes (the package's
    hash implementation, checked against real ones by test_cells) and the parameter
    counts of their full networks.  Accuracies are synthetic but NB101-like: they rise
    with log10(parameters) plus noise, so that rankings are neither random nor perfect.
    As in the shared table, the 108-epoch test accuracy of repeat 0 exists for every
    cell; validation accuracy (repeat 2, all epoch budgets) and training time exist for
    the first ``val_fraction`` of the rows only.
    """
    rng = np.random.default_rng(seed)
    cells = {}
    while len(cells) < n:
        c = random_cell(rng)
        cells.setdefault(c.hash, c)
    cells = [cells[h] for h in sorted(cells)]
    params = np.array([count_parameters(c, "full") for c in cells], dtype=np.int64)
    lp = np.log10(params)
    base = 0.90 + 0.02 * (lp - lp.mean()) / lp.std()
    arr = {"format": np.array([FORMAT]), "hashes": np.array([c.hash for c in cells]),
           "num_vertices": np.array([c.num_vertices for c in cells], dtype=np.int8),
           "params": params, "epochs": np.asarray(EPOCHS, dtype=np.int16)}
    pads = [c.padded() for c in cells]
    arr["adjacency"] = np.stack([a for a, _ in pads]).astype(np.int8)
    arr["ops"] = np.stack([o for _, o in pads]).astype(np.int8)
    for m in ("val_acc", "test_acc", "train_time"):
        arr[m] = np.full((n, 4, 3), np.nan, dtype=np.float32)
    noise = lambda s: rng.normal(0, s, n)  # noqa: E731
    arr["test_acc"][:, 3, 0] = np.clip(base + noise(0.012), 0.1, 0.95)
    k = int(round(val_fraction * n))
    for e, frac in enumerate((0.55, 0.75, 0.88, 1.0)):
        arr["val_acc"][:k, e, 2] = np.clip(base[:k] * frac + rng.normal(0, 0.012, k), 0.1, 0.96)
    arr["train_time"][:k, 3, 2] = 400 + 60 * lp[:k] + rng.normal(0, 20, k)
    return NB101Table(arr, source=f"synthetic({n}, seed {seed})")
