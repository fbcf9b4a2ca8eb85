"""safe_pickle refuses globals outside its allow-list and loads NASLib-like data."""
from __future__ import annotations

import builtins
import collections
import io
import os
import pickle
import subprocess

import numpy as np
import pytest

from naslib_petridish import safe_pickle
from naslib_petridish.errors import GroundTruthError


class Payload:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def test_os_system_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "nasbench_only108.pkl"
    p.write_bytes(pickle.dumps({"x": Payload(os.system, (f"touch {marker}",))}))
    with pytest.raises(GroundTruthError) as info:
        safe_pickle.load(p)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg == (f"{p}: refused to unpickle {os.system.__module__}.system: not a type "
                   "NASLib's ground-truth files hold; is this file from NASLib?")
    assert not marker.exists()


@pytest.mark.parametrize("func,args,name", [
    (subprocess.Popen, (["true"],), "subprocess.Popen"),
    (builtins.eval, ("1+1",), "builtins.eval"),
    (builtins.exec, ("x = 1",), "builtins.exec"),
    (getattr, ("os", "sep"), "builtins.getattr"),
])
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_other_callables_are_refused(func, args, name, protocol):
    data = pickle.dumps([1, Payload(func, args)], protocol=protocol)
    with pytest.raises(GroundTruthError, match=f"refused to unpickle {name}:"):
        safe_pickle.load(io.BytesIO(data))


def test_allowed_can_be_narrowed():
    data = pickle.dumps(collections.OrderedDict(a=1))
    assert safe_pickle.loads(data) == {"a": 1}
    with pytest.raises(GroundTruthError, match="collections.OrderedDict"):
        safe_pickle.loads(data, allowed=())


def _sample():
    return {
        "hash": ("abc", 3, 2.5, None, True),
        "list": [1, 2.0, "x", b"raw"],
        "matrix": np.triu(np.ones((7, 7), dtype=np.int8), 1),
        "float": np.arange(6, dtype=np.float64).reshape(2, 3),
        "strided": np.arange(10.0)[::-2],
        "fortran": np.asfortranarray(np.arange(6).reshape(2, 3)),
        "scalar": np.float64(0.9437),
        "int": np.int64(7),
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
        "nested": {108: [{"final_validation_accuracy": 0.9}]},
    }


def _check(got, want):
    assert got.keys() == want.keys()
    for k, v in want.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(got[k], v)
            assert got[k].dtype == v.dtype
        else:
            assert got[k] == v and type(got[k]) is type(v)


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_normal_data_loads(tmp_path, protocol):
    want = _sample()
    p = tmp_path / "ok.pkl"
    p.write_bytes(pickle.dumps(want, protocol=protocol))
    _check(safe_pickle.load(p), want)
    with open(p, "rb") as f:
        _check(safe_pickle.load(f), want)


def test_numpy1_module_names_load():
    """Files written under NumPy 1.x name ``numpy.core.multiarray``."""
    want = _sample()
    data = pickle.dumps(want, protocol=2)
    if b"numpy._core" in data:
        data = data.replace(b"numpy._core", b"numpy.core")
    assert b"numpy.core.multiarray\n_reconstruct" in data
    _check(safe_pickle.loads(data), want)


def test_truncated_and_missing(tmp_path):
    data = pickle.dumps(_sample())
    with pytest.raises(GroundTruthError, match="cannot unpickle"):
        safe_pickle.loads(data[:-20])
    with pytest.raises(GroundTruthError, match="not found"):
        safe_pickle.load(tmp_path / "nope.pkl")
