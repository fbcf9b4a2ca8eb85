"""The NAS-Bench-201 cell: six edges of a 4-node DAG, one operation each.

A :class:`Cell` holds the operations of the edges 0->1, 0->2, 1->2, 0->3, 1->3, 2->3 (the
order of NB201's architecture string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``).  Every
choice of five operations per edge is a cell (5^6 = 15,625).  NB201's official
architecture index is the order of its release file, not a formula of the operations: a
ground-truth table (:class:`~.table.NB201Table`) resolves it.

Distinctness: two cells compute the same function when their :meth:`Cell.unique` strings
agree (NATS-Bench's ``CellStructure.to_unique_str(consider_zero=True)``: ``none`` edges
contribute zero, ``skip_connect`` passes its input on, sums are order-free); 6,466 classes.
``Cell.key`` is that string, the canonical form the package uses for held-out splits.

Conversions (:func:`as_cell`): the architecture string, NASLib's op-index tuple
(``NasBench201SearchSpace.get_hash()``: indices into NASLib's ``OP_NAMES``, which differ
from the official order), NASLib's graph object (``get_op_indices()``), the official index
(an int, 0..15,624, with a table), a dict ``{"arch": ...}`` or ``{"ops": [...]}``, a sequence of six
operation names or of six official op indices.
"""
from __future__ import annotations

import functools
import itertools
from typing import Any, Iterable, Sequence

import numpy as np

from ...errors import InvalidCellError

SPACE = "nb201"
#: the official operation order (NB201's ``op_names``, the table's op codes)
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: NASLib's NB201 op order (``nasbench201/conversions.py``: ``OP_NAMES``), its op indices
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1",
                               "avg_pool_3x3")
#: the edges (from node, to node), in the architecture string's order
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
#: the edges in the order of NASLib's op-index tuple (``conversions.EDGE_LIST``, its nodes
#: numbered from 1): by source node, not by target as the string
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
NUM_NODES = 4
NUM_CELLS = len(OPS) ** len(EDGES)
CONVS = ("nor_conv_1x1", "nor_conv_3x3")


def _bad_string(s: str, why: str) -> InvalidCellError:
    return InvalidCellError(
        f"cannot read the NB201 architecture string {s[:100]!r}: {why}; expected "
        "'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with op one of " + ", ".join(OPS))


def parse_arch(s: str) -> tuple[str, ...]:
    """The six operations of an architecture string, in :data:`EDGES` order."""
    s = str(s).strip()
    nodes = s.split("+")
    if len(nodes) != NUM_NODES - 1:
        raise _bad_string(s, f"{len(nodes)} node groups separated by '+', not 3")
    ops = []
    for j, group in enumerate(nodes, start=1):
        if not (group.startswith("|") and group.endswith("|")):
            raise _bad_string(s, f"node group {j} is not enclosed in '|'")
        parts = [p for p in group[1:-1].split("|")]
        if len(parts) != j:
            raise _bad_string(s, f"node {j} has {len(parts)} inputs, not {j}")
        for i, part in enumerate(parts):
            op, sep, src = part.partition("~")
            if not sep or src != str(i):
                raise _bad_string(s, f"'{part}' should read '{op or 'op'}~{i}'")
            if op not in OPS:
                raise _bad_string(s, f"unknown operation '{op}'")
            ops.append((i, j, op))
    order = {e: k for k, e in enumerate(EDGES)}
    out = [""] * len(EDGES)
    for i, j, op in ops:
        out[order[(i, j)]] = op
    return tuple(out)


