"""A dish trained by the full meta-gradient, as Generative Teaching Networks train theirs.

The paper's outer loop (:mod:`.outer`) differentiates the motif's score through the final
scoring pass only (or the last ``meta_steps`` optimizer steps).  Here the whole inner loop
is differentiable tensor code, so the gradient of a motif's score reaches the dish through
every inner step, as in Such et al. (2020, Generative Teaching Networks) and Rawal et al.
(2020), with what GTN found necessary for stable meta-gradients:

* a short inner loop (``inner_steps``, tens of steps) so that the unrolled graph fits;
* weight normalization of the motif's convolutions and classifier (``weight_norm``:
  each weight is ``g * v / |v|`` per output channel, Adam on ``g`` and ``v``);
* a learned inner learning rate (``learn_lr``: ``exp(log_lr)``, differentiated);
* learnable soft labels (``learn_labels``: each image's target is ``softmax`` of learned
  logits, initialized near the balanced hard labels);
* a learned curriculum: the inner step ``t`` always takes the same block of dish images
  (block ``t mod (dish_size / batch_size)``), so each block's pixels learn what that stage
  of training should see (GTN generates a batch per step; here the batches are the dish);
* gradient clipping of the outer step (``clip``, each part's norm).

Batch norm runs in training mode throughout (batch statistics, exact under autograd; the
running statistics are never read), and the score is exact under autograd:

* ``tse``: training speed, minus the mean training loss over the inner steps (Ru et al.);
* ``final``: minus the loss on the whole dish after the last step.

The outer loss compares the scores of ``motifs_per_step`` motifs with their targets (the
ground-truth accuracy, or what another model gets wrong: the caller chooses the targets)
by a pairwise ranking loss or ``1 - Pearson``; its gradient is assembled by the chain rule
from each motif's own graph (one unrolled graph in memory at a time).  A held-out part of
the training cells (``holdout``) stops it early: the dish kept is the one whose scores ranked
the held-out cells best, the untrained dish (step 0) included.

Everything random derives from ``seed``; with ``out_dir`` a checkpoint after every outer
step lets an interrupted fit resume to the same dish.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import __version__, seeds
from .cells import Cell, as_cell
from .config import from_fields
from .correlation import kendall
from .errors import ConfigError, DishFileError, RunDirError, UsageError
from .motifs import build_network, motif_shape
from .outer import seeded_passes

#: the streams of this module (see :mod:`.seeds`)
META_SPLIT = 0x3E7A
META_SCHEDULE = 0x3E75
META_MOTIF = 0x3E70
FORMAT, FORMAT_VERSION = "naslib-petridish-metadish", 1
CHECKPOINT = "metadish_checkpoint.pt"
LOSSES = ("pairwise", "pearson")
SCORES = ("tse", "final")


@dataclass
class MetaDishConfig:
    motif: str = "C"
    dish_size: int = 200
    num_classes: int = 10
    channels: int = 3
    resolution: int = 16
    #: inner optimizer steps of a motif (every one differentiated)
    inner_steps: int = 20
    batch_size: int = 20
    #: the inner Adam's learning rate at the start (learned with ``learn_lr``)
    inner_lr: float = 1e-3
    learn_lr: bool = True
    learn_labels: bool = True
    weight_norm: bool = True
    score: str = "tse"
    #: outer Adam steps (0: the untrained dish, the control)
    outer_steps: int = 60
    motifs_per_step: int = 24
    outer_lr: float = 0.01
    #: each part's gradient norm is clipped to this (0: no clipping)
    clip: float = 1.0
    loss: str = "pairwise"
    pairwise_temperature: float = 0.5
    #: fraction of the training cells kept apart to stop early (0: keep the last dish)
    holdout: float = 0.2
    eval_every: int = 10
    seed: int = 0

    def __post_init__(self):
        for n in ("dish_size", "num_classes", "channels", "resolution", "inner_steps",
                  "batch_size", "motifs_per_step", "eval_every"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"metadish '{n}' must be a positive integer, got {v!r}")
        for n in ("outer_steps", "seed"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"metadish '{n}' must be a non-negative integer, got {v!r}")
        if self.dish_size % self.num_classes or self.dish_size % self.batch_size:
            raise ConfigError(f"metadish dish_size {self.dish_size} must be a multiple of "
                              f"num_classes ({self.num_classes}) and batch_size "
                              f"({self.batch_size})")
        for n in ("inner_lr", "outer_lr", "pairwise_temperature"):
            if not float(getattr(self, n)) > 0:
                raise ConfigError(f"metadish '{n}' must be > 0, got {getattr(self, n)!r}")
        if not 0.0 <= float(self.holdout) < 0.9:
            raise ConfigError(f"metadish 'holdout' must be in [0, 0.9), got {self.holdout!r}")
        if float(self.clip) < 0:
            raise ConfigError(f"metadish 'clip' must be >= 0, got {self.clip!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"metadish 'loss' must be one of {', '.join(LOSSES)}, "
                              f"got {self.loss!r}")
        try:
            motif_shape(self.motif)
        except ValueError as exc:
            raise ConfigError(f"metadish 'motif': {exc}") from exc
        if self.score not in SCORES:
            raise ConfigError(f"metadish 'score' must be one of {', '.join(SCORES)}, "
                              f"got {self.score!r}")

    def shape(self) -> dict:
        """The motif's shape with this dish's classes and channels."""
        return {**motif_shape(self.motif).as_dict(), "num_classes": self.num_classes,
                "in_channels": self.channels}

    @classmethod
    def from_dict(cls, d: dict) -> "MetaDishConfig":
        return from_fields(cls, d, "metadish")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class MetaDish:
    """What the outer loop learns: pixels, label logits and the log inner learning rate."""

    images: torch.Tensor        # float32 [N, C, H, W]
    label_logits: torch.Tensor  # float32 [N, classes]
    log_lr: torch.Tensor        # float32 []
    config: MetaDishConfig
    history: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @classmethod
    def create(cls, cfg: MetaDishConfig) -> "MetaDish":
        """The untrained dish: standard-normal pixels, balanced labels as logits (a
        softmax of 0.95 on the image's class), the configured learning rate."""
        rng = seeds.rng(cfg.seed, seeds.DISH)
        labels = rng.permutation(np.repeat(np.arange(cfg.num_classes),
                                           cfg.dish_size // cfg.num_classes))
        images = rng.standard_normal((cfg.dish_size, cfg.channels, cfg.resolution,
                                      cfg.resolution)).astype(np.float32)
        hi = math.log(0.95 * (cfg.num_classes - 1) / 0.05)  # softmax 0.95 on the class
        logits = np.zeros((cfg.dish_size, cfg.num_classes), np.float32)
        logits[np.arange(cfg.dish_size), labels] = hi
        return cls(torch.from_numpy(images), torch.from_numpy(logits),
                   torch.tensor(math.log(cfg.inner_lr), dtype=torch.float32), cfg)

    def tensors(self) -> dict:
        return {"images": self.images, "label_logits": self.label_logits,
                "log_lr": self.log_lr}

    def state(self) -> dict:
        """Plain data (lists) for a JSON record."""
        return {"format": FORMAT, "format_version": FORMAT_VERSION,
                "package_version": __version__, "config": self.config.to_dict(),
                "images": self.images.reshape(-1).tolist(),
                "label_logits": self.label_logits.reshape(-1).tolist(),
                "log_lr": float(self.log_lr), "history": self.history, "meta": self.meta}

    @classmethod
    def from_state(cls, d: dict) -> "MetaDish":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DishFileError("not a meta-trained dish of naslib-petridish")
        if d.get("format_version") != FORMAT_VERSION:
            raise DishFileError(f"meta-trained dish format {d.get('format_version')} written "
                                f"by naslib-petridish {d.get('package_version', '?')}; this "
                                f"is {__version__}: fit it again")
        cfg = MetaDishConfig.from_dict(d["config"])
        shape = (cfg.dish_size, cfg.channels, cfg.resolution, cfg.resolution)
        return cls(torch.tensor(d["images"], dtype=torch.float32).reshape(shape),
                   torch.tensor(d["label_logits"], dtype=torch.float32).reshape(
                       cfg.dish_size, cfg.num_classes),
                   torch.tensor(float(d["log_lr"]), dtype=torch.float32), cfg,
                   list(d.get("history", [])), dict(d.get("meta", {})))


# -- the differentiable inner loop ---------------------------------------------------------
@dataclass
class MetaMotifResult:
    hash: str
    losses: list   # per inner step
    accs: list     # per inner step (fraction of the batch whose argmax is the label's)
    score: float
    train_seconds: float


def _split_weights(net: torch.nn.Module, weight_norm: bool) -> dict:
    """The motif's trainable tensors; with ``weight_norm`` each conv/linear weight becomes
    ``NAME.v`` (direction) and ``NAME.g`` (norm per output channel)."""
    out = {}
    for name, p in net.named_parameters():
        p = p.detach().clone()
        if weight_norm and name.endswith("weight") and p.dim() in (2, 4):
            g = torch.linalg.vector_norm(p.reshape(p.shape[0], -1), dim=1)
            out[name + ".v"], out[name + ".g"] = p, g
        else:
            out[name] = p
    return out


def _merge_weights(params: dict) -> dict:
    """The network's parameters from :func:`_split_weights`' tensors (differentiably)."""
    out = {}
    for name, t in params.items():
        if name.endswith(".g"):
            continue
        if name.endswith(".v"):
            base = name[:-2]
            g = params[base + ".g"]
            norm = torch.linalg.vector_norm(t.reshape(t.shape[0], -1), dim=1).clamp_min(1e-12)
            out[base] = t * (g / norm).reshape((-1,) + (1,) * (t.dim() - 1))
        else:
            out[name] = t
    return out


def run_motif(cell, dish: MetaDish, seed: int, create_graph: bool = False,
              dtype: torch.dtype = torch.float32, parts: dict | None = None):
    """Train the motif of ``cell`` on ``dish`` for ``inner_steps`` functional Adam steps.

    Returns ``(score, result)``: ``score`` a 0-dim tensor (in the graph of ``parts`` when
    ``create_graph``: ``parts`` are the dish's tensors with ``requires_grad``, by default
    ``dish.tensors()``), ``result`` a :class:`MetaMotifResult`.  Single-threaded use is the
    caller's (as :mod:`.inner`)."""
    cfg = dish.config
    cell = as_cell(cell)
    parts = parts if parts is not None else dish.tensors()
    x_all, logits, log_lr = (parts["images"].to(dtype), parts["label_logits"].to(dtype),
                             parts["log_lr"].to(dtype))
    hard = logits.argmax(1)
    target = F.softmax(logits, dim=1) if cfg.learn_labels else F.one_hot(
        hard, cfg.num_classes).to(dtype)
    lr = torch.exp(log_lr) if cfg.learn_lr else torch.exp(log_lr.detach())
    blocks = cfg.dish_size // cfg.batch_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_network(cell, cfg.shape()).to(dtype=dtype)
    net.train()
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    params = _split_weights(net, cfg.weight_norm)
    for p in params.values():
        p.requires_grad_(True)
    m = {k: torch.zeros_like(v) for k, v in params.items()}
    v2 = {k: torch.zeros_like(v) for k, v in params.items()}
    b1, b2, eps = 0.9, 0.999, 1e-8
    losses, accs, total = [], [], 0.0
    t0 = time.perf_counter()
    with torch.enable_grad():
        for t in range(cfg.inner_steps):
            sl = slice((t % blocks) * cfg.batch_size, (t % blocks + 1) * cfg.batch_size)
            out = torch.func.functional_call(net, (_merge_weights(params), buffers),
                                             (x_all[sl],))
            loss = -(target[sl] * F.log_softmax(out, dim=1)).sum(1).mean()
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            bc1, bc2 = 1 - b1 ** (t + 1), 1 - b2 ** (t + 1)
            new = {}
            for (k, p), g in zip(params.items(), grads):
                m[k] = b1 * m[k] + (1 - b1) * g
                v2[k] = b2 * v2[k] + (1 - b2) * g * g
                # clamp: the derivative of sqrt at 0 is infinite (far below eps anyway)
                denom = v2[k].clamp_min(1e-30).sqrt() / math.sqrt(bc2) + eps
                new[k] = p - (lr / bc1) * m[k] / denom
            params = new
            if not create_graph:  # no graph between steps
                params = {k: p.detach().requires_grad_(True) for k, p in params.items()}
                m = {k: a.detach() for k, a in m.items()}
                v2 = {k: a.detach() for k, a in v2.items()}
            total = total + loss if create_graph else total + float(loss.detach())
            losses.append(float(loss.detach()))
            accs.append(float((out.detach().argmax(1) == hard[sl]).float().mean()))
        if cfg.score == "tse":
            score = -total / cfg.inner_steps
        else:
            with torch.set_grad_enabled(create_graph):
                out = torch.func.functional_call(net, (_merge_weights(params), buffers),
                                                 (x_all,))
                score = (target * F.log_softmax(out, dim=1)).sum(1).mean()
    score = score if torch.is_tensor(score) else torch.tensor(score, dtype=dtype)
    res = MetaMotifResult(cell.hash, losses, accs, float(score.detach()),
                          time.perf_counter() - t0)
    return score, res


def motif_gradient(cell, dish: MetaDish, seed: int, dtype=torch.float32):
    """A motif's score and its gradient with respect to each learned part of the dish
    (through every inner step)."""
    parts = {k: v.detach().clone().requires_grad_(True) for k, v in dish.tensors().items()}
    score, res = run_motif(cell, dish, seed, create_graph=True, dtype=dtype, parts=parts)
    grads = torch.autograd.grad(score, list(parts.values()), allow_unused=True)
    return res, {k: (torch.zeros_like(v) if g is None else g.detach())
                 for (k, v), g in zip(parts.items(), grads)}


def curves(dish: MetaDish, cells: Sequence[Cell], run_seed: int,
           progress: Callable[[int], object] | None = None) -> list[MetaMotifResult]:
    """Each cell's motif trained on ``dish`` without gradients (the seed depends on the run
    seed and the cell's hash only)."""
    out = []
    with torch.no_grad():
        for c in cells:
            c = as_cell(c)
            out.append(run_motif(c, dish, seeds.motif_seed(run_seed, META_MOTIF,
                                                           seeds.hash_key(c.hash)))[1])
            if progress is not None:
                progress(1)
    return out


def curve_features(results: Sequence[MetaMotifResult]) -> tuple[np.ndarray, list[str]]:
    """Per-quarter mean loss and accuracy of the inner steps, the score and the loss drop."""
    results = list(results)
    if not results:
        return np.zeros((0, 0)), []
    names = ([f"mdish_loss_q{i + 1}" for i in range(4)]
             + [f"mdish_acc_q{i + 1}" for i in range(4)] + ["mdish_score", "mdish_loss_drop"])
    rows = []
    for r in results:
        loss = np.array_split(np.asarray(r.losses, float), 4)
        acc = np.array_split(np.asarray(r.accs, float), 4)
        rows.append([float(q.mean()) if len(q) else 0.0 for q in loss]
                    + [float(q.mean()) if len(q) else 0.0 for q in acc]
                    + [r.score, r.losses[0] - r.losses[-1]])
    return np.array(rows, np.float64), names


# -- the outer loop ------------------------------------------------------------------------
def outer_loss(cfg: MetaDishConfig, target: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Pairwise logistic ranking loss on standardized scores, or ``1 - Pearson``."""
    a = s - s.mean()
    if cfg.loss == "pearson":
        b = target - target.mean()
        return 1.0 - (a * b).sum() / (torch.linalg.vector_norm(a)
                                      * torch.linalg.vector_norm(b) + 1e-12)
    z = a / torch.sqrt((a ** 2).mean() + 1e-12)
    i, j = torch.triu_indices(len(s), len(s), offset=1)
    sign = torch.sign(target[i] - target[j])
    keep = sign != 0
    if not bool(keep.any()):
        return (s * 0).sum()
    return F.softplus(-sign[keep] * (z[i] - z[j])[keep] / cfg.pairwise_temperature).mean()


def split_holdout(n: int, cfg: MetaDishConfig) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the cells the dish trains on and of those kept apart to stop early."""
    k = int(round(cfg.holdout * n))
    if k < 5 or n - k < 2:  # too few to rank: no early stopping
        return np.arange(n), np.arange(0)
    perm = seeds.rng(cfg.seed, META_SPLIT).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def fit_metadish(cells: Sequence[Cell], targets: Sequence[float], cfg: MetaDishConfig,
                 out_dir: str | os.PathLike | None = None,
                 progress: Callable[[dict], object] | None = None,
                 stop_after: int | None = None) -> MetaDish:
    """Train a dish so that motifs' scores on it rank ``cells`` as ``targets`` do.

    Each outer step trains ``motifs_per_step`` motifs of the training part (seeded passes
    over it), differentiates each score through its whole inner loop, and takes one Adam step
    on the dish's parts (gradient norms clipped).  Every ``eval_every`` steps (and at step 0
    and the end) the held-out part is scored without gradients; the dish returned is the
    best of those (Kendall tau of scores and targets), or the last one without a held-out
    part.  ``out_dir``: a checkpoint after every step (resumed when present and written by
    the same config and cells); ``stop_after`` ends this call after that many steps, as an
    interruption would (tests)."""
    cells = [as_cell(c) for c in cells]
    y = np.asarray(targets, np.float64).reshape(-1)
    if len(y) != len(cells):
        raise UsageError(f"{len(cells)} cells but {len(y)} targets")
    if not np.all(np.isfinite(y)):
        raise UsageError("the dish's targets contain NaN or inf")
    fit_idx, held = split_holdout(len(cells), cfg)
    if len(fit_idx) < 2:
        raise UsageError(f"a meta-trained dish needs at least 2 training cells, got {len(cells)}")
    dish = MetaDish.create(cfg)
    parts = {k: torch.nn.Parameter(v.clone()) for k, v in dish.tensors().items()}
    opt = torch.optim.Adam(list(parts.values()), lr=cfg.outer_lr)
    start, history, best = 0, [], None
    ckpt = Path(out_dir) / CHECKPOINT if out_dir is not None else None
    key = {"config": cfg.to_dict(), "hashes": [c.hash for c in cells], "targets": y.tolist()}
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        if state.get("key") != key:
            raise RunDirError(f"{ckpt} was written by another meta-dish fit (config, cells or "
                              "targets differ); use another directory")
        with torch.no_grad():
            for k, p in parts.items():
                p.copy_(state["parts"][k])
        opt.load_state_dict(state["optimizer"])
        start, history, best = state["step"], state["history"], state["best"]
    t_fit = time.perf_counter()
    # the whole schedule up front, so that a resume draws the same
    batches = seeded_passes(fit_idx, cfg.outer_steps, min(cfg.motifs_per_step, len(fit_idx)),
                            seeds.rng(cfg.seed, META_SCHEDULE))

    def current() -> MetaDish:
        return MetaDish(parts["images"].detach().clone(),
                        parts["label_logits"].detach().clone(),
                        parts["log_lr"].detach().clone(), cfg)

    def evaluate(step: int):
        nonlocal best
        if not len(held):
            return None
        res = curves(current(), [cells[i] for i in held], cfg.seed)
        tau, _ = kendall([r.score for r in res], y[held])
        if best is None or tau > best["tau"]:
            best = {"step": step, "tau": tau,
                    "parts": {k: v.detach().clone() for k, v in parts.items()}}
        return tau

    if start == 0 and best is None:
        tau0 = evaluate(0)
        history.append({"step": 0, "holdout_tau": tau0})
    end = cfg.outer_steps if stop_after is None else min(cfg.outer_steps, start + stop_after)
    for step in range(start, end):
        t0 = time.perf_counter()
        idx = batches[step]
        results, grads = [], []
        d = current()
        for slot, i in enumerate(idx):
            r, g = motif_gradient(cells[i], d, seeds.motif_seed(cfg.seed, META_MOTIF, step, slot))
            results.append(r)
            grads.append(g)
        s = torch.tensor([r.score for r in results], dtype=torch.float64, requires_grad=True)
        loss = outer_loss(cfg, torch.as_tensor(y[idx]), s)
        loss.backward()
        w = s.grad.numpy()
        opt.zero_grad(set_to_none=True)
        norms = {}
        for k, p in parts.items():
            g = sum(float(wi) * gi[k] for wi, gi in zip(w, grads)).to(p.dtype)
            norms[k] = float(torch.linalg.vector_norm(g))
            if cfg.clip and norms[k] > cfg.clip:
                g = g * (cfg.clip / norms[k])
            p.grad = g
        opt.step()
        tau, _ = kendall([r.score for r in results], y[idx])
        rec = {"step": step + 1, "loss": float(loss.detach()), "train_tau": tau,
               "grad_norms": norms, "inner_lr": float(torch.exp(parts["log_lr"].detach())),
               "seconds": time.perf_counter() - t0}
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.outer_steps:
            rec["holdout_tau"] = evaluate(step + 1)
        history.append(rec)
        if ckpt is not None:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"key": key, "step": step + 1, "history": history, "best": best,
                        "parts": {k: v.detach().clone() for k, v in parts.items()},
                        "optimizer": opt.state_dict()}, str(ckpt) + ".tmp")
            os.replace(str(ckpt) + ".tmp", ckpt)
        if progress is not None:
            progress(rec)
    if best is not None:
        with torch.no_grad():
            for k, p in parts.items():
                p.copy_(best["parts"][k])
    out = current()
    out.history = history
    out.meta = {"chosen_step": best["step"] if best is not None else cfg.outer_steps,
                "holdout_tau": best["tau"] if best is not None else None,
                "holdout_cells": int(len(held)),
                "fit_seconds": time.perf_counter() - t_fit,
                "seconds_per_step": (float(np.mean([h["seconds"] for h in history
                                                    if "seconds" in h]))
                                     if any("seconds" in h for h in history) else None)}
    return out
