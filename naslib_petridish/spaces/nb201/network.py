"""NAS-Bench-201 networks of any size, built from a cell: the NB201 motifs.

Follows NB201's official code exactly (xautodl ``models/cell_infers/tiny_network.py``
``TinyNetwork``, ``cells.py`` ``InferCell``, ``cell_operations.py``): a 3x3 conv + batch
norm stem (no ReLU), ``num_stacks`` stages of ``cells_per_stack`` cells, a
``ResNetBasicblock`` between stages (ReLU-conv3x3/2-BN, ReLU-conv3x3-BN, shortcut 2x2
average pool + 1x1 conv without bias) that halves the resolution and doubles the channels,
then batch norm + ReLU, global average pooling and a linear head.  Inside a cell node ``j``
is the sum over ``i < j`` of ``op_ij(node_i)``; ``nor_conv_kxk`` is ReLU-conv-BN (no bias,
affine BN with running statistics, as in the 200-epoch benchmark), ``avg_pool_3x3`` a 3x3
average pool (stride 1, padding excluded from the average), ``skip_connect`` the identity
and ``none`` zero.  The official network is ``full`` (C=16, N=5): its parameter and FLOP
counts equal NB201's published ones (:func:`count_parameters`, :func:`count_flops`).

The motifs are derived from the full network the way the Synthetic Petri Dish paper derives
its A/B/C from NB101's full network: A is one stage at full depth, B all stages with one
cell each (with the residual reduction blocks between them), C a single cell.  NB201's
width (16 stem channels) is kept for all of them since it is already small.

========  ======  ===============  ====
preset    stages  cells per stage  stem
========  ======  ===============  ====
``A``     1       5                16
``B``     3       1                16
``C``     1       1                16
``full``  3       5                16
========  ======  ===============  ====

Deviations from the official forward that change no output or gradient: ``none`` edges
are not run (the official ``Zero`` multiplies by 0), and edges into a node that does not
reach the cell output are not run (their layers exist and count as parameters and FLOPs,
but their batch-norm running statistics stay at their initial values).  A node without a
live input is a zero tensor; a conv edge out of it still runs (its batch norm turns zeros
into its bias, as in the official code).  ``forward`` returns the logits only (the official
one returns ``(features, logits)``).
"""
from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...motifs import MotifShape, trainable_parameters
from ...motifs import motif_shape as _motif_shape
from .cell import EDGES, NUM_NODES, Cell, as_cell

__all__ = ["MOTIFS", "MotifShape", "NB201Network", "CellModule", "ReLUConvBN",
           "ResNetBasicblock", "motif_shape", "build_network", "count_parameters",
           "count_flops", "trainable_parameters"]

MOTIFS: dict[str, MotifShape] = {
    "A": MotifShape(num_stacks=1, cells_per_stack=5, stem_channels=16),
    "B": MotifShape(num_stacks=3, cells_per_stack=1, stem_channels=16),
    "C": MotifShape(num_stacks=1, cells_per_stack=1, stem_channels=16),
    "full": MotifShape(num_stacks=3, cells_per_stack=5, stem_channels=16),
}

#: kernel size of each convolution op
_KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


def motif_shape(spec: Any) -> MotifShape:
    """A :class:`MotifShape` from an NB201 preset name, a dict of its fields or a shape."""
    return _motif_shape(spec, MOTIFS, "NB201")


