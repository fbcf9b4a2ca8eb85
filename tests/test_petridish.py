"""The dish, the inner loop, the outer loop and the predictor on tiny settings."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from naslib_petridish.config import ConfigError, resolve_config
from naslib_petridish.dish import Dish, DishFileError
from naslib_petridish.errors import RunDirError
from naslib_petridish.inner import train_motif
from naslib_petridish.motifs import build_network
from naslib_petridish.outer import fit_dish, outer_schedule, pearson
from naslib_petridish.predictor import NotFittedError, SyntheticPetriDishPredictor
from tests.helpers import tiny


@pytest.fixture(scope="module")
def pool(table):
    rows = table.sample(12, rng=5, metric="val")
    return table.cells(rows), table.metric(rows, "val")


PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper" / \
    "synthetic-petri-dish-nb101.txt"


def _paper_number(text: str, pattern: str) -> float:
    """The number the paper's text gives where ``pattern`` (a regex with one group: a plain
    number or ``a×10^{-b}``) matches."""
    m = re.search(pattern, text)
    assert m, f"the paper does not say {pattern!r}"
    v = m.group(1).replace(" ", "")
    if "10^" in v:
        a, b = re.match(r"([\d.]+)×10\^\{?(-?\d+)\}?", v).groups()
        return float(a) * 10.0 ** int(b)
    return float(v)


def test_paper_presets_hold_section_4_settings():
    """The paper presets against the paper's own text (Section 4 and 5.3), not against a
    copy of their constants."""
    if not PAPER.exists():
        pytest.skip("needs the paper beside the repo (../shared/paper, as in CI)")
    text = PAPER.read_text()
    num = r"(\d[\d.]*(?:\s*×\s*10\^\{?-?\d+\}?)?)"
    outer_lr = _paper_number(text, rf"synthetic data was updated using the ADAM optimizer "
                                   rf"with a learning rate of {num}")
    inner_lr = _paper_number(text, rf"inner loop, we also used the ADAM optimizer with a "
                                   rf"learning rate of {num}")
    batch = _paper_number(text, rf"a batch size of {num}")
    wd = _paper_number(text, rf"weight decay regularization with a factor of {num}")
    outer_batch = _paper_number(text, rf"iteration considers a batch of {num} motifs")
    inner = _paper_number(text, rf"Every motif was trained for {num} epochs")
    outer = _paper_number(text, rf"a total of {num} outer loop epochs")
    short = _paper_number(text, rf"with only {num} training epochs in the inner loop")
    pool = _paper_number(text, rf"leads to a total of {num} architectures")
    images = _paper_number(text, rf"{num} images")
    assert "no weight decay" in text and "108 epochs" in text
    for name in ("paper-a", "paper-b", "paper-c", "paper-a-short", "paper-b-short"):
        c = resolve_config(name)
        assert c.motif == name.split("-")[1].upper()
        assert c.inner_epochs == (short if name.endswith("-short") else inner)
        assert (c.inner_lr, c.inner_weight_decay, c.inner_batch_size) == (inner_lr, wd, batch)
        assert (c.outer_epochs, c.outer_batch, c.outer_lr, c.outer_weight_decay) == (
            outer, outer_batch, outer_lr, 0)
        assert c.train_size == pool == outer * outer_batch and c.dish_size == images
        assert (c.loss, c.metric, c.metric_epochs) == ("pearson_abs", "val", 108)


def test_preset_files_with_duplicate_or_unknown_keys_are_one_line_errors(tmp_path):
    from naslib_petridish.ranker.config import resolve_ranker_config

    f = tmp_path / "dup.yaml"
    f.write_text("# a comment\nmotif: C\ninner_epochs: 3\nmotif: B\n")
    with pytest.raises(ConfigError, match=r"dup.yaml:4: duplicate key 'motif' \(first at "
                                          r"line 2\)"):
        resolve_config("paper-c", str(f))
    f.write_text("inner_epochs: 3\ninner_epoch: 4\n")
    with pytest.raises(ConfigError, match=r"dup.yaml:2: unknown field 'inner_epoch' for a dish"):
        resolve_config("paper-c", str(f))
    f.write_text("graph_members: 2\nmotif: C\n")
    with pytest.raises(ConfigError, match=r"dup.yaml:2: unknown field 'motif' for a ranker"):
        resolve_ranker_config("cell-features-boosted", str(f))
    f.write_text("features: [free]\nfeatures: [path]\n")
    with pytest.raises(ConfigError, match=r"dup.yaml:2: duplicate key 'features'"):
        resolve_ranker_config("cell-features-boosted", str(f))
    # a preset of the other kind is named as such
    with pytest.raises(ConfigError, match="'cell-features-boosted' is a ranker preset"):
        resolve_config("cell-features-boosted")
    with pytest.raises(ConfigError, match="'quick' is a dish preset"):
        resolve_ranker_config("quick")


def test_every_shipped_preset_resolves_and_says_what_it_is():
    from naslib_petridish import presetfiles
    from naslib_petridish.factory import resolve_any

    names = presetfiles.preset_names()
    assert set(presetfiles.preset_names("dish")) | set(presetfiles.preset_names("ranker")) \
        == set(names)
    for name in names:  # strict reading: no duplicate or unknown key in any shipped file
        cfg = resolve_any(name)
        assert cfg.preset == name
        kind = presetfiles.preset_kind(name)
        assert type(cfg).__name__ == {"dish": "PetriDishConfig", "ranker": "RankerConfig"}[kind]


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
    with pytest.raises(DishFileError,
                       match="format version 99 was written by naslib-petridish 9.0.0"):
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


def _reference_motif(cell, images, labels, cfg, seed):
    """The paper's inner loop written out plainly (not the package's code): same seed,
    same batches, torch.optim.Adam with L2 weight decay, cross-entropy."""
    torch.manual_seed(seed)
    net = build_network(cell, cfg.shape)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.inner_lr, weight_decay=cfg.inner_weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n, bs = len(labels), cfg.inner_batch_size
    for _ in range(cfg.inner_epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            loss = F.cross_entropy(net(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.double().eval()


def test_fit_dish_takes_the_papers_outer_step(pool):
    """One outer epoch of fit_dish against an independent computation: the paper's loss
    1 - |Pearson(z, z^)| with z^ = mean softmax probability of the true class of each
    trained motif (weights and batch-norm statistics fixed), its pixel gradient checked
    by finite differences, and one Adam step (lr 1e-2) written out by hand."""
    from naslib_petridish.seeds import outer_seed

    cells, acc = pool
    cfg = tiny(outer_epochs=1, inner_epochs=3, memory_format="contiguous", inner_lr=1e-3)
    log = []
    fitted = fit_dish(cfg, cells[:9], acc[:9], progress=False, on_epoch=log.append)
    x0 = Dish.create(cfg).images
    labels = Dish.create(cfg).labels
    by_hash = {c.hash: (c, a) for c, a in zip(cells[:9], acc[:9])}
    batch = [by_hash[h] for h in log[0]["hashes"]]
    assert len({c.hash for c, _ in batch}) == 3
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        nets = [_reference_motif(c, x0, labels, cfg, outer_seed(cfg.seed, 0, slot))
                for slot, (c, _) in enumerate(batch)]
    finally:
        torch.set_num_threads(old)
    z = torch.tensor([a for _, a in batch], dtype=torch.float64)

    def loss(x):
        zhat = torch.stack([F.softmax(net(x), 1).gather(1, labels[:, None]).mean()
                            for net in nets])
        a, b = z - z.mean(), zhat - zhat.mean()
        r = (a * b).sum() / torch.sqrt((a * a).sum() * (b * b).sum())
        return 1 - r.abs()

    x = x0.double().requires_grad_(True)
    value = loss(x)
    # the motifs score in float32 there: z^ agree to ~1e-8 on a spread of ~1e-4
    assert float(value.detach()) == pytest.approx(log[0]["loss"], rel=1e-3)
    g = torch.autograd.grad(value, x)[0]
    with torch.no_grad():  # the gradient is the derivative (central differences, 3 directions)
        for k in range(3):
            u = torch.randn(x.shape, generator=torch.Generator().manual_seed(k), dtype=x.dtype)
            u /= u.norm()
            h = 1e-4
            fd = (loss(x + h * u) - loss(x - h * u)) / (2 * h)
            assert float((g * u).sum()) == pytest.approx(float(fd), rel=1e-4, abs=1e-9)
    # Adam's first step: m^ = g, v^ = g^2, so the update is lr * g / (|g| + eps)
    g = g.numpy()
    expected = x0.numpy() - cfg.outer_lr * g / (np.abs(g) + 1e-8)
    step = fitted.images.numpy() - x0.numpy()
    err = np.abs(fitted.images.numpy() - expected)
    # where |g| is near Adam's eps (1e-8) the step is sensitive to the float32 rounding of
    # the package's gradient: those few pixels agree to within one step only
    assert np.mean(err < 1e-3 * cfg.outer_lr) > 0.999 and err.max() < cfg.outer_lr
    assert np.mean(np.abs(np.abs(step) - cfg.outer_lr) < 1e-4) > 0.9  # sign steps of size lr
    assert log[0]["grad_norm"] == pytest.approx(float(np.linalg.norm(g)), rel=1e-4)


def test_outer_loss_falls_on_a_toy_problem(pool):
    """The outer loop optimizes what it says: with the MSE loss (z^ should equal the
    accuracy) on a pool of 3 cells seen every epoch, the loss falls steadily as the dish
    learns to make motifs confident in its labels."""
    cells, acc = pool
    cfg = tiny(loss="mse", outer_epochs=6, outer_lr=0.3, inner_lr=1e-2, inner_epochs=2)
    log = []
    fit_dish(cfg, cells[:3], acc[:3], progress=False, on_epoch=log.append)
    losses = np.array([r["loss"] for r in log])
    assert np.all(np.diff(losses) < 0), losses  # measured: 0.633 0.630 0.625 0.620 0.606 0.580
    assert losses[-1] < losses[0] - 0.03, losses


def test_an_outer_lr_of_zero_runs_no_outer_epoch(pool, tmp_path):
    """Adam with lr 0 cannot move a pixel, so an untrained-dish config (``outer_lr`` 0, the
    controls of DISH.md) runs no outer epoch: its dish is exactly the seeded initial one and
    nothing is logged, while the same config with a small lr does run and move the dish."""
    cells, acc = pool
    cfg = tiny(outer_epochs=3, outer_lr=0.0)
    log = []
    dish = fit_dish(cfg, cells[:9], acc[:9], out_dir=tmp_path / "u", progress=False,
                    on_epoch=log.append)
    assert log == [] and dish.history == []
    assert dish.meta["outer_loop"].startswith("skipped")
    assert torch.equal(dish.images, Dish.create(cfg).images)
    assert (tmp_path / "u" / "log.jsonl").read_text() == ""
    moved = fit_dish(cfg.replace(outer_epochs=1, outer_lr=1e-3), cells[:9], acc[:9],
                     progress=False, on_epoch=log.append)
    assert len(log) == 1 and not torch.equal(moved.images, dish.images)


def test_pearson_equals_scipy():
    rng = np.random.default_rng(0)
    for n in (3, 6, 50):
        a, b = rng.random(n), rng.random(n) + 0.3 * np.arange(n)
        r = pearson(torch.as_tensor(a), torch.as_tensor(b))
        assert float(r) == pytest.approx(stats.pearsonr(a, b).statistic, rel=1e-9)
    flat = torch.ones(4, dtype=torch.float64)
    assert float(pearson(torch.arange(4.0, dtype=torch.float64), flat)) == 0.0


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
    with pytest.raises(ValueError, match="works on nb101 cells"):
        p.query(xtest)


def test_motifs_are_trained_once_per_dish(table, pool):
    """Search refits on cells it has scored before: on an unchanged dish each cell's motif
    is trained once, and the kept result is exactly what a fresh predictor computes."""
    cells, acc = pool
    cfg = tiny(outer_lr=0.0, outer_epochs=1, calibration_size=100)
    p = SyntheticPetriDishPredictor(config=cfg, table=table)
    p.fit(cells[:6], acc[:6])
    assert p.motifs_trained == 6  # the calibration cells
    p.query(cells[6:10] + cells[6:8])  # repeats inside a batch train once too
    assert p.motifs_trained == 10
    p.fit(cells[:8], acc[:8])  # the untrained dish is the same: 6 and 7 are known
    assert p.motifs_trained == 10
    y = p.query(cells[6:11])
    assert p.motifs_trained == 11
    fresh = SyntheticPetriDishPredictor(config=cfg, table=table)
    fresh.fit(cells[:8], acc[:8])
    np.testing.assert_array_equal(fresh.query(cells[6:11]), y)
    assert fresh.motifs_trained == 8 + 3
    # a dish the outer loop changes is a new dish: nothing is reused across its fits
    trained = SyntheticPetriDishPredictor(config=tiny(outer_epochs=1, calibration_size=100),
                                          table=table)
    trained.fit(cells[:6], acc[:6])
    trained.fit(cells[:6], acc[:6][::-1])
    assert trained.motifs_trained == 12
