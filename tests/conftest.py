"""Fixtures: a synthetic NB101 table made by the package (always available) and the
real shared table (only where ../shared/data is, as in CI)."""
import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import synthetic_table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NB101 = REPO.parent / "shared" / "data" / "nb101" / "nb101_table.npz"


def nb101_path() -> str | None:
    # absolute: some tests change the working directory
    p = os.path.abspath(os.environ.get("NASLIB_PETRIDISH_NB101") or str(DEFAULT_NB101))
    return p if os.path.exists(p) else None


@pytest.fixture(scope="session")
def table():
    """600 random cells with official hashes and parameter counts and NB101-like
    synthetic accuracies (validation accuracy for 360 of them, as the shared table has
    it for only some cells)."""
    return synthetic_table()


@pytest.fixture(scope="session")
def table_path(table, tmp_path_factory):
    """The synthetic table as an nb101-table-v1 .npz file, for the command line."""
    p = tmp_path_factory.mktemp("nb101") / "synthetic_nb101.npz"
    table.save(p)
    return str(p)


@pytest.fixture(scope="session")
def real_table_path():
    p = nb101_path()
    if p is None:
        pytest.skip("needs the real NB101 table: set NASLIB_PETRIDISH_NB101 or put "
                    "../shared/data/nb101/nb101_table.npz beside the repo (CI has it)")
    return p


@pytest.fixture(scope="session")
def real_table(real_table_path):
    from naslib_petridish.tables import NB101Table
    return NB101Table.load(real_table_path)


@pytest.fixture(scope="session")
def small_table(table):
    """A 40-cell table with complete, known metrics (3 repeats at 108 and 4
    epochs): input for the file-format tests."""
    from naslib_petridish.tables import NB101Table
    rows = table.sample(40, rng=123)
    rng = np.random.default_rng(7)
    arrays = {k: (v[rows] if getattr(v, "shape", (0,))[0] == len(table) else v)
              for k, v in table.arrays().items()}
    for m in ("val_acc", "test_acc", "train_time"):
        a = np.full((len(rows), 4, 3), np.nan, dtype=np.float32)
        scale = 1000.0 if m == "train_time" else 1.0
        a[:, 3, :] = rng.uniform(0.8, 0.95, size=(len(rows), 3)) * scale
        a[:, 0, :] = rng.uniform(0.3, 0.6, size=(len(rows), 3)) * scale
        arrays[m] = a
    return NB101Table(arrays, source="small")
