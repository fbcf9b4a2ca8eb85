"""NAS-Bench-101 networks of any size, built from a cell: the motifs.

Follows ``nasbench/lib/model_builder.py`` exactly: a 3x3 conv-bn-relu stem,
``num_stacks`` stacks of ``cells_per_stack`` cells, a 2x2 max-pool between
stacks that halves the resolution while the cells double the channels,
global average pooling and a linear head.  Inside a cell, vertex channels
follow ``compute_vertex_channels`` (the output channels are split among the
vertices feeding the output and concatenated; other vertices sum their
inputs, truncating a surplus channel; the input vertex reaches every
consumer through a 1x1 conv-bn-relu projection).

The paper's motifs (Section 3.2) and the full NB101 network are presets:

========  ======  ===============  ====
preset    stacks  cells per stack  stem
========  ======  ===============  ====
``A``     1       3                32
``B``     3       1                16
``C``     1       1                16
``full``  3       3                128
========  ======  ===============  ====

Weights use PyTorch's default initialization; batch norm uses PyTorch's
default momentum (0.1) and NB101's epsilon (1e-5); both are arguments.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import compiled
from .cells import CONV1X1, CONV3X3, MAXPOOL3X3, Cell, as_cell


@dataclass(frozen=True)
class MotifShape:
    """Macro-architecture around the cell."""

    num_stacks: int = 1
    cells_per_stack: int = 1
    stem_channels: int = 16
    in_channels: int = 3
    num_classes: int = 10

    def __post_init__(self):
        for k, v in asdict(self).items():
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"motif shape field '{k}' must be a positive integer, got {v!r}")

    def as_dict(self) -> dict:
        return asdict(self)


MOTIFS: dict[str, MotifShape] = {
    "A": MotifShape(num_stacks=1, cells_per_stack=3, stem_channels=32),
    "B": MotifShape(num_stacks=3, cells_per_stack=1, stem_channels=16),
    "C": MotifShape(num_stacks=1, cells_per_stack=1, stem_channels=16),
    "full": MotifShape(num_stacks=3, cells_per_stack=3, stem_channels=128),
}


def motif_shape(spec: Any, presets: dict[str, MotifShape] | None = None,
                space: str = "") -> MotifShape:
    """A :class:`MotifShape` from a preset name (of ``presets``, NB101's :data:`MOTIFS` by
    default; ``space`` names them in errors), a dict of its fields or a shape."""
    presets = MOTIFS if presets is None else presets
    what = f"{space} motif" if space else "motif"
    if isinstance(spec, MotifShape):
        return spec
    if isinstance(spec, str):
        key = (spec if spec in presets else spec.upper() if spec.upper() in presets
               else spec.lower())
        if key not in presets:
            raise ValueError(f"unknown {what} '{spec}': use one of {', '.join(presets)} or a "
                             "dict with num_stacks, cells_per_stack, stem_channels")
        return presets[key]
    if isinstance(spec, dict):
        unknown = set(spec) - set(MotifShape.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown motif fields {sorted(unknown)}; allowed: "
                             f"{sorted(MotifShape.__dataclass_fields__)}")
        return MotifShape(**spec)
    raise ValueError(f"cannot interpret {spec!r} as a {what} shape")


def compute_vertex_channels(in_channels: int, out_channels: int, matrix: np.ndarray) -> list[int]:
    """Channels of every vertex (``model_builder.compute_vertex_channels``)."""
    n = matrix.shape[0]
    vc = [0] * n
    vc[0] = in_channels
    vc[n - 1] = out_channels
    if n == 2:
        return vc
    in_degree = matrix[1:].sum(axis=0)
    interior = out_channels // int(in_degree[n - 1])
    correction = out_channels % int(in_degree[n - 1])
    for v in range(1, n - 1):
        if matrix[v, n - 1]:
            vc[v] = interior
            if correction:
                vc[v] += 1
                correction -= 1
    for v in range(n - 3, 0, -1):
        if not matrix[v, n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v, dst]:
                    vc[v] = max(vc[v], vc[dst])
        if vc[v] <= 0:
            raise ValueError(
                f"vertex {v} gets {vc[v]} channels: {out_channels} output channels are too few "
                f"for this cell")
    return [int(c) for c in vc]


class ConvBnRelu(nn.Sequential):
    """conv - batch norm - ReLU. With :attr:`fused` set (:func:`set_fused`), batch norm and
    ReLU run in training mode as one compiled block (:func:`compiled.bn_relu`)."""

    fused = False

    def __init__(self, cin: int, cout: int, k: int, bn_momentum: float, bn_eps: float):
        super().__init__(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
                         nn.BatchNorm2d(cout, eps=bn_eps, momentum=bn_momentum),
                         nn.ReLU(inplace=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused and self.training:
            return compiled.bn_relu(self[0](x), self[1])
        return super().forward(x)


def set_fused(net: nn.Module, on: bool) -> None:
    """Switch the compiled batch norm + ReLU of every :class:`ConvBnRelu` in ``net`` on or
    off (off for anything that differentiates twice: the fused backward is first-order)."""
    for m in net.modules():
        if isinstance(m, ConvBnRelu):
            m.fused = on


class CellModule(nn.Module):
    """One NB101 cell (``model_builder.build_module``)."""

    def __init__(self, cell: Cell, in_channels: int, out_channels: int,
                 bn_momentum: float = 0.1, bn_eps: float = 1e-5):
        super().__init__()
        m = cell.matrix
        n = cell.num_vertices
        self.n = n
        self.vc = compute_vertex_channels(in_channels, out_channels, m)
        # static wiring, as plain Python lists (cheap to iterate in forward)
        self.preds = [[s for s in range(1, t) if m[s, t]] for t in range(n)]
        self.from_input = [bool(m[0, t]) for t in range(n)]
        self.to_output = [t for t in range(1, n - 1) if m[t, n - 1]]
        ops, projs = nn.ModuleList(), nn.ModuleList()
        for t in range(n):
            if 0 < t < n - 1:
                op = cell.ops[t]
                if op == CONV3X3:
                    ops.append(ConvBnRelu(self.vc[t], self.vc[t], 3, bn_momentum, bn_eps))
                elif op == CONV1X1:
                    ops.append(ConvBnRelu(self.vc[t], self.vc[t], 1, bn_momentum, bn_eps))
                elif op == MAXPOOL3X3:
                    ops.append(nn.MaxPool2d(3, stride=1, padding=1))
                else:  # pragma: no cover - Cell validates ops
                    raise ValueError(op)
            else:
                ops.append(nn.Identity())
            needs_proj = self.from_input[t] and t > 0
            projs.append(ConvBnRelu(in_channels, self.vc[t], 1, bn_momentum, bn_eps)
                         if needs_proj else nn.Identity())
        self.ops, self.projs = ops, projs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.n
        tensors: list[torch.Tensor] = [x]
        for t in range(1, n - 1):
            c = self.vc[t]
            # a surplus channel is cut off by negative padding rather than slicing: the
            # gradient of a slice is NCHW whatever the layout, and an NCHW gradient meeting
            # channels_last tensors makes every later backward kernel strided (up to 30x
            # slower); padding's gradient keeps the layout
            parts = [tensors[s] if tensors[s].shape[1] == c else
                     F.pad(tensors[s], (0, 0, 0, 0, 0, c - tensors[s].shape[1]))
                     for s in self.preds[t]]
            if self.from_input[t]:
                parts.append(self.projs[t](x))
            h = parts[0]
            for p in parts[1:]:
                h = h + p
            tensors.append(self.ops[t](h))
        if not self.to_output:
            return self.projs[n - 1](x)
        out = tensors[self.to_output[0]] if len(self.to_output) == 1 else torch.cat(
            [tensors[t] for t in self.to_output], dim=1)
        if self.from_input[n - 1]:
            out = out + self.projs[n - 1](x)
        return out


class NB101Network(nn.Module):
    """Stem, stacks of cells with downsampling, global average pool, linear head."""

    def __init__(self, cell: Any, shape: Any = "C", bn_momentum: float = 0.1,
                 bn_eps: float = 1e-5):
        super().__init__()
        cell = as_cell(cell)
        shape = motif_shape(shape)
        self.cell = cell
        self.shape = shape
        ch = shape.stem_channels
        self.stem = ConvBnRelu(shape.in_channels, ch, 3, bn_momentum, bn_eps)
        layers: list[nn.Module] = []
        cin = ch
        for s in range(shape.num_stacks):
            if s > 0:
                layers.append(nn.MaxPool2d(2, stride=2))
                ch *= 2
            for _ in range(shape.cells_per_stack):
                layers.append(CellModule(cell, cin, ch, bn_momentum, bn_eps))
                cin = ch
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(ch, shape.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(self.stem(x))
        # average pooling rather than mean(dim=(2, 3)): the gradient of mean is NCHW,
        # avg_pool2d's keeps channels_last (see CellModule.forward)
        return self.classifier(F.avg_pool2d(h, h.shape[-2:]).flatten(1))


def build_network(cell: Any, shape: Any = "C", **kwargs) -> NB101Network:
    """Build the network of ``cell`` with a motif preset or custom shape."""
    return NB101Network(cell, shape, **kwargs)


def trainable_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_parameters(cell: Any, shape: Any = "full") -> int:
    """Trainable parameters of the network, computed without building it.

    Same rules as :class:`NB101Network` (tests check both agree); fast enough
    to run over all 423,624 cells.
    """
    cell = as_cell(cell)
    shape = motif_shape(shape)
    m = cell.matrix
    n = cell.num_vertices

    def cbr(cin, cout, k):
        return cin * cout * k * k + 2 * cout

    total = cbr(shape.in_channels, shape.stem_channels, 3)
    ch = cin = shape.stem_channels
    for s in range(shape.num_stacks):
        if s > 0:
            ch *= 2
        for _ in range(shape.cells_per_stack):
            vc = compute_vertex_channels(cin, ch, m)
            for t in range(1, n):
                if m[0, t]:
                    total += cbr(cin, vc[t], 1)
                if t < n - 1:
                    if cell.ops[t] == CONV3X3:
                        total += cbr(vc[t], vc[t], 3)
                    elif cell.ops[t] == CONV1X1:
                        total += cbr(vc[t], vc[t], 1)
            cin = ch
    return total + ch * shape.num_classes + shape.num_classes
