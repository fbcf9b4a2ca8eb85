"""Outer loop: generate the dish (Sections 3.5 and 4 of the paper).

Per outer epoch: take ``outer_batch`` (6) architectures of the training pool
(fresh ones each epoch while the pool lasts, then a new pass over it), train
their motifs on the dish (inner loop, in parallel), score each motif by
``z^`` with gradients flowing to the dish pixels, compute
``1 - |Pearson(z, z^)|`` against the ground-truth accuracies ``z`` and take an
Adam step (lr 1e-2, no weight decay) on the dish.

The gradient is assembled by the chain rule: every worker returns ``z^_i``
and ``d z^_i / d dish``; the loss is differentiated with respect to the
``z^`` vector and ``d L / d dish = sum_i dL/dz^_i * dz^_i/d dish``.  What
``d z^_i / d dish`` is depends on ``meta_steps`` (see :mod:`.inner`): by
default (the paper's reading) it is the derivative of the final scoring pass
with the trained weights and batch-norm statistics held fixed, not the
derivative through training.

Everything random derives from the config's seed and the outer epoch, and the
run directory holds a checkpoint after every outer epoch, so an interrupted
fit resumed from its directory ends with the same dish as an uninterrupted
one.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import __version__, rundir, seeds
from .cells import Cell
from .config import PetriDishConfig
from .correlation import fmt, kendall
from .dish import Dish
from .errors import ConfigError, RunDirError, UsageError
from .inner import MotifResult
from .rundir import CHECKPOINT, CONFIG, LOG, TRAIN_SET
from .runner import MotifRunner

#: config fields that may change between an interrupted fit and its resumption
RESUMABLE_CHANGES = ("workers", "backend", "ray_address")


# -- losses and statistics ---------------------------------------------------------
def pearson(z: torch.Tensor, zhat: torch.Tensor) -> torch.Tensor:
    """Differentiable Pearson correlation (0 when either side is constant).

    No epsilon in the denominator: the scores of motifs trained on an early dish
    differ by about 1e-4, so ``sum(a^2) * sum(b^2)`` is about 1e-11, and an epsilon of
    1e-12 there shrank |r| and its gradient by several percent."""
    a = z - z.mean()
    b = zhat - zhat.mean()
    na, nb = torch.linalg.vector_norm(a), torch.linalg.vector_norm(b)
    if float(na.detach()) == 0.0 or float(nb.detach()) == 0.0:
        return (a * b).sum() * 0.0
    return (a * b).sum() / (na * nb)


def _standardize(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return (v - v.mean()) / torch.sqrt(((v - v.mean()) ** 2).mean() + eps)


def outer_loss(cfg: PetriDishConfig, z: torch.Tensor,
               zhat: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The configured outer loss of ground truth ``z`` and scores ``zhat``, and the
    Pearson r of the batch.

    - ``pearson_abs``: the paper's ``1 - |r|`` (Eq. 8); either sign of the relation
      is rewarded, so the calibration fixes the direction afterwards.
    - ``pearson``: ``1 - r``; only a positive relation is rewarded.
    - ``mse``: ``mean((zhat - z)^2)``, the paper's Section 7 suggestion: the score
      itself should be the accuracy.
    - ``pairwise``: pairwise logistic ranking loss (RankNet) on standardized scores,
      ``mean over pairs with z_i > z_j of log(1 + exp(-(s_i - s_j) / T))``; only
      the order matters.
    """
    r = pearson(z, zhat)
    if cfg.loss == "pearson_abs":  # Eq. (8)
        loss = 1.0 - r.abs()
    elif cfg.loss == "pearson":
        loss = 1.0 - r
    elif cfg.loss == "mse":
        loss = ((zhat - z) ** 2).mean()
    elif cfg.loss == "pairwise":
        s = _standardize(zhat)
        i, j = torch.triu_indices(len(z), len(z), offset=1)
        sign = torch.sign(z[i] - z[j])
        keep = sign != 0
        if not bool(keep.any()):
            loss = (zhat * 0).sum()
        else:
            margin = sign[keep] * (s[i] - s[j])[keep] / cfg.pairwise_temperature
            loss = torch.nn.functional.softplus(-margin).mean()
    else:  # pragma: no cover - validated in config
        raise ConfigError(f"unknown loss '{cfg.loss}'")
    return loss, float(r.detach())


# -- schedule ----------------------------------------------------------------------
def outer_schedule(n: int, cfg: PetriDishConfig) -> np.ndarray:
    """Indices of the architectures of every outer epoch, ``[outer_epochs, outer_batch]``.

    Walks through seeded permutations of the pool: each epoch gets fresh
    architectures while the pool lasts, then a new pass starts (reuse).
    No architecture appears twice within one outer epoch.
    """
    if n < cfg.outer_batch:
        raise ConfigError(
            f"the training pool has {n} architectures but each outer epoch needs "
            f"outer_batch={cfg.outer_batch}; give more architectures or lower outer_batch")
    return np.asarray(seeded_passes(np.arange(n), cfg.outer_epochs, cfg.outer_batch,
                                    seeds.rng(cfg.seed, seeds.SCHEDULE)), dtype=np.int64)


