"""Read (and, for tests, write) the official NAS-Bench-101 ``.tfrecord`` files
without TensorFlow.

TFRecord framing, per record: ``uint64 length``, ``uint32 masked_crc32c(length)``,
``data``, ``uint32 masked_crc32c(data)`` (little endian).  Each NB101 record
is the JSON list ``[module_hash, epochs, raw_adjacency, raw_operations,
raw_metrics]``, ``raw_metrics`` being a base64 ``ModelMetrics`` protobuf
(``nasbench/lib/model_metrics.proto``)::

    message ModelMetrics   { repeated EvaluationData evaluation_data = 1;
                             int32 trainable_parameters = 2; double total_time = 3; }
    message EvaluationData { double current_epoch = 1; double training_time = 2;
                             double train_accuracy = 3; double validation_accuracy = 4;
                             double test_accuracy = 5; string checkpoint_path = 6; }

The protobuf wire format of these two messages is decoded by hand (about
forty lines) instead of depending on ``protobuf`` plus generated code: the
messages are fixed, and this keeps the reader dependency-free and fast.
CRCs use the ``crc32c`` package (hardware-accelerated where available).
"""
from __future__ import annotations

import base64
import json
import os
import struct
from typing import BinaryIO, Callable, Iterator

import crc32c as _crc32c

from .errors import GroundTruthError, TFRecordError
from .tables import NB101Table

