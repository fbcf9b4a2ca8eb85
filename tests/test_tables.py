import numpy as np
import pytest

from naslib_petridish.tables import GroundTruthError, NB101Table, UnknownCellError


def test_partial_repeats_are_reported(table):
    """Means are over the repeats a source has, and a query says which those were."""
    row = 5
    q = table.query(row)
    assert q.repeats_present("test") == [0]
    assert q.test_accuracy == pytest.approx(float(table.test_acc[row, 3, 0]))
    assert q.repeats_present("val") == [2]
    assert q.validation_accuracy == pytest.approx(float(table.val_acc[row, 3, 2]))
    d = q.as_dict()
    assert d["test_acc_repeats"] == [0] and d["test_acc_complete"] is False
    assert table.has_metric("val", 108, repeat="all").sum() == 0
    assert table.has_metric("val", 108, repeat=2).sum() == 360
    assert table.has_metric("test", 108).sum() == len(table) == 600


def test_real_table_reference_points(real_table):
    table = real_table
    assert len(table) == 423_624
    assert table.hashes[0] == "00005c142e6f48ac74fdcf73e3439874"
    assert table.metric(0, "test", repeat=0) == pytest.approx(0.92117387, abs=1e-7)
    best = "02e5a0247bbdcf2860b7e96f74961594"
    q = table.query(best)
    assert q.trainable_parameters == 32_426_634
    assert q.test_accuracy_per_repeat[0] == pytest.approx(0.94451123, abs=1e-7)
    # only repeat 0 of test accuracy exists: the mean is over that repeat and says so
    assert q.repeats_present("test") == [0]
    assert q.test_accuracy == pytest.approx(0.94451123, abs=1e-7)


def test_real_table_filled_in_counts(real_table):
    table = real_table
    assert table.has_metric("test", 108).sum() == 423_624
    assert table.has_metric("val", 108).sum() == 30_001
    assert table.has_metric("val", 4).sum() == 30_001
    assert table.has_metric("val", 108, repeat=0).sum() == 0
    m = table.has_metric("val", 108)
    assert m[:20_001].all() and m[36_202:46_202].all() and not m[20_001:36_202].any()


def test_metric_vectorized_and_strict(table):
    rows = table.sample(50, rng=1, metric="val")
    v = table.metric(rows, "val")
    assert v.dtype == np.float64 and v.shape == (50,) and np.all((v > 0.05) & (v < 1))
    assert np.allclose(table.metric(list(rows), "validation_accuracy", repeat=2), v)
    with pytest.raises(GroundTruthError, match="not available for 1 of the requested"):
        table.metric(500, "val")
    assert np.isnan(table.metric([500], "val", strict=False)[0])
    with pytest.raises(GroundTruthError, match="unknown metric"):
        table.metric(0, "loss")
    with pytest.raises(GroundTruthError, match="epoch budget"):
        table.metric(0, "test", epochs=100)


def test_sampling_uniform_with_metric_and_exclusion(table):
    a = table.sample(150, rng=0, metric="val")
    assert len(set(a)) == 150 and table.has_metric("val")[a].all()
    b = table.sample(150, rng=1, metric="val", exclude=a)
    assert not set(a) & set(b)
    assert np.array_equal(table.sample(10, rng=5), table.sample(10, rng=5))
    with pytest.raises(GroundTruthError, match="only 60 cells with val_acc"):
        table.sample(61, metric="val", exclude=np.concatenate([a, b]))
    with pytest.raises(GroundTruthError, match="non-negative integer, got -5"):
        table.sample(-5)
    # uniform: every eligible cell about equally often (chi-square, 3000 draws of 30)
    counts = np.bincount(np.concatenate([table.sample(30, rng=s, metric="val")
                                         for s in range(100)]), minlength=len(table))
    from scipy import stats
    assert stats.chisquare(counts[table.has_metric("val")]).pvalue > 1e-3
    assert counts[~table.has_metric("val")].sum() == 0


def test_unknown_cell(table, small_table):
    cell = table.cell(0)
    with pytest.raises(UnknownCellError, match="not in the ground-truth table"):
        small_table.index(cell)
    assert cell not in small_table and cell in table


def test_save_load_round_trip(small_table, tmp_path):
    p = tmp_path / "t.npz"
    small_table.save(p)
    back = NB101Table.load(p)
    for k, v in small_table.arrays().items():
        np.testing.assert_array_equal(back.arrays()[k], v)
    with pytest.raises(FileExistsError, match="exists"):
        small_table.save(p)


def test_corrupted_and_truncated_npz(small_table, tmp_path):
    p = tmp_path / "t.npz"
    small_table.save(p)
    data = p.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(GroundTruthError, match="truncated or corrupted"):
        NB101Table.load(tmp_path / "trunc.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(GroundTruthError, match="missing arrays"):
        NB101Table.load(tmp_path / "other.npz")
    with pytest.raises(GroundTruthError, match="not found"):
        NB101Table.load(tmp_path / "nope.npz")
