"""NB201 networks: official parameter and FLOP counts, the counters against built networks,
forward passes of the motifs, and equality with a transcription of the official code."""
import numpy as np
import pytest
import torch
from torch import nn

from naslib_petridish.spaces.nb201.cell import EDGES, OPS, Cell, random_cell
from naslib_petridish.spaces.nb201.network import (MOTIFS, MotifShape, NB201Network,
                                                   build_network, count_flops,
                                                   count_parameters, motif_shape,
                                                   trainable_parameters)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These convolutions are tiny: one thread is as fast, and keeps the tests fast when
    another process holds the other cores (threads would otherwise wait on each other)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


ALL_NONE = Cell(["none"] * 6)
ALL_CONV3 = Cell(["nor_conv_3x3"] * 6)
FULL100 = MotifShape(num_stacks=3, cells_per_stack=5, stem_channels=16, num_classes=100)
IMAGENET16 = MotifShape(num_stacks=3, cells_per_stack=5, stem_channels=16, num_classes=120)

# NB201's published min / max of ``params`` (MB = 1e6) and ``flop`` (MFLOPs) over all 15,625
# cells, read from NAS-Bench-201-v1_1-096897 (cifar10-valid, cifar100, ImageNet16-120 at
# 16x16) and quoted by EvoXBench / HPOBench-style users; min = cells without convolutions,
# max = all six edges nor_conv_3x3
OFFICIAL = [  # (shape, resolution, min params, max params, min flops, max flops)
    ("full", 32, 73_306, 1_531_546, 7_783_050, 220_119_690),
    (FULL100, 32, 79_156, 1_537_396, 7_788_900, 220_125_540),
    (IMAGENET16, 16, 80_456, 1_538_696, 1_953_400, 55_037_560),
]


@pytest.mark.parametrize("shape,res,pmin,pmax,fmin,fmax", OFFICIAL)
def test_counts_equal_official_nb201_values(shape, res, pmin, pmax, fmin, fmax):
    for ops in (["none"] * 6, ["skip_connect"] * 6, ["avg_pool_3x3"] * 6,
                ["none", "skip_connect", "avg_pool_3x3", "skip_connect", "none", "none"]):
        assert count_parameters(Cell(ops), shape) == pmin
        assert count_flops(Cell(ops), shape, res) == fmin
    assert count_parameters(ALL_CONV3, shape) == pmax
    assert count_flops(ALL_CONV3, shape, res) == fmax
    assert count_parameters(ALL_NONE, shape) / 1e6 == pytest.approx(pmin / 1e6, abs=1e-9)


def test_built_full_network_has_official_parameter_counts():
    assert trainable_parameters(build_network(ALL_NONE, "full")) == 73_306
    assert trainable_parameters(build_network(ALL_CONV3, "full")) == 1_531_546
    assert trainable_parameters(build_network(ALL_NONE, FULL100)) == 79_156


def test_count_parameters_equals_built_network_on_random_cells_and_every_shape():
    custom = MotifShape(num_stacks=2, cells_per_stack=2, stem_channels=8, in_channels=1,
                        num_classes=7)
    shapes = [*MOTIFS, custom]
    rng = np.random.default_rng(0)
    with torch.device("meta"):  # no weight memory, no initialization cost
        for n in range(300):
            cell, shape = random_cell(rng), shapes[n % len(shapes)]
            net = build_network(cell, shape)
            assert trainable_parameters(net) == count_parameters(cell, shape), (cell, shape)


def _hooked_flops(net: nn.Module, res: int, in_channels: int = 3) -> int:
    """xautodl's flop_benchmark convention by forward hooks: conv and linear layers."""
    total = []

    def conv(m, inp, out):
        total.append(m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                     // m.groups * out.shape[2] * out.shape[3])

    def fc(m, inp, out):
        total.append(m.in_features * m.out_features + m.out_features)

    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(conv)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(fc)
    with torch.no_grad():
        net.eval()(torch.zeros(1, in_channels, res, res))
    return sum(total)


def test_count_flops_equals_hooks_on_cells_that_run_every_conv():
    # every conv edge runs when every node reaches the output
    cells = [ALL_NONE, ALL_CONV3, Cell(["nor_conv_1x1", "nor_conv_3x3", "skip_connect",
                                        "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3"])]
    for cell in cells:
        for shape in MOTIFS:
            for res in (16, 32):
                net = build_network(cell, shape)
                assert _hooked_flops(net, res) == count_flops(cell, shape, res)


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_motifs_forward(name):
    torch.manual_seed(0)
    for cell in [random_cell(n) for n in range(3)] + [ALL_CONV3]:
        net = build_network(cell, name)
        for res in (16, 32):
            out = net(torch.randn(2, 3, res, res))
            assert out.shape == (2, 10)
            assert torch.isfinite(out).all()
    assert (MOTIFS[name].num_stacks, MOTIFS[name].cells_per_stack,
            MOTIFS[name].stem_channels) == {"A": (1, 5, 16), "B": (3, 1, 16),
                                            "C": (1, 1, 16)}[name]


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_disconnected_cell_gives_constant_logits(name):
    # every edge into node 3 is none: the cell outputs zero whatever its input
    cell = Cell(["nor_conv_3x3", "nor_conv_3x3", "skip_connect", "none", "none", "none"])
    assert cell.active_edges() == []
    torch.manual_seed(0)
    net = build_network(cell, name)
    a, b = torch.randn(2, 3, 16, 16), 5 * torch.randn(2, 3, 16, 16)
    for mode in (True, False):
        net.train(mode)
        out_a, out_b = net(a), net(b)
        assert out_a.shape == (2, 10) and torch.isfinite(out_a).all()
        assert torch.equal(out_a, out_b)
        assert torch.equal(out_a[0], out_a[1])


# -- a line-by-line transcription of the official code (xautodl cell_infers + ops) ----------
class _Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


class _ReLUConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False),
                                nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
                                nn.BatchNorm2d(cout))

    def forward(self, x):
        return self.op(x)


