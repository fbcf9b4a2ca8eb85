"""Does TorchInductor speed up what every motif shares?  Compiled beside eager, one thread.

Issue 27 asked for the blocks every motif shares (batch norm + ReLU, max-pool, the Adam
step) to be compiled once per process and reused across architectures.  This probe
measures each candidate on the motif sizes (batch 20, 16x16 / 8x8 / 4x4 pixels, 5-64
channels, channels_last), forward + backward as training runs them, compilation time
reported apart:

* ``elementwise``: ``relu(2x + 1)`` compiled, without and with autograd; and the same
  kernel writing a float, uint8 or bool second output (a training graph saves ReLU's
  mask as bool);
* ``bn_relu``: batch norm (training mode) + ReLU, eager; ``torch.compile`` of the block
  (AOTAutograd builds forward and backward); and a hand-derived autograd Function whose
  forward and backward are compiled as separate inference graphs (no bool mask saved),
  static and dynamic shapes;
* ``max_pool``: the 3x3 stride-1 max-pool, eager and compiled;
* ``adam``: ``torch.optim.Adam`` over a motif's parameter tensors, ``FlatAdam`` (eager,
  one buffer) and the flat update compiled with dynamic length.

Writes ``compile_probe.json`` to ``benchmarks/results`` (``--results``).

    python -m benchmarks.compile_probe [--reps 300]
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks import harness
from naslib_petridish.cells import Cell
from naslib_petridish.compiled import _bn_relu_bwd, _bn_relu_fwd
from naslib_petridish.motifs import build_network
from naslib_petridish.optim import FlatAdam

CL = torch.channels_last
SHAPES = [(20, 16, 16, 16), (20, 5, 16, 16), (20, 32, 8, 8), (20, 64, 4, 4)]
EPS = 1e-5


def timed(fn, reps: int) -> float:
    """Microseconds per call of ``fn`` (after three warm-up calls)."""
    for _ in range(3):
        fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps * 1e6


def first_call(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def elementwise(reps: int) -> dict:
    def f(x):
        return torch.relu(x * 2 + 1)

    def out_bool(x):
        y = f(x)
        return y, y <= 0

    def out_uint8(x):
        y = f(x)
        return y, (y <= 0).to(torch.uint8)

    def out_float(x):
        y = f(x)
        return y, y * 3

    x = torch.randn(*SHAPES[0])
    xg = x.clone().requires_grad_()
    cf = torch.compile(f)
    r = {"eager_no_grad_us": timed(lambda: f(x), reps),
         "eager_autograd_us": timed(lambda: f(xg), reps)}
    r["compile_s"] = first_call(lambda: cf(x))
    r["compiled_no_grad_us"] = timed(lambda: cf(x), reps)
    r["compile_autograd_s"] = first_call(lambda: cf(xg))
    r["compiled_autograd_us"] = timed(lambda: cf(xg), reps)
    for name, g in (("float", out_float), ("uint8", out_uint8), ("bool", out_bool)):
        cg = torch.compile(g)
        cg(x)
        r[f"compiled_second_output_{name}_us"] = timed(lambda: cg(x), reps)
    return r


def _bn_fwd(x, w, b):
    return _bn_relu_fwd(x, w, b, EPS)  # the package's fused block (naslib_petridish.compiled)


_bn_bwd = _bn_relu_bwd


def _fused_bn_relu(dynamic: bool):
    fwd, bwd = torch.compile(_bn_fwd, dynamic=dynamic), torch.compile(_bn_bwd, dynamic=dynamic)

    class BnRelu(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b, rm, rv):
            y, mean, var, invstd = fwd(x, w, b)
            n = x.numel() / x.shape[1]
            rm.lerp_(mean, 0.1)
            rv.lerp_(var * (n / (n - 1)), 0.1)
            ctx.save_for_backward(x, y, mean, invstd, w)
            return y

        @staticmethod
        def backward(ctx, g):
            gx, gw, gb = bwd(g, *ctx.saved_tensors)
            return gx, gw, gb, None, None

    return BnRelu.apply


def bn_relu(reps: int) -> list[dict]:
    def eager(x, w, b, rm, rv):
        return F.relu(F.batch_norm(x, rm, rv, w, b, True, 0.1, EPS))

    variants = {"eager": eager, "compiled_block": torch.compile(eager),
                "fused_static": _fused_bn_relu(False), "fused_dynamic": _fused_bn_relu(True)}
    rows = []
    for shape in SHAPES:
        c = shape[1]
        x = torch.randn(*shape).contiguous(memory_format=CL).requires_grad_()
        w, b = torch.rand(c, requires_grad=True), torch.randn(c, requires_grad=True)
        go = torch.randn(*shape).contiguous(memory_format=CL)
        row = {"shape": list(shape)}
        outs = {}
        for name, fn in variants.items():
            rm, rv = torch.zeros(c), torch.ones(c)

            def step(fn=fn, rm=rm, rv=rv):
                y = fn(x, w, b, rm, rv)
                return y, torch.autograd.grad(y, (x, w, b), go)

            row[f"{name}_first_call_s"] = first_call(step)
            row[f"{name}_us"] = timed(step, reps)
            outs[name] = step()
        ref = outs["eager"]
        row["max_abs_diff_vs_eager"] = {
            k: max(float((a - r).detach().abs().max())
                   for a, r in zip((v[0], *v[1]), (ref[0], *ref[1])))
            for k, v in outs.items() if k != "eager"}
        rows.append(row)
        print("bn+relu", shape, {k: round(v, 1) for k, v in row.items()
                                 if k.endswith("_us")}, flush=True)
    return rows


def max_pool(reps: int) -> list[dict]:
    def pool(x):
        return F.max_pool2d(x, 3, 1, 1)

    cp = torch.compile(pool)
    rows = []
    for shape in SHAPES:
        x = torch.randn(*shape).contiguous(memory_format=CL).requires_grad_()
        go = torch.randn(*shape).contiguous(memory_format=CL)
        row = {"shape": list(shape)}
        for name, fn in (("eager", pool), ("compiled", cp)):
            def step(fn=fn):
                return torch.autograd.grad(fn(x), x, go)
            row[f"{name}_first_call_s"] = first_call(step)
            row[f"{name}_us"] = timed(step, reps)
        rows.append(row)
        print("max-pool", shape, row["eager_us"], row["compiled_us"], flush=True)
    return rows


def _flat_update(p, g, m, v, bc1, bc2_sqrt, lr: float, wd: float):
    g = g + wd * p
    m2 = m + 0.1 * (g - m)
    v2 = v * 0.999 + 0.001 * g * g
    p.copy_(p - (lr / bc1) * m2 / (v2.sqrt() / bc2_sqrt + 1e-8))
    m.copy_(m2)
    v.copy_(v2)


def adam(reps: int) -> list[dict]:
    cell = Cell(np.array([[0, 1, 1, 0, 0, 0, 1], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0],
                          [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1],
                          [0, 0, 0, 0, 0, 0, 0]]),
                ["input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "conv3x3-bn-relu",
                 "conv3x3-bn-relu", "output"])
    compiled = torch.compile(_flat_update, dynamic=True)
    rows = []
    for motif in ("C", "B", "A"):
        net = build_network(cell, motif).to(memory_format=CL)
        params = list(net.parameters())
        for p in params:
            p.grad = torch.randn_like(p)
        ref = torch.optim.Adam(params, lr=5e-5, weight_decay=1e-6)
        row = {"motif": motif, "tensors": len(params),
               "parameters": int(sum(p.numel() for p in params)),
               "torch_adam_us": timed(ref.step, reps)}
        flat = FlatAdam(params, lr=5e-5, weight_decay=1e-6)
        flat.zero_grad()
        flat.grad.normal_()
        row["flat_adam_us"] = timed(flat.step, reps)
        args = (flat.flat, flat.grad, flat.exp_avg, flat.exp_avg_sq, 0.5, 0.5, 5e-5, 1e-6)
        row["compiled_flat_first_call_s"] = first_call(lambda: compiled(*args))
        row["compiled_flat_us"] = timed(lambda: compiled(*args), reps)
        rows.append(row)
        print("adam", row, flush=True)
    return rows


def main():
    ap = harness.argument_parser(__doc__)
    ap.add_argument("--reps", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = {"machine": harness.machine_description(), "torch": torch.__version__, "threads": 1,
           "reps": args.reps}
    out["elementwise"] = elementwise(args.reps)
    print("elementwise", {k: round(v, 1) for k, v in out["elementwise"].items()}, flush=True)
    out["bn_relu"] = bn_relu(args.reps)
    out["max_pool"] = max_pool(args.reps)
    out["adam"] = adam(args.reps)
    print("wrote", harness.save_json(args.results / "compile_probe.json", out))


if __name__ == "__main__":
    main()
