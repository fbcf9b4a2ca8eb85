"""The inner loop's optimizer: the paper's Adam as one update over one flat buffer.

``torch.optim.Adam`` on the CPU updates a motif's 26-68 parameter tensors one by one: about
ten element-wise kernels per tensor per step, each on a few hundred to a few thousand
numbers, so the update is dominated by per-kernel overhead (0.44 ms per step for motif C,
1.3 ms for B, on the 2-vCPU EPYC; `benchmarks/motif_throughput.py`).  :class:`FlatAdam`
places every parameter, its gradient and its two moments in four contiguous buffers (each
parameter becomes a view of its slice, in its own memory layout, channels_last included),
so that a step is the same ten kernels once, over the whole buffer: 0.03 ms for C.
Autograd writes each gradient straight into its slice (a gradient that already exists is
accumulated in place), so nothing is gathered.

The arithmetic is ``torch.optim.Adam``'s single-tensor path, operation for operation
(L2 weight decay added to the gradient, ``lerp`` for the first moment, bias corrections
as Python floats), so results equal ``torch.optim.Adam``'s within float rounding (tested).
``state`` exposes per-parameter views of the moments in ``torch.optim.Adam``'s format, which
the inner loop's differentiable tail reads.
"""
from __future__ import annotations

from typing import Iterable

import torch

from . import compiled as _compiled


def _dense(t: torch.Tensor) -> bool:
    """Whether ``t`` covers its storage span exactly (a permutation of a contiguous layout)."""
    return t.is_contiguous() or t.is_contiguous(memory_format=torch.channels_last)


class FlatAdam:
    """Adam (``lr``, ``betas``, ``eps``, L2 ``weight_decay``) over one flat buffer.

    Takes over the parameters' storage at construction: afterwards every parameter is a
    view into :attr:`flat`.  Use it like ``torch.optim.Adam``: ``zero_grad()``, backward,
    ``step()``.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, compiled: bool = False):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("FlatAdam got no trainable parameters")
        first = self.params[0]
        if any(p.dtype != first.dtype or p.device != first.device for p in self.params):
            raise ValueError("FlatAdam needs all parameters on one device with one dtype")
        if not all(_dense(p) for p in self.params):
            raise ValueError("FlatAdam needs dense parameters (contiguous or channels_last)")
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        total = sum(p.numel() for p in self.params)
        # the compiled update (naslib_petridish.compiled) has Adam's default betas built in,
        # and pays only from MIN_ADAM_NUMEL parameters on
        self.compiled = (bool(compiled) and tuple(betas) == (0.9, 0.999)
                         and total >= _compiled.MIN_ADAM_NUMEL)
        kw = {"dtype": first.dtype, "device": first.device}
        self.flat = torch.empty(total, **kw)
        self.grad = torch.zeros(total, **kw)
        self.exp_avg = torch.zeros(total, **kw)
        self.exp_avg_sq = torch.zeros(total, **kw)
        self._views: list[tuple[torch.nn.Parameter, int]] = []
        self._grads: list[torch.Tensor] = []  # each parameter's slice of ``grad``
        offset = 0
        with torch.no_grad():
            for p in self.params:
                view = self._view(self.flat, p, offset)
                view.copy_(p)
                p.data = view
                self._views.append((p, offset))
                self._grads.append(self._view(self.grad, p, offset))
                offset += p.numel()
        self.steps = 0

    @staticmethod
    def _view(buf: torch.Tensor, like: torch.Tensor, offset: int) -> torch.Tensor:
        return buf.as_strided(like.shape, like.stride(), offset)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradient buffer and point every ``.grad`` at its slice (the argument is
        accepted for ``torch.optim`` compatibility; gradients are never ``None`` after)."""
        self.grad.zero_()
        for p, view in zip(self.params, self._grads):
            if p.grad is not view:
                p.grad = view

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step over every parameter (``torch.optim.Adam``'s arithmetic)."""
        for p, view in zip(self.params, self._grads):  # a .grad set elsewhere is copied in
            if p.grad is not view:
                if p.grad is None:
                    view.zero_()
                else:
                    view.copy_(p.grad)
                p.grad = view
        b1, b2 = self.betas
        self.steps += 1
        if self.compiled:
            _compiled.flat_adam_update(self.flat, self.grad, self.exp_avg, self.exp_avg_sq,
                                       self.steps, self.lr, self.weight_decay, self.eps)
            return
        g = self.grad.add(self.flat, alpha=self.weight_decay) if self.weight_decay else self.grad
        self.exp_avg.lerp_(g, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        bias_correction1 = 1 - b1 ** self.steps
        bias_correction2_sqrt = (1 - b2 ** self.steps) ** 0.5
        denom = (self.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        self.flat.addcdiv_(self.exp_avg, denom, value=-self.lr / bias_correction1)

    @property
    def state(self) -> dict:
        """Per-parameter moments as views, in ``torch.optim.Adam``'s ``state`` format (empty
        before the first step, as there)."""
        if not self.steps:
            return {}
        step = torch.tensor(float(self.steps))
        return {p: {"step": step, "exp_avg": self._view(self.exp_avg, p, o),
                    "exp_avg_sq": self._view(self.exp_avg_sq, p, o)} for p, o in self._views}


def inner_optimizer(params: Iterable[torch.nn.Parameter], cfg,
                    compiled: bool = False) -> "FlatAdam | torch.optim.Adam":
    """The inner loop's Adam as ``cfg`` (a PetriDishConfig) chooses it: ``inner_optimizer``
    ``flat`` (:class:`FlatAdam`, its step compiled if ``compiled``) or ``torch``
    (``torch.optim.Adam``), with the paper's ``inner_lr`` and L2 ``inner_weight_decay``."""
    if cfg.inner_optimizer == "flat":
        return FlatAdam(params, lr=cfg.inner_lr, weight_decay=cfg.inner_weight_decay,
                        compiled=compiled)
    return torch.optim.Adam(params, lr=cfg.inner_lr, weight_decay=cfg.inner_weight_decay)
