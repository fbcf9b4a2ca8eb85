import json
import pickle

import numpy as np
import pytest

from naslib_petridish.cells import (CONV1X1, CONV3X3, INPUT, MAXPOOL3X3, OUTPUT, Cell,
                                    InvalidCellError, as_cell, as_cells, is_valid, mutate,
                                    random_cell, to_naslib_tuple)
from tests.helpers import reference_cells

INCEPTION = ([[0, 1, 1, 1, 0, 1, 0],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 1, 0, 0],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 0]],
             [INPUT, CONV1X1, CONV3X3, CONV3X3, CONV3X3, MAXPOOL3X3, OUTPUT])


def test_hash_matches_official_on_reference_cells():
    """24 real cells with their official module hashes (tests/data), including the
    first row of the official hash order and the cell of best mean test accuracy."""
    refs = reference_cells()
    for ref in refs:
        assert Cell(ref["matrix"], ref["ops"]).hash == ref["hash"]
    assert refs[0]["hash"] == "00005c142e6f48ac74fdcf73e3439874"
    assert "02e5a0247bbdcf2860b7e96f74961594" in {r["hash"] for r in refs}


def test_hash_matches_official_on_1000_real_cells(real_table):
    rows = real_table.sample(1000, rng=0)
    for r in rows:
        c = Cell.from_codes(real_table.adjacency[r], real_table.ops[r])
        assert c.hash == real_table.hashes[r], r


def test_pruning_removes_dangling_vertices_and_keeps_hash():
    # vertex 2 is not reachable from input, vertex 3 does not reach output
    m = [[0, 1, 0, 1, 0],
         [0, 0, 0, 0, 1],
         [0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0],
         [0, 0, 0, 0, 0]]
    c = Cell(m, [INPUT, CONV3X3, MAXPOOL3X3, CONV1X1, OUTPUT])
    assert c.num_vertices == 3 and c.ops == (INPUT, CONV3X3, OUTPUT)
    assert c.matrix.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    same = Cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [INPUT, CONV3X3, OUTPUT])
    assert c.hash == same.hash and c == same
    assert c.original_matrix.shape == (5, 5)


@pytest.mark.parametrize("matrix,ops,needle", [
    ([[0, 1], [1, 0]], [INPUT, OUTPUT], "upper triangular"),
    ([[1, 1], [0, 0]], [INPUT, OUTPUT], "upper triangular"),
    ([[0, 2], [0, 0]], [INPUT, OUTPUT], "0 or 1"),
    ([[0, 1, 1], [0, 0, 1]], [INPUT, CONV3X3, OUTPUT], "square"),
    ([[0, 1], [0, 0]], [INPUT, CONV3X3, OUTPUT], "length of ops"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [INPUT, "conv5x5", OUTPUT], "unknown operation 'conv5x5'"),
    ([[0, 1, 0], [0, 0, 0], [0, 0, 0]], [INPUT, CONV3X3, OUTPUT], "no path"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [CONV3X3, CONV3X3, OUTPUT], "first operation"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [INPUT, CONV3X3, CONV3X3], "last operation"),
    (np.triu(np.ones((8, 8), int), 1), [INPUT] + [CONV3X3] * 6 + [OUTPUT], "too many vertices"),
    (np.triu(np.ones((7, 7), int), 1), [INPUT] + [CONV3X3] * 5 + [OUTPUT], "too many edges"),
])
def test_bad_cells_raise_clear_errors(matrix, ops, needle):
    with pytest.raises(InvalidCellError, match=needle):
        Cell(matrix, ops)
    assert not is_valid(matrix, ops)


def test_conversions_round_trip(table):
    c = Cell(*INCEPTION)
    assert as_cell(c) is c
    assert as_cell(c.to_dict()) == c
    assert as_cell(c.to_json()) == c
    assert as_cell(json.loads(c.to_json())) == c
    assert as_cell(c.to_tuple()) == c
    assert as_cell((INCEPTION[0], INCEPTION[1])) == c
    assert as_cell({"module_adjacency": INCEPTION[0], "module_operations": INCEPTION[1]}) == c
    known = table.cell(7)
    assert as_cell(known.hash, table) == known and as_cell(known.hash.upper(), table) == known
    assert pickle.loads(pickle.dumps(c)) == c
    with pytest.raises(InvalidCellError, match="ground-truth table"):
        as_cell(c.hash)


