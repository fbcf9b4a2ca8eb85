"""Outer loop: generate the dish (Sections 3.5 and 4 of the paper).

Per outer epoch: take ``outer_batch`` (6) architectures of the training pool
(fresh ones each epoch while the pool lasts, then a new pass over it), train
their motifs on the dish (inner loop, in parallel), score each motif by
``z^`` with gradients flowing to the dish pixels, compute
``1 - |Pearson(z, z^)|`` against the ground-truth accuracies ``z`` and take an
Adam step (lr 1e-2, no weight decay) on the dish.

The gradient is assembled exactly, by the chain rule: every worker returns
``z^_i`` and ``d z^_i / d dish``; the loss is differentiated with respect to
the ``z^`` vector and ``d L / d dish = sum_i dL/dz^_i * dz^_i/d dish``.

Everything random derives from the config's seed and the outer epoch, and the
run directory holds a checkpoint after every outer epoch, so an interrupted
fit resumed from its directory ends with the same dish as an uninterrupted
one.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from scipy import stats

from . import __version__
from .cells import Cell
from .config import ConfigError, PetriDishConfig
from .dish import Dish
from .inner import MotifResult, MotifRunner, hash_key, motif_seed

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"
DISH = "dish.pt"
CONFIG = "config.yaml"
TRAIN_SET = "train_set.json"

QUERY_KEY = 0x51E27  # seed-stream tag for query/calibration motifs
#: config fields that may change between an interrupted fit and its resumption
RESUMABLE_CHANGES = ("workers", "backend", "ray_address")


class RunDirError(ValueError):
    """A run directory that exists, or does not match the requested run."""


# -- losses and statistics ---------------------------------------------------------
def pearson(z: torch.Tensor, zhat: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Differentiable Pearson correlation (0 when either side is constant)."""
    a = z - z.mean()
    b = zhat - zhat.mean()
    return (a * b).sum() / torch.sqrt((a * a).sum() * (b * b).sum() + eps)


