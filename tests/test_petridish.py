"""The dish, the inner loop, the outer loop and the predictor on tiny settings."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from naslib_petridish.cells import as_cell
from naslib_petridish.config import ConfigError, PetriDishConfig, resolve_config
from naslib_petridish.dish import Dish, DishFileError
from naslib_petridish.inner import train_motif
from naslib_petridish.runner import MotifRunner
from naslib_petridish.motifs import build_network
from naslib_petridish.errors import RunDirError
from naslib_petridish.outer import fit_dish, outer_loss, outer_schedule, pearson
from naslib_petridish.predictor import NotFittedError, SyntheticPetriDishPredictor

from helpers import TINY, tiny  # noqa: E402  (tests/ is on sys.path)


@pytest.fixture(scope="module")
def pool(table):
    rows = table.sample(12, rng=5, metric="val")
    return table.cells(rows), table.metric(rows, "val")


def test_paper_presets_hold_section_4_settings():
    for name, motif, inner in [("paper-a", "A", 100), ("paper-b", "B", 100), ("paper-c", "C", 100),
                               ("paper-a-short", "A", 16), ("paper-b-short", "B", 16)]:
        c = resolve_config(name)
        assert (c.motif, c.inner_epochs) == (motif, inner)
        assert (c.inner_lr, c.inner_weight_decay, c.inner_batch_size) == (5e-5, 1e-6, 20)
        assert (c.outer_epochs, c.outer_batch, c.outer_lr, c.outer_weight_decay) == (170, 6, 1e-2, 0)
        assert (c.dish_size, c.dish_channels, c.dish_resolution, c.num_classes) == (200, 3, 16, 10)
        assert (c.loss, c.metric, c.metric_epochs, c.train_size) == ("pearson_abs", "val", 108, 1020)


def test_config_overrides_and_errors(tmp_path):
    c = resolve_config("paper-b", overrides=["inner_epochs=16", "motif={num_stacks: 2, "
                                             "cells_per_stack: 1, stem_channels: 8}"], seed=7)
    assert c.inner_epochs == 16 and c.seed == 7 and c.shape.num_stacks == 2
    f = tmp_path / "u.yaml"
    f.write_text("outer_epochs: 5\nmotif: A\n")
    assert resolve_config("paper-c", str(f)).outer_epochs == 5
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        resolve_config("nope")
    with pytest.raises(ConfigError, match="unknown config field"):
        resolve_config("quick", overrides=["inner_epoch=3"])
    with pytest.raises(ConfigError, match="multiple of num_classes"):
        tiny(dish_size=45)
    with pytest.raises(ConfigError, match="unknown motif"):
        tiny(motif="Z")


def test_dish_labels_balanced_and_seeded(tmp_path):
    d = Dish.create(resolve_config("paper-c"))
    assert d.images.shape == (200, 3, 16, 16) and d.images.dtype == torch.float32
    assert np.bincount(d.labels.numpy(), minlength=10).tolist() == [20] * 10
    d2 = Dish.create(resolve_config("paper-c"))
    assert torch.equal(d.images, d2.images) and torch.equal(d.labels, d2.labels)
    assert not torch.equal(d.images, Dish.create(resolve_config("paper-c", seed=1)).images)
    d.history = [{"epoch": 0, "loss": 0.5}]
    d.save(tmp_path / "dish.pt")
    back = Dish.load(tmp_path)
    assert torch.equal(back.images, d.images) and back.config == d.config
    assert back.history == d.history


def test_dish_from_incompatible_version_fails_clearly(tmp_path):
    d = Dish.create(tiny())
    d.save(tmp_path / "dish.pt")
    raw = torch.load(tmp_path / "dish.pt", weights_only=True)
    raw["format_version"] = 99
    raw["package_version"] = "9.0.0"
    torch.save(raw, tmp_path / "dish.pt")
    with pytest.raises(DishFileError, match="format version 99 was written by naslib-petridish 9.0.0"):
        Dish.load(tmp_path / "dish.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(DishFileError, match="not a dish file of naslib-petridish"):
        Dish.load(tmp_path / "junk.pt")


def test_inner_loop_is_the_papers_optimizer(pool):
    """Same seed -> the straightforward loop with the paper's settings gives
    exactly the same losses (Adam lr 5e-5, L2 weight decay 1e-6, batch 20, CE)."""
    cfg = resolve_config("paper-c", inner_epochs=3, memory_format="contiguous")
    dish = Dish.create(cfg)
    cell = pool[0][0]
    res = train_motif(cell, dish.images, dish.labels, cfg, seed=11)
    torch.manual_seed(11)
    net = build_network(cell, "C")
    opt = torch.optim.Adam(net.parameters(), lr=5e-5, weight_decay=1e-6)
    gen = torch.Generator().manual_seed(11)
    losses = []
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(3):
            perm, tot = torch.randperm(200, generator=gen), 0.0
            for i in range(0, 200, 20):
                xb, yb = dish.images[perm[i:i + 20]], dish.labels[perm[i:i + 20]]
                loss = F.cross_entropy(net(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                tot += loss.item() * 20
            losses.append(tot / 200)
    finally:
        torch.set_num_threads(old)
    np.testing.assert_allclose(res.losses, losses, rtol=1e-6)
    assert len(res.accs) == 3 and res.max_acc == max(res.accs)
    assert 0 < res.score < 1


def test_channels_last_fast_path_matches_nchw(pool):
    """The default channels_last layout trains the same motif as plain NCHW: same
    initial weights, same batches, losses equal up to float rounding."""
    cfg = resolve_config("paper-b", inner_epochs=4)
    dish = Dish.create(cfg)
    for cell in pool[0][:3]:
        fast = train_motif(cell, dish.images, dish.labels, cfg, seed=4)
        ref = train_motif(cell, dish.images, dish.labels, cfg.replace(memory_format="contiguous"),
                          seed=4)
        np.testing.assert_allclose(fast.losses, ref.losses, rtol=2e-4)
        assert fast.score == pytest.approx(ref.score, rel=1e-3)


def test_outer_gradient_is_exact_and_nonzero(pool):
    """The chain-rule assembly equals back-propagating 1-|r| through all motifs at once
    (both in NCHW here, so that only the assembly is compared)."""
    cfg = tiny(memory_format="contiguous")
    cells, acc = pool
    dish = Dish.create(cfg)
    seeds = [1, 2, 3]
    with MotifRunner(1) as run:
        res = run.run(cells[:3], dish.images, dish.labels, cfg, seeds, want_grad=True)
    zhat = torch.tensor([r.score for r in res], dtype=torch.float64, requires_grad=True)
    loss, _ = outer_loss(cfg, torch.as_tensor(acc[:3]), zhat)
    loss.backward()
    g = sum(w * r.grad for w, r in zip(zhat.grad.numpy(), res))
    assert np.linalg.norm(g) > 0
    # direct: re-train the same motifs, score them in one graph, backprop to the pixels
    x = dish.images.clone().requires_grad_(True)
    scores = []
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    for cell, s in zip(cells[:3], seeds):
        r = train_motif(cell, dish.images, dish.labels, cfg, s)
        torch.manual_seed(s)
        net = build_network(cell, cfg.shape)
        # replay the training to get the same weights
        opt = torch.optim.Adam(net.parameters(), lr=cfg.inner_lr, weight_decay=cfg.inner_weight_decay)
        gen = torch.Generator().manual_seed(s)
        for _ in range(cfg.inner_epochs):
            perm = torch.randperm(cfg.dish_size, generator=gen)
            for i in range(0, cfg.dish_size, 20):
                idx = perm[i:i + 20]
                l_ = F.cross_entropy(net(dish.images[idx]), dish.labels[idx])
                opt.zero_grad()
                l_.backward()
                opt.step()
        net.eval()
        z = F.softmax(net(x), 1).gather(1, dish.labels[:, None]).mean()
        assert float(z.detach()) == pytest.approx(r.score, rel=1e-6)
        scores.append(z)
    torch.set_num_threads(old)
    direct = 1 - pearson(torch.as_tensor(acc[:3]), torch.stack(scores).double()).abs()
    direct.backward()
    np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-4, atol=1e-5 * np.abs(g).max())


def test_schedule_fresh_then_reuse():
    cfg = tiny(outer_epochs=5, outer_batch=3)
    s = outer_schedule(9, cfg)
    assert s.shape == (5, 3)
    assert sorted(s[:3].ravel().tolist()) == list(range(9))  # first pass: all fresh
    assert all(len(set(b)) == 3 for b in s)
    with pytest.raises(ConfigError, match="needs outer_batch=3"):
        outer_schedule(2, cfg)


def test_fit_updates_dish_logs_and_resumes_identically(pool, tmp_path):
    cells, acc = pool
    cfg = tiny(outer_epochs=4)
    full = fit_dish(cfg, cells[:9], acc[:9], out_dir=tmp_path / "a", progress=False)
    assert not torch.equal(full.images, Dish.create(cfg).images)  # the dish moved
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [0, 1, 2, 3]
    for key in ("loss", "pearson_r", "kendall_tau", "kendall_defined", "mean_max_acc",
                "std_max_acc", "all_perfect", "inner_epoch_seconds", "hashes"):
        assert key in log[0]
    assert all(r["grad_norm"] > 0 for r in log)
    # interrupted after 2 outer epochs, then resumed: same dish, same log
    fit_dish(cfg, cells[:9], acc[:9], out_dir=tmp_path / "b", progress=False, stop_after=2)
    with pytest.raises(RunDirError, match="--resume"):
        fit_dish(cfg, cells[:9], acc[:9], out_dir=tmp_path / "b", progress=False)
    with pytest.raises(RunDirError, match="differs in \\['inner_epochs'\\]"):
        fit_dish(cfg.replace(inner_epochs=3), cells[:9], acc[:9], out_dir=tmp_path / "b",
                 resume=True, progress=False)
    resumed = fit_dish(cfg, cells[:9], acc[:9], out_dir=tmp_path / "b", resume=True, progress=False)
    assert torch.equal(resumed.images, full.images)
    log_b = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in log_b] == [r["loss"] for r in log]
    # the resumed dish knows the time of the epochs done before the interruption
    assert resumed.meta["resumed_at_epoch"] == 2
    assert resumed.meta["seconds_before_resume"] == pytest.approx(
        sum(r["wall_seconds"] for r in log_b[:2]))


def test_parallel_workers_give_the_serial_result(pool):
    cells, acc = pool
    serial = fit_dish(tiny(outer_epochs=2), cells[:9], acc[:9], progress=False)
    parallel = fit_dish(tiny(outer_epochs=2, workers=2), cells[:9], acc[:9], progress=False)
    assert torch.equal(serial.images, parallel.images)


def test_resumed_fit_reports_its_whole_time(table, pool, tmp_path):
    """Table 2's measured initialization time comes from ``fit_seconds``: after an
    interruption it must count the outer epochs done before it too."""
    cells, acc = pool
    cfg = tiny(outer_epochs=3)
    fit_dish(cfg, cells[:9], acc[:9], out_dir=tmp_path / "r", progress=False, stop_after=2)
    p = SyntheticPetriDishPredictor(config=cfg, table=table, out_dir=tmp_path / "r")
    p.fit(cells[:9], acc[:9], resume=True)
    log = [json.loads(line) for line in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 3
    meta = Dish.load(tmp_path / "r").meta
    assert meta["resumed_at_epoch"] == 2
    assert meta["fit_seconds"] == p.fit_seconds
    assert p.fit_seconds >= sum(r["wall_seconds"] for r in log) + meta["calibration_seconds"]


def test_predictor_contract_and_persistence(table, pool, tmp_path):
    cells, acc = pool
    p = SyntheticPetriDishPredictor(config=tiny(), table=table)
    with pytest.raises(NotFittedError, match="call fit"):
        p.query(cells[:2])
    assert set(p.get_data_reqs()) >= {"requires_partial_lc", "metric", "requires_hyperparameters",
                                      "hyperparams", "unlabeled", "unlabeled_factor"}
    p.set_ss_type("nasbench101")
    p.pre_process()
    p.pre_compute(cells[:9], cells[9:])
    # accepts dicts, hashes, tuples; percent-scale targets as NASLib gives them
    xtrain = [c.to_dict() for c in cells[:5]] + [c.hash for c in cells[5:9]]
    cal = p.fit(xtrain, acc[:9] * 100)
    assert cal["n"] == 3 and np.isfinite(cal["slope"])
    xtest = [cells[9], cells[10].to_tuple(), cells[11].hash]
    y = p.query(xtest)
    assert y.dtype == np.float64 and y.shape == (3,) and np.all(np.isfinite(y))
    # a cell's prediction does not depend on its batch or order
    assert p.query([cells[11]])[0] == y[2]
    p.save(tmp_path / "pred")
    q = SyntheticPetriDishPredictor.load(tmp_path / "pred", table=table)
    np.testing.assert_array_equal(q.query(xtest), y)
    p.set_ss_type("nasbench201")
    with pytest.raises(ValueError, match="NAS-Bench-101 only"):
        p.query(xtest)
