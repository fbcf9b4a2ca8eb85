"""The compiled inner-loop path (``inner_compile``): the same training as eager within
float rounding, and eager with one warning where TorchInductor cannot compile."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from naslib_petridish import compiled
from naslib_petridish.cells import Cell
from naslib_petridish.config import ConfigError, resolve_config
from naslib_petridish.dish import Dish
from naslib_petridish.inner import train_motif
from naslib_petridish.optim import FlatAdam

CL = torch.channels_last
# input -> conv3x3 -> conv1x1 -> output, plus the input's projection: few distinct
# feature-map shapes, so the test compiles little
CELL = Cell(np.array([[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]),
            ["input", "conv3x3-bn-relu", "conv1x1-bn-relu", "output"])


@pytest.fixture(autouse=True)
def fresh_probe():
    """Each test decides compiler availability anew (the probe is cached per process)."""
    compiled._STATE["available"] = None
    yield
    compiled._STATE["available"] = None


def test_config_names_the_choices():
    assert resolve_config("paper-c").inner_compile == "none"
    with pytest.raises(ConfigError, match="inner_compile must be one of none, adam, blocks"):
        resolve_config("paper-c", inner_compile="yes")


def test_fused_bn_relu_equals_eager_forward_backward_and_running_stats():
    if not compiled.available():
        pytest.skip("TorchInductor cannot compile here")
    torch.manual_seed(0)
    a, b = torch.nn.BatchNorm2d(8), torch.nn.BatchNorm2d(8)
    with torch.no_grad():
        a.weight.uniform_(0.5, 1.5)
        a.bias.normal_()
    b.load_state_dict(a.state_dict())
    for step in range(3):
        x = torch.randn(6, 8, 16, 16).contiguous(memory_format=CL)
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        g = torch.randn_like(x)
        ya, yb = F.relu(a(xa)), compiled.bn_relu(xb, b)
        assert compiled.fusable(xb, b)
        ya.backward(g)
        yb.backward(g)
        torch.testing.assert_close(yb, ya, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(xb.grad, xa.grad, rtol=1e-4, atol=1e-5)
        assert xb.grad.is_contiguous(memory_format=CL)
        for pa, pb in ((a.weight, b.weight), (a.bias, b.bias)):
            torch.testing.assert_close(pb.grad, pa.grad, rtol=1e-4, atol=1e-5)
        for name in ("running_mean", "running_var"):
            torch.testing.assert_close(getattr(b, name), getattr(a, name), rtol=1e-5, atol=1e-6)
        assert int(b.num_batches_tracked) == int(a.num_batches_tracked) == step + 1


def test_small_maps_and_eval_mode_stay_eager():
    bn = torch.nn.BatchNorm2d(4)
    assert not compiled.fusable(torch.zeros(2, 4, 8, 8), bn)  # under MIN_PIXELS
    bn.eval()
    assert not compiled.fusable(torch.zeros(2, 4, 16, 16), bn)


def test_compiled_adam_takes_flat_adams_steps():
    if not compiled.available():
        pytest.skip("TorchInductor cannot compile here")
    torch.manual_seed(1)
    n = compiled.MIN_ADAM_NUMEL + 10
    pa, pb = torch.nn.Parameter(torch.randn(n)), None
    pb = torch.nn.Parameter(pa.detach().clone())
    kw = dict(lr=1e-2, weight_decay=1e-3)
    eager, comp = FlatAdam([pa], **kw), FlatAdam([pb], compiled=True, **kw)
    assert comp.compiled and not eager.compiled
    assert not FlatAdam([torch.nn.Parameter(torch.zeros(10))], compiled=True).compiled
    for _ in range(20):
        g = torch.randn(n)
        for opt, p in ((eager, pa), (comp, pb)):
            opt.zero_grad()
            p.grad.copy_(g)
            opt.step()
    torch.testing.assert_close(pb, pa, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(comp.exp_avg_sq, eager.exp_avg_sq, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("motif", ["C", "B"])
def test_compiled_motif_training_equals_eager(motif):
    """A whole motif trained with ``inner_compile: blocks`` (and ``adam``): the losses,
    accuracies and score of eager training, within float rounding."""
    if not compiled.available():
        pytest.skip("TorchInductor cannot compile here")
    cfg = resolve_config("paper-c", motif=motif, inner_epochs=2)
    dish = Dish.create(cfg)
    ref = train_motif(CELL, dish.images, dish.labels, cfg, seed=5)
    for mode in ("blocks", "adam"):
        got = train_motif(CELL, dish.images, dish.labels, cfg.replace(inner_compile=mode), seed=5)
        np.testing.assert_allclose(got.losses, ref.losses, rtol=1e-5)
        assert got.accs == ref.accs
        assert got.score == pytest.approx(ref.score, rel=1e-4)


def test_compiled_path_with_meta_steps_gives_eagers_dish_gradient():
    """The functional tail (meta_steps) differentiates twice: it runs eagerly, so the dish
    gradient is eager's."""
    if not compiled.available():
        pytest.skip("TorchInductor cannot compile here")
    cfg = resolve_config("paper-c", inner_epochs=1, meta_steps=2)
    dish = Dish.create(cfg)
    ref = train_motif(CELL, dish.images, dish.labels, cfg, seed=2, want_grad=True)
    got = train_motif(CELL, dish.images, dish.labels, cfg.replace(inner_compile="blocks"),
                      seed=2, want_grad=True)
    np.testing.assert_allclose(got.grad, ref.grad, rtol=1e-3, atol=1e-7)


def test_no_compiler_warns_once_and_trains_eagerly(monkeypatch):
    monkeypatch.setenv("NASLIB_PETRIDISH_NO_COMPILE", "1")
    cfg = resolve_config("paper-c", inner_epochs=1, inner_compile="blocks")
    dish = Dish.create(cfg)
    with pytest.warns(RuntimeWarning, match="inner_compile: .*training eagerly") as rec:
        got = train_motif(CELL, dish.images, dish.labels, cfg, seed=1)
        train_motif(CELL, dish.images, dish.labels, cfg, seed=1)
    assert len([w for w in rec if "inner_compile" in str(w.message)]) == 1
    ref = train_motif(CELL, dish.images, dish.labels, cfg.replace(inner_compile="none"), seed=1)
    assert got.losses == ref.losses
