"""Inner loop: train one motif on the dish and score it.

Section 4 of the paper: Adam (lr 5e-5, weight decay 1e-6 as L2), batch size
20, cross-entropy, 100 epochs (16 in the shortened runs).  Per epoch the
training loss and accuracy (running over the epoch's batches) are recorded,
and the maximum accuracy over the epochs.  After training, the score of
Section 3.5 is computed on the whole dish,
``z^ = mean_i softmax(f(x_i))[y_i]``, optionally with its gradient with
respect to the dish pixels (the outer loop chains its loss through it).

What that gradient is:

* ``meta_steps = 0`` (the paper): ``d z^ / d pixels`` with the trained weights
  and the batch-norm statistics held fixed, i.e. through the final scoring
  pass only.  The pixels' effect on training itself is ignored.
* ``meta_steps = K > 0``: also through the last K optimizer steps (truncated
  back-propagation through training, as Rawal et al.); earlier steps are
  constants.  With K = all steps and ``score_mode = "train"`` (or ``score =
  "tse"``) this is the exact derivative of the score (tested against finite
  differences).  With ``score_mode = "eval"`` it is not: the running
  batch-norm statistics that the eval-mode score uses are updated in place
  during training, outside autograd, so their dependence on the pixels is
  left out even at K = all steps.

Each motif trains single-threaded from its own seed, so its result depends
only on its inputs and seed (:mod:`naslib_petridish.runner` runs many).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .cells import as_cell
from .config import PetriDishConfig
from .errors import DeviceNotAvailable
from . import compiled
from .motifs import build_network, set_fused
from .optim import inner_optimizer
from .threads import torch_threads


@dataclass
class MotifResult:
    hash: str
    losses: list          # per inner epoch
    accs: list            # per inner epoch (fraction of the dish classified right)
    max_acc: float
    score: float          # z^
    grad: np.ndarray | None  # d z^ / d dish images (float32, dish shape)
    train_seconds: float  # whole inner loop

    @property
    def epoch_seconds(self) -> float:
        return self.train_seconds / max(1, len(self.losses))


_threads = torch_threads  # the name the inner loop and its callers use


def _builder(cell):
    """The network builder of the cell's space (NB101's motifs module directly)."""
    if getattr(cell, "space", "nb101") == "nb101":
        return build_network
    from .spaces import get_space
    return get_space(cell.space).build_network


def _adam_tail(net: torch.nn.Module, opt: torch.optim.Adam):
    """Parameters and Adam moments as plain tensors, to continue training
    functionally (and differentiably) where ``opt`` stopped."""
    params, moments = {}, {}
    state = opt.state
    for name, p in net.named_parameters():
        st = state.get(p, {})
        m = st.get("exp_avg", torch.zeros_like(p)).detach().clone()
        v = st.get("exp_avg_sq", torch.zeros_like(p)).detach().clone()
        params[name] = p.detach().clone()
        moments[name] = (m, v)
    step = 0
    if state:
        step = int(next(iter(state.values()))["step"])
    return params, moments, step


def _adam_step(params: dict, moments: dict, grads, step: int, cfg: PetriDishConfig):
    """One step of the paper's Adam (L2 weight decay) written out in tensor ops so
    that autograd can differentiate through it (torch.optim updates in place)."""
    b1, b2, eps = 0.9, 0.999, 1e-8
    bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
    new_p, new_m = {}, {}
    for (name, p), g in zip(params.items(), grads):
        m, v = moments[name]
        g = g + cfg.inner_weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        # clamp: the derivative of sqrt at exactly 0 is infinite (values this small are
        # far below eps, so the update is unchanged)
        denom = v.clamp_min(1e-30).sqrt() / math.sqrt(bc2) + eps
        new_p[name] = p - (cfg.inner_lr / bc1) * m / denom
        new_m[name] = (m, v)
    return new_p, new_m


def motif_optimizer(net: torch.nn.Module, cfg: PetriDishConfig, dev: torch.device):
    """The inner loop's Adam for ``net``, with ``cfg.inner_compile``'s compiled blocks
    switched on where they apply (the CPU, with a C++ compiler for TorchInductor)."""
    use_compiled = cfg.inner_compile != "none" and dev.type == "cpu" and compiled.available()
    set_fused(net, use_compiled and cfg.inner_compile == "blocks")
    return inner_optimizer(net.parameters(), cfg, compiled=use_compiled)


def check_device(name: str) -> torch.device:
    """The torch device ``name``, or a clear error when this machine lacks it."""
    dev = torch.device(name)
    if dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceNotAvailable(f"device '{name}' is not supported; use cpu, cuda or mps")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceNotAvailable(
            f"device '{name}' was asked for, but this PyTorch ({torch.__version__}) sees no "
            "CUDA GPU; install a CUDA build of PyTorch on a GPU machine, or set device=cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceNotAvailable(f"device '{name}': only {torch.cuda.device_count()} CUDA "
                                 "device(s) visible")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceNotAvailable(f"device '{name}': the Apple MPS backend is not available here; "
                                 "set device=cpu")
    return dev


def train_motif(cell: Any, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
                cfg: PetriDishConfig, seed: int, want_grad: bool = False,
                dtype: torch.dtype = torch.float32) -> MotifResult:
    """Train the motif of ``cell`` on the dish and score it (single thread).

    ``dtype`` float64 exists for gradient checks against finite differences.

    With ``cfg.meta_steps = K > 0`` the last K optimizer steps run as
    differentiable tensor code, and ``d z^ / d dish`` includes the path
    through those steps (truncated back-propagation through training, as in
    Rawal et al.'s Synthetic Petri Dish); the steps before are constants.
    The module docstring says when this gradient is exact.
    With ``cfg.dish_val_size > 0`` the motif trains on the first ``dish_size``
    images and is scored on the rest.  With ``cfg.score = "tse"`` the score is
    minus the mean training loss over the inner epochs (training speed, Ru et
    al. 2021) instead of z^; its dish gradient is the direct effect of each
    batch's pixels on that batch's loss (plus the path through the last
    ``meta_steps`` steps).
    """
    cell = cell if getattr(cell, "space", "nb101") != "nb101" else as_cell(cell)
    # channels_last: oneDNN's batch norm and max-pool are 2-8x faster in this layout at
    # motif sizes (benchmarks/motif_throughput.py); results equal NCHW within float rounding
    fmt = torch.channels_last if cfg.memory_format == "channels_last" else torch.contiguous_format
    dev = check_device(cfg.device)
    x_all = torch.as_tensor(images, dtype=dtype).detach().to(dev).contiguous(memory_format=fmt)
    y_all = torch.as_tensor(labels, dtype=torch.int64).to(dev)
    n = cfg.dish_size if cfg.dish_val_size else x_all.shape[0]
    x_all = x_all.clone().requires_grad_(want_grad)
    x, y = x_all[:n], y_all[:n]
    x_score, y_score = (x_all[n:], y_all[n:]) if cfg.dish_val_size else (x, y)
    bs = cfg.inner_batch_size
    steps_per_epoch = -(-n // bs)
    tail_from = cfg.inner_epochs * steps_per_epoch - cfg.meta_steps  # first functional step
    rng_devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices), _threads(1):
        torch.manual_seed(seed)
        net = _builder(cell)(cell, cfg.shape, bn_momentum=cfg.bn_momentum).to(
            device=dev, dtype=dtype, memory_format=fmt)
        opt = motif_optimizer(net, cfg, dev)
        gen = torch.Generator().manual_seed(seed)
        losses, accs = [], []
        net.train()
        params = moments = None
        buffers = dict(net.named_buffers())
        step = 0
        tse = cfg.score == "tse"
        w_tse = -1.0 / (n * cfg.inner_epochs)  # d(score)/d(batch loss x batch size)
        gx = torch.zeros_like(x_all) if (want_grad and tse) else None
        tse_tail = 0.0  # the functional steps' part of the score, in the graph
        t0 = time.perf_counter()
        for _ in range(cfg.inner_epochs):
            perm = torch.randperm(n, generator=gen).to(dev)  # drawn on the CPU: same order
            tot = torch.zeros((), dtype=torch.float64, device=dev)
            correct = torch.zeros((), dtype=torch.int64, device=dev)
            for i in range(0, n, bs):
                idx = perm[i:i + bs]
                yb = y[idx]
                if step < tail_from:  # the plain (fast, in-place) path
                    xb = x[idx].detach().requires_grad_(gx is not None)
                    out = net(xb)
                    loss = F.cross_entropy(out, yb)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if gx is not None and xb.grad is not None:  # direct effect of the
                        # batch's pixels on its loss (none: a cell whose output ignores its
                        # input, e.g. an NB201 cell with no path from input to output)
                        gx.index_add_(0, idx, xb.grad * (w_tse * len(idx)))
                else:  # functional steps that autograd can see through
                    if params is None:
                        set_fused(net, False)  # the fused backward is first-order only
                        params, moments, adam_t = _adam_tail(net, opt)
                        for p in params.values():
                            p.requires_grad_(True)
                    out = torch.func.functional_call(net, (params, buffers), (x[idx],))
                    loss = F.cross_entropy(out, yb)
                    grads = torch.autograd.grad(loss, list(params.values()),
                                                create_graph=want_grad, allow_unused=True)
                    # an unused weight (an NB201 edge whose result reaches no output) gets
                    # a zero gradient: nothing the loss sees depends on it
                    grads = [torch.zeros_like(p) if g is None else g
                             for g, p in zip(grads, params.values())]
                    adam_t += 1
                    if tse and want_grad:
                        tse_tail = tse_tail + loss * (w_tse * len(idx))
                    params, moments = _adam_step(params, moments, grads, adam_t, cfg)
                    if not want_grad:  # keep no graph between steps
                        params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
                        moments = {k: (m.detach(), v.detach()) for k, (m, v) in moments.items()}
                step += 1
                tot += loss.detach() * len(idx)
                correct += (out.detach().argmax(1) == yb).sum()
            losses.append(float(tot) / n)
            accs.append(int(correct) / n)
        train_s = time.perf_counter() - t0
        if tse:  # training speed: minus the mean training loss over the inner loop
            z = torch.tensor(-float(np.mean(losses)), dtype=torch.float64)  # on the CPU
            grad = None
            if want_grad:
                if torch.is_tensor(tse_tail):
                    gx = gx + _grad_or_zero(tse_tail, x_all)
                grad = gx.cpu().contiguous().numpy()
        else:
            set_fused(net, False)
            net.train(cfg.score_mode == "train")
            with torch.set_grad_enabled(want_grad):
                if params is None:
                    logits = net(x_score if cfg.dish_val_size else x_all)
                else:
                    logits = torch.func.functional_call(net, (params, buffers), (x_score,))
                p = F.softmax(logits, dim=1)
                z = p.gather(1, y_score[:, None]).mean()
                grad = (_grad_or_zero(z, x_all).cpu().contiguous().numpy()
                        if want_grad else None)
    return MotifResult(hash=cell.hash, losses=losses, accs=accs, max_acc=max(accs) if accs else 0.0,
                       score=float(z.detach()), grad=grad, train_seconds=train_s)


def _grad_or_zero(z, x):
    """d z / d x; zero where z does not depend on x (a cell whose output ignores its input:
    on NB201 a cell with no path from input to output computes a constant)."""
    g = torch.autograd.grad(z, x, allow_unused=True)[0] if z.requires_grad else None
    return torch.zeros_like(x) if g is None else g