def seeded_passes(items: np.ndarray, steps: int, batch: int,
                  rng: np.random.Generator) -> list[list[int]]:
    """``steps`` batches of ``batch`` distinct ``items``: seeded permutations of them, one
    after another (fresh items while a pass lasts, then the next pass)."""
    out, stream = [], []
    for _ in range(steps):
        if len(stream) < batch:
            stream = stream + list(rng.permutation(items))
        taken, rest = [], []
        for i in stream:  # take the first ``batch`` distinct items
            (taken if len(taken) < batch and i not in taken else rest).append(i)
        out.append(taken)
        stream = rest
    return out


# -- the loop ------------------------------------------------------------------------
def _epoch_record(epoch: int, loss: float, r: float, z: np.ndarray,
                  res: list[MotifResult], wall: float) -> dict:
    max_accs = np.array([m.max_acc for m in res])
    tau, defined = kendall(max_accs, z)
    return {
        "epoch": epoch, "loss": loss, "pearson_r": r,
        "kendall_tau": tau, "kendall_defined": defined,
        "mean_max_acc": float(max_accs.mean()), "std_max_acc": float(max_accs.std()),
        "all_perfect": bool(np.all(max_accs >= 1.0)),
        "inner_epoch_seconds": [m.epoch_seconds for m in res],
        "hashes": [m.hash for m in res],
        "ground_truth": [float(v) for v in z],
        "scores": [m.score for m in res], "max_acc": max_accs.tolist(),
        "inner_loss": [m.losses for m in res], "inner_acc": [m.accs for m in res],
        "wall_seconds": wall,
    }


def _load_checkpoint(out: Path, cfg: PetriDishConfig, cells: Sequence[Cell]) -> dict:
    """The checkpoint of an interrupted fit in ``out``, after checking that it was
    written by the same run (config and training architectures)."""
    try:
        state = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=True)
        saved = PetriDishConfig.from_dict(dict(state["config"])).to_dict()
    except Exception as exc:
        raise RunDirError(f"{out / CHECKPOINT} cannot be read ({type(exc).__name__}); it is not "
                          "a checkpoint of this package, or it is damaged: start the run "
                          "again with --force") from exc
    now = cfg.to_dict()
    diff = config_difference(saved, now)
    if diff:
        raise RunDirError(
            f"cannot resume {out}: its config differs in {diff}; resume with the same "
            "settings (they are in config.yaml) or use a new --out")
    if state["train_hashes"] != [c.hash for c in cells]:
        raise RunDirError(f"cannot resume {out}: the training architectures differ")
    return state


def config_difference(a: dict, b: dict) -> list[str]:
    """Config fields in which two runs differ, leaving out those that may change between
    an interruption and its resumption without changing the result."""
    a = PetriDishConfig.from_dict(dict(a)).to_dict()  # fields added later take defaults
    b = PetriDishConfig.from_dict(dict(b)).to_dict()
    return sorted(k for k in set(a) | set(b)
                  if k not in RESUMABLE_CHANGES and a.get(k) != b.get(k))


def fit_dish(cfg: PetriDishConfig, cells: Sequence[Cell], accuracies: Sequence[float],
             out_dir: str | os.PathLike | None = None, resume: bool = False, force: bool = False,
             progress: bool = True, runner: MotifRunner | None = None,
             stop_after: int | None = None,
             on_epoch: Callable[[dict], None] | None = None) -> Dish:
    """Generate a dish from ``cells`` with ground truth ``accuracies``.

    With ``out_dir``: writes ``config.yaml``, ``train_set.json``, ``log.jsonl``
    (one line per outer epoch), ``checkpoint.pt`` (every outer epoch) and, at
    the end, ``dish.pt``.  With ``outer_lr`` 0 no outer epoch is run (none could change
    the dish): the dish is the seeded initial one and the history is empty.
    ``stop_after`` ends the run after that many outer epochs of this call (as an
    interruption would; used by tests).
    Calibration is not done here (see ``predictor``).
    """
    z_all = np.asarray(accuracies, dtype=np.float64).reshape(-1)
    if len(cells) != len(z_all):
        raise UsageError(f"{len(cells)} architectures but {len(z_all)} accuracies")
    if not np.all(np.isfinite(z_all)):
        raise UsageError("the ground-truth accuracies contain NaN or inf")
    schedule = outer_schedule(len(cells), cfg)
    with contextlib.ExitStack() as stack:
        out = None if out_dir is None else stack.enter_context(rundir.hold(out_dir))
        return _fit(cfg, cells, z_all, schedule, out, resume, force, progress, runner,
                    stop_after, on_epoch)


