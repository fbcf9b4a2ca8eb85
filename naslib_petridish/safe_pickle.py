"""Unpickle NASLib's ground-truth files without running code from them.

A pickle names the callables it needs as ``module.name`` globals, and plain
``pickle.load`` imports and calls whatever a file names (``os.system``,
``subprocess.Popen``, ``builtins.eval``, ...).  :func:`load` reads a pickle through
an unpickler whose ``find_class`` resolves only the globals of :data:`ALLOWED`, the
few that NASLib's ground-truth files need, and refuses any other with a one-line
:class:`~naslib_petridish.errors.GroundTruthError`: the refusal happens before the
global is imported, so nothing the file names is ever called.

What the files hold (NASLib ``naslib/utils/get_dataset_api.py``, ``nb101_api.py``,
``search_spaces/nasbench201/graph.py``): dicts, lists, tuples, str, int, float
(pickled with their own opcodes, no global) and, in ``nasbench_only108.pkl``,
NumPy arrays (``module_adjacency``).  Why each entry of :data:`ALLOWED`:

* ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``: how
  NumPy pickles an array under protocols 2-4 (``ndarray.__reduce__``);
  ``numpy.core.*`` is NumPy 1.x's module name, ``numpy._core.*`` NumPy 2.x's.
* ``numpy.core.numeric._frombuffer``: the same under protocol 5 (what
  ``pickle.HIGHEST_PROTOCOL`` writes, e.g. :func:`.naslib_pickle.write_naslib_pickle`).
* ``numpy.core.multiarray.scalar``: a NumPy scalar (``np.float64``) kept as a value.
* ``collections.OrderedDict``: the dict type of NB201's own API records.
* ``_codecs.encode``: how protocol 2 pickles ``bytes`` (an array's buffer) from
  Python 3; it only encodes a string.
"""
from __future__ import annotations

import _compat_pickle
import importlib
import io
import os
import pickle
from typing import IO, Any, Iterable

from .errors import GroundTruthError

_NUMPY = [("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer")]

#: the (module, name) globals a NASLib ground-truth file may name
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    [(f"numpy.{core}.{mod}", name) for core in ("core", "_core") for mod, name in _NUMPY]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
       ("_codecs", "encode")])


def _resolve(module: str, name: str) -> Any:
    """Import an allowed global; NumPy's ``core`` / ``_core`` are tried in the order
    the running NumPy prefers (NumPy 2 keeps ``numpy.core`` only as a deprecated alias)."""
    candidates = [module]
    for old, new in (("numpy.core.", "numpy._core."), ("numpy._core.", "numpy.core.")):
        if module.startswith(old):
            alt = new + module[len(old):]
            candidates = [alt, module] if new == "numpy._core." else [module, alt]
    for mod in candidates:
        try:
            return getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"cannot import {module}.{name}")


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of ``allowed``."""

    def __init__(self, file: IO[bytes], *, name: str = "<stream>",
                 allowed: Iterable[tuple[str, str]] = ALLOWED):
        super().__init__(file)
        self._name = name
        self._allowed = frozenset(allowed)

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (``__builtin__``, ``copy_reg``, ...) as pickle's own find_class
        # maps them for protocols < 3: the check and the message use Python 3's names
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if (module, name) not in self._allowed:
            raise GroundTruthError(
                f"{self._name}: refused to unpickle {module}.{name}: not a type NASLib's "
                "ground-truth files hold; is this file from NASLib?")
        return _resolve(module, name)


def load(path_or_file: str | os.PathLike | IO[bytes],
         allowed: Iterable[tuple[str, str]] = ALLOWED) -> Any:
    """The object pickled in a file (a path or a binary file object), refusing every
    global outside ``allowed`` with a :class:`GroundTruthError`.

    A file that cannot be unpickled (truncated, corrupted, not a pickle) is also
    reported as a one-line :class:`GroundTruthError` that says "cannot unpickle".
    """
    if isinstance(path_or_file, (str, os.PathLike)):
        name = os.fspath(path_or_file)
        if not os.path.exists(name):
            raise GroundTruthError(f"pickle file not found: {name}")
        with open(name, "rb") as f:
            return _load(f, name, allowed)
    name = str(getattr(path_or_file, "name", "<stream>"))
    return _load(path_or_file, name, allowed)


def loads(data: bytes, allowed: Iterable[tuple[str, str]] = ALLOWED,
          name: str = "<bytes>") -> Any:
    """:func:`load` for a pickle held in memory."""
    return _load(io.BytesIO(data), name, allowed)


def _load(f: IO[bytes], name: str, allowed: Iterable[tuple[str, str]]) -> Any:
    try:
        return SafeUnpickler(f, name=name, allowed=allowed).load()
    except GroundTruthError:
        raise
    except Exception as exc:
        raise GroundTruthError(
            f"{name}: cannot unpickle ({type(exc).__name__}: {exc}); the file may be truncated "
            "or corrupted") from exc