_MASK_DELTA = 0xA282EAD8


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC-32C."""
    crc = _crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def iter_records(f: BinaryIO, verify: bool = True, source: str = "<stream>",
                 progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Yield the payload of every record; raise :class:`TFRecordError` on a
    truncated record or a CRC mismatch (with ``verify``)."""
    n = 0
    while True:
        header = f.read(12)
        if not header:
            return
        if len(header) < 12:
            raise TFRecordError(f"{source}: truncated record header after {n} records")
        length_bytes = header[:8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack("<I", header[8:])
        if verify and masked_crc(length_bytes) != length_crc:
            raise TFRecordError(
                f"{source}: corrupted length of record {n} (CRC mismatch); not a TFRecord file?")
        data = f.read(length)
        footer = f.read(4)
        if len(data) < length or len(footer) < 4:
            raise TFRecordError(
                f"{source}: file ends inside record {n} (truncated download? delete it and "
                "download again)")
        if verify and masked_crc(data) != struct.unpack("<I", footer)[0]:
            raise TFRecordError(f"{source}: CRC mismatch in record {n} (corrupted file)")
        n += 1
        if progress is not None:
            progress(12 + length + 4)
        yield data


def write_record(f: BinaryIO, data: bytes) -> None:
    length = struct.pack("<Q", len(data))
    f.write(length + struct.pack("<I", masked_crc(length)) + data
            + struct.pack("<I", masked_crc(data)))


# -- protobuf wire format ---------------------------------------------------------
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """Yield (field number, wire type, value) for a serialized message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 1:
            val = struct.unpack_from("<d", buf, pos)[0]
            pos += 8
        elif wt == 2:
            ln, pos = _varint(buf, pos)
            val = buf[pos:pos + ln]
            if len(val) != ln:
                raise ValueError("truncated length-delimited field")
            pos += ln
        elif wt == 5:
            val = struct.unpack_from("<f", buf, pos)[0]
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        yield num, wt, val


_EVAL_FIELDS = {1: "current_epoch", 2: "training_time", 3: "train_accuracy",
                4: "validation_accuracy", 5: "test_accuracy"}


def decode_model_metrics(buf: bytes) -> dict:
    """Decode a ``ModelMetrics`` message into plain dicts."""
    out = {"evaluation_data": [], "trainable_parameters": 0, "total_time": 0.0}
    for num, wt, val in _fields(buf):
        if num == 1 and wt == 2:
            ev = {k: 0.0 for k in _EVAL_FIELDS.values()}
            for n2, wt2, v2 in _fields(val):
                if n2 in _EVAL_FIELDS and wt2 == 1:
                    ev[_EVAL_FIELDS[n2]] = v2
                elif n2 == 6 and wt2 == 2:
                    ev["checkpoint_path"] = v2.decode("utf-8", "replace")
            out["evaluation_data"].append(ev)
        elif num == 2 and wt == 0:
            out["trainable_parameters"] = val - (1 << 64) if val >= 1 << 63 else val
        elif num == 3 and wt == 1:
            out["total_time"] = val
    return out


def _enc_varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_model_metrics(evaluation_data: list[dict], trainable_parameters: int,
                         total_time: float = 0.0) -> bytes:
    """Serialize a ``ModelMetrics`` message (used to build test files)."""
    out = bytearray()
    for ev in evaluation_data:
        body = bytearray()
        for num, name in _EVAL_FIELDS.items():
            body += _enc_varint((num << 3) | 1) + struct.pack("<d", float(ev.get(name, 0.0)))
        out += _enc_varint((1 << 3) | 2) + _enc_varint(len(body)) + body
    out += _enc_varint((2 << 3) | 0) + _enc_varint(int(trainable_parameters))
    out += _enc_varint((3 << 3) | 1) + struct.pack("<d", float(total_time))
    return bytes(out)


def encode_row(module_hash: str, epochs: int, matrix, ops, final: dict,
               trainable_parameters: int) -> bytes:
    """One NB101 tfrecord payload with ``final`` (keys ``training_time``,
    ``train_accuracy``, ``validation_accuracy``, ``test_accuracy``) as the
    end-of-training evaluation."""
    raw_adj = "".join(str(int(v)) for row in matrix for v in row)
    start = {k: 0.0 for k in _EVAL_FIELDS.values()}
    half = {**start, "current_epoch": epochs / 2}
    end = {**start, **final, "current_epoch": float(epochs)}
    metrics = encode_model_metrics([start, half, end], trainable_parameters)
    row = [module_hash, int(epochs), raw_adj, ",".join(ops),
           base64.b64encode(metrics).decode("ascii")]
    return json.dumps(row).encode("utf-8")


# -- NB101 dataset ----------------------------------------------------------------
def read_nb101_tfrecord(path: str | os.PathLike, verify: bool = True,
                        progress: bool = True) -> NB101Table:
    """Read ``nasbench_only108.tfrecord`` / ``nasbench_full.tfrecord`` into a table."""
    from tqdm.auto import tqdm

    path = os.fspath(path)
    if not os.path.exists(path):
        raise GroundTruthError(f"tfrecord file not found: {path}")
    cells: dict[str, dict] = {}
    size = os.path.getsize(path)
    with open(path, "rb") as f, tqdm(total=size, unit="B", unit_scale=True, disable=not progress,
                                     desc=f"reading {os.path.basename(path)}") as bar:
        for n, payload in enumerate(iter_records(f, verify=verify, source=path,
                                                 progress=bar.update)):
            try:
                module_hash, epochs, raw_adj, raw_ops, raw_metrics = json.loads(
                    payload.decode("utf-8"))
                dim = int(round(len(raw_adj) ** 0.5))
                if dim * dim != len(raw_adj):
                    raise ValueError(f"adjacency string of length {len(raw_adj)} is not square")
                matrix = [[int(raw_adj[r * dim + c]) for c in range(dim)] for r in range(dim)]
                metrics = decode_model_metrics(base64.b64decode(raw_metrics))
                final = metrics["evaluation_data"][-1]
            except Exception as exc:
                raise GroundTruthError(
                    f"{path}: record {n} is not an NB101 row "
                    f"({type(exc).__name__}: {exc})") from exc
            entry = cells.get(module_hash)
            if entry is None:
                entry = cells[module_hash] = {
                    "hash": module_hash, "matrix": matrix, "ops": raw_ops.split(","),
                    "params": metrics["trainable_parameters"], "metrics": {}}
            entry["metrics"].setdefault(int(epochs), []).append({
                "val_acc": final["validation_accuracy"], "test_acc": final["test_accuracy"],
                "train_time": final["training_time"]})
    if not cells:
        raise GroundTruthError(f"{path}: no records found")
    return NB101Table.from_records(cells.values(), source=path)
