"""Where a motif's training time goes: the profile behind the throughput figures.

For motifs A, B and C, the same random NB101 cells are trained for a few epochs
with the paper's inner loop (one thread, channels_last, as ``train_motif``):

* wall-clock split of each optimizer step into forward, backward and the Adam
  step (``time.perf_counter``, no profiler attached);
* the PyTorch profiler's self-CPU time by kind of operator (convolutions, batch
  norm, ReLU, max-pool, the optimizer, the rest).

Writes ``motif_profile.{json,png}`` to ``benchmarks/results`` (``--results``); with
``--compile adam|blocks`` (config ``inner_compile``) the compiled path is profiled and
written as ``motif_profile_compiled_<mode>.{json,png}``.  Run it on a quiet machine.

    python -m benchmarks.profile_motif [--nb101 PATH] [--cells 8] [--epochs 2] [--compile blocks]
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.profiler import profile, record_function

from benchmarks import harness
from naslib_petridish.config import PetriDishConfig
from naslib_petridish.dish import Dish
from naslib_petridish.inner import motif_optimizer
from naslib_petridish.motifs import build_network
from naslib_petridish.optim import FlatAdam

#: operator name -> kind (self time of these never runs inside the optimizer)
KINDS = {
    "conv": ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::convolution",
             "aten::_convolution", "ConvolutionBackward0"),
    "batch norm": ("aten::native_batch_norm", "aten::native_batch_norm_backward",
                   "aten::batch_norm", "aten::_batch_norm_impl_index",
                   "NativeBatchNormBackward0", "aten::_native_batch_norm_legit",
                   "aten::_native_batch_norm_legit_functional"),
    "relu": ("aten::relu", "aten::clamp_min", "aten::threshold_backward", "ReluBackward0"),
    "max-pool": ("aten::max_pool2d", "aten::max_pool2d_with_indices",
                 "aten::max_pool2d_with_indices_backward", "MaxPool2DWithIndicesBackward0"),
}
#: inner_compile: blocks: the fused block's autograd Function, forward and backward; their
#: inclusive time holds the compiled graphs they call (as the optimizer's holds its own)
FUSED = ("_BnReluFn", "_BnReluFnBackward")
OPTIMIZER = ("Optimizer.step#Adam.step", "Optimizer.zero_grad#Adam.zero_grad",
             "FlatAdam.step", "FlatAdam.zero_grad")


def train(cell, cfg, images, labels, epochs, seed, phases=None):
    """The fast path of ``train_motif`` with optional per-phase timing."""
    torch.manual_seed(seed)
    net = build_network(cell, cfg.shape).to(memory_format=torch.channels_last)
    opt = motif_optimizer(net, cfg, torch.device("cpu"))
    if isinstance(opt, FlatAdam):  # torch.optim.Adam names its own profiler ranges

        def zero_grad(set_to_none=True, _f=opt.zero_grad):
            with record_function("FlatAdam.zero_grad"):
                _f()

        def step(_f=opt.step):
            with record_function("FlatAdam.step"):
                _f()
    else:
        zero_grad, step = opt.zero_grad, opt.step
    x = images.contiguous(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    clock = time.perf_counter
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), cfg.inner_batch_size):
            idx = perm[i:i + cfg.inner_batch_size]
            t0 = clock()
            loss = F.cross_entropy(net(x[idx]), labels[idx])
            t1 = clock()
            zero_grad(set_to_none=True)
            loss.backward()
            t2 = clock()
            step()
            t3 = clock()
            if phases is not None:
                phases["forward"] += t1 - t0
                phases["backward"] += t2 - t1
                phases["optimizer"] += t3 - t2


def main():
    ap = harness.argument_parser(__doc__)
    harness.add_nb101_argument(ap)
    ap.add_argument("--cells", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--motifs", default="C,B,A")
    ap.add_argument("--optimizer", default="flat", choices=("flat", "torch"),
                    help="the inner loop's Adam (config field inner_optimizer)")
    ap.add_argument("--compile", default="none", choices=("none", "adam", "blocks"),
                    help="compiled blocks (config field inner_compile)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cells = harness.random_cells(harness.ground_truth(args.nb101), args.cells, 2024)
    machine = harness.machine_description()
    out = {"torch": torch.__version__, "threads": 1, "inner_optimizer": args.optimizer,
           "inner_compile": args.compile,
           "cells": args.cells, "epochs_per_cell": args.epochs, "motifs": {}}
    for name in args.motifs.split(","):
        cfg = PetriDishConfig(motif=name, inner_optimizer=args.optimizer,
                              inner_compile=args.compile)
        dish = Dish.create(cfg)
        for i, c in enumerate(cells):  # warm-up (and every shape compiled, when compiling)
            train(c, cfg, dish.images, dish.labels, 1, i)
        phases = dict(forward=0.0, backward=0.0, optimizer=0.0)
        t0 = time.perf_counter()
        for i, c in enumerate(cells):
            train(c, cfg, dish.images, dish.labels, args.epochs, i, phases)
        wall = time.perf_counter() - t0
        n_epochs = len(cells) * args.epochs
        with profile() as prof:
            for i, c in enumerate(cells):
                train(c, cfg, dish.images, dish.labels, args.epochs, i)
        ev = {e.key: e for e in prof.key_averages()}
        total = sum(e.self_cpu_time_total for e in ev.values())
        kinds = {k: sum(ev[n].self_cpu_time_total for n in names if n in ev)
                 for k, names in KINDS.items()}
        kinds["optimizer (Adam, zero_grad)"] = sum(ev[n].cpu_time_total for n in OPTIMIZER
                                                   if n in ev)
        if cfg.inner_compile == "blocks":
            kinds["compiled BN+ReLU (fused)"] = sum(ev[n].cpu_time_total for n in FUSED
                                                    if n in ev)
        kinds["other (linear, cat, add, loss, ...)"] = total - sum(kinds.values())
        r = {
            "ms_per_epoch": 1000 * wall / n_epochs,
            "wall_ms_per_epoch_by_phase": {k: 1000 * v / n_epochs for k, v in phases.items()},
            "profiler_share_by_kind": {k: v / total for k, v in kinds.items()},
            "top_ops_self_ms_per_epoch": {
                e.key: e.self_cpu_time_total / 1000 / n_epochs
                for e in sorted(ev.values(), key=lambda e: -e.self_cpu_time_total)[:10]},
        }
        out["motifs"][name] = r
        print(name, json.dumps({"ms_per_epoch": round(r["ms_per_epoch"], 1),
                                "shares": {k: round(v, 3)
                                           for k, v in r["profiler_share_by_kind"].items()}}),
              flush=True)
    stem = "motif_profile" + ("" if args.compile == "none" else f"_compiled_{args.compile}")
    print("wrote", harness.save_json(args.results / f"{stem}.json", out),
          plot(out, machine, args.results / f"{stem}.png"))


def plot(out, machine: str, path: Path) -> Path:
    plt = harness.pyplot()
    names = list(out["motifs"])
    kinds = list(out["motifs"][names[0]]["profiler_share_by_kind"])
    fig, ax = plt.subplots(figsize=(7, 3.4))
    left = np.zeros(len(names))
    for k in kinds:
        v = np.array([100 * out["motifs"][n]["profiler_share_by_kind"][k] for n in names])
        ax.barh(names, v, left=left, label=k)
        left += v
    ax.set_yticks(range(len(names)),
                  [f"motif {n}\n{out['motifs'][n]['ms_per_epoch']:.0f} ms/epoch" for n in names])
    ax.set_xlabel("share of profiled CPU time (%), one thread")
    ax.set_xlim(0, 100)
    ax.set_title(f"Where motif training time goes\n{machine[:60]}", fontsize=9)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return harness.save_figure(fig, path, dpi=90)


if __name__ == "__main__":
    main()
