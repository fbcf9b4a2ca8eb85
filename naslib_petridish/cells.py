"""The NAS-Bench-101 cell space.

A :class:`Cell` is the NB101 ``ModelSpec``: an upper-triangular 0/1 adjacency
matrix over at most 7 vertices and one operation per vertex.  Construction
prunes vertices that are not on a path from input to output, exactly as the
official ``nasbench.lib.model_spec.ModelSpec._prune`` does, then checks the
search-space limits of ``nasbench.api.NASBench._check_spec``.  ``Cell.hash`` is
the official module hash (``nasbench.lib.graph_util.hash_module``), so it can
be used as a key into every NB101 ground-truth file.

The module also converts the cell forms a NAS researcher meets (dicts/JSON,
``(matrix, ops)`` tuples, hashes, ``nasbench.api.ModelSpec`` objects, NASLib
NB101 architectures) into cells with :func:`as_cell`, and samples and mutates
cells for search strategies.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import InvalidCellError

INPUT = "input"
OUTPUT = "output"
CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"

#: Operations a hidden vertex may hold, in NB101's canonical order (the index
#: is the label used by the module hash and by the compact table).
OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
MAX_VERTICES = 7
MAX_EDGES = 9

#: Integer codes of the compact table (``nb101-table-v1``).
OP_CODES = {INPUT: -1, CONV3X3: 0, CONV1X1: 1, MAXPOOL3X3: 2, OUTPUT: -2}
PAD_CODE = -3
CODE_OPS = {code: op for op, code in OP_CODES.items()}


def _graph_hash(matrix: np.ndarray, labels: Sequence[int]) -> str:
    """Official NB101 module fingerprint (``graph_util.hash_module``).

    Weisfeiler-Lehman style iterated md5 over (out-degree, in-degree, label),
    then md5 of the sorted vertex hashes.  Degrees are converted to Python
    ints so that ``str`` of the tuple is ``(1, 0, -1)`` under every NumPy
    version (NumPy 2 would print ``np.int64(1)`` and change every hash).
    """
    n = matrix.shape[0]
    in_edges = [int(x) for x in matrix.sum(axis=0)]
    out_edges = [int(x) for x in matrix.sum(axis=1)]
    hashes = [
        hashlib.md5(str((out_edges[v], in_edges[v], int(labels[v]))).encode("utf-8")).hexdigest()
        for v in range(n)
    ]
    preds = [[w for w in range(n) if matrix[w, v]] for v in range(n)]
    succs = [[w for w in range(n) if matrix[v, w]] for v in range(n)]
    for _ in range(n):
        hashes = [
            hashlib.md5(
                ("".join(sorted(hashes[w] for w in preds[v])) + "|"
                 + "".join(sorted(hashes[w] for w in succs[v])) + "|"
                 + hashes[v]).encode("utf-8")
            ).hexdigest()
            for v in range(n)
        ]
    return hashlib.md5(str(sorted(hashes)).encode("utf-8")).hexdigest()


def _prune(matrix: np.ndarray, ops: list[str]) -> tuple[np.ndarray, list[str]] | None:
    """Drop vertices not on an input->output path (``ModelSpec._prune``).

    Returns ``None`` when input and output are not connected.
    """
    n = matrix.shape[0]
    from_input = {0}
    frontier = [0]
    while frontier:
        top = frontier.pop()
        for v in range(top + 1, n):
            if matrix[top, v] and v not in from_input:
                from_input.add(v)
                frontier.append(v)
    from_output = {n - 1}
    frontier = [n - 1]
    while frontier:
        top = frontier.pop()
        for v in range(0, top):
            if matrix[v, top] and v not in from_output:
                from_output.add(v)
                frontier.append(v)
    keep = sorted(from_input & from_output)
    if len(keep) < 2 or 0 not in keep or (n - 1) not in keep:
        return None
    return matrix[np.ix_(keep, keep)], [ops[i] for i in keep]


class Cell:
    """One NAS-Bench-101 cell, pruned and validated.

    ``matrix`` (``int8`` ``[V, V]``, read-only) and ``ops`` (tuple of ``V``
    strings) hold the pruned cell; ``original_matrix``/``original_ops`` what
    was passed in.  Raises :class:`InvalidCellError` with the reason when the
    input is not a cell of the search space.
    """

    __slots__ = ("matrix", "ops", "original_matrix", "original_ops", "_hash")

    def __init__(self, matrix: Any, ops: Sequence[str]):
        try:
            m = np.asarray(matrix)
        except Exception as exc:  # ragged nested lists etc.
            raise InvalidCellError(f"matrix is not a 2-D array of 0/1: {exc}") from exc
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise InvalidCellError(f"matrix must be square, got shape {m.shape}")
        if isinstance(ops, str) or not isinstance(ops, Iterable):
            raise InvalidCellError(f"ops must be a list of operation names, got {ops!r}")
        ops = [str(o) for o in ops]
        if len(ops) != m.shape[0]:
            raise InvalidCellError(
                f"length of ops ({len(ops)}) must match matrix dimensions ({m.shape[0]})")
        if m.shape[0] < 2:
            raise InvalidCellError("a cell needs at least an input and an output vertex")
        if m.dtype == bool:
            m = m.astype(np.int8)
        if not np.issubdtype(m.dtype, np.number) or not np.isin(m, (0, 1)).all():
            raise InvalidCellError("matrix entries must be 0 or 1")
        m = m.astype(np.int8)
        if not np.array_equal(np.triu(m, 1), m):
            raise InvalidCellError(
                "matrix must be upper triangular with a zero diagonal (edges go from a lower "
                "to a higher vertex index)")
        if ops[0] != INPUT:
            raise InvalidCellError(f"first operation must be '{INPUT}', got '{ops[0]}'")
        if ops[-1] != OUTPUT:
            raise InvalidCellError(f"last operation must be '{OUTPUT}', got '{ops[-1]}'")
        for i, op in enumerate(ops[1:-1], start=1):
            if op not in OPS:
                raise InvalidCellError(
                    f"unknown operation '{op}' at vertex {i}; allowed: {', '.join(OPS)}")
        self.original_matrix = m.copy()
        self.original_ops = tuple(ops)
        self.original_matrix.flags.writeable = False
        pruned = _prune(m, ops)
        if pruned is None:
            raise InvalidCellError("no path from the input vertex to the output vertex")
        pm, pops = pruned
        if pm.shape[0] > MAX_VERTICES:
            raise InvalidCellError(
                f"too many vertices: {pm.shape[0]} after pruning (max {MAX_VERTICES})")
        n_edges = int(pm.sum())
        if n_edges > MAX_EDGES:
            raise InvalidCellError(f"too many edges: {n_edges} after pruning (max {MAX_EDGES})")
        pm = np.ascontiguousarray(pm, dtype=np.int8)
        pm.flags.writeable = False
        self.matrix = pm
        self.ops = tuple(pops)
        self._hash: str | None = None

    # -- basic properties --------------------------------------------------
    @property
    def num_vertices(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.matrix.sum())

    @property
    def labels(self) -> list[int]:
        """Integer op codes (input -1, conv3x3 0, conv1x1 1, maxpool 2, output -2)."""
        return [OP_CODES[o] for o in self.ops]

    @property
    def hash(self) -> str:
        """The official NB101 module hash of the pruned cell."""
        if self._hash is None:
            self._hash = _graph_hash(self.matrix, self.labels)
        return self._hash

    @property
    def key(self) -> str:
        """The canonical form (cells that compute the same function share it): the hash."""
        return self.hash

    space = "nb101"

    # -- conversions -------------------------------------------------------
    def to_dict(self) -> dict:
        """``{"matrix": [[...]], "ops": [...]}``, JSON-serializable."""
        return {"matrix": self.matrix.tolist(), "ops": list(self.ops)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_tuple(self) -> tuple[np.ndarray, list[str]]:
        return self.matrix.copy(), list(self.ops)

    def padded(self, size: int = MAX_VERTICES) -> tuple[np.ndarray, np.ndarray]:
        """Adjacency and op codes zero/``PAD_CODE``-padded to ``size`` vertices
        (the layout of the compact table)."""
        adj = np.zeros((size, size), dtype=np.int8)
        n = self.num_vertices
        adj[:n, :n] = self.matrix
        codes = np.full(size, PAD_CODE, dtype=np.int8)
        codes[:n] = self.labels
        return adj, codes

    def to_model_spec(self):
        """An official ``nasbench.api.ModelSpec`` (needs the ``nasbench`` package)."""
        try:
            from nasbench import api  # type: ignore
        except ImportError as exc:  # pragma: no cover - depends on the user's install
            raise ImportError(
                "Cell.to_model_spec needs the official 'nasbench' package "
                "(github google-research/nasbench); use Cell.to_dict() otherwise") from exc
        return api.ModelSpec(matrix=self.matrix.tolist(), ops=list(self.ops))

    @classmethod
    def from_codes(cls, adjacency: np.ndarray, codes: np.ndarray) -> "Cell":
        """Inverse of :meth:`padded` (a row of the compact table)."""
        codes = np.asarray(codes)
        n = int(np.sum(codes != PAD_CODE))
        try:
            ops = [CODE_OPS[int(c)] for c in codes[:n]]
        except KeyError as exc:
            raise InvalidCellError(f"unknown op code {exc.args[0]} in table row") from exc
        return cls(np.asarray(adjacency)[:n, :n], ops)

    # -- value semantics ---------------------------------------------------
    def __eq__(self, other: object) -> bool:
        """Two cells are equal when they compute the same function (same hash)."""
        return isinstance(other, Cell) and self.hash == other.hash

    def __hash__(self) -> int:
        return hash(self.hash)

    def __repr__(self) -> str:
        return f"Cell(matrix={self.matrix.tolist()}, ops={list(self.ops)})"

    def __reduce__(self):
        return (Cell, (self.matrix.copy(), list(self.ops)))


def is_valid(matrix: Any, ops: Sequence[str]) -> bool:
    """True when ``(matrix, ops)`` is a cell of the NB101 search space."""
    try:
        Cell(matrix, ops)
    except InvalidCellError:
        return False
    return True


HASH_LEN = 32


def _looks_like_hash(x: Any) -> bool:
    return (isinstance(x, str) and len(x) == HASH_LEN
            and all(c in "0123456789abcdef" for c in x.lower()))


def as_cell(x: Any, table=None) -> Cell:
    """Convert any supported cell form into a :class:`Cell`.

    Accepted forms:

    * a :class:`Cell` (returned as is);
    * a dict ``{"matrix": ..., "ops": ...}`` (also NB101's
      ``module_adjacency``/``module_operations`` keys), or its JSON string;
    * a ``(matrix, ops)`` tuple or list;
    * a 32-character module hash (needs ``table``, a ground-truth table);
    * NASLib's NB101 tuple ``(*matrix.flatten(), *op indices)``;
    * an object with ``get_spec()`` returning such a dict (NASLib's NB101
      graph), or with ``get_hash()`` returning NASLib's tuple or an NB101 hash
      (then ``table`` resolves it);
    * an object with ``.matrix``/``.ops`` (the official ``ModelSpec``; its
      ``original_matrix`` is used when present so pruning happens here).
    """
    if isinstance(x, Cell):
        return x
    if isinstance(x, str):
        if _looks_like_hash(x):
            if table is None:
                raise InvalidCellError(
                    f"'{x}' is a cell hash; resolving hashes needs the NB101 ground-truth table "
                    "(pass table=..., or --nb101 PATH on the command line)")
            return table.cell(x)
        try:
            x = json.loads(x)
        except json.JSONDecodeError as exc:
            raise InvalidCellError(
                f"cannot read a cell from the string {x[:60]!r}: expected a 32-character "
                "hash or JSON {\"matrix\": ..., \"ops\": ...}") from exc
        return as_cell(x, table)
    if isinstance(x, dict):
        if "matrix" in x and "ops" in x:
            return Cell(x["matrix"], x["ops"])
        if "module_adjacency" in x and "module_operations" in x:
            return Cell(x["module_adjacency"], x["module_operations"])
        if "hash" in x and table is not None:
            return table.cell(x["hash"])
        raise InvalidCellError(
            f"a cell dict needs the keys 'matrix' and 'ops', got keys {sorted(x)}")
    if isinstance(x, (tuple, list)) and len(x) == 2 and not isinstance(x[1], (int, float)):
        return Cell(x[0], x[1])
    if isinstance(x, (tuple, list)) and len(x) > 2 and all(
            isinstance(v, (int, np.integer)) for v in x):
        return from_naslib_tuple(x)
    get_spec = getattr(x, "get_spec", None)
    if callable(get_spec):
        spec = get_spec()
        if spec is not None:
            if isinstance(spec, dict):
                return as_cell(spec, table)
            if hasattr(spec, "matrix") and hasattr(spec, "ops"):
                return as_cell(spec, table)
    if hasattr(x, "matrix") and hasattr(x, "ops"):
        m = getattr(x, "original_matrix", None)
        o = getattr(x, "original_ops", None)
        if m is not None and o is not None:
            return Cell(m, o)
        if x.matrix is None:
            raise InvalidCellError("the ModelSpec is invalid (its graph is disconnected)")
        return Cell(x.matrix, x.ops)
    get_hash = getattr(x, "get_hash", None)
    if callable(get_hash):
        h = get_hash()
        if isinstance(h, (tuple, list)):  # NASLib's NB101 "hash": (*matrix, *op indices)
            return from_naslib_tuple(h)
        if isinstance(h, str) and table is not None:
            return table.cell(h)
    raise InvalidCellError(
        f"cannot interpret {type(x).__name__} as an NB101 cell: pass a dict with 'matrix' and "
        "'ops', a (matrix, ops) tuple, a hash with a ground-truth table, a nasbench ModelSpec or "
        "a NASLib NB101 architecture")


#: Op order of NASLib's NB101 tuple encoding (``nasbench101/conversions.py``: ``all_ops``).
NASLIB_TUPLE_OPS = (INPUT, OUTPUT, MAXPOOL3X3, CONV1X1, CONV3X3)


def from_naslib_tuple(tup: Sequence[int]) -> Cell:
    """Cell from NASLib's NB101 tuple ``(*matrix.flatten(), *op_indices)``
    (what ``NasBench101SearchSpace.get_hash()`` returns)."""
    n = int(round((-1 + (1 + 4 * len(tup)) ** 0.5) / 2))
    if n * n + n != len(tup):
        raise InvalidCellError(
            f"a NASLib NB101 tuple has n*n + n entries; got {len(tup)}")
    try:
        ops = [NASLIB_TUPLE_OPS[int(i)] for i in tup[n * n:]]
    except IndexError as exc:
        raise InvalidCellError(
            f"op index out of range in NASLib tuple {tuple(tup[n * n:])}") from exc
    return Cell(np.asarray(tup[:n * n], dtype=np.int64).reshape(n, n), ops)


def to_naslib_tuple(cell: Cell) -> tuple[int, ...]:
    """Inverse of :func:`from_naslib_tuple` (on the pruned cell)."""
    return tuple(int(v) for v in cell.matrix.flatten()) + tuple(
        NASLIB_TUPLE_OPS.index(o) for o in cell.ops)


def as_cells(xs: Iterable[Any], table=None, convert=None) -> list:
    """:func:`as_cell` (or ``convert``, another space's) over a sequence, naming the position
    of a bad entry."""
    convert = as_cell if convert is None else convert
    if xs is None or isinstance(xs, (str, dict)) or getattr(xs, "space", None) is not None \
            or not hasattr(xs, "__iter__"):
        raise InvalidCellError(
            f"expected a list of architectures, got {type(xs).__name__}"
            + (" (wrap a single architecture in a list)" if xs is not None else ""))
    out = []
    for i, x in enumerate(xs):
        try:
            out.append(convert(x, table))
        except InvalidCellError as exc:
            raise InvalidCellError(f"architecture #{i}: {exc}") from exc
    return out


def random_cell(rng: np.random.Generator | int | None = None,
                num_vertices: int = MAX_VERTICES) -> Cell:
    """Sample a valid cell the way NB101's and NASLib's random search do.

    Draws a random upper-triangular matrix (each edge with probability 1/2)
    and random hidden ops until the pruned cell is valid.  This is not uniform
    over the 423,624 distinct cells (cells with pruned vertices are reached by
    many matrices); use ``NB101Table.sample`` for uniform sampling over the
    distinct cells.
    """
    rng = np.random.default_rng(rng)
    while True:
        m = np.triu(rng.integers(0, 2, size=(num_vertices, num_vertices)), 1)
        ops = ([INPUT] + [OPS[i] for i in rng.integers(0, len(OPS), size=num_vertices - 2)]
               + [OUTPUT])
        try:
            return Cell(m, ops)
        except InvalidCellError:
            continue


def neighbours(cell: Cell) -> list[Cell]:
    """The cells one edit from ``cell`` (NASLib's NB101 neighbourhood, on the pruned cell):
    one edge added or removed, or one hidden operation changed; the valid ones (at most 9
    edges), pruned, distinct and other than ``cell``, in that order."""
    n = len(cell.ops)
    edits = []
    for i in range(n):
        for j in range(i + 1, n):
            m = cell.matrix.copy()
            m[i, j] = 1 - m[i, j]
            edits.append((m, list(cell.ops)))
    for j in range(1, n - 1):
        for op in OPS:
            if op != cell.ops[j]:
                ops = list(cell.ops)
                ops[j] = op
                edits.append((cell.matrix.copy(), ops))
    out: dict[str, Cell] = {}
    for m, ops in edits:
        try:
            c = Cell(m, ops)
        except InvalidCellError:
            continue
        if c.hash != cell.hash:
            out.setdefault(c.hash, c)
    return list(out.values())


def mutate(cell: Cell, rng: np.random.Generator | int | None = None,
           mutation_rate: float = 1.0, max_tries: int = 1000) -> Cell:
    """Mutate a cell as NB101's and NASLib's regularized evolution do.

    Works on the cell padded to 7 vertices: each possible edge flips with
    probability ``mutation_rate / 7``, each hidden op changes to another op
    with probability ``mutation_rate / 5``; repeats until the result is a
    valid cell different from the parent.
    """
    rng = np.random.default_rng(rng)
    n = MAX_VERTICES
    base = np.zeros((n, n), dtype=np.int8)
    k = cell.num_vertices
    # Place the pruned cell into 7 vertices: its hidden vertices first, the
    # output last; the padding vertices start disconnected (pruned again).
    idx = list(range(k - 1)) + [n - 1]
    base[np.ix_(idx, idx)] = cell.matrix
    ops = [INPUT] + [CONV3X3] * (n - 2) + [OUTPUT]
    for j, op in zip(idx[1:-1], cell.ops[1:-1]):
        ops[j] = op
    if k < n:  # random ops on the unused vertices so that new edges can use them
        for j in range(k - 1, n - 1):
            ops[j] = OPS[int(rng.integers(len(OPS)))]
    edge_p = mutation_rate / n
    op_p = mutation_rate / (n - 2)
    for _ in range(max_tries):
        m = base.copy()
        new_ops = list(ops)
        flips = np.triu(rng.random((n, n)) < edge_p, 1)
        m[flips] = 1 - m[flips]
        for j in range(1, n - 1):
            if rng.random() < op_p:
                choices = [o for o in OPS if o != new_ops[j]]
                new_ops[j] = choices[int(rng.integers(len(choices)))]
        try:
            child = Cell(m, new_ops)
        except InvalidCellError:
            continue
        if child.hash != cell.hash:
            return child
    raise RuntimeError(f"no valid mutation found in {max_tries} tries")  # pragma: no cover