class ReLUConvBN(nn.Sequential):
    """ReLU - conv (no bias) - batch norm (official ``ReLUConvBN`` with ``affine=True``)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, bn_momentum: float,
                 bn_eps: float):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
                         nn.BatchNorm2d(cout, eps=bn_eps, momentum=bn_momentum))


class ResNetBasicblock(nn.Module):
    """The stride-2 residual block between stages (official ``ResNetBasicblock``)."""

    def __init__(self, cin: int, cout: int, bn_momentum: float = 0.1, bn_eps: float = 1e-5):
        super().__init__()
        self.conv_a = ReLUConvBN(cin, cout, 3, 2, bn_momentum, bn_eps)
        self.conv_b = ReLUConvBN(cout, cout, 3, 1, bn_momentum, bn_eps)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2, padding=0),
                                        nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def _make_op(op: str, ch: int, bn_momentum: float, bn_eps: float) -> nn.Module:
    if op in _KERNEL:
        return ReLUConvBN(ch, ch, _KERNEL[op], 1, bn_momentum, bn_eps)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if op == "skip_connect":
        return nn.Identity()
    raise ValueError(f"no layer for NB201 operation '{op}'")  # pragma: no cover


class CellModule(nn.Module):
    """One NB201 cell (official ``InferCell``, stride 1, ``channels`` in and out)."""

    def __init__(self, cell: Cell, channels: int, bn_momentum: float = 0.1,
                 bn_eps: float = 1e-5):
        super().__init__()
        live = [(i, j, op) for (i, j), op in zip(EDGES, cell.ops) if op != "none"]
        # one layer per non-none edge, in edge order (the official parameter order)
        self.layers = nn.ModuleList(_make_op(op, channels, bn_momentum, bn_eps)
                                    for _, _, op in live)
        reaches_out = {NUM_NODES - 1}
        for i, j, _ in reversed(live):  # EDGES are sorted by target
            if j in reaches_out:
                reaches_out.add(i)
        # static wiring as plain lists: plan[j - 1] = [(layer index, source node), ...];
        # a zero source feeding a pool or identity adds nothing and is dropped
        zero = [False] + [True] * (NUM_NODES - 1)
        self.plan: list[list[tuple[int, int]]] = [[] for _ in range(NUM_NODES - 1)]
        for k, (i, j, op) in enumerate(live):
            if j in reaches_out and (op in _KERNEL or not zero[i]):
                self.plan[j - 1].append((k, i))
                zero[j] = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x]
        for terms in self.plan:
            h = None
            for k, i in terms:
                src = nodes[i]
                y = self.layers[k](torch.zeros_like(x) if src is None else src)
                h = y if h is None else h + y
            nodes.append(h)
        out = nodes[-1]
        return torch.zeros_like(x) if out is None else out


class NB201Network(nn.Module):
    """Stem, stages of cells joined by residual reduction blocks, BN-ReLU, pool, head."""

    def __init__(self, cell: Any, shape: Any = "C", bn_momentum: float = 0.1,
                 bn_eps: float = 1e-5):
        super().__init__()
        cell = as_cell(cell)
        shape = motif_shape(shape)
        self.cell = cell
        self.shape = shape
        ch = shape.stem_channels
        self.stem = nn.Sequential(nn.Conv2d(shape.in_channels, ch, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(ch, eps=bn_eps, momentum=bn_momentum))
        layers: list[nn.Module] = []
        for s in range(shape.num_stacks):
            if s > 0:
                layers.append(ResNetBasicblock(ch, 2 * ch, bn_momentum, bn_eps))
                ch *= 2
            layers.extend(CellModule(cell, ch, bn_momentum, bn_eps)
                          for _ in range(shape.cells_per_stack))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(ch, eps=bn_eps, momentum=bn_momentum),
                                     nn.ReLU(inplace=False))
        self.classifier = nn.Linear(ch, shape.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lastact(self.cells(self.stem(x)))
        # average pooling rather than mean(dim=(2, 3)): its gradient keeps channels_last
        return self.classifier(F.avg_pool2d(h, h.shape[-2:]).flatten(1))


def build_network(cell: Any, shape: Any = "C", **kwargs) -> NB201Network:
    """Build the NB201 network of ``cell`` with a motif preset or custom shape."""
    return NB201Network(cell, shape, **kwargs)


def _conv_counts(cell: Cell) -> dict[int, int]:
    """Number of conv edges of each kernel size."""
    out = {1: 0, 3: 0}
    for op in cell.ops:
        if op in _KERNEL:
            out[_KERNEL[op]] += 1
    return out


def count_parameters(cell: Any, shape: Any = "full") -> int:
    """Trainable parameters of the network, computed without building it.

    Same rules as :class:`NB201Network` (tests check both agree); on ``full`` with 10
    classes it is NB201's ``params`` times 1e6 (0.073306 MB to 1.531546 MB on CIFAR-10).
    """
    cell = as_cell(cell)
    shape = motif_shape(shape)
    convs = _conv_counts(cell)
    ch = shape.stem_channels
    total = shape.in_channels * ch * 9 + 2 * ch
    for s in range(shape.num_stacks):
        if s > 0:  # ResNetBasicblock ch -> 2ch
            total += ch * 2 * ch * 9 + 2 * ch * 2 * ch * 9 + 8 * ch + ch * 2 * ch
            ch *= 2
        per_cell = sum(n * (ch * ch * k * k + 2 * ch) for k, n in convs.items())
        total += shape.cells_per_stack * per_cell
    return total + 2 * ch + ch * shape.num_classes + shape.num_classes


def count_flops(cell: Any, shape: Any = "full", resolution: int = 32) -> int:
    """Multiply-accumulates of one ``resolution`` x ``resolution`` image, NB201's convention.

    xautodl's ``utils/flop_benchmark.py`` (``get_model_infos``, which made NB201's ``flop``
    values) counts every convolution (``k*k*C_in*C_out`` per output position, plus one per
    output if it has a bias: none here) and the linear head (``in*out + out``); batch norm,
    ReLU, pooling and additions are not counted.  All conv edges count, also those that do
    not reach the cell output (the official forward runs them).  NB201's MFLOPs are this
    divided by 1e6: on ``full`` at 32x32 with 10 classes 7.78305 to 220.11969.
    """
    cell = as_cell(cell)
    shape = motif_shape(shape)
    step = 2 ** (shape.num_stacks - 1)
    try:
        res = operator.index(resolution)
    except TypeError:
        res = -1
    if res < 1 or res % step:
        raise ValueError(f"resolution must be a positive integer divisible by {step} for "
                         f"{shape.num_stacks} stages, got {resolution!r}")
    convs = _conv_counts(cell)
    ch, hw = shape.stem_channels, res * res
    total = shape.in_channels * ch * 9 * hw
    for s in range(shape.num_stacks):
        if s > 0:  # ResNetBasicblock ch -> 2ch at half the resolution
            hw //= 4
            total += (ch * 2 * ch * 9 + 2 * ch * 2 * ch * 9 + ch * 2 * ch) * hw
            ch *= 2
        per_cell = sum(n * ch * ch * k * k * hw for k, n in convs.items())
        total += shape.cells_per_stack * per_cell
    return total + ch * shape.num_classes + shape.num_classes