def _fit(cfg, cells, z_all, schedule, out, resume, force, progress, runner, stop_after,
         on_epoch) -> Dish:
    from tqdm.auto import tqdm

    dish = Dish.create(cfg)
    images = torch.nn.Parameter(dish.images.clone())
    opt = torch.optim.Adam([images], lr=cfg.outer_lr, weight_decay=cfg.outer_weight_decay)
    start = 0
    history: list[dict] = []
    if out is not None:
        if rundir.prepare(out, resume, force):
            state = _load_checkpoint(out, cfg, cells)
            with torch.no_grad():
                images.copy_(state["images"])
            opt.load_state_dict(state["optimizer"])
            history = list(state["history"])
            start = int(state["epoch"]) + 1
            # the epochs done before this call, so that a resumed fit reports its whole time
            dish.meta["resumed_at_epoch"] = start
            dish.meta["seconds_before_resume"] = float(sum(r["wall_seconds"] for r in history))
        else:
            rundir.write_atomic(out / CONFIG, cfg.to_yaml())
            rundir.write_atomic(out / TRAIN_SET, json.dumps(
                {"hashes": [c.hash for c in cells], "accuracies": z_all.tolist(),
                 "metric": cfg.metric, "metric_epochs": cfg.metric_epochs}))
        # the log is rewritten from the checkpoint: a line cut short by a kill, or one
        # written after the last checkpoint, is dropped
        rundir.write_atomic(out / LOG, "".join(json.dumps(r) + "\n" for r in history))

    if not cfg.outer_lr > 0:
        # no outer step can move the dish (Adam's step is lr times its update): the dish is
        # the seeded initial one, and the outer epochs would train 6 motifs each for nothing
        dish.meta["outer_loop"] = "skipped: outer_lr is 0, the dish is the seeded initial one"
        dish.images = images.detach().clone()
        dish.history = history
        return dish
    own_runner = runner is None
    runner = runner or MotifRunner(cfg.workers, cfg.backend, cfg.ray_address, cfg.device)
    end = cfg.outer_epochs if stop_after is None else min(cfg.outer_epochs, start + stop_after)
    bar = tqdm(total=cfg.outer_epochs, initial=start, desc="outer epochs", disable=not progress)
    try:
        if own_runner:
            runner.__enter__()
        for epoch in range(start, end):
            t0 = time.perf_counter()
            idx = schedule[epoch]
            res = runner.run([cells[i] for i in idx], images.detach(), dish.labels, cfg,
                             [seeds.outer_seed(cfg.seed, epoch, slot) for slot in range(len(idx))],
                             want_grad=True)
            loss, r, g = dish_gradient(cfg, z_all[idx], res)
            opt.zero_grad(set_to_none=True)
            images.grad = torch.as_tensor(g)
            opt.step()
            rec = _epoch_record(epoch, loss, r, z_all[idx], res, time.perf_counter() - t0)
            rec["grad_norm"] = float(np.linalg.norm(g))
            history.append(rec)
            if out is not None:  # checkpoint first: the log is rebuilt from it on resume
                torch.save({"epoch": epoch, "images": images.detach().clone(),
                            "optimizer": opt.state_dict(), "history": history,
                            "config": cfg.to_dict(), "train_hashes": [c.hash for c in cells],
                            "package_version": __version__}, out / (CHECKPOINT + ".tmp"))
                os.replace(out / (CHECKPOINT + ".tmp"), out / CHECKPOINT)
                rundir.append_line(out / LOG, rec)
            if on_epoch is not None:
                on_epoch(rec)
            bar.update(1)
            bar.set_postfix(loss=f"{rec['loss']:.3f}",
                            tau=fmt(rec["kendall_tau"], rec["kendall_defined"], 2))
    finally:
        bar.close()
        if own_runner:
            runner.__exit__(None, None, None)
    dish.images = images.detach().clone()
    dish.history = history
    return dish


def dish_gradient(cfg: PetriDishConfig, z: np.ndarray, res: Sequence[MotifResult]
                  ) -> tuple[float, float, np.ndarray]:
    """The outer loss of one outer epoch, its Pearson r, and its gradient with respect
    to the dish pixels, by the chain rule: ``dL/d dish = sum_i dL/dz^_i * dz^_i/d dish``
    (each motif returns its score ``z^_i`` and ``dz^_i/d dish``)."""
    zhat = torch.tensor([m.score for m in res], dtype=torch.float64, requires_grad=True)
    loss, r = outer_loss(cfg, torch.as_tensor(np.asarray(z, dtype=np.float64)), zhat)
    loss.backward()
    g = sum(float(w) * m.grad for w, m in zip(zhat.grad.numpy(), res))
    return float(loss.detach()), r, np.asarray(g, dtype=np.float32)


def score_cells(dish: Dish, cells: Sequence[Cell], runner: MotifRunner,
                progress: Callable[[int], object] | None = None) -> list[MotifResult]:
    """Train unseen motifs on the dish and score them (no gradients).

    A cell's motif seed depends only on the run seed and the cell's hash, so
    its score does not depend on batch composition, order or worker count.
    ``progress(1)`` is called as each motif finishes.
    """
    return runner.run(cells, dish.images, dish.labels, dish.config,
                      [seeds.query_seed(dish.config.seed, c.hash) for c in cells],
                      want_grad=False, progress=progress)
