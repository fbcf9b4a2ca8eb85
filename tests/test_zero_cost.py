"""Zero-cost proxies (naslib_petridish.zero_cost): synflow on NB201 networks."""
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from naslib_petridish.spaces import get_space
from naslib_petridish.zero_cost import synflow, synflow_scores

CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|" \
       "nor_conv_3x3~2|"
NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def test_synflow_of_a_linear_layer_is_its_path_norm():
    """One linear layer, all-ones input: R = sum_ij |w_ij| + sum_i |b_i| and each parameter
    contributes |theta * dR/dtheta| = |theta|, so the score is the layer's l1 norm."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3)
    l1 = float(lin.weight.detach().abs().sum() + lin.bias.detach().abs().sum())
    assert synflow(lin, (4,)) == pytest.approx(l1, rel=1e-9)


def test_synflow_scores_are_seeded_and_follow_the_convolutions():
    cells = [CONV, NONE, "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|none~0|none~1|"
             "nor_conv_1x1~2|"]
    a = synflow_scores(cells, shape="C", resolution=8)
    assert np.array_equal(a, synflow_scores(cells, shape="C", resolution=8))
    assert np.all(np.isfinite(a))
    assert a[0] > a[2] > a[1]  # more convolutions on live paths, more synaptic flow


def test_synflow_ranks_like_the_parameter_count_on_random_cells():
    """What NB201.md measures over the whole space (Spearman 0.78 against test accuracy, a
    proxy of the size), here on 40 random cells of motif B: close to the parameter count."""
    sp = get_space("nb201")
    rng = np.random.default_rng(0)
    cells = [sp.random_cell(rng) for _ in range(40)]
    s = synflow_scores(cells, shape="B", resolution=8)
    assert spearmanr(s, sp.log_params(cells)).statistic > 0.6
