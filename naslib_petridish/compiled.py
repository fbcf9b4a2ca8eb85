"""Compiled blocks that every motif shares: fused batch norm + ReLU, and the flat Adam step.

Every NB101 cell is a different graph, so compiling whole motifs costs a compilation per
architecture (tens of seconds, where training a motif takes seconds). This module
compiles only what all motifs share, once per process, with TorchInductor, and the inner
loop reuses it for every architecture (``inner_compile: blocks``):

* :func:`bn_relu`: batch norm in training mode followed by ReLU, as one autograd
  Function whose forward and backward are each one compiled inference graph (a compiled
  *training* graph saves ReLU's mask as a bool tensor, which Inductor's CPU code writes
  slowly: ``benchmarks/compile_probe.py`` measured 5-25x slower than eager). The graphs
  are compiled per static shape (batch, channels, height, width, layout) and cached for
  the life of the process (dynamic shapes measured 30-40% slower); a motif family has a
  few dozen such shapes. They are used only where the probe measured their kernels faster
  than eager: feature maps of at least :data:`MIN_PIXELS` pixels; smaller maps stay eager.
  In a whole training step the block is still slower than eager (each call pays Python
  dispatch that eager autograd pays in C++: ``benchmarks/motif_throughput.py``), hence the
  default ``inner_compile: none``.
* :func:`flat_adam_update`: the flat Adam update of :class:`~naslib_petridish.optim.FlatAdam`
  compiled once with a dynamic length, so that one graph serves every motif; used for
  motifs of at least :data:`MIN_ADAM_NUMEL` parameters (B and A; C is smaller).

``inner_compile: adam`` compiles only the Adam step, ``blocks`` both.

The arithmetic is the eager path's (batch norm's biased variance to normalise, the
unbiased one for the running estimate, PyTorch's momentum convention; Adam as
``torch.optim.Adam``), so results equal eager training within float rounding (tested).
Where TorchInductor cannot compile (no C++ compiler, an unsupported platform), the first
request warns once and everything stays eager.
"""
from __future__ import annotations

import functools
import os
import shutil
import warnings

import torch
import torch.nn.functional as F

#: smallest feature map (height x width) given to the fused block: in isolation its
#: kernels beat eager at 16x16 and lose at 8x8 and 4x4 (``compile_probe.json``)
MIN_PIXELS = 256
#: smallest motif (parameters) whose Adam step is compiled: measured crossover on the
#: 2-vCPU Intel Xeon VM, one thread (eager / compiled us per step: 9k 29/54, 30k 49/66,
#: 60k 99/91, 100k 189/151, 160k 331/230); below it the compiled call's fixed cost loses
MIN_ADAM_NUMEL = 50_000

_STATE: dict = {"available": None}


def _compiler_reason() -> str:
    """Why TorchInductor cannot compile for the CPU here ('' when it can)."""
    if os.environ.get("NASLIB_PETRIDISH_NO_COMPILE"):
        return "NASLIB_PETRIDISH_NO_COMPILE is set"
    try:
        from torch._inductor import config as ic
    except Exception as e:  # pragma: no cover - torch without inductor
        return f"TorchInductor is not importable ({e})"
    cxx = ic.cpp.cxx[-1] if isinstance(ic.cpp.cxx, (tuple, list)) else ic.cpp.cxx
    if cxx and shutil.which(cxx) is None and shutil.which(os.environ.get("CXX", "")) is None:
        return f"no C++ compiler found (TorchInductor looks for '{cxx}')"
    return ""


def available() -> bool:
    """Whether the compiled blocks can be used here. The first call that finds they cannot
    warns once, naming why; the inner loop then trains eagerly."""
    if _STATE["available"] is None:
        reason = _compiler_reason()
        if not reason:
            try:  # compile something tiny: a broken toolchain fails here, not mid-run
                _compiled_update()(*(torch.zeros(4) for _ in range(4)),
                                   torch.ones(()), torch.ones(()), 1e-8, 0.0)
            except Exception as e:
                reason = f"TorchInductor failed ({type(e).__name__}: {str(e).splitlines()[0]})"
        _STATE["available"] = not reason
        if reason:
            warnings.warn(f"inner_compile: {reason}; training eagerly", RuntimeWarning,
                          stacklevel=2)
    return _STATE["available"]


def _configure_dynamo() -> None:
    import torch._dynamo.config as dc

    # one graph per feature-map shape: raise dynamo's per-function limit (8) so that the
    # few dozen shapes of the motif family never fall back to eager mid-run
    dc.recompile_limit = max(dc.recompile_limit, 1024)
    dc.accumulated_recompile_limit = max(dc.accumulated_recompile_limit, 4096)


