"""Search spaces by name: the registry every layer above asks for cells, tables and features.

A space is an object with the contract of :class:`~.base.SearchSpace` (what a space
provides is listed there).  Two ship: ``nb101`` (NAS-Bench-101, :mod:`.nb101`) and
``nb201`` (NAS-Bench-201, :mod:`.nb201`).  A third is one subpackage with a
``SearchSpace`` subclass and a ground-truth table, added to :data:`SPACES`.

This module imports no numpy-heavy code until a space is asked for: the command line
starts fast and ``config`` can check a space name cheaply.
"""
from __future__ import annotations

import importlib
from typing import Any, Iterable

from ..errors import InvalidCellError, UsageError

#: name -> (module, class) of each space; aliases NASLib's names
SPACES = {"nb101": ("naslib_petridish.spaces.nb101", "NB101Space"),
          "nb201": ("naslib_petridish.spaces.nb201", "NB201Space")}
ALIASES = {"nasbench101": "nb101", "nasbench201": "nb201", "nb-101": "nb101",
           "nb-201": "nb201", "101": "nb101", "201": "nb201"}
#: the epoch budgets of each space's ground truth and the final one (what "the accuracy"
#: means); kept here so that configs can check them without importing a space
EPOCHS = {"nb101": (4, 12, 36, 108), "nb201": (12, 200)}
FINAL_EPOCHS = {"nb101": 108, "nb201": 200}
_CACHE: dict[str, Any] = {}


def space_name(name: str) -> str:
    """``nb101`` / ``nb201`` (or NASLib's ``nasbench101`` ...) -> the registry's name."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in SPACES:
        raise UsageError(f"unknown search space '{name}': use one of {', '.join(SPACES)} "
                         "(--space nb101 | nb201)")
    return key


def get_space(name: str = "nb101"):
    """The space object of ``name`` (one instance per process)."""
    key = space_name(name)
    if key not in _CACHE:
        module, cls = SPACES[key]
        _CACHE[key] = getattr(importlib.import_module(module), cls)()
    return _CACHE[key]


def space_of(cells: Any):
    """The space of a cell or of a non-empty sequence of cells (all of one space)."""
    if not isinstance(cells, (list, tuple)):
        cells = [cells]
    names = {getattr(c, "space", None) for c in cells}
    if len(names) != 1 or None in names:
        raise InvalidCellError("cells of one search space expected, got "
                               + ", ".join(sorted(str(n) for n in names)))
    return get_space(names.pop())


def as_cell(x: Any, space: str = "nb101", table=None):
    """:meth:`SearchSpace.as_cell` of ``space``: any form a user meets -> its cell."""
    return get_space(space).as_cell(x, table)


def as_cells(xs: Iterable[Any], space: str = "nb101", table=None) -> list:
    """:func:`as_cell` over a sequence, naming the position of a bad entry."""
    return get_space(space).as_cells(xs, table)


def infer_space(path: str) -> str:
    """The space of a ground-truth file, from its format: an ``.npz`` table's ``format``
    entry, a NASLib pickle's name (``nb201_...``); else ``nb101``."""
    import os

    import numpy as np

    name = os.path.basename(str(path)).lower()
    if name.endswith(".npz") and os.path.isfile(path):
        try:
            with np.load(path, allow_pickle=False) as z:
                fmt = str(z["format"].reshape(-1)[0]) if "format" in z.files else ""
        except Exception:  # the space's loader reports a bad file in its own words
            fmt = ""
        return "nb201" if fmt.startswith("nb201") else "nb101"
    return "nb201" if name.startswith("nb201") else "nb101"


def open_table(space: str | None = None, nb101: str | None = None, nb201: str | None = None,
               dataset: str | None = None, progress: bool = True):
    """The ground truth a command runs on: ``space`` (else inferred: ``--nb201`` given, or
    the format of the ``--nb101`` file), its file looked up as the space says (``--nb101``
    / ``--nb201``, then the space's environment variable, then the cache), and the data set
    ``dataset`` of it (NB201: any name in the file; ``None``: its first)."""
    if space is None:
        space = "nb201" if nb201 else infer_space(nb101) if nb101 else "nb101"
    key = space_name(space)
    if key == "nb101":
        if nb201:
            raise UsageError("--nb201 names NB201 ground truth, but the space is nb101: drop "
                             "--space nb101, or give --nb101 FILE")
        if dataset not in (None, "", "cifar10"):
            raise UsageError(f"NAS-Bench-101 has the data set cifar10 only, not '{dataset}'")
        from ..sources import open_ground_truth
        return open_ground_truth(nb101, progress=progress)
    return get_space(key).load_table(nb201 or nb101, dataset)