class _ResNetBasicblock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv_a = _ReLUConvBN(cin, cout, 3, 2)
        self.conv_b = _ReLUConvBN(cout, cout, 3, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2, 0), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


_OFFICIAL_OPS = {
    "none": lambda c: _Zero(),
    "skip_connect": lambda c: nn.Identity(),
    "nor_conv_1x1": lambda c: _ReLUConvBN(c, c, 1, 1),
    "nor_conv_3x3": lambda c: _ReLUConvBN(c, c, 3, 1),
    "avg_pool_3x3": lambda c: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
}


class _InferCell(nn.Module):
    def __init__(self, cell, c):
        super().__init__()
        self.edges = list(EDGES)
        self.layers = nn.ModuleList(_OFFICIAL_OPS[op](c) for op in cell.ops)

    def forward(self, x):
        nodes = [x]
        for j in range(1, 4):
            nodes.append(sum(self.layers[k](nodes[i])
                             for k, (i, t) in enumerate(self.edges) if t == j))
        return nodes[-1]


class _TinyNetwork(nn.Module):
    def __init__(self, cell, C, N, stages, num_classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers = []
        for s in range(stages):
            if s > 0:
                layers.append(_ResNetBasicblock(C, 2 * C))
                C *= 2
            layers += [_InferCell(cell, C) for _ in range(N)]
        self.cells = nn.ModuleList(layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(C), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C, num_classes)

    def forward(self, x):
        h = self.stem(x)
        for c in self.cells:
            h = c(h)
        return self.classifier(self.global_pooling(self.lastact(h)).flatten(1))


def test_equals_official_transcription():
    rng = np.random.default_rng(3)
    cells = [random_cell(rng) for _ in range(12)] + [
        ALL_NONE, ALL_CONV3,
        # node 1 is zero but feeds a conv: the conv's batch norm turns it into its bias
        Cell(["none", "skip_connect", "nor_conv_3x3", "none", "nor_conv_1x1", "skip_connect"]),
        # node 2 does not reach the output
        Cell(["avg_pool_3x3", "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "skip_connect",
              "none"])]
    x = torch.randn(4, 3, 16, 16)
    for n, cell in enumerate(cells):
        shape = [MOTIFS["A"], MOTIFS["B"], MotifShape(num_stacks=2, cells_per_stack=2)][n % 3]
        torch.manual_seed(n)
        ours = NB201Network(cell, shape)
        ref = _TinyNetwork(cell, shape.stem_channels, shape.cells_per_stack, shape.num_stacks,
                           shape.num_classes)
        pairs = list(zip(ours.parameters(), ref.parameters(), strict=True))
        with torch.no_grad():
            for m in ours.modules():  # nonzero BN biases: a zero node's conv is not zero
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.5, 0.5)
            for p, q in pairs:
                assert p.shape == q.shape
                q.copy_(p)
        for mode in (True, False):  # batch statistics, then running statistics
            ours.train(mode)
            ref.train(mode)
            torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-6,
                                       msg=lambda m: f"{cell.arch} train={mode}: {m}")


def test_shapes_and_errors():
    assert motif_shape("a") is MOTIFS["A"] and motif_shape("FULL") is MOTIFS["full"]
    assert motif_shape({"num_stacks": 2}) == MotifShape(num_stacks=2)
    assert build_network(ALL_NONE).shape == MOTIFS["C"]
    net = build_network("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|none~2|", "B")
    assert net.cell == Cell(["nor_conv_3x3", "none", "skip_connect", "none", "none", "none"])
    assert set(OPS) >= set(net.cell.ops)
    for bad in ("D", {"stages": 3}, {"num_stacks": 0}, 3.5):
        with pytest.raises(ValueError) as exc:
            motif_shape(bad)
        assert "\n" not in str(exc.value)
    with pytest.raises(ValueError):
        build_network(ALL_NONE, "nope")
    with pytest.raises(ValueError):
        count_parameters(["bogus"] * 6)
    with pytest.raises(ValueError, match="divisible"):
        count_flops(ALL_NONE, "full", resolution=30)
    assert count_flops(ALL_NONE, "C", resolution=7) > 0


@pytest.mark.parametrize("score,meta_steps", [("zhat", 0), ("zhat", 2), ("tse", 0)])
def test_dish_gradient_of_a_disconnected_cell_is_zero(score, meta_steps):
    # a cell whose output ignores its input (no path from input to output) used to stop the
    # dish's outer step: its motif's score does not depend on the dish's images
    from naslib_petridish.config import resolve_config
    from naslib_petridish.dish import Dish
    from naslib_petridish.inner import train_motif

    cell = Cell(["nor_conv_3x3", "nor_conv_3x3", "skip_connect", "none", "none", "none"])
    cfg = resolve_config("quick", space="nb201", inner_epochs=1, score=score,
                         meta_steps=meta_steps)
    dish = Dish.create(cfg)
    res = train_motif(cell, dish.images, dish.labels, cfg, seed=0, want_grad=True)
    assert res.grad.shape == tuple(dish.images.shape) and not res.grad.any()
    assert np.isfinite(res.score)
    live = train_motif(Cell(["nor_conv_3x3"] * 6), dish.images, dish.labels, cfg, seed=0,
                       want_grad=True)
    assert np.abs(live.grad).sum() > 0  # a connected cell's motif does get a gradient