# ---------------------------------------------------------------- batch norm + ReLU
def _bn_relu_fwd(x, w, b, eps: float):
    mean = x.mean((0, 2, 3))
    xc = x - mean[None, :, None, None]
    var = (xc * xc).mean((0, 2, 3))
    invstd = torch.rsqrt(var + eps)
    y = torch.relu(xc * (invstd * w)[None, :, None, None] + b[None, :, None, None])
    return y, mean, var, invstd


def _bn_relu_bwd(g, x, y, mean, invstd, w):
    g = torch.where(y > 0, g, 0.0)
    xhat = (x - mean[None, :, None, None]) * invstd[None, :, None, None]
    gb = g.sum((0, 2, 3))
    gw = (g * xhat).sum((0, 2, 3))
    n = x.shape[0] * x.shape[2] * x.shape[3]
    gx = (invstd * w)[None, :, None, None] * (
        g - gb[None, :, None, None] / n - xhat * (gw / n)[None, :, None, None])
    return gx, gw, gb


@functools.lru_cache(maxsize=None)
def _compiled_bn_relu():
    _configure_dynamo()
    return (torch.compile(_bn_relu_fwd, dynamic=False),
            torch.compile(_bn_relu_bwd, dynamic=False))


class _BnReluFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, running_mean, running_var, momentum: float, eps: float):
        fwd, _ = _compiled_bn_relu()
        y, mean, var, invstd = fwd(x, w, b, eps)
        n = x.numel() // x.shape[1]
        with torch.no_grad():  # PyTorch's convention: unbiased variance in the estimate
            running_mean.lerp_(mean, momentum)
            running_var.lerp_(var * (n / (n - 1)), momentum)
        ctx.save_for_backward(x, y, mean, invstd, w)
        return y

    @staticmethod
    def backward(ctx, g):
        _, bwd = _compiled_bn_relu()
        x = ctx.saved_tensors[0]
        # the graph was compiled for the input's layout: give it the gradient in that layout
        cl = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
        g = g.contiguous(memory_format=torch.channels_last if cl else torch.contiguous_format)
        gx, gw, gb = bwd(g, *ctx.saved_tensors)
        return gx, gw, gb, None, None, None, None


def fusable(x: torch.Tensor, bn: torch.nn.BatchNorm2d) -> bool:
    """Whether :func:`bn_relu` takes the compiled path for this input and layer."""
    return (bn.training and bn.track_running_stats and bn.affine
            and isinstance(bn.momentum, float) and x.dim() == 4 and x.device.type == "cpu"
            and x.shape[2] * x.shape[3] >= MIN_PIXELS and x.shape[0] > 1
            and _STATE["available"] is True)


def bn_relu(x: torch.Tensor, bn: torch.nn.BatchNorm2d) -> torch.Tensor:
    """``relu(bn(x))`` in training mode, compiled where :func:`fusable`, else eager."""
    if not fusable(x, bn):
        return F.relu(bn(x))
    bn.num_batches_tracked.add_(1)
    return _BnReluFn.apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var,
                           bn.momentum, bn.eps)


# ---------------------------------------------------------------- Adam
def _flat_adam(p, g, m, v, neg_step, bc2_sqrt, eps: float, wd: float):
    """``torch.optim.Adam``'s single-tensor update (L2 weight decay, betas 0.9/0.999) over
    flat buffers, as :meth:`FlatAdam.step` writes it eagerly; the step-dependent factors
    (``neg_step`` = -lr / bias correction 1, ``bc2_sqrt``) are 0-d tensors so that one
    graph serves every step."""
    g = g + wd * p if wd else g
    m.lerp_(g, 0.1)
    v.mul_(0.999).addcmul_(g, g, value=0.001)
    p.add_(m / (v.sqrt() / bc2_sqrt + eps) * neg_step)


@functools.lru_cache(maxsize=None)
def _compiled_update():
    _configure_dynamo()
    return torch.compile(_flat_adam, dynamic=True)


def flat_adam_update(p, g, m, v, step: int, lr: float, wd: float, eps: float = 1e-8) -> None:
    """Adam step number ``step`` (from 1) over the flat buffers, compiled (betas 0.9, 0.999)."""
    neg_step = torch.tensor(-lr / (1 - 0.9 ** step), dtype=p.dtype)
    bc2_sqrt = torch.tensor((1 - 0.999 ** step) ** 0.5, dtype=p.dtype)
    _compiled_update()(p, g, m, v, neg_step, bc2_sqrt, eps, wd)
