"""Numeric features and the graph form of NB201 cells, for the ranker.

* :func:`encoding` - one-hot operation of each of the six edges (White et al.'s
  ``adjacency_one_hot`` for NB201: 30 columns);
* :func:`path_encoding` - counts of input-to-output paths by their operation sequence,
  paths through a ``none`` edge left out (4 + 16 + 64 = 84 columns);
* :func:`free_features` - what costs nothing: log10 parameters and FLOPs of the full
  network, operation counts, and the cell with its ``none`` and dead edges removed (is the
  output reachable, paths, their depth and convolutions);
* :func:`graph` - the node-labelled DAG the graph networks take, as the NB201 predictor
  papers build it: the input, one node per edge labelled with its operation (``none``
  included), the output last; an edge node feeds the edge nodes leaving its head node.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from .cell import EDGES, OPS, Cell

_LIVE_OPS = OPS[1:]  # every operation but none
#: the input-output paths as edge positions (0->3, 0->1->3, 0->2->3, 0->1->2->3)
_PATHS = ((3,), (0, 4), (1, 5), (0, 2, 5))
#: graph labels: input, the five operations, output
GRAPH_LABELS = ("input",) + OPS + ("output",)
GRAPH_VERTICES = len(EDGES) + 2


def encoding(cells: Sequence[Cell]) -> tuple[np.ndarray, list[str]]:
    names = [f"e{i}{j}_{o}" for i, j in EDGES for o in OPS]
    x = np.zeros((len(cells), len(names)), np.float64)
    for r, c in enumerate(cells):
        for e, op in enumerate(c.ops):
            x[r, e * len(OPS) + OPS.index(op)] = 1.0
    return x, names


@lru_cache(maxsize=1)
def _path_index() -> dict[tuple[str, ...], int]:
    idx: dict[tuple[str, ...], int] = {}
    frontier: list[tuple[str, ...]] = [()]
    for _ in range(3):
        frontier = [p + (o,) for p in frontier for o in _LIVE_OPS]
        for p in frontier:
            idx[p] = len(idx)
    return idx


def _live_paths(c: Cell) -> list[tuple[str, ...]]:
    """Operation sequences of the input-output paths without a ``none`` edge."""
    seqs = [tuple(c.ops[e] for e in p) for p in _PATHS]
    return [s for s in seqs if "none" not in s]


def path_encoding(cells: Sequence[Cell]) -> tuple[np.ndarray, list[str]]:
    idx = _path_index()
    names = ["path_" + "-".join(p) for p in idx]
    x = np.zeros((len(cells), len(idx)), np.float64)
    for r, c in enumerate(cells):
        for p in _live_paths(c):
            x[r, idx[p]] += 1
    return x, names


FREE_NAMES = ["log10_params", "log10_flops", "n_none", "n_skip", "n_conv1x1", "n_conv3x3",
              "n_pool", "output_reachable", "n_paths", "longest_path", "shortest_path",
              "max_convs_on_a_path", "min_convs_on_a_path", "max_conv3x3_on_a_path",
              "paths_without_conv", "active_edges", "active_convs", "input_output_skip",
              "output_in_degree"]


def free_features(cells: Sequence[Cell]) -> tuple[np.ndarray, list[str]]:
    from .network import count_flops, count_parameters

    rows = []
    for c in cells:
        ps = _live_paths(c)
        convs = [sum(o.startswith("nor_conv") for o in p) for p in ps] or [0]
        active = c.active_edges()
        rows.append([
            np.log10(count_parameters(c, "full")), np.log10(count_flops(c, "full")),
            *(c.ops.count(o) for o in OPS), float(bool(ps)), len(ps),
            max((len(p) for p in ps), default=0), min((len(p) for p in ps), default=0),
            max(convs), min(convs),
            max((p.count("nor_conv_3x3") for p in ps), default=0),
            sum(all(not o.startswith("nor_conv") for o in p) for p in ps),
            len(active), sum(op.startswith("nor_conv") for _, _, op in active),
            float(c.ops[3] == "skip_connect"), sum(j == 3 for _, j, _ in active)])
    return np.array(rows, np.float64).reshape(len(cells), len(FREE_NAMES)), list(FREE_NAMES)


@lru_cache(maxsize=1)
def _graph_adjacency() -> np.ndarray:
    v = GRAPH_VERTICES
    a = np.zeros((v, v), np.float32)
    for k, (i, j) in enumerate(EDGES, start=1):
        if i == 0:
            a[0, k] = 1
        if j == 3:
            a[k, v - 1] = 1
        for m, (i2, _) in enumerate(EDGES, start=1):
            if i2 == j:
                a[k, m] = 1
    return a


def graph(cells: Sequence[Cell]) -> tuple[np.ndarray, np.ndarray]:
    """Adjacency ``[n, 8, 8]`` (the same for every cell) and one-hot labels ``[n, 8, 7]``."""
    n, v = len(cells), GRAPH_VERTICES
    a = np.broadcast_to(_graph_adjacency(), (n, v, v)).copy()
    h = np.zeros((n, v, len(GRAPH_LABELS)), np.float32)
    h[:, 0, 0] = 1
    h[:, v - 1, -1] = 1
    for r, c in enumerate(cells):
        for e, op in enumerate(c.ops, start=1):
            h[r, e, 1 + OPS.index(op)] = 1
    return a, h