def _standardize(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return (v - v.mean()) / torch.sqrt(((v - v.mean()) ** 2).mean() + eps)


def outer_loss(cfg: PetriDishConfig, z: torch.Tensor, zhat: torch.Tensor) -> tuple[torch.Tensor, float]:
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


def kendall(a: Sequence[float], b: Sequence[float]) -> tuple[float, bool]:
    """Kendall tau, and whether it was defined (it is not when a side is constant;
    the paper scores those epochs 0)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0, False
    t = stats.kendalltau(a, b).statistic
    return (0.0, False) if not np.isfinite(t) else (float(t), True)


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
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0x5C4ED]))
    out, stream = [], []
    for _ in range(cfg.outer_epochs):
        if len(stream) < cfg.outer_batch:
            stream = stream + list(rng.permutation(n))
        batch, rest = [], []
        for i in stream:  # take the first outer_batch distinct indices
            (batch if len(batch) < cfg.outer_batch and i not in batch else rest).append(i)
        out.append(batch)
        stream = rest
    return np.asarray(out, dtype=np.int64)


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


def _atomic_json_lines(path: Path, records: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, path)


def prepare_run_dir(out_dir: str | os.PathLike, cfg: PetriDishConfig, resume: bool,
                    force: bool) -> tuple[Path, dict | None]:
    """Create ``out_dir`` or, with ``resume``, load its checkpoint (after checking
    the config matches).  Refuses to touch an existing run otherwise."""
    out = Path(out_dir)
    ckpt = out / CHECKPOINT
    if out.exists() and any(out.iterdir()):
        if resume:
            if not ckpt.exists():
                if (out / DISH).exists():
                    raise RunDirError(f"{out} holds a finished fit (dish.pt) and nothing to resume")
                raise RunDirError(f"{out} has no {CHECKPOINT} to resume from")
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
            # fields added by later versions take their (paper) defaults
            saved = PetriDishConfig.from_dict(dict(state["config"])).to_dict()
            now = cfg.to_dict()
            for k in RESUMABLE_CHANGES:  # may differ without changing the result
                saved.pop(k, None), now.pop(k, None)
            if saved != now:
                diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
                raise RunDirError(
                    f"cannot resume {out}: its config differs in {diff}; resume with the same "
                    "settings (they are in config.yaml) or use a new --out")
            return out, state
        if not force:
            raise RunDirError(
                f"{out} already exists; pass --resume to continue it or --force to overwrite it")
        for name in (CHECKPOINT, LOG, DISH, CONFIG, TRAIN_SET, "metrics.json", "predictions.json"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return out, None


def fit_dish(cfg: PetriDishConfig, cells: Sequence[Cell], accuracies: Sequence[float],
             out_dir: str | os.PathLike | None = None, resume: bool = False, force: bool = False,
             progress: bool = True, runner: MotifRunner | None = None,
             stop_after: int | None = None,
             on_epoch: Callable[[dict], None] | None = None) -> Dish:
    """Generate a dish from ``cells`` with ground truth ``accuracies``.

    With ``out_dir``: writes ``config.yaml``, ``train_set.json``, ``log.jsonl``
    (one line per outer epoch), ``checkpoint.pt`` (every outer epoch) and, at
    the end, ``dish.pt``.  ``stop_after`` ends the run after that many outer
    epochs of this call (as an interruption would; used by tests).
    Calibration is not done here (see ``predictor``).
    """
    from tqdm.auto import tqdm

    z_all = np.asarray(accuracies, dtype=np.float64)
    if len(cells) != len(z_all):
        raise ValueError(f"{len(cells)} architectures but {len(z_all)} accuracies")
    if not np.all(np.isfinite(z_all)):
        raise ValueError("the ground-truth accuracies contain NaN or inf")
    schedule = outer_schedule(len(cells), cfg)
    dish = Dish.create(cfg)
    images = torch.nn.Parameter(dish.images.clone())
    opt = torch.optim.Adam([images], lr=cfg.outer_lr, weight_decay=cfg.outer_weight_decay)
    start = 0
    history: list[dict] = []
    out = None
    if out_dir is not None:
        out, state = prepare_run_dir(out_dir, cfg, resume, force)
        if state is not None:
            if state["train_hashes"] != [c.hash for c in cells]:
                raise RunDirError(f"cannot resume {out}: the training architectures differ")
            with torch.no_grad():
                images.copy_(state["images"])
            opt.load_state_dict(state["optimizer"])
            history = list(state["history"])
            start = int(state["epoch"]) + 1
            # the epochs done before this call, so that a resumed fit reports its whole time
            dish.meta["resumed_at_epoch"] = start
            dish.meta["seconds_before_resume"] = float(sum(r["wall_seconds"] for r in history))
        else:
            (out / CONFIG).write_text(cfg.to_yaml())
            (out / TRAIN_SET).write_text(json.dumps(
                {"hashes": [c.hash for c in cells], "accuracies": z_all.tolist(),
                 "metric": cfg.metric, "metric_epochs": cfg.metric_epochs}))
        _atomic_json_lines(out / LOG, history)

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
            seeds = [motif_seed(cfg.seed, epoch, slot) for slot in range(len(idx))]
            res = runner.run([cells[i] for i in idx], images.detach(), dish.labels, cfg, seeds,
                             want_grad=True)
            z = torch.as_tensor(z_all[idx])
            zhat = torch.tensor([m.score for m in res], dtype=torch.float64, requires_grad=True)
            loss, r = outer_loss(cfg, z, zhat)
            loss.backward()
            dl_dzhat = zhat.grad.numpy()
            g = sum(float(w) * m.grad for w, m in zip(dl_dzhat, res))
            opt.zero_grad(set_to_none=True)
            images.grad = torch.as_tensor(np.asarray(g, dtype=np.float32))
            opt.step()
            rec = _epoch_record(epoch, float(loss.detach()), r, z_all[idx], res,
                                time.perf_counter() - t0)
            rec["grad_norm"] = float(np.linalg.norm(g))
            history.append(rec)
            if out is not None:
                torch.save({"epoch": epoch, "images": images.detach().clone(),
                            "optimizer": opt.state_dict(), "history": history,
                            "config": cfg.to_dict(), "train_hashes": [c.hash for c in cells],
                            "package_version": __version__}, out / (CHECKPOINT + ".tmp"))
                os.replace(out / (CHECKPOINT + ".tmp"), out / CHECKPOINT)
                with open(out / LOG, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            if on_epoch is not None:
                on_epoch(rec)
            bar.update(1)
            bar.set_postfix(loss=f"{rec['loss']:.3f}", tau=f"{rec['kendall_tau']:+.2f}")
    finally:
        bar.close()
        if own_runner:
            runner.__exit__(None, None, None)
    dish.images = images.detach().clone()
    dish.history = history
    return dish


def finished(dish: Dish) -> bool:
    return len(dish.history) >= dish.config.outer_epochs


def score_cells(dish: Dish, cells: Sequence[Cell], runner: MotifRunner,
                progress: bool = False, desc: str = "motifs") -> list[MotifResult]:
    """Train unseen motifs on the dish and score them (no gradients).

    A cell's motif seed depends only on the run seed and the cell's hash, so
    its score does not depend on batch composition, order or worker count.
    """
    from tqdm.auto import tqdm

    seeds = [motif_seed(dish.config.seed, QUERY_KEY, hash_key(c.hash)) for c in cells]
    with tqdm(total=len(cells), desc=desc, disable=not progress) as bar:
        return runner.run(cells, dish.images, dish.labels, dish.config, seeds,
                          want_grad=False, progress=bar.update)


def linear_calibration(scores: Sequence[float], accs: Sequence[float]) -> dict:
    """Least-squares ``acc ~ slope * score + intercept`` (scipy ``linregress``)."""
    s, a = np.asarray(scores, float), np.asarray(accs, float)
    if len(s) >= 2 and np.ptp(s) > 0:
        lr = stats.linregress(s, a)
        slope, intercept, r = float(lr.slope), float(lr.intercept), float(lr.rvalue)
    else:  # constant scores carry no information: predict the mean
        slope, intercept, r = 0.0, float(a.mean()) if len(a) else 0.0, 0.0
    tau, _ = kendall(s, a)
    return {"slope": slope, "intercept": intercept, "pearson_r": r, "kendall_tau": tau,
            "n": int(len(s)), "score_mean": float(s.mean()) if len(s) else math.nan}


def log_params(cells: Sequence[Cell]) -> np.ndarray:
    """log10 of the trainable parameter count of each cell's full NB101 network."""
    from .motifs import count_parameters

    return np.log10([count_parameters(c, "full") for c in cells])


def fit_calibration(kind: str, scores: Sequence[float], accs: Sequence[float],
                    cells: Sequence[Cell]) -> dict:
    """The score -> accuracy map of ``kind`` (``PetriDishConfig.calibration``).

    ``linear``: ``acc ~ slope * z^ + intercept``.  ``linear_params``: least squares
    ``acc ~ slope * z^ + params_slope * log10(params) + intercept`` (a hybrid of the
    dish and the free parameter-count baseline; ``numpy.linalg.lstsq``).
    """
    cal = linear_calibration(scores, accs)
    cal["kind"] = kind
    if kind == "linear_params":
        s, a = np.asarray(scores, float), np.asarray(accs, float)
        lp = log_params(cells)
        if len(s) >= 3 and np.ptp(s) > 0 and np.ptp(lp) > 0:
            coef = np.linalg.lstsq(np.column_stack([s, lp, np.ones(len(s))]), a, rcond=None)[0]
        else:  # degenerate: fall back to the z^-only fit with no parameter term
            coef = np.array([cal["slope"], 0.0, cal["intercept"]])
        cal.update(slope=float(coef[0]), params_slope=float(coef[1]), intercept=float(coef[2]))
    return cal


def apply_calibration(cal: dict | None, scores: np.ndarray, cells: Sequence[Cell]) -> np.ndarray:
    """Predicted accuracies from raw scores (the raw scores when there is no map)."""
    s = np.asarray(scores, dtype=np.float64)
    if not cal:
        return s
    out = cal["slope"] * s + cal["intercept"]
    if cal.get("kind") == "linear_params":
        out = out + cal["params_slope"] * log_params(cells)
    return out.astype(np.float64)
