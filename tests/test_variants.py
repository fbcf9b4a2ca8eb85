"""Outer-loop variants beyond the paper (issue: an outer loop that ranks):
losses, truncated meta-gradients, a dish with a validation part, the hybrid
calibration.  The paper's defaults must be unchanged by all of them."""
import numpy as np
import pytest
import torch

from naslib_petridish.config import ConfigError, resolve_config
from naslib_petridish.dish import Dish
from naslib_petridish.inner import train_motif
from naslib_petridish.calibration import apply_calibration, fit_calibration
from naslib_petridish.motifs import count_parameters
from naslib_petridish.outer import outer_loss
from naslib_petridish.predictor import SyntheticPetriDishPredictor

from tests.helpers import tiny


@pytest.fixture(scope="module")
def pool(table):
    rows = table.sample(12, rng=11, metric="val")
    return table.cells(rows), table.metric(rows, "val")


def test_variants_leave_the_paper_presets_alone():
    """No paper preset sets a variant field: they all take the defaults, which are the
    paper's behaviour (1 - |r| as the loss: test_losses_reward_the_right_thing; the gradient
    through the scoring pass only; no validation images; a line through z^)."""
    from naslib_petridish.config import PetriDishConfig, load_preset

    variant = ("loss", "meta_steps", "dish_val_size", "calibration", "score", "score_mode",
               "pairwise_temperature")
    default = PetriDishConfig()
    for name in ("paper-a", "paper-b", "paper-c", "paper-a-short", "paper-b-short"):
        assert not set(variant) & (set(load_preset(name)) - {"loss"})
        c = resolve_config(name)
        assert all(getattr(c, f) == getattr(default, f) for f in variant)
    assert (default.meta_steps, default.dish_val_size, default.score) == (0, 0, "zhat")


def test_variant_config_errors():
    with pytest.raises(ConfigError, match="unknown loss 'hinge'; available: pearson_abs"):
        tiny(loss="hinge")
    with pytest.raises(ConfigError, match="meta_steps .* exceeds the 4 optimizer steps"):
        tiny(meta_steps=5)
    with pytest.raises(ConfigError, match="dish_val_size .* multiple of num_classes"):
        tiny(dish_val_size=15)
    with pytest.raises(ConfigError, match="unknown calibration 'spline'"):
        tiny(calibration="spline")
    with pytest.raises(ConfigError, match="pairwise_temperature"):
        tiny(pairwise_temperature=0)


def test_losses_reward_the_right_thing():
    z = torch.tensor([0.80, 0.85, 0.90, 0.95], dtype=torch.float64)
    good = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    bad = good.flip(0)
    for loss in ("pearson", "pairwise"):
        cfg = tiny(loss=loss)
        assert outer_loss(cfg, z, good)[0] < outer_loss(cfg, z, bad)[0]
    # the paper's |r| cannot tell a perfect ranking from a perfectly reversed one
    cfg = tiny(loss="pearson_abs")
    assert float(outer_loss(cfg, z, good)[0]) == pytest.approx(float(outer_loss(cfg, z, bad)[0]))
    cfg = tiny(loss="mse")
    assert float(outer_loss(cfg, z, z.clone())[0]) == 0.0
    assert float(outer_loss(cfg, z, good)[0]) == pytest.approx(float(((good - z) ** 2).mean()))
    # pairwise: invariant to the scale and shift of the scores (standardized), ties ignored
    cfg = tiny(loss="pairwise")
    a = outer_loss(cfg, z, good)[0]
    assert float(outer_loss(cfg, z, 5 * good + 3)[0]) == pytest.approx(float(a))
    tied = torch.tensor([0.9, 0.9, 0.9, 0.9], dtype=torch.float64)
    zero, _ = outer_loss(cfg, tied, good.clone().requires_grad_(True))
    assert float(zero.detach()) == 0.0
    # each loss gives a finite gradient on the scores
    for loss in ("pearson_abs", "pearson", "mse", "pairwise"):
        zh = good.clone().requires_grad_(True)
        outer_loss(tiny(loss=loss), z, zh)[0].backward()
        assert torch.isfinite(zh.grad).all() and zh.grad.abs().sum() > 0


