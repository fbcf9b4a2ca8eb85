"""The inner loop's fast path: FlatAdam against torch.optim.Adam, and the channels_last
gradients that keep every backward kernel on its fast (unstrided) path."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from naslib_petridish.config import ConfigError, resolve_config
from naslib_petridish.dish import Dish
from naslib_petridish.inner import train_motif
from naslib_petridish.motifs import build_network
from naslib_petridish.optim import FlatAdam
from tests.helpers import tiny

CL = torch.channels_last


@pytest.fixture(scope="module")
def cells(table):
    return table.cells(table.sample(6, rng=9, metric="val"))


def _train(net, opt, steps, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(20, 3, 16, 16, generator=g).contiguous(memory_format=CL)
        y = torch.randint(0, 10, (20,), generator=g)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


@pytest.mark.parametrize("shape", ["B", "C"])
def test_flat_adam_takes_torch_adams_steps(cells, shape):
    """Thirty steps on a real motif (channels_last weights, L2 weight decay, a large lr
    so that the steps matter): the same weights, moments and losses as torch.optim.Adam."""
    torch.manual_seed(3)
    a = build_network(cells[0], shape).to(memory_format=CL)
    b = build_network(cells[0], shape).to(memory_format=CL)
    b.load_state_dict(a.state_dict())
    kw = dict(lr=1e-2, weight_decay=1e-3)
    ref, flat = torch.optim.Adam(a.parameters(), **kw), FlatAdam(b.parameters(), **kw)
    assert flat.state == {}
    la, lb = _train(a, ref, 30), _train(b, flat, 30)
    assert lb == pytest.approx(la, rel=1e-5)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pb, pa, rtol=1e-5, atol=1e-6, msg=name)
        assert pb.stride() == pa.stride()  # the layout survives the move into the buffer
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(flat.state[pb][key], ref.state[pa][key],
                                       rtol=1e-4, atol=1e-9)
        assert int(flat.state[pb]["step"]) == int(ref.state[pa]["step"]) == 30


def test_flat_adam_owns_one_buffer_and_honours_a_replaced_grad():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).to(
        memory_format=CL)
    before = [p.detach().clone() for p in net.parameters()]
    opt = FlatAdam(net.parameters(), lr=0.1)
    lo, hi = opt.flat.data_ptr(), opt.flat.data_ptr() + opt.flat.numel() * 4
    for p, old in zip(net.parameters(), before):
        assert lo <= p.data_ptr() < hi  # a view into the flat buffer ...
        assert torch.equal(p, old)     # ... holding the same values
    opt.zero_grad()
    w = net[0].weight
    w.grad = torch.ones_like(w)  # replaced by hand, not written into the buffer
    w0 = w.detach().clone()
    opt.step()
    # Adam's first step moves every weight with a gradient by lr against its sign
    torch.testing.assert_close(w, w0 - 0.1, rtol=0, atol=1e-6)
    assert torch.equal(net[1].bias, before[3])  # zero gradient: no move


def test_flat_adam_refuses_what_it_cannot_flatten():
    with pytest.raises(ValueError, match="no trainable parameters"):
        FlatAdam([])
    with pytest.raises(ValueError, match="one dtype"):
        FlatAdam([torch.nn.Parameter(torch.ones(2)),
                  torch.nn.Parameter(torch.ones(2, dtype=torch.float64))])
    with pytest.raises(ValueError, match="dense"):
        FlatAdam([torch.nn.Parameter(torch.ones(4, 4)[:, :2])])


def test_train_motif_gives_the_same_motif_with_either_optimizer(cells):
    """The config field chooses the optimizer; both train the same motif, also through
    the differentiable tail (meta_steps) that reads the optimizer's moments."""
    cfg = resolve_config("paper-a", inner_epochs=2)
    dish = Dish.create(cfg)
    for cell in cells[:2]:
        flat = train_motif(cell, dish.images, dish.labels, cfg, seed=2)
        ref = train_motif(cell, dish.images, dish.labels, cfg.replace(inner_optimizer="torch"),
                          seed=2)
        np.testing.assert_allclose(flat.losses, ref.losses, rtol=1e-5)
        assert flat.score == pytest.approx(ref.score, rel=1e-5)
    cfg = tiny(inner_epochs=2, meta_steps=3)
    dish = Dish.create(cfg)
    a = train_motif(cells[2], dish.images, dish.labels, cfg, seed=1, want_grad=True)
    b = train_motif(cells[2], dish.images, dish.labels, cfg.replace(inner_optimizer="torch"),
                    seed=1, want_grad=True)
    assert a.score == pytest.approx(b.score, rel=1e-5)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-3, atol=1e-6 * np.abs(b.grad).max())


def test_unknown_optimizer_is_a_config_error():
    with pytest.raises(ConfigError, match="inner_optimizer must be one of flat, torch"):
        resolve_config("quick", inner_optimizer="sgd")


@pytest.mark.parametrize("shape", ["A", "B", "C"])
def test_every_gradient_in_a_motif_is_channels_last(cells, shape):
    """In channels_last every activation's gradient must keep channels innermost: one NCHW
    gradient (the mean over pixels and a channel slice gave one) makes every backward
    kernel it meets strided, threshold_backward 30x slower."""
    seen = []
    for cell in cells:
        net = build_network(cell, shape).to(memory_format=CL)

        def hook(module, inputs, out, name=None):
            out.register_hook(lambda g, name=name: seen.append((cell.hash, name, g.stride())))

        for name, m in net.named_modules():
            if isinstance(m, (torch.nn.ReLU, torch.nn.MaxPool2d, torch.nn.BatchNorm2d)):
                m.register_forward_hook(lambda mod, i, o, name=name: hook(mod, i, o, name))
        x = torch.randn(20, 3, 16, 16).contiguous(memory_format=CL)
        F.cross_entropy(net(x), torch.arange(20) % 10).backward()
    assert len(seen) > 10 * len(cells)
    bad = [s for s in seen if s[2][1] != 1]  # channel stride 1: channels innermost
    assert not bad, bad[:5]
