"""NASLib's NB201 pickles read into the nb201-table-v1 arrays (synthetic files)."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from naslib_petridish import safe_pickle
from naslib_petridish.errors import GroundTruthError
from naslib_petridish.spaces.nb201.cell import OPS, Cell, parse_arch, random_cell
from naslib_petridish.spaces.nb201.naslib_pickle import (
    NASLIB_FILES, read_naslib_nb201, write_naslib_nb201)

SETS = ("cifar10", "cifar100")


@pytest.fixture
def records():
    rng = np.random.default_rng(0)
    cells: dict[str, Cell] = {}
    while len(cells) < 20:
        c = random_cell(rng)
        cells[c.arch] = c
    return {a: {d: list(rng.uniform(10, 95, size=200)) for d in SETS} for a in cells}


def _check(t, records, sets=SETS):
    archs = list(records)
    n = len(archs)
    assert str(t["format"][0]) == "nb201-table-v1"
    assert list(t["arch"]) == archs
    assert list(t["unique"]) == [Cell(parse_arch(a)).unique() for a in archs]
    assert t["ops"].dtype == np.int8 and t["ops"].shape == (n, 6)
    assert [tuple(r) for r in t["ops"]] == [Cell(parse_arch(a)).codes for a in archs]
    assert list(t["op_names"]) == list(OPS)
    assert list(t["datasets"]) == list(sets)
    assert t["epochs"].dtype == np.int16 and list(t["epochs"]) == [12, 200]
    for k in ("val_acc", "test_acc"):
        assert t[k].dtype == np.float32 and t[k].shape == (n, 2, len(sets))
    for i, a in enumerate(archs):
        for j, d in enumerate(sets):
            curve = records[a][d]
            want = np.float32([curve[11] / 100, curve[199] / 100])
            np.testing.assert_array_equal(t["val_acc"][i, :, j], want)
    np.testing.assert_array_equal(t["val_acc"], t["test_acc"])  # NASLib: one eval curve


def test_one_file_per_data_set(tmp_path, records):
    paths = {}
    for d in SETS:
        paths[d] = tmp_path / NASLIB_FILES[d]
        write_naslib_nb201(paths[d], {a: {d: r[d]} for a, r in records.items()})
    _check(read_naslib_nb201(paths), records)
    raw = safe_pickle.load(paths["cifar10"])  # NASLib's keys: cifar10 lives under cifar10-valid
    first = next(iter(raw.values()))
    assert list(first) == ["cifar10-valid"]
    assert set(first["cifar10-valid"]) == {"train_losses", "eval_losses", "train_acc1es",
                                           "eval_acc1es", "cost_info"}


def test_one_file_for_both_and_order(tmp_path, records):
    p = tmp_path / "both.pickle"
    write_naslib_nb201(p, records)
    _check(read_naslib_nb201({"cifar100": p, "cifar10": p}), records, ("cifar100", "cifar10"))


def test_missing_values_are_nan(tmp_path, records):
    archs = list(records)
    recs = {a: {"cifar10": records[a]["cifar10"]} for a in archs}
    recs[archs[0]] = {"cifar10": records[archs[0]]["cifar10"][:50]}  # no epoch 200
    p10 = tmp_path / "c10.pickle"
    write_naslib_nb201(p10, recs)
    p100 = tmp_path / "c100.pickle"  # cifar100 only for the last 5 cells, plus one new cell
    extra = next(c.arch for c in (random_cell(s) for s in range(100)) if c.arch not in records)
    write_naslib_nb201(p100, {**{a: {"cifar100": records[a]["cifar100"]} for a in archs[-5:]},
                              extra: {"cifar100": [50.0] * 200}})
    t = read_naslib_nb201({"cifar10": p10, "cifar100": p100})
    assert list(t["arch"]) == archs + [extra]
    assert np.isnan(t["val_acc"][0, 1, 0]) and not np.isnan(t["val_acc"][0, 0, 0])
    assert np.isnan(t["val_acc"][:15, :, 1]).all()
    assert not np.isnan(t["val_acc"][15:, :, 1]).any()
    assert np.isnan(t["val_acc"][20, :, 0]).all()
    np.testing.assert_allclose(t["test_acc"][20, :, 1], 0.5)


def test_wrong_data_set_and_bad_files(tmp_path, records):
    p = tmp_path / NASLIB_FILES["cifar100"]
    write_naslib_nb201(p, {a: {"cifar100": r["cifar100"]} for a, r in records.items()})
    with pytest.raises(GroundTruthError, match="under 'cifar10-valid'.*holds cifar100"):
        read_naslib_nb201({"cifar10": p})
    with pytest.raises(GroundTruthError, match="not found"):
        read_naslib_nb201({"cifar10": tmp_path / "nope.pickle"})
    bad = tmp_path / "bad.pickle"
    bad.write_bytes(pickle.dumps({"not an arch": {}}))
    with pytest.raises(GroundTruthError, match="not an NB201 architecture string"):
        read_naslib_nb201({"cifar10": bad})
    bad.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(GroundTruthError, match="expected a non-empty dict"):
        read_naslib_nb201({"cifar10": bad})


class Payload:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_crafted_pickle_is_refused(tmp_path, records):
    marker = tmp_path / "pwned"
    arch = next(iter(records))
    p = tmp_path / NASLIB_FILES["cifar10"]
    p.write_bytes(pickle.dumps({arch: {"cifar10-valid": {"eval_acc1es": Payload(
        f"touch {marker}")}}}))
    with pytest.raises(GroundTruthError, match=r"refused to unpickle \w+\.system: not a type"):
        read_naslib_nb201({"cifar10": p})
    assert not marker.exists()