class Cell:
    """One NB201 cell (immutable).  ``ops``: the six edge operations in :data:`EDGES`
    order.  Equality is NB201's isomorphism: two cells are equal when they compute the same
    function (equal :meth:`unique` strings); ``arch`` tells identical cells apart."""

    __slots__ = ("ops", "_unique")
    space = SPACE

    def __init__(self, ops: Sequence[str]):
        if isinstance(ops, str) or not isinstance(ops, Iterable):
            raise InvalidCellError(f"an NB201 cell needs six operation names, got {ops!r}")
        ops = tuple(str(o) for o in ops)
        if len(ops) != len(EDGES):
            raise InvalidCellError(f"an NB201 cell has {len(EDGES)} edges, got {len(ops)} "
                                   "operations")
        for e, op in zip(EDGES, ops):
            if op not in OPS:
                raise InvalidCellError(f"unknown operation '{op}' on edge {e[0]}->{e[1]}; "
                                       f"allowed: {', '.join(OPS)}")
        self.ops = ops
        self._unique: str | None = None

    # -- forms ---------------------------------------------------------------
    @property
    def arch(self) -> str:
        """The official architecture string."""
        it = iter(self.ops)
        groups = []
        for j in range(1, NUM_NODES):
            groups.append("|" + "|".join(f"{next(it)}~{i}" for i in range(j)) + "|")
        return "+".join(groups)

    @property
    def codes(self) -> tuple[int, ...]:
        """The official op index of each edge (the table's ``ops`` row)."""
        return tuple(OPS.index(o) for o in self.ops)

    def naslib_tuple(self) -> tuple[int, ...]:
        """NASLib's op-index tuple (``get_hash()`` of its NB201 graph): NASLib's op indices
        in NASLib's edge order."""
        return tuple(NASLIB_OPS.index(self.edge(i, j)) for i, j in NASLIB_EDGES)

    def edge(self, i: int, j: int) -> str:
        return self.ops[EDGES.index((i, j))]

    def unique(self) -> str:
        """NATS-Bench's canonical computation string (``to_unique_str(consider_zero=True)``)."""
        if self._unique is None:
            nodes = {0: "0"}
            for j in range(1, NUM_NODES):
                terms = []
                for i in range(j):
                    op = self.edge(i, j)
                    if op == "none" or nodes[i] == "#":
                        terms.append("#")
                    elif op == "skip_connect":
                        terms.append(nodes[i])
                    else:
                        terms.append(f"({nodes[i]})@{op}")
                nodes[j] = "+".join(sorted(terms))
            self._unique = nodes[NUM_NODES - 1]
        return self._unique

    @property
    def key(self) -> str:
        """The canonical form (distinct cells have distinct keys): :meth:`unique`."""
        return self.unique()

    @property
    def hash(self) -> str:
        """The cell's identity in a ground-truth table: its architecture string (isomorphic
        cells are distinct rows of NB201, trained separately)."""
        return self.arch

    def active_edges(self) -> list[tuple[int, int, str]]:
        """The edges that carry a value from the input to the output: not ``none``, from a
        node the input reaches, into a node that reaches the output."""
        live = [e + (op,) for e, op in zip(EDGES, self.ops) if op != "none"]
        fwd = {0}
        for i, j, _ in live:  # EDGES are in topological order of their sources
            if i in fwd:
                fwd.add(j)
        bwd = {NUM_NODES - 1}
        for i, j, _ in sorted(live, key=lambda e: -e[1]):
            if j in bwd:
                bwd.add(i)
        return [(i, j, op) for i, j, op in live if i in fwd and j in bwd]

    def to_dict(self) -> dict:
        return {"arch": self.arch}

    # -- value semantics -----------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cell) and self.unique() == other.unique()

    def __hash__(self) -> int:
        return hash(self.unique())

    def __repr__(self) -> str:
        return f"nb201.Cell('{self.arch}')"

    def __reduce__(self):
        return (Cell, (self.ops,))


def from_naslib_tuple(tup: Sequence[int]) -> Cell:
    """Cell from NASLib's op-index tuple (``NasBench201SearchSpace.get_hash()``)."""
    if len(tup) != len(EDGES):
        raise InvalidCellError(f"a NASLib NB201 tuple has {len(EDGES)} entries, got {len(tup)}")
    try:
        by_edge = {e: NASLIB_OPS[int(k)] for e, k in zip(NASLIB_EDGES, tup)}
        return Cell(tuple(by_edge[e] for e in EDGES))
    except (IndexError, ValueError) as exc:
        raise InvalidCellError(f"op index out of range in NASLib NB201 tuple {tuple(tup)} "
                               f"(0..{len(NASLIB_OPS) - 1})") from exc


