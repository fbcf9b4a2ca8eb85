import numpy as np
import pytest

from naslib_petridish.tables import GroundTruthError, NB101Table, UnknownCellError


def test_shared_table_reference_points(table):
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
    d = q.as_dict()
    assert d["test_acc_repeats"] == [0] and d["test_acc_complete"] is False


def test_filled_in_counts(table):
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
        table.metric(30_000, "val")
    assert np.isnan(table.metric([30_000], "val", strict=False)[0])
    with pytest.raises(GroundTruthError, match="unknown metric"):
        table.metric(0, "loss")
    with pytest.raises(GroundTruthError, match="epoch budget"):
        table.metric(0, "test", epochs=100)


def test_sampling_uniform_with_metric_and_exclusion(table):
    a = table.sample(300, rng=0, metric="val")
    assert len(set(a)) == 300 and table.has_metric("val")[a].all()
    b = table.sample(300, rng=1, metric="val", exclude=a)
    assert not set(a) & set(b)
    assert np.array_equal(table.sample(10, rng=5), table.sample(10, rng=5))
    with pytest.raises(GroundTruthError, match="only 30001 cells"):
        table.sample(40_000, metric="val")


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
    with pytest.raises(FileExistsError):
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
