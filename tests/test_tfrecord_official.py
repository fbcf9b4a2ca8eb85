"""The hand-written ``ModelMetrics`` decoder against Google's ``protobuf`` with
the official NAS-Bench-101 schema.

``tests/test_sources.py`` only reads files written by our own
``encode_model_metrics``; encoder and decoder share ``_EVAL_FIELDS`` and the
wire-format code, so a wrong field number or offset in both would still round
trip.  Here records are serialized (and parsed) by the official message
classes, built at test time from ``nasbench/lib/model_metrics.proto`` without
protoc, so such a bug fails these tests.  No ``../shared`` data is needed.
"""
import base64
import json
import struct

import numpy as np
import pytest

pytest.importorskip("google.protobuf")

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402

from naslib_petridish.cells import random_cell  # noqa: E402
from naslib_petridish.tables import EPOCHS, epoch_index  # noqa: E402
from naslib_petridish.tfrecord import (TFRecordError, decode_model_metrics,  # noqa: E402
                                       encode_model_metrics, iter_records,
                                       read_nb101_tfrecord, write_record)

EVAL_DOUBLES = ("current_epoch", "training_time", "train_accuracy",
                "validation_accuracy", "test_accuracy")

# The official schema, google-research/nasbench, nasbench/lib/model_metrics.proto
# (comments shortened):
#
#   syntax = "proto2";
#   package nasbench;
#
#   message ModelMetrics {
#     repeated EvaluationData evaluation_data = 1;
#     optional int32 trainable_parameters = 2;
#     optional double total_time = 3;
#   }
#
#   message EvaluationData {
#     optional double current_epoch = 1;
#     optional double training_time = 2;
#     optional double train_accuracy = 3;
#     optional double validation_accuracy = 4;
#     optional double test_accuracy = 5;
#     optional string checkpoint_path = 6;
#   }
_F = descriptor_pb2.FieldDescriptorProto
_SCHEMA = {
    "ModelMetrics": [
        ("evaluation_data", 1, _F.LABEL_REPEATED, _F.TYPE_MESSAGE, ".nasbench.EvaluationData"),
        ("trainable_parameters", 2, _F.LABEL_OPTIONAL, _F.TYPE_INT32, None),
        ("total_time", 3, _F.LABEL_OPTIONAL, _F.TYPE_DOUBLE, None),
    ],
    "EvaluationData": [
        ("current_epoch", 1, _F.LABEL_OPTIONAL, _F.TYPE_DOUBLE, None),
        ("training_time", 2, _F.LABEL_OPTIONAL, _F.TYPE_DOUBLE, None),
        ("train_accuracy", 3, _F.LABEL_OPTIONAL, _F.TYPE_DOUBLE, None),
        ("validation_accuracy", 4, _F.LABEL_OPTIONAL, _F.TYPE_DOUBLE, None),
        ("test_accuracy", 5, _F.LABEL_OPTIONAL, _F.TYPE_DOUBLE, None),
        ("checkpoint_path", 6, _F.LABEL_OPTIONAL, _F.TYPE_STRING, None),
    ],
}


