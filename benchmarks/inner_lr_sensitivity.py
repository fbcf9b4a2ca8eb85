"""How fast do motifs learn a fresh (random) dish, as a function of the inner learning rate?

Our motifs learn the dish far less than the paper reports (REPORT.md, items 1-2) with the
paper's stated inner-loop settings (Adam, lr 5e-5, weight decay 1e-6, batch 20). This
script measures the mean of the motifs' maximum training accuracy on a random dish (the
state at outer epoch 0; the paper reports little change over the outer loop) for each
setting the paper ran, over a range of inner learning rates, next to the paper's values.
With ``--reference`` it also trains nasbench-pytorch's own ``Network`` (the motif's shape,
the paper's optimizer) at the paper's learning rate, to show whether our motif code is the
cause::

    python -m benchmarks.inner_lr_sensitivity --cells 8 --reference

Everything else is the paper preset (``paper-a``/``-b``/``-c``, seed 0). One motif at a
time on one thread. Writes ``inner_lr_sensitivity.{json,png}`` to ``benchmarks/results``
(``--results``).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks import harness
from naslib_petridish.config import resolve_config
from naslib_petridish.dish import Dish
from naslib_petridish.inner import train_motif
from naslib_petridish.seeds import motif_seed

#: (motif, inner epochs) -> the paper's mean max accuracy (Sections 5.1, 5.3) and over
#: which outer epochs it was taken
PAPER = {key: (harness.PAPER_SECTION5[setting][stat], over)
         for key, setting, stat, over in [
             (("C", 100), "C", "mean_max_acc_first5", "first 5 outer epochs"),
             (("B", 100), "B", "mean_max_acc_last5", "last 5 outer epochs"),
             (("B", 16), "B-short", "mean_max_acc_last5", "last 5 outer epochs"),
             (("A", 16), "A-short", "mean_max_acc_last5", "last 5 outer epochs")]}


def reference_max_acc(cell, images, labels, cfg, seed):
    """nasbench-pytorch's Network in the motif's shape, trained as the paper states."""
    from nasbench_pytorch.model import Network

    shape = cfg.shape
    torch.manual_seed(seed)
    net = Network((cell.matrix, cell.ops), stem_out_channels=shape.stem_channels,
                  num_stacks=shape.num_stacks, num_modules_per_stack=shape.cells_per_stack)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.inner_lr, weight_decay=cfg.inner_weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n, bs, best = len(labels), cfg.inner_batch_size, 0.0
    for _ in range(cfg.inner_epochs):
        correct = 0
        for idx in torch.randperm(n, generator=gen).split(bs):
            out = net(images[idx])
            loss = F.cross_entropy(out, labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            correct += int((out.argmax(1) == labels[idx]).sum())
        best = max(best, correct / n)
    return best


def main():
    ap = harness.argument_parser(__doc__)
    ap.add_argument("--cells", type=int, default=8, help="uniformly drawn cells per setting")
    ap.add_argument("--lrs", type=float, nargs="+", default=[5e-5, 1e-4, 2e-4, 5e-4])
    ap.add_argument("--settings", nargs="+", default=["C100", "B16", "A16", "B100"],
                    help="MOTIF+INNER_EPOCHS, e.g. C100")
    ap.add_argument("--reference", action="store_true",
                    help="also train nasbench-pytorch's Network at the paper's lr (C100)")
    ap.add_argument("--seed", type=int, default=0)
    harness.add_nb101_argument(ap)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cells = harness.random_cells(harness.ground_truth(args.nb101), args.cells, args.seed)
    out = {"cells": [c.hash for c in cells], "seed": args.seed, "rows": []}
    for setting in args.settings:
        motif, epochs = setting[0].upper(), int(setting[1:])
        for lr in args.lrs:
            cfg = resolve_config(f"paper-{motif.lower()}", seed=args.seed).replace(
                inner_epochs=epochs, inner_lr=lr)
            dish = Dish.create(cfg)
            t0 = time.perf_counter()
            res = [train_motif(c, dish.images, dish.labels, cfg, motif_seed(args.seed, 0, k))
                   for k, c in enumerate(cells)]
            m = np.array([r.max_acc for r in res])
            paper = PAPER.get((motif, epochs))
            row = {"motif": motif, "inner_epochs": epochs, "inner_lr": lr, "net": "ours",
                   "max_acc": m.tolist(), "mean": float(m.mean()), "std": float(m.std()),
                   "seconds": time.perf_counter() - t0,
                   "paper": paper[0] if paper else None,
                   "paper_over": paper[1] if paper else None}
            out["rows"].append(row)
            print(f"{motif}{epochs} lr {lr:g}: mean max acc {m.mean():.3f} +- {m.std():.3f}"
                  + (f"  (paper {paper[0]:.3f}, {paper[1]})" if paper else ""), flush=True)
    if args.reference:
        cfg = resolve_config("paper-c", seed=args.seed)
        dish = Dish.create(cfg)
        m = np.array([reference_max_acc(c, dish.images, dish.labels, cfg,
                                        motif_seed(args.seed, 0, k))
                      for k, c in enumerate(cells)])
        out["rows"].append({"motif": "C", "inner_epochs": cfg.inner_epochs,
                            "inner_lr": cfg.inner_lr, "net": "nasbench-pytorch",
                            "max_acc": m.tolist(), "mean": float(m.mean()),
                            "std": float(m.std()), "paper": PAPER[("C", 100)][0]})
        print(f"nasbench-pytorch Network, C100 lr {cfg.inner_lr:g}: mean max acc "
              f"{m.mean():.3f} +- {m.std():.3f}", flush=True)
    print("wrote", harness.save_json(args.results / "inner_lr_sensitivity.json", out),
          figure(out, args.results / "inner_lr_sensitivity.png"))


def figure(out, path: Path) -> Path:
    plt = harness.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ours = [r for r in out["rows"] if r["net"] == "ours"]
    for i, key in enumerate(dict.fromkeys((r["motif"], r["inner_epochs"]) for r in ours)):
        rows = [r for r in ours if (r["motif"], r["inner_epochs"]) == key]
        lrs = [r["inner_lr"] for r in rows]
        ax.errorbar(lrs, [r["mean"] for r in rows], yerr=[r["std"] for r in rows], marker="o",
                    capsize=2, color=f"C{i}", label=f"{key[0]}, {key[1]} inner epochs")
        if rows[0]["paper"] is not None:
            ax.axhline(rows[0]["paper"], color=f"C{i}", ls="--", lw=0.8)
    for r in out["rows"]:
        if r["net"] != "ours":
            ax.plot([r["inner_lr"]], [r["mean"]], "kx", ms=8,
                    label=f"nasbench-pytorch Network, {r['motif']}, {r['inner_epochs']} epochs")
    ax.axvline(5e-5, color="grey", lw=0.6)
    ax.set(xscale="log", xlabel="inner Adam learning rate (paper: 5e-5, grey line)",
           ylabel="mean max training accuracy", ylim=(0, 1.02),
           title="motifs on a random dish (dashed: the paper's value)")
    ax.legend(fontsize=7)
    return harness.save_figure(fig, path, dpi=80)


if __name__ == "__main__":
    main()
