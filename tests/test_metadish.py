"""The dish trained by the full meta-gradient (naslib_petridish.metadish) and the ranker's
``metadish`` source: the gradient through every inner step against finite differences,
the outer loop's schedule, early stopping and resumption, and a trained-dish ranker end to
end on the synthetic table."""
import json

import numpy as np
import pytest
import torch

from naslib_petridish.correlation import paired_kendall_difference
from naslib_petridish.errors import ConfigError, RunDirError
from naslib_petridish.metadish import (MetaDish, MetaDishConfig, curve_features, fit_metadish,
                                       motif_gradient, run_motif, split_holdout)
from naslib_petridish.ranker import RankerConfig, RankerPredictor

TINY = dict(dish_size=20, num_classes=2, resolution=4, inner_steps=3, batch_size=10)


def test_the_meta_gradient_through_every_inner_step_matches_finite_differences(table):
    """d score / d (pixels, label logits, log learning rate), through 3 inner Adam steps
    of a weight-normalized motif with soft labels, against central differences along the
    gradient (float64; small steps: ReLU/max-pool kinks and Adam's sign-like first step
    make the score only piecewise smooth)."""
    for score in ("tse", "final"):
        cfg = MetaDishConfig(**TINY, score=score, inner_lr=0.05)
        d = MetaDish.create(cfg)
        cell = table.cell(3)
        _, g = motif_gradient(cell, d, seed=5, dtype=torch.float64)
        for part in ("images", "label_logits", "log_lr"):
            base = d.tensors()[part].double()
            u = g[part].double() / torch.linalg.vector_norm(g[part].double())
            h = 1e-6

            def f(x):
                parts = {k: v.double() for k, v in d.tensors().items()}
                parts[part] = x
                return float(run_motif(cell, d, 5, dtype=torch.float64, parts=parts)[0])

            fd = (f(base + h * u) - f(base - h * u)) / (2 * h)
            an = float((g[part].double() * u).sum())
            assert an == pytest.approx(fd, rel=1e-4), (score, part)
            assert an > 1e-6, (score, part)  # the part does reach the score


def test_the_untrained_dish_is_balanced_and_its_curves_are_seeded(table):
    cfg = MetaDishConfig(**TINY)
    d = MetaDish.create(cfg)
    assert np.bincount(d.label_logits.argmax(1).numpy()).tolist() == [10, 10]
    assert torch.softmax(d.label_logits, 1).max(1).values.min() == pytest.approx(0.95)
    cells = [table.cell(i) for i in range(3)]
    from naslib_petridish.metadish import curves
    a, b = curves(d, cells, 7), curves(d, cells[::-1], 7)
    assert [r.losses for r in a] == [r.losses for r in b[::-1]]  # per cell, not per order
    x, names = curve_features(a)
    assert x.shape == (3, len(names)) and names[-2:] == ["mdish_score", "mdish_loss_drop"]
    assert x[0, -2] == pytest.approx(-np.mean(a[0].losses))  # tse = minus the mean loss


def test_the_outer_loop_learns_stops_early_and_resumes_to_the_same_dish(table, tmp_path):
    cells = [table.cell(i) for i in range(30)]
    y = np.array([table.query(c).test_accuracy for c in cells])
    cfg = MetaDishConfig(**TINY, outer_steps=3, motifs_per_step=4, eval_every=2,
                         holdout=0.2, outer_lr=0.05)
    fit_idx, held = split_holdout(30, cfg)
    assert len(held) == 6 and not set(fit_idx) & set(held)
    full = fit_metadish(cells, y, cfg)
    assert [h["step"] for h in full.history] == [0, 1, 2, 3]
    assert [("holdout_tau" in h) for h in full.history] == [True, False, True, True]
    chosen = full.meta["chosen_step"]
    taus = {h["step"]: h["holdout_tau"] for h in full.history if "holdout_tau" in h}
    assert taus[chosen] == max(taus.values()) == full.meta["holdout_tau"]
    # without a held-out part the last dish is kept, and it moved
    last = fit_metadish(cells, y, MetaDishConfig(**{**cfg.to_dict(), "holdout": 0.0}))
    assert last.meta["chosen_step"] == 3
    assert not torch.equal(last.images, MetaDish.create(cfg).images)
    assert last.log_lr != MetaDish.create(cfg).log_lr
    # interrupted after 2 steps, resumed: the same dish as the uninterrupted fit
    fit_metadish(cells, y, cfg, out_dir=tmp_path, stop_after=2)
    resumed = fit_metadish(cells, y, cfg, out_dir=tmp_path)
    assert torch.equal(resumed.images, full.images)
    assert [h.get("loss") for h in resumed.history] == [h.get("loss") for h in full.history]
    with pytest.raises(RunDirError, match="another meta-dish fit"):
        fit_metadish(cells, y[::-1].copy(), cfg, out_dir=tmp_path)


def test_a_trained_dish_ranker_fits_and_queries_end_to_end(table, tmp_path):
    """features [metadish, free]: the dish is trained at fit on the other trees' out-of-fold
    residual, its curves become columns; save -> load -> the same predictions."""
    cfg = RankerConfig(features=["metadish", "free"], models=["trees"], workers=1,
                       metadish={**TINY, "outer_steps": 2, "motifs_per_step": 4,
                                 "holdout": 0.0},
                       metadish_target="residual")
    train, test = [table.cell(i) for i in range(40)], [table.cell(i) for i in range(40, 55)]
    y = np.array([table.query(c).test_accuracy for c in train])
    p = RankerPredictor(config=cfg, table=table)
    p.fit(train, y)
    assert any(f.startswith("mdish_") for f in p.fitted["features"])
    assert p.source("metadish").dish.meta["chosen_step"] == 2
    q = p.query(test)
    assert q.dtype == np.float64 and len(q) == 15 and np.ptp(q) > 0
    p.save(tmp_path / "r")
    saved = json.loads((tmp_path / "r" / "ranker.json").read_text())
    assert saved["sources"]["metadish"]["format"] == "naslib-petridish-metadish"
    again = RankerPredictor.load(tmp_path / "r", table=table)
    assert np.array_equal(again.query(test), q)


def test_metadish_settings_are_checked():
    with pytest.raises(ConfigError, match="unknown metadish field"):
        RankerConfig(features=["metadish", "free"], metadish={"inner_stepz": 3})
    with pytest.raises(ConfigError, match="multiple of"):
        MetaDishConfig(dish_size=25)
    with pytest.raises(ConfigError, match="metadish_target"):
        RankerConfig(metadish_target="acc")
    with pytest.raises(ConfigError, match="may not set 'seed'"):
        RankerConfig(features=["metadish"], metadish={"seed": 3})


def test_paired_kendall_difference_is_paired_and_bounded():
    rng = np.random.default_rng(0)
    truth = [rng.standard_normal(60) for _ in range(3)]
    good = [t + 0.3 * rng.standard_normal(60) for t in truth]
    bad = [t + 3.0 * rng.standard_normal(60) for t in truth]
    d = paired_kendall_difference(truth, good, bad, reps=300)
    assert d["ci_low"] > 0 and d["ci_low"] <= d["mean"] <= d["ci_high"]
    assert d["trials"] == 3 and len(d["per_trial"]) == 3
    same = paired_kendall_difference(truth, good, good, reps=50)
    assert same["mean"] == same["ci_low"] == same["ci_high"] == 0.0