def test_meta_gradient_matches_finite_differences(pool):
    """Differentiating through all inner steps gives the true derivative of the score
    (float64, central differences); the paper's last-forward-pass gradient does not."""
    cells, _ = pool
    cfg = tiny(inner_epochs=3, inner_lr=1e-2, score_mode="train")  # 6 optimizer steps
    dish = Dish.create(cfg)
    x = dish.images.double()
    full = train_motif(cells[0], x, dish.labels, cfg.replace(meta_steps=6), 1, want_grad=True,
                       dtype=torch.float64)
    paper = train_motif(cells[0], x, dish.labels, cfg, 1, want_grad=True, dtype=torch.float64)
    # training itself is the same whichever way the steps run
    assert full.score == pytest.approx(paper.score, rel=1e-9)
    assert full.losses == pytest.approx(paper.losses, rel=1e-9)
    g = torch.from_numpy(full.grad)
    u = g / g.norm()
    h = 1e-6  # the piecewise-linear ReLU/max-pool kinks break larger steps
    fd = (train_motif(cells[0], x + h * u, dish.labels, cfg.replace(meta_steps=6), 1,
                      dtype=torch.float64).score
          - train_motif(cells[0], x - h * u, dish.labels, cfg.replace(meta_steps=6), 1,
                        dtype=torch.float64).score) / (2 * h)
    assert float((g * u).sum()) == pytest.approx(fd, rel=1e-5)
    assert float((torch.from_numpy(paper.grad) * u).sum()) != pytest.approx(fd, rel=0.05)


def test_meta_steps_train_the_same_motif_in_float32(pool):
    cells, _ = pool
    cfg = tiny(inner_epochs=2)
    dish = Dish.create(cfg)
    a = train_motif(cells[1], dish.images, dish.labels, cfg, 4)
    b = train_motif(cells[1], dish.images, dish.labels, cfg.replace(meta_steps=3), 4,
                    want_grad=True)
    c = train_motif(cells[1], dish.images, dish.labels, cfg.replace(meta_steps=3), 4)
    assert b.score == c.score  # fit-time and query-time training agree exactly
    assert b.score == pytest.approx(a.score, rel=1e-4)
    assert b.losses == pytest.approx(a.losses, rel=1e-4)


def test_dish_validation_part(pool):
    cells, _ = pool
    cfg = tiny(dish_val_size=20)
    dish = Dish.create(cfg)
    assert dish.images.shape[0] == 60
    assert np.bincount(dish.labels[:40].numpy()).tolist() == [4] * 10
    assert np.bincount(dish.labels[40:].numpy()).tolist() == [2] * 10
    r = train_motif(cells[0], dish.images, dish.labels, cfg, 1, want_grad=True)
    # without meta steps only the scored (validation) images get gradient
    assert np.abs(r.grad[:40]).sum() == 0 and np.abs(r.grad[40:]).sum() > 0
    r2 = train_motif(cells[0], dish.images, dish.labels, cfg.replace(meta_steps=2), 1,
                     want_grad=True)
    assert np.abs(r2.grad[:40]).sum() > 0
    # changing the validation images changes the score but not the training
    imgs = dish.images.clone()
    imgs[40:] += 1.0
    r3 = train_motif(cells[0], imgs, dish.labels, cfg, 1)
    assert r3.losses == r.losses and r3.score != r.score


def test_calibrations_recover_known_maps(pool):
    """Accuracies made from known coefficients are mapped back to them."""
    cells, _ = pool
    s = np.random.default_rng(0).random(len(cells))
    lp = np.log10([count_parameters(c, "full") for c in cells])
    acc = 0.3 * s + 0.05 * lp + 0.5
    cal = fit_calibration("linear_params", s, acc, cells)
    assert (cal["slope"], cal["params_slope"], cal["intercept"]) == pytest.approx((0.3, 0.05, 0.5))
    new_s = np.array([0.0, 1.0])
    np.testing.assert_allclose(apply_calibration(cal, new_s, cells[:2]),
                               0.3 * new_s + 0.05 * lp[:2] + 0.5)
    lin = fit_calibration("linear", s, 2.0 - 0.5 * s, cells)
    assert (lin["slope"], lin["intercept"], lin["pearson_r"]) == pytest.approx((-0.5, 2.0, -1.0))
    assert lin["kendall_tau"] == pytest.approx(-1.0) and lin["n"] == len(cells)
    flat = fit_calibration("linear", np.ones(4), [0.8, 0.9, 0.7, 0.6], cells[:4])
    assert (flat["slope"], flat["intercept"]) == pytest.approx((0.0, 0.75))  # predicts the mean


