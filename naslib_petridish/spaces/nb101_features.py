"""Numeric features of NB101 cells (encodings, path counts, free statistics), for the ranker.

Three families, each a function from cells to a float matrix (one row per cell) with
column names (the feature sources of :mod:`.sources` wrap them; a fourth source, the dish's
learning curve, is read off trained motifs there):

* :func:`encoding` - the adjacency + one-hot operations encoding (White et al.'s
  ``adjacency_one_hot``): the 21 upper-triangular entries of the 7x7 matrix, the output
  moved to vertex 6 when the pruned cell has fewer vertices, and 5 x 3 operation bits;
* :func:`path_encoding` - counts of input-to-output paths by their sequence of operations
  (White et al.'s ``path`` encoding, 3^0 + ... + 3^5 = 364 columns);
* :func:`free_features` - what costs nothing: log10 of the full network's parameter count,
  vertices, edges, depth, operation counts, paths, the input-output skip.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from ..cells import CONV1X1, CONV3X3, MAX_VERTICES, MAXPOOL3X3, OPS, Cell

_N_PATH_OPS = 5  # the longest input-output path passes through 5 intermediate vertices


def _padded(cell: Cell) -> tuple[np.ndarray, list[str]]:
    """The 7x7 matrix and ops with the output at vertex 6 (NASLib's padding)."""
    v = len(cell.ops)
    m = np.zeros((MAX_VERTICES, MAX_VERTICES), np.int8)
    ops = ["none"] * MAX_VERTICES
    m[: v - 1, : v - 1] = cell.matrix[: v - 1, : v - 1]
    m[: v - 1, MAX_VERTICES - 1] = cell.matrix[: v - 1, v - 1]
    ops[: v - 1] = cell.ops[: v - 1]
    ops[MAX_VERTICES - 1] = cell.ops[v - 1]
    return m, ops


def encoding(cells: Sequence[Cell]) -> tuple[np.ndarray, list[str]]:
    iu = np.triu_indices(MAX_VERTICES, 1)
    names = [f"adj_{i}{j}" for i, j in zip(*iu)]
    names += [f"op{v}_{o.split('-')[0]}" for v in range(1, MAX_VERTICES - 1) for o in OPS]
    rows = []
    for c in cells:
        m, ops = _padded(c)
        bits = [float(ops[v] == o) for v in range(1, MAX_VERTICES - 1) for o in OPS]
        rows.append(np.concatenate([m[iu].astype(np.float64), bits]))
    return np.array(rows, np.float64).reshape(len(cells), len(names)), names


@lru_cache(maxsize=1)
def _path_index() -> dict[tuple[str, ...], int]:
    idx: dict[tuple[str, ...], int] = {(): 0}
    frontier: list[tuple[str, ...]] = [()]
    for _ in range(_N_PATH_OPS):
        frontier = [p + (o,) for p in frontier for o in OPS]
        for p in frontier:
            idx[p] = len(idx)
    return idx


def _paths(cell: Cell) -> list[tuple[str, ...]]:
    """Operation sequences of every input-to-output path (the matrix is a DAG in
    topological order)."""
    v = len(cell.ops)
    paths: list[list[tuple[str, ...]]] = [[] for _ in range(v)]
    paths[0] = [()]
    for j in range(1, v):
        for i in range(j):
            if cell.matrix[i, j]:
                op = () if i == 0 else (cell.ops[i],)
                paths[j] += [p + op for p in paths[i]]
    return paths[v - 1]


def path_encoding(cells: Sequence[Cell]) -> tuple[np.ndarray, list[str]]:
    idx = _path_index()
    names = ["path_" + ("-".join(o.split("-")[0] for o in p) or "skip") for p in idx]
    out = np.zeros((len(cells), len(idx)), np.float64)
    for r, c in enumerate(cells):
        for p in _paths(c):
            out[r, idx[p]] += 1
    return out, names


FREE_NAMES = ["log10_params", "vertices", "edges", "depth", "n_conv3x3", "n_conv1x1",
              "n_maxpool", "n_paths", "longest_path_convs", "input_output_edge",
              "output_in_degree", "input_out_degree", "conv3x3_into_output",
              "maxpool_into_output", "shortest_path", "max_conv3x3_on_a_path",
              "min_convs_on_a_path", "paths_without_conv"]


def free_features(cells: Sequence[Cell]) -> tuple[np.ndarray, list[str]]:
    from ..motifs import count_parameters

    rows = []
    for c in cells:
        ps = _paths(c)
        ops = c.ops[1:-1]
        v = len(c.ops)
        rows.append([
            np.log10(count_parameters(c, "full")), v, int(c.matrix.sum()),
            max(len(p) for p in ps), ops.count(CONV3X3), ops.count(CONV1X1),
            ops.count(MAXPOOL3X3), len(ps),
            max(sum(o != MAXPOOL3X3 for o in p) for p in ps), float(c.matrix[0, v - 1]),
            # the output concatenates its inputs: the channels of each vertex follow from it
            int(c.matrix[:, v - 1].sum()), int(c.matrix[0].sum()),
            sum(c.ops[i] == CONV3X3 for i in range(1, v - 1) if c.matrix[i, v - 1]),
            sum(c.ops[i] == MAXPOOL3X3 for i in range(1, v - 1) if c.matrix[i, v - 1]),
            min(len(p) for p in ps), max(p.count(CONV3X3) for p in ps),
            min(sum(o != MAXPOOL3X3 for o in p) for p in ps),
            sum(all(o == MAXPOOL3X3 for o in p) for p in ps)])
    return np.array(rows, np.float64).reshape(len(cells), len(FREE_NAMES)), list(FREE_NAMES)