def official_classes():
    """``(ModelMetrics, EvaluationData)`` message classes for the schema above,
    built from a ``FileDescriptorProto`` in a private pool (no protoc)."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="nasbench/lib/model_metrics.proto", package="nasbench", syntax="proto2")
    for msg_name, fields in _SCHEMA.items():
        msg = fdp.message_type.add(name=msg_name)
        for name, number, label, ftype, type_name in fields:
            field = msg.field.add(name=name, number=number, label=label, type=ftype)
            if type_name:
                field.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    descs = [pool.FindMessageTypeByName(f"nasbench.{n}")
             for n in ("ModelMetrics", "EvaluationData")]
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21
        return tuple(message_factory.GetMessageClass(d) for d in descs)
    factory = message_factory.MessageFactory(pool)
    return tuple(factory.GetPrototype(d) for d in descs)


@pytest.fixture(scope="module")
def pb():
    return official_classes()


def official_metrics(pb, evaluations, trainable_parameters, total_time) -> bytes:
    """Serialize with the official class; ``evaluations`` are dicts of the
    fields to set (unset fields are absent on the wire, as in proto2)."""
    ModelMetrics, _ = pb
    mm = ModelMetrics(trainable_parameters=trainable_parameters, total_time=total_time)
    for ev in evaluations:
        mm.evaluation_data.add(**ev)
    return mm.SerializeToString()


def evaluations_for(rng, epochs, final=None):
    """The three evaluations of an NB101 run: at init, halfway and the end."""
    def ev(epoch, scale):
        return {"current_epoch": float(epoch),
                "training_time": float(rng.uniform(0.9, 1.1) * 15.0 * epoch),
                "train_accuracy": float(rng.uniform(0.1, 0.3) + 0.7 * scale),
                "validation_accuracy": float(rng.uniform(0.1, 0.2) + 0.75 * scale),
                "test_accuracy": float(rng.uniform(0.1, 0.2) + 0.74 * scale),
                "checkpoint_path": f"/tmp/model_dir/{epochs}/model.ckpt-{int(epoch * 390)}"}
    end = ev(epochs, 1.0)
    end.update(final or {})
    return [ev(0, 0.0), ev(epochs / 2, 0.5), end]


def official_row(pb, module_hash, epochs, matrix, ops, evaluations, params, total_time) -> bytes:
    """One record as in the official files: the JSON list ``[module_hash,
    epochs, raw_adjacency, raw_operations, base64(raw_metrics)]``."""
    raw_metrics = official_metrics(pb, evaluations, params, total_time)
    raw_adj = "".join(str(int(v)) for row in matrix for v in row)
    row = [module_hash, int(epochs), raw_adj, ",".join(ops),
           base64.b64encode(raw_metrics).decode("ascii")]
    return json.dumps(row).encode("utf-8")


def test_official_schema_matches_module_docstring(pb):
    ModelMetrics, EvaluationData = pb
    assert [(f.name, f.number) for f in ModelMetrics.DESCRIPTOR.fields] == [
        ("evaluation_data", 1), ("trainable_parameters", 2), ("total_time", 3)]
    assert [(f.name, f.number) for f in EvaluationData.DESCRIPTOR.fields] == [
        (n, i + 1) for i, n in enumerate(EVAL_DOUBLES + ("checkpoint_path",))]


def test_decode_official_bytes(pb):
    evs = [{"current_epoch": 0.0, "training_time": 0.0, "train_accuracy": 0.1002604141831398,
            "validation_accuracy": 0.09985977411270142, "test_accuracy": 0.10016025602817535,
            "checkpoint_path": "/tmp/model_dir/model.ckpt-0"},
           {"current_epoch": 54.0, "training_time": 1383.6879880428314,
            "train_accuracy": 0.8548677563667297, "validation_accuracy": 0.8137019276618958,
            "test_accuracy": 0.8080929517745972,
            "checkpoint_path": "/tmp/model_dir/model.ckpt-21060"},
           {"current_epoch": 108.0, "training_time": 2769.5480580329895, "train_accuracy": 1.0,
            "validation_accuracy": 0.9241786599, "test_accuracy": 0.9211738705,
            "checkpoint_path": "/tmp/model_dir/model.ckpt-42120"}]
    buf = official_metrics(pb, evs, 32_426_634, 2882.7634840011597)
    assert decode_model_metrics(buf) == {
        "evaluation_data": evs, "trainable_parameters": 32_426_634,
        "total_time": 2882.7634840011597}

    # proto2 leaves unset fields off the wire: the decoder must default them
    sparse = official_metrics(pb, [{"current_epoch": 4.0, "test_accuracy": 0.5}], 227_274, 0.25)
    d = decode_model_metrics(sparse)
    assert d["evaluation_data"] == [{**dict.fromkeys(EVAL_DOUBLES, 0.0),
                                     "current_epoch": 4.0, "test_accuracy": 0.5}]
    assert (d["trainable_parameters"], d["total_time"]) == (227_274, 0.25)


def test_our_encoder_parses_with_official_class(pb):
    ModelMetrics, _ = pb
    rng = np.random.default_rng(11)
    evs = [{k: v for k, v in ev.items() if k != "checkpoint_path"}  # we never write it
           for ev in evaluations_for(rng, 108)]
    mm = ModelMetrics.FromString(encode_model_metrics(evs, 32_426_634, 2882.7634840011597))
    assert mm.trainable_parameters == 32_426_634
    assert mm.total_time == 2882.7634840011597
    assert len(mm.evaluation_data) == 3
    for got, want in zip(mm.evaluation_data, evs):
        assert {k: getattr(got, k) for k in EVAL_DOUBLES} == want
        assert not got.HasField("checkpoint_path")


def write_official_tfrecord(pb, path, n_cells=6, seed=0):
    """A small ``nasbench_full``-style file: one record per (cell, epoch
    budget, repeat), written with the official classes.  Returns the expected
    per-cell values and the record payloads."""
    rng = np.random.default_rng(seed)
    cells = {}
    while len(cells) < n_cells:
        c = random_cell(rng)
        cells.setdefault(c.hash, c)
    expected, payloads = {}, []
    for h, c in cells.items():
        params = int(rng.integers(200_000, 50_000_000))
        runs = {ep: [evaluations_for(rng, ep) for _ in range(3)] for ep in EPOCHS}
        expected[h] = (c, params, runs)
        for ep in EPOCHS:
            for evs in runs[ep]:
                total = evs[-1]["training_time"] * 1.05
                payloads.append(official_row(pb, h, ep, c.matrix, c.ops, evs, params, total))
    with open(path, "wb") as f:
        for p in payloads:
            write_record(f, p)
    return expected, payloads


def test_read_official_tfrecord(pb, tmp_path):
    path = tmp_path / "nasbench_full.tfrecord"
    expected, payloads = write_official_tfrecord(pb, path)
    with open(path, "rb") as f:
        assert list(iter_records(f)) == payloads

    table = read_nb101_tfrecord(path, progress=False)
    assert sorted(table.hashes) == sorted(expected)
    for h, (c, params, runs) in expected.items():
        i = table.index(h)
        got = table.cell(i)
        np.testing.assert_array_equal(got.matrix, c.matrix)
        assert tuple(got.ops) == tuple(c.ops)
        assert table.params[i] == params
        for ep, repeats in runs.items():
            e = epoch_index(ep)
            for r, evs in enumerate(repeats):
                final = evs[-1]
                # the table stores float32: exact against the float32 rounding
                assert table.val_acc[i, e, r] == np.float32(final["validation_accuracy"])
                assert table.test_acc[i, e, r] == np.float32(final["test_accuracy"])
                assert table.train_time[i, e, r] == np.float32(final["training_time"])


def test_official_tfrecord_truncated_and_corrupted(pb, tmp_path):
    path = tmp_path / "x.tfrecord"
    _, payloads = write_official_tfrecord(pb, path, n_cells=2, seed=3)
    data = path.read_bytes()

    trunc = tmp_path / "trunc.tfrecord"
    trunc.write_bytes(data[:-10])
    with pytest.raises(TFRecordError, match=f"file ends inside record {len(payloads) - 1}"):
        read_nb101_tfrecord(trunc, progress=False)

    bad = bytearray(data)
    second = 12 + len(payloads[0]) + 4  # start of record 1
    assert struct.unpack_from("<Q", bad, second)[0] == len(payloads[1])
    bad[second + 12 + 20] ^= 0xFF  # a byte of record 1's payload
    (tmp_path / "bad.tfrecord").write_bytes(bytes(bad))
    with pytest.raises(TFRecordError, match="CRC mismatch in record 1"):
        read_nb101_tfrecord(tmp_path / "bad.tfrecord", progress=False)
