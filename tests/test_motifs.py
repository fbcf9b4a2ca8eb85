import numpy as np
import pytest
import torch

from naslib_petridish.cells import CONV3X3, INPUT, MAXPOOL3X3, OUTPUT, Cell
from naslib_petridish.motifs import (MOTIFS, MotifShape, build_network, compute_vertex_channels,
                                     count_parameters, motif_shape, trainable_parameters)
from tests.helpers import reference_cells


def _check_full_network_parameters(cell, official: int) -> None:
    with torch.device("meta"):  # no memory for the 32M weights
        net = build_network(cell, "full")
    assert trainable_parameters(net) == official, cell.hash
    assert count_parameters(cell, "full") == official, cell.hash


def test_full_network_parameters_equal_official_on_reference_cells():
    for ref in reference_cells():
        _check_full_network_parameters(Cell(ref["matrix"], ref["ops"]), ref["params"])


def test_full_network_parameters_equal_official_on_300_real_cells(real_table):
    for r in real_table.sample(300, rng=11):
        _check_full_network_parameters(real_table.cell(r), int(real_table.params[r]))


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_motifs_forward_and_count(table, name):
    shape = MOTIFS[name]
    for r in table.sample(5, rng=2):
        net = build_network(table.cell(r), name)
        out = net(torch.randn(4, 3, 16, 16))
        assert out.shape == (4, 10)
        assert trainable_parameters(net) == count_parameters(table.cell(r), name)
    assert (shape.num_stacks, shape.cells_per_stack, shape.stem_channels) == {
        "A": (1, 3, 32), "B": (3, 1, 16), "C": (1, 1, 16)}[name]


def test_custom_shape_and_errors():
    cell = Cell([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [INPUT, MAXPOOL3X3, OUTPUT])
    net = build_network(cell, {"num_stacks": 2, "cells_per_stack": 2, "stem_channels": 8,
                               "in_channels": 1, "num_classes": 4})
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 4)
    assert motif_shape("c") == MOTIFS["C"]
    with pytest.raises(ValueError, match="unknown motif"):
        motif_shape("D")
    with pytest.raises(ValueError, match="positive integer"):
        MotifShape(num_stacks=0)


def test_vertex_channels_split_and_truncation():
    # three vertices into the output: 16 channels split 6/5/5, the extra one
    # going to the first; vertex 1 also feeds vertex 2 (truncated 6 -> 5)
    m = np.array([[0, 1, 1, 1, 0],
                  [0, 0, 1, 0, 1],
                  [0, 0, 0, 0, 1],
                  [0, 0, 0, 0, 1],
                  [0, 0, 0, 0, 0]])
    assert compute_vertex_channels(16, 16, m) == [16, 6, 5, 5, 16]
    cell = Cell(m, [INPUT, CONV3X3, CONV3X3, MAXPOOL3X3, OUTPUT])
    net = build_network(cell, "C")
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)