class FakeModelSpec:
    """Duck type of nasbench.api.ModelSpec (pruned matrix plus originals)."""

    def __init__(self, matrix, ops):
        self.original_matrix = np.array(matrix)
        self.original_ops = list(ops)
        pruned = Cell(matrix, ops)
        self.matrix, self.ops = pruned.matrix.copy(), list(pruned.ops)


class FakeNaslibGraph:
    """Duck type of NASLib's NasBench101SearchSpace: get_spec() / get_hash()."""

    def __init__(self, spec=None, h=None):
        self._spec, self._h = spec, h

    def get_spec(self):
        return self._spec

    def get_hash(self):
        return self._h


def test_model_spec_and_naslib_objects(table):
    c = Cell(*INCEPTION)
    assert as_cell(FakeModelSpec(*INCEPTION)) == c
    assert as_cell(FakeNaslibGraph({"matrix": np.array(INCEPTION[0]), "ops": INCEPTION[1]})) == c
    row = 123
    assert as_cell(FakeNaslibGraph(None, table.hashes[row]), table).hash == table.hashes[row]
    # NASLib's NB101 get_hash() is the tuple (*matrix.flatten(), *op indices) with its op
    # order [input, output, maxpool3x3, conv1x1, conv3x3]; its get_spec() pads to 7x7
    cell = table.cell(row)
    tup = to_naslib_tuple(cell)
    assert tup[-cell.num_vertices:][0] == 0 and tup[-1] == 1
    assert as_cell(FakeNaslibGraph(None, tup)) == cell
    assert as_cell(tup) == cell
    small = Cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [INPUT, MAXPOOL3X3, OUTPUT])
    padded = np.zeros((7, 7), dtype="int8")
    padded[0, 1] = 1
    padded[1, 6] = 1  # NASLib's convert_to_cell moves the output to vertex 6
    naslib_spec = {"matrix": padded, "ops": [INPUT, MAXPOOL3X3] + [CONV3X3] * 4 + [OUTPUT]}
    assert as_cell(FakeNaslibGraph(naslib_spec)) == small
    with pytest.raises(InvalidCellError, match="cannot interpret"):
        as_cell(object())
    with pytest.raises(InvalidCellError, match="architecture #1"):
        as_cells([c, {"matrix": [[0]], "opz": []}])


def test_random_cells_are_valid_and_seeded():
    assert random_cell(3) == random_cell(3)
    rng = np.random.default_rng(0)
    cells = [random_cell(rng) for _ in range(200)]
    assert all(c.num_edges <= 9 and c.num_vertices <= 7 for c in cells)
    # small pruned cells recur (the sampler is NB101's, not uniform over hashes)
    assert len({c.hash for c in cells}) > 100


def test_mutation_gives_valid_different_cells():
    rng = np.random.default_rng(1)
    parent = Cell(*INCEPTION)
    children = [mutate(parent, rng) for _ in range(100)]
    assert all(ch.hash != parent.hash for ch in children)
    # each child is a valid cell (the constructor checks) and survives a round trip
    assert all(as_cell(ch.to_dict()).hash == ch.hash for ch in children)
    small = Cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [INPUT, CONV3X3, OUTPUT])
    grown = [mutate(small, rng, mutation_rate=3.0) for _ in range(50)]
    assert max(c.num_vertices for c in grown) > 3  # mutation can add vertices
    assert mutate(parent, 5).hash == mutate(parent, 5).hash


def test_neighbours_are_the_valid_cells_one_edit_away():
    from naslib_petridish.cells import neighbours

    chain = Cell(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]), [INPUT, CONV3X3, OUTPUT])
    got = {(c.matrix.tobytes(), c.ops) for c in neighbours(chain)}
    # cutting either edge disconnects the output: only the skip and the two other ops remain
    want = {Cell(np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]]), [INPUT, CONV3X3, OUTPUT]),
            Cell(chain.matrix, [INPUT, CONV1X1, OUTPUT]),
            Cell(chain.matrix, [INPUT, MAXPOOL3X3, OUTPUT])}
    assert got == {(c.matrix.tobytes(), c.ops) for c in want}
    rng = np.random.default_rng(0)
    for _ in range(20):
        c = random_cell(rng)
        nb = neighbours(c)
        assert nb or len(c.ops) == 2  # input -> output alone has no valid edit
        assert len({n.hash for n in nb}) == len(nb) and c.hash not in {n.hash for n in nb}
        assert all(int(n.matrix.sum()) <= 9 for n in nb)
