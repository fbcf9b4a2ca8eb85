"""Figures of a fit, like the paper's Figures 2-7.

* ``outer_accuracy.png`` (Figs. 2 and 5): mean of the motifs' maximum accuracy per outer
  epoch with a +-1 std band;
* ``outer_kendall.png`` (Figs. 4 and 7): Kendall tau of the outer batch;
* ``outer_loss.png``: the outer loss;
* ``inner_curves.png`` (Figs. 3 and 6): inner-loop training accuracy (mean +-1 std of
  the batch's motifs) at the first, middle and last outer epoch.

Outer curves are drawn raw (thin) and through the paper's moving average of size 3.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .errors import RunDirError, require
from .rundir import LOG


def read_log(run_dir: str | os.PathLike) -> list[dict]:
    """The outer-epoch records of a run directory's ``log.jsonl``."""
    path = Path(run_dir) / LOG
    if not path.exists():
        raise RunDirError(f"{path} not found: is {run_dir} a fit directory?")
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not recs:
        raise RunDirError(f"{path} has no outer epochs yet")
    return recs


def moving_average(x: np.ndarray, k: int = 3) -> np.ndarray:
    if len(x) < k:
        return x
    return np.convolve(x, np.ones(k) / k, mode="valid")


def plot_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
             title: str | None = None) -> list[Path]:
    """Draw the figures of run directory ``run_dir`` into ``out_dir`` (default: the run
    directory itself); returns their paths."""
    plt = _pyplot()
    recs = read_log(run_dir)
    out = Path(out_dir or run_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = title or Path(run_dir).name
    ep = np.array([r["epoch"] for r in recs])
    files = []

    def smooth(ax, y, label, color):
        ax.plot(ep, y, color=color, alpha=0.3, lw=0.8)
        if len(y) >= 3:
            ax.plot(ep[1:-1], moving_average(y), color=color, lw=1.8, label=label)
        else:
            ax.plot(ep, y, color=color, lw=1.8, label=label)

    m = np.array([r["mean_max_acc"] for r in recs])
    s = np.array([r["std_max_acc"] for r in recs])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if len(m) >= 3:
        ax.fill_between(ep[1:-1], moving_average(m - s), moving_average(m + s), alpha=0.2,
                        color="C0", label="mean +- 1 std")
    else:
        ax.fill_between(ep, m - s, m + s, alpha=0.2, color="C0")
    smooth(ax, m, "mean max accuracy (MA 3)", "C0")
    ax.set(xlabel="outer epoch", ylabel="max accuracy on the dish", ylim=(0, 1.02),
           title=f"{title}: motif accuracy")
    ax.legend(loc="lower right", fontsize=8)
    files.append(_save(fig, out / "outer_accuracy.png"))

    tau = np.array([r["kendall_tau"] for r in recs])
    undefined = np.array([not r["kendall_defined"] for r in recs])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    smooth(ax, tau, "Kendall tau (MA 3; undefined = 0)", "C1")
    if undefined.any():
        ax.scatter(ep[undefined], tau[undefined], marker="x", color="k", s=12,
                   label=f"undefined ({undefined.mean():.0%})")
    ax.axhline(0, color="gray", lw=0.6)
    ax.set(xlabel="outer epoch", ylabel="Kendall tau (outer batch)", ylim=(-1.05, 1.05),
           title=f"{title}: mean tau {tau.mean():+.3f}")
    ax.legend(loc="lower right", fontsize=8)
    files.append(_save(fig, out / "outer_kendall.png"))

    loss = np.array([r["loss"] for r in recs])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    smooth(ax, loss, "outer loss (MA 3)", "C2")
    ax.set(xlabel="outer epoch", ylabel="loss", title=f"{title}: outer loss")
    ax.legend(loc="upper right", fontsize=8)
    files.append(_save(fig, out / "outer_loss.png"))

    picks = sorted({0, len(recs) // 2, len(recs) - 1})
    fig, axes = plt.subplots(1, len(picks), figsize=(4 * len(picks), 3.4), sharey=True,
                             squeeze=False)
    for ax, i in zip(axes[0], picks):
        acc = np.array(recs[i]["inner_acc"])  # [motifs, inner epochs]
        x = np.arange(1, acc.shape[1] + 1)
        mu, sd = acc.mean(0), acc.std(0)
        ax.plot(x, mu, color="C0")
        ax.fill_between(x, mu - sd, mu + sd, alpha=0.25, color="C0")
        ax.set(title=f"outer epoch {recs[i]['epoch']}", xlabel="inner epoch", ylim=(0, 1.02))
    axes[0][0].set_ylabel("training accuracy on the dish")
    fig.suptitle(f"{title}: inner loop (mean +- 1 std of {acc.shape[0]} motifs)")
    files.append(_save(fig, out / "inner_curves.png"))
    return files


def _pyplot():
    # matplotlib is the optional extra 'plot': reading a log does not need it
    matplotlib = require("matplotlib", "plot", "drawing figures")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _pyplot().close(fig)
    return path
