"""Graph networks that rank cells of any space, trained with a pairwise ranking loss.

A GIN-style encoder over the padded 7x7 cell: each vertex starts from its operation
(input, conv3x3, conv1x1, max-pool, output; padding vertices are zeros) and adds, at every
layer, a transform of itself with the sum over its predecessors and over its successors
(information flows both ways, as in GATES); the output vertex and the mean over vertices
feed a two-layer head that gives a score.  With ``attention``, each layer is followed by
path attention (as in PINAT and NN-Former): multi-head self-attention among the vertices
that share a path (a vertex, its ancestors and its descendants), with a residual.
Training: full batch, Adam, the pairwise logistic loss over every pair of training cells
with different accuracies (a ranking loss: only the order is learned).  Several members
from different seeds are averaged.

Self-training (:func:`pretrain_states`): before they see the labels, the members can first
learn the order a teacher (the fitted trees and graph networks) gives to thousands of
unlabelled cells (mini-batches of that pairwise loss), then be fine-tuned on the labelled
cells for fewer epochs (``fit_graph_ranker(..., init=...)``).

Why our own and not a library (PyTorch Geometric, DGL): the graphs have 7 vertices, so dense
batched matrices do all of it in a few lines with PyTorch alone, and the weights go into
the ranker's file as plain lists.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..threads import torch_threads as _threads

HIDDEN, LAYERS, EPOCHS, LR, WEIGHT_DECAY = 64, 3, 300, 1e-3, 5e-4
#: self-training: epochs over the unlabelled cells, their batch size, and the fine-tuning
#: epochs on the labelled cells (chosen on development splits, benchmarks/ranking_features.py)
PRETRAIN_EPOCHS, PRETRAIN_BATCH, FINETUNE_EPOCHS = 30, 256, 100
#: warm refits (``warm_start``): epochs of networks that continue from the last fit's
#: weights on the grown training set, and of self-training students that continue
WARM_EPOCHS, WARM_PRETRAIN_EPOCHS = 100, 10
_N_OPS = 5  # input, the 3 operations, output
ATTENTION_HEADS = 4


def graph_tensors(cells: Sequence) -> tuple[torch.Tensor, torch.Tensor]:
    """The space's graph form of the cells: adjacency ``[n, V, V]`` and one-hot labels
    ``[n, V, K]``, output vertex last (NB101: the padded 7x7 cell and 5 labels)."""
    from ..spaces import space_of

    a, h = space_of(list(cells)).graph(cells)
    return torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(np.ascontiguousarray(h))


def path_mask(a: torch.Tensor) -> torch.Tensor:
    """``[n, V, V]``: True where vertices i and j share no path (neither reaches the other,
    and i != j): the pairs that path attention blocks."""
    v = a.shape[1]
    reach = a.clone()
    for _ in range(v - 1):
        reach = ((reach + reach @ a) > 0).to(a.dtype)
    eye = torch.eye(v, dtype=torch.bool)
    return ~((reach > 0) | (reach.transpose(1, 2) > 0) | eye)


class GraphNet(nn.Module):
    """``extra`` > 0: that many more inputs per cell join the readout (``forward``'s ``e``);
    ``attention``: path attention after each message-passing layer."""

    def __init__(self, hidden: int = HIDDEN, layers: int = LAYERS, extra: int = 0,
                 attention: bool = False, labels: int = _N_OPS):
        super().__init__()
        # made first, so that the other weights draw what they draw without attention
        self.att = nn.ModuleList(nn.MultiheadAttention(hidden, ATTENTION_HEADS, batch_first=True)
                                 for _ in range(layers if attention else 0))
        self.norm = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers if attention else 0))
        self.inp = nn.Linear(labels, hidden)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
            for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(2 * hidden + extra, hidden), nn.ReLU(),
                                  nn.Linear(hidden, 1))

    def forward(self, a: torch.Tensor, h: torch.Tensor, e: torch.Tensor | None = None
                ) -> torch.Tensor:
        x = torch.relu(self.inp(h))
        if len(self.att):
            blocked = path_mask(a).repeat_interleave(ATTENTION_HEADS, 0)
        for i, f in enumerate(self.layers):
            x = x + f(torch.cat([x, a.transpose(1, 2) @ x, a @ x], -1))
            if len(self.att):
                z = self.norm[i](x)
                x = x + self.att[i](z, z, z, attn_mask=blocked, need_weights=False)[0]
        g = [x[:, -1], x.mean(1)] + ([e] if e is not None else [])
        return self.head(torch.cat(g, -1)).squeeze(-1)


def _pair_signs(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The sign of every target difference and the mask of pairs that differ."""
    sign = torch.sign(y[:, None] - y[None, :])
    return sign, sign != 0


def _pairwise_loss(s: torch.Tensor, sign: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Mean logistic loss over the pairs of different targets (0 when there are none)."""
    if not bool(pairs.any()):
        return s.sum() * 0.0
    return nn.functional.softplus(-sign * (s[:, None] - s[None, :]))[pairs].mean()


def _new_net(seed: int, init: dict | None, layers: int = LAYERS,
             attention: bool = False, labels: int = _N_OPS) -> GraphNet:
    torch.manual_seed(seed)
    net = GraphNet(layers=layers, attention=attention, labels=labels)
    if init is not None:
        net.load_state_dict({k: torch.tensor(v) for k, v in init.items()})
    return net


def fit_graph_ranker(cells: Sequence, accs: Sequence[float], members: int,
                     seed: int = 0, epochs: int = EPOCHS,
                     init: Sequence[dict] | None = None, layers: int = LAYERS,
                     attention: bool = False) -> dict:
    """Train ``members`` networks of ``layers`` message-passing layers (with path attention
    if ``attention``; from the weights ``init``, one per member, when given: fine-tuning);
    returns their weights (plain lists) and settings."""
    if init is not None and len(init) != members:
        raise ValueError(f"init holds the weights of {len(init)} network(s), for {members} members")
    a, h = graph_tensors(cells)
    y = torch.as_tensor(np.asarray(accs, np.float64), dtype=torch.float32)
    sign, pairs = _pair_signs(y)
    states = []
    # one thread: the graphs are tiny, and more threads only contend (10x slower seen on a
    # loaded 2-core machine)
    with torch.random.fork_rng(devices=[]), _threads(1):
        for k in range(members):
            net = _new_net(seed * 1000 + k, None if init is None else init[k], layers,
                           attention, h.shape[-1])
            opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
            for _ in range(epochs):
                loss = _pairwise_loss(net(a, h), sign, pairs)
                opt.zero_grad()
                loss.backward()
                opt.step()
            states.append({k2: v.detach().tolist() for k2, v in net.state_dict().items()})
    model = {"members": states, "hidden": HIDDEN, "layers": layers, "epochs": epochs,
             "attention": bool(attention)}
    if h.shape[-1] != _N_OPS:  # NB101's files keep their layout
        model["labels"] = int(h.shape[-1])
    # the training cells' scores: a query is placed among them (a batch-independent scale)
    model["train_scores"] = np.sort(graph_scores(model, cells)).tolist()
    return model


def pretrain_states(cells: Sequence, teacher: Sequence[float], members: int,
                    seed: int = 0, epochs: int = PRETRAIN_EPOCHS,
                    batch: int = PRETRAIN_BATCH, round_: int = 0,
                    layers: int = LAYERS, attention: bool = False,
                    init: Sequence[dict] | None = None) -> list[dict]:
    """``members`` networks trained to order ``cells`` as the ``teacher`` scores do
    (pairwise loss within shuffled mini-batches); their weights, for ``init``.  Round
    ``round_`` of self-training starts from its own seeds; ``init`` (one state per member):
    from those weights instead (a warm refit's students)."""
    if init is not None and len(init) != members:
        raise ValueError(f"init holds the weights of {len(init)} network(s), for {members} members")
    a, h = graph_tensors(cells)
    t = torch.as_tensor(np.asarray(teacher, np.float64), dtype=torch.float32)
    if len(t) != len(cells):
        raise ValueError(f"{len(t)} teacher scores for {len(cells)} cells")
    states = []
    with torch.random.fork_rng(devices=[]), _threads(1):
        for k in range(members):
            # seeds apart from the fine-tuning ones (seed * 1000 + k)
            s = seed * 1000 + 500 + k + 100_003 * round_
            net = _new_net(s, None if init is None else init[k], layers, attention,
                           h.shape[-1])
            opt = torch.optim.Adam(net.parameters(), lr=LR)
            gen = torch.Generator().manual_seed(s)
            for _ in range(epochs):
                for idx in torch.randperm(len(t), generator=gen).split(batch):
                    loss = _pairwise_loss(net(a[idx], h[idx]), *_pair_signs(t[idx]))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            states.append({k2: v.detach().tolist() for k2, v in net.state_dict().items()})
    return states


def graph_scores(model: dict, cells: Sequence) -> np.ndarray:
    """The members' mean score of each cell."""
    if not len(cells):
        return np.zeros(0, np.float64)
    a, h = graph_tensors(cells)
    out = []
    with torch.no_grad(), _threads(1):
        for state in model["members"]:
            # files written before path attention existed have no "attention" entry
            net = GraphNet(model["hidden"], model["layers"],
                           attention=model.get("attention", False),
                           labels=model.get("labels", _N_OPS))
            net.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
            out.append(net.eval()(a, h).numpy())
    return np.mean(out, axis=0).astype(np.float64)


def graph_quantiles(model: dict, cells: Sequence) -> np.ndarray:
    """Where each cell's score falls among the training cells' scores, in [0, 1]."""
    ref = np.asarray(model["train_scores"], np.float64)
    return np.interp(graph_scores(model, cells), ref, np.linspace(0.0, 1.0, len(ref)))