def as_cell(x: Any, table=None) -> Cell:
    """Convert any form an NB201 user meets into a :class:`Cell` (see the module doc).

    A bare tuple of six ints is read as NASLib's op-index tuple (what NASLib hands a
    predictor); pass ``{"ops": [...]}`` with names for the official order.
    """
    if isinstance(x, Cell):
        return x
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        if table is None:
            raise InvalidCellError(
                f"{x} is an NB201 architecture index; resolving it needs the NB201 table "
                "(pass table=..., or --nb201 FILE on the command line)")
        return table.cell(int(x))
    if isinstance(x, str):
        return Cell(parse_arch(x))
    if isinstance(x, dict):
        if "arch" in x:
            return as_cell(str(x["arch"]))
        if "ops" in x:
            return as_cell(list(x["ops"]))
        if "index" in x:
            return as_cell(int(x["index"]), table)
        raise InvalidCellError(f"an NB201 cell dict needs 'arch', 'ops' or 'index', got keys "
                               f"{sorted(x)}")
    if isinstance(x, (tuple, list, np.ndarray)) and len(x) == len(EDGES):
        vals = list(x)
        if all(isinstance(v, str) for v in vals):
            return Cell(vals)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
            return from_naslib_tuple(vals)
    get_op_indices = getattr(x, "get_op_indices", None)
    if callable(get_op_indices):
        return from_naslib_tuple(list(get_op_indices()))
    get_hash = getattr(x, "get_hash", None)
    if callable(get_hash):
        return as_cell(get_hash())
    raise InvalidCellError(
        f"cannot interpret {type(x).__name__} {str(x)[:60]!r} as an NB201 cell: pass the "
        "architecture string '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|', NASLib's op-index tuple, "
        "its graph object or the official index")


def all_cells() -> list[Cell]:
    """Every cell, in the order of ``itertools.product`` over the edges (not the official
    index order: that is the table's row order)."""
    return [Cell(ops) for ops in itertools.product(OPS, repeat=len(EDGES))]


@functools.lru_cache(maxsize=1)
def _by_key() -> dict[str, tuple[Cell, ...]]:
    groups: dict[str, list[Cell]] = {}
    for c in all_cells():
        groups.setdefault(c.key, []).append(c)
    return {k: tuple(v) for k, v in groups.items()}


def copies(cell: Cell) -> list[Cell]:
    """``cell`` and every other cell with its canonical form (its isomorphic copies: the
    same function), the cell first, the others in :func:`all_cells` order.  Of the 6,466
    functions of NB201, 1,350 have copies (2 to 275)."""
    return [cell] + [c for c in _by_key()[cell.key] if c.hash != cell.hash]


def random_cell(rng: np.random.Generator | int | None = None) -> Cell:
    """A uniform draw over the 15,625 cells (NASLib's ``sample_random_architecture`` also
    rejects the cells whose three input or three output edges are all ``none``)."""
    rng = np.random.default_rng(rng)
    return Cell(tuple(OPS[int(k)] for k in rng.integers(0, len(OPS), size=len(EDGES))))


def neighbours(cell: Cell) -> list[Cell]:
    """The 24 cells one edge operation away (NASLib's NB201 neighbourhood), in edge order."""
    out = []
    for e in range(len(EDGES)):
        for op in OPS:
            if op != cell.ops[e]:
                ops = list(cell.ops)
                ops[e] = op
                out.append(Cell(ops))
    return out


def mutate(cell: Cell, rng: np.random.Generator | int | None = None,
           mutation_rate: float = 1.0) -> Cell:
    """NASLib's NB201 mutation: one edge, chosen uniformly, gets another operation."""
    rng = np.random.default_rng(rng)
    ops = list(cell.ops)
    e = int(rng.integers(len(EDGES)))
    choices = [o for o in OPS if o != ops[e]]
    ops[e] = choices[int(rng.integers(len(choices)))]
    return Cell(ops)
