"""Motif training throughput: ours beside the ``nasbench-pytorch`` reference.

Same 20+ random NB101 cells, motifs A, B and C, the paper's inner loop (200 dish
images, batch 20, Adam lr 5e-5, weight decay 1e-6, cross-entropy):

* reference: ``nasbench_pytorch.model.Network`` of the same shape, trained the
  straightforward way (NCHW, one thread);
* ours, one core: ``naslib_petridish.inner.train_motif`` (one thread), with the default
  ``FlatAdam`` and with ``inner_optimizer: torch`` (``torch.optim.Adam``, tensor by
  tensor), to show what the flat update buys;
* ours compiled, one core: ``inner_compile: adam`` (the flat Adam step compiled) and
  ``inner_compile: blocks`` (that and batch norm + ReLU), TorchInductor graphs compiled
  once per process and shared by all cells (:mod:`naslib_petridish.compiled`). Reported
  twice: *with* compilation (the first pass over the cells in a process whose compile
  caches are empty, Inductor's on-disk cache switched off) and *without* (a second pass);
* ours, whole machine: ``MotifRunner`` with one single-threaded worker per core (eager).

The reference and our one-core runs alternate cell by cell, so machine noise hits
all alike.  ``benchmarks/compile_probe.py`` measures the compiled blocks one by one.
Writes ``motif_throughput.{json,png}`` to ``benchmarks/results`` (``--results``).

    pip install nasbench-pytorch==1.3.1   # the reference (pip install -e '.[bench]')
    python -m benchmarks.motif_throughput [--nb101 PATH] [--cells 20] [--epochs 3]
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks import harness
from naslib_petridish.config import PetriDishConfig
from naslib_petridish.dish import Dish
from naslib_petridish.inner import train_motif
from naslib_petridish.motifs import MOTIFS
from naslib_petridish.runner import MotifRunner, default_workers


def reference_epoch_seconds(cell, shape, images, labels, epochs, seed):
    from nasbench_pytorch.model import Network

    torch.manual_seed(seed)
    net = Network((np.array(cell.matrix), list(cell.ops)), num_labels=10, in_channels=3,
                  stem_out_channels=shape.stem_channels, num_stacks=shape.num_stacks,
                  num_modules_per_stack=shape.cells_per_stack)
    opt = torch.optim.Adam(net.parameters(), lr=5e-5, weight_decay=1e-6)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(images), generator=gen)
        for i in range(0, len(images), 20):
            idx = perm[i:i + 20]
            loss = F.cross_entropy(net(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return (time.perf_counter() - t0) / epochs


#: the compiled paths measured (``inner_compile`` values)
COMPILED = ("adam", "blocks")


def main():
    ap = harness.argument_parser(__doc__)
    harness.add_nb101_argument(ap)
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--motifs", default="C,B,A")
    args = ap.parse_args()
    torch.set_num_threads(1)
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = False  # a cold compile, as on a fresh machine
    cells = harness.random_cells(harness.ground_truth(args.nb101), args.cells, 2024)
    workers = default_workers()
    machine = harness.machine_description()
    out = {"machine": machine, "torch": torch.__version__,
           "cells": args.cells, "epochs_per_cell": args.epochs, "workers": workers, "motifs": {}}
    for name in args.motifs.split(","):
        cfg = PetriDishConfig(motif=name, inner_epochs=args.epochs, workers=workers)
        dish = Dish.create(cfg)
        ref, ours, ours_torch = [], [], []
        compiled = {k: {"first": [], "again": [], "max_loss_diff": 0.0} for k in COMPILED}
        cfg_torch = cfg.replace(inner_optimizer="torch")
        # warm-up (allocator, oneDNN primitive caches) for both paths
        reference_epoch_seconds(cells[0], MOTIFS[name], dish.images, dish.labels, 1, 0)
        train_motif(cells[0], dish.images, dish.labels, cfg.replace(inner_epochs=1), 0)
        for mode in COMPILED:  # first pass: compilation included (each shape once)
            ccfg = cfg.replace(inner_compile=mode)
            for i, c in enumerate(cells):
                compiled[mode]["first"].append(
                    train_motif(c, dish.images, dish.labels, ccfg, i).epoch_seconds)
        for i, c in enumerate(cells):
            ref.append(reference_epoch_seconds(c, MOTIFS[name], dish.images, dish.labels,
                                               args.epochs, i))
            r_eager = train_motif(c, dish.images, dish.labels, cfg, i)
            ours.append(r_eager.epoch_seconds)
            ours_torch.append(train_motif(c, dish.images, dish.labels, cfg_torch,
                                          i).epoch_seconds)
            for mode in COMPILED:
                r = train_motif(c, dish.images, dish.labels, cfg.replace(inner_compile=mode), i)
                compiled[mode]["again"].append(r.epoch_seconds)
                compiled[mode]["max_loss_diff"] = max(
                    compiled[mode]["max_loss_diff"],
                    max(abs(a - b) for a, b in zip(r.losses, r_eager.losses)))
        with MotifRunner(workers) as run:
            # start the workers (and warm them up) outside the timed run
            run.run(cells[:2], dish.images, dish.labels, cfg.replace(inner_epochs=1), [0, 1])
            t0 = time.perf_counter()
            run.run(cells, dish.images, dish.labels, cfg, list(range(len(cells))))
        machine_s = time.perf_counter() - t0
        n_me = len(cells) * args.epochs
        r = {
            "reference_1core_ms_per_epoch": 1000 * float(np.mean(ref)),
            "ours_1core_ms_per_epoch": 1000 * float(np.mean(ours)),
            "ours_torch_adam_1core_ms_per_epoch": 1000 * float(np.mean(ours_torch)),
            "reference_1core_motif_epochs_per_s": 1 / float(np.mean(ref)),
            "ours_1core_motif_epochs_per_s": 1 / float(np.mean(ours)),
            "ours_torch_adam_1core_motif_epochs_per_s": 1 / float(np.mean(ours_torch)),
            "ours_machine_motif_epochs_per_s": n_me / machine_s,
        }
        r["speedup_1core"] = (r["ours_1core_motif_epochs_per_s"]
                              / r["reference_1core_motif_epochs_per_s"])
        r["speedup_1core_torch_adam"] = (r["ours_torch_adam_1core_motif_epochs_per_s"]
                                         / r["reference_1core_motif_epochs_per_s"])
        r["speedup_machine_vs_ref_1core"] = (r["ours_machine_motif_epochs_per_s"]
                                             / r["reference_1core_motif_epochs_per_s"])
        for mode, d in compiled.items():
            first, again = float(np.mean(d["first"])), float(np.mean(d["again"]))
            r[f"ours_compiled_{mode}_1core_ms_per_epoch"] = 1000 * again
            r[f"ours_compiled_{mode}_1core_motif_epochs_per_s"] = 1 / again
            r[f"ours_compiled_{mode}_with_compile_1core_motif_epochs_per_s"] = 1 / first
            r[f"speedup_1core_compiled_{mode}"] = (1 / again) / r[
                "reference_1core_motif_epochs_per_s"]
            r[f"speedup_1core_compiled_{mode}_with_compile"] = (1 / first) / r[
                "reference_1core_motif_epochs_per_s"]
            # what compiling cost: the first pass's extra training seconds over the second's
            r[f"compile_seconds_{mode}"] = float(
                np.sum(d["first"]) - np.sum(d["again"])) * args.epochs
            r[f"max_epoch_loss_diff_vs_eager_{mode}"] = d["max_loss_diff"]
        out["motifs"][name] = r
        print(name, json.dumps({k: round(v, 3) for k, v in r.items()}), flush=True)
    print("wrote", harness.save_json(args.results / "motif_throughput.json", out),
          plot(out, machine, args.results / "motif_throughput.png"))


def plot(out, machine: str, path: Path) -> Path:
    plt = harness.pyplot()
    names = list(out["motifs"])
    keys = [("reference_1core_motif_epochs_per_s", "nasbench-pytorch, 1 core"),
            ("ours_torch_adam_1core_motif_epochs_per_s", "ours with torch.optim.Adam, 1 core"),
            ("ours_1core_motif_epochs_per_s", "ours (FlatAdam, eager), 1 core"),
            ("ours_compiled_adam_1core_motif_epochs_per_s", "ours, Adam compiled, 1 core"),
            ("ours_compiled_blocks_1core_motif_epochs_per_s",
             "ours, Adam + BN-ReLU compiled, 1 core"),
            ("ours_compiled_blocks_with_compile_1core_motif_epochs_per_s",
             "  same, compile time included"),
            ("ours_machine_motif_epochs_per_s", f"ours (eager), {out['workers']} cores")]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    w = 0.8 / len(keys)
    for j, (k, label) in enumerate(keys):
        vals = [out["motifs"][n].get(k, np.nan) for n in names]
        ax.bar(np.arange(len(names)) + (j - (len(keys) - 1) / 2) * w, vals, w, label=label)
    ax.set_xticks(np.arange(len(names)), [f"motif {n}" for n in names])
    ax.set_ylabel("motif-epochs per second")
    ax.set_title(f"Motif training throughput ({out['cells']} cells)\n{machine[:60]}",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return harness.save_figure(fig, path, dpi=90)


if __name__ == "__main__":
    main()