@pytest.mark.parametrize("loss", ["pearson", "mse", "pairwise"])
def test_predictor_with_variants_fits_and_queries(pool, loss, tmp_path):
    cells, acc = pool
    cfg = tiny(loss=loss, meta_steps=2, dish_val_size=10, calibration="linear_params",
               outer_epochs=2, inner_epochs=1)
    p = SyntheticPetriDishPredictor(config=cfg, out_dir=tmp_path / "run")
    try:
        p.fit(cells[:6], acc[:6])
        before = Dish.create(cfg).images
        assert not torch.equal(p.dish.images, before)  # the dish moved
        pred = p.query(cells[6:9])
        assert pred.dtype == np.float64 and np.isfinite(pred).all()
        assert p.dish.calibration["kind"] == "linear_params"
    finally:
        p.close()
    q = SyntheticPetriDishPredictor.load(tmp_path / "run")
    try:
        np.testing.assert_array_equal(q.query(cells[6:9]), pred)
    finally:
        q.close()


def test_training_speed_score_and_its_gradient(pool):
    """score=tse is minus the mean training loss; with every step differentiated its
    dish gradient is the true derivative (float64 central differences), and the
    cheap default (direct effect of each batch) is a different, nonzero field."""
    cells, _ = pool
    cfg = tiny(inner_epochs=3, inner_lr=1e-2, score="tse")
    dish = Dish.create(cfg)
    x = dish.images.double()
    r = train_motif(cells[2], x, dish.labels, cfg, 5, want_grad=True, dtype=torch.float64)
    assert r.score == pytest.approx(-np.mean(r.losses), rel=1e-12)
    full = train_motif(cells[2], x, dish.labels, cfg.replace(meta_steps=6), 5, want_grad=True,
                       dtype=torch.float64)
    assert full.score == pytest.approx(r.score, rel=1e-9)
    g = torch.from_numpy(full.grad)
    u = g / g.norm()
    h = 1e-6
    f = [train_motif(cells[2], x + s * h * u, dish.labels, cfg, 5, dtype=torch.float64).score
         for s in (1, -1)]
    assert float((g * u).sum()) == pytest.approx((f[0] - f[1]) / (2 * h), rel=1e-5)
    assert np.abs(r.grad).sum() > 0 and not np.allclose(r.grad, full.grad)


def test_untrained_dish_tse_preset_predicts_from_independently_trained_motifs(pool):
    """The preset trains no dish; its prediction for a cell is the least-squares map of
    (training speed, log10 params) -> accuracy over every training cell, applied to the
    training speed of the cell's motif trained on the seeded dish with the query seed."""
    from naslib_petridish.motifs import count_parameters
    from naslib_petridish.seeds import query_seed

    cfg = resolve_config("untrained-dish-tse",
                         overrides={"workers": 1, "dish_size": 40, "inner_epochs": 2})
    assert (cfg.score, cfg.calibration, cfg.outer_lr) == ("tse", "linear_params", 0.0)
    cells, acc = pool
    dish = Dish.create(cfg)

    def speed(cell):  # training speed of the motif, trained here directly
        return -np.mean(train_motif(cell, dish.images, dish.labels, cfg,
                                    query_seed(cfg.seed, cell.hash)).losses)

    def features(cs):
        return np.column_stack([[speed(c) for c in cs],
                                np.log10([count_parameters(c, "full") for c in cs]),
                                np.ones(len(cs))])

    coef = np.linalg.lstsq(features(cells[:9]), acc[:9], rcond=None)[0]
    p = SyntheticPetriDishPredictor(config=cfg)
    try:
        p.fit(cells[:9], acc[:9])
        assert p.dish.calibration["n"] == 9
        assert torch.equal(p.dish.images, dish.images)  # the dish stays as seeded
        np.testing.assert_allclose(p.query(cells[9:]), features(cells[9:]) @ coef, rtol=1e-6)
    finally:
        p.close()
