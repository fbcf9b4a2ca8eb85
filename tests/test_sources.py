"""The three ground-truth readers on small generated files, convert, download."""
import http.server
import threading

import numpy as np
import pytest

from naslib_petridish.cli import main
from naslib_petridish.download import download_nb101
from naslib_petridish.naslib_pickle import read_naslib_pickle, write_naslib_pickle
from naslib_petridish.sources import load_ground_truth, locate_ground_truth
from naslib_petridish.tables import GroundTruthError, NB101Table
from naslib_petridish.tfrecord import (TFRecordError, decode_model_metrics, encode_model_metrics,
                                       encode_row, masked_crc,
                                       read_nb101_tfrecord, write_record)


def write_tfrecord(table: NB101Table, path, epochs=(4, 108)):
    """The official layout: one record per (cell, epoch budget, repeat)."""
    with open(path, "wb") as f:
        for i, h in enumerate(table.hashes):
            cell = table.cell(i)
            for ep in epochs:
                e = list(table.epochs).index(ep)
                for r in range(3):
                    final = {"validation_accuracy": float(table.val_acc[i, e, r]),
                             "test_accuracy": float(table.test_acc[i, e, r]),
                             "training_time": float(table.train_time[i, e, r]),
                             "train_accuracy": 1.0}
                    write_record(f, encode_row(h, ep, cell.matrix, cell.ops, final,
                                               int(table.params[i])))


def assert_tables_equal(a: NB101Table, b: NB101Table):
    for k, v in a.arrays().items():
        np.testing.assert_array_equal(b.arrays()[k], v, err_msg=k)


def test_crc_known_value():
    # CRC-32C check value for "123456789" is 0xE3069283
    import crc32c
    assert crc32c.crc32c(b"123456789") == 0xE3069283
    assert masked_crc(b"") == 0xA282EAD8


def test_model_metrics_codec_round_trip():
    evs = [{"current_epoch": 0.0}, {"current_epoch": 54.0},
           {"current_epoch": 108.0, "training_time": 1769.1, "train_accuracy": 1.0,
            "validation_accuracy": 0.9241786599, "test_accuracy": 0.9211738705}]
    buf = encode_model_metrics(evs, 8_555_530, 1900.5)
    d = decode_model_metrics(buf)
    assert d["trainable_parameters"] == 8_555_530 and d["total_time"] == 1900.5
    assert len(d["evaluation_data"]) == 3
    assert d["evaluation_data"][2]["test_accuracy"] == 0.9211738705


def test_three_readers_agree(small_table, tmp_path):
    tf = tmp_path / "nasbench_full.tfrecord"
    pk = tmp_path / "nasbench_only108.pkl"
    npz = tmp_path / "t.npz"
    write_tfrecord(small_table, tf)
    write_naslib_pickle(small_table, pk)
    small_table.save(npz)
    from_tf = read_nb101_tfrecord(tf, progress=False)
    from_pk = read_naslib_pickle(pk, progress=False)
    from_npz = load_ground_truth(npz)
    assert_tables_equal(small_table, from_tf)
    assert_tables_equal(small_table, from_pk)
    assert_tables_equal(small_table, from_npz)
    # means over the three repeats are the same through every reader
    h = small_table.hashes[3]
    assert from_tf.query(h).validation_accuracy == pytest.approx(
        float(np.mean(small_table.val_acc[3, 3].astype(np.float64))))


def test_pickle_keeps_partial_repeats(table, tmp_path):
    """The shared table's layout (repeat 0 test, repeat 2 val) survives the pickle."""
    rows = table.sample(20, rng=3, metric="val")
    sub = NB101Table({k: (v[rows] if getattr(v, "shape", (0,))[0] == len(table) else v)
                      for k, v in table.arrays().items()})
    write_naslib_pickle(sub, tmp_path / "p.pkl")
    assert_tables_equal(sub, read_naslib_pickle(tmp_path / "p.pkl", progress=False))


def test_convert_cli_reads_back_identically(small_table, tmp_path, capsys):
    tf = tmp_path / "nasbench_only108.tfrecord"
    write_tfrecord(small_table, tf, epochs=(108,))
    out = tmp_path / "out.npz"
    assert main(["-q", "convert", str(tf), str(out)]) == 0
    back = NB101Table.load(out)
    assert_tables_equal(read_nb101_tfrecord(tf, progress=False), back)
    assert np.isnan(back.val_acc[:, 0]).all()  # only108 has no 4-epoch data
    # refuses to overwrite
    assert main(["-q", "convert", str(tf), str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    pk = tmp_path / "n.pkl"
    write_naslib_pickle(small_table, pk)
    assert main(["-q", "convert", str(pk), str(out), "--force"]) == 0
    assert_tables_equal(small_table, NB101Table.load(out))


def test_truncated_and_corrupted_tfrecord(small_table, tmp_path):
    tf = tmp_path / "x.tfrecord"
    write_tfrecord(small_table, tf, epochs=(108,))
    data = tf.read_bytes()
    (tmp_path / "trunc.tfrecord").write_bytes(data[:-10])
    with pytest.raises(TFRecordError, match="file ends inside record"):
        read_nb101_tfrecord(tmp_path / "trunc.tfrecord", progress=False)
    bad = bytearray(data)
    bad[40] ^= 0xFF
    (tmp_path / "bad.tfrecord").write_bytes(bytes(bad))
    with pytest.raises(TFRecordError, match="CRC mismatch"):
        read_nb101_tfrecord(tmp_path / "bad.tfrecord", progress=False)
    with open(tmp_path / "junk.tfrecord", "wb") as f:
        write_record(f, b"not json")
    with pytest.raises(GroundTruthError, match="record 0 is not an NB101 row"):
        read_nb101_tfrecord(tmp_path / "junk.tfrecord", progress=False)
    (tmp_path / "t.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(GroundTruthError, match="cannot unpickle"):
        load_ground_truth(tmp_path / "t.pkl")


class RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    fail_after = None  # cut the first response after this many bytes

    def log_message(self, *a):
        pass

    def do_GET(self):
        data = type(self).payload
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = type(self).fail_after
        if cut is not None:
            type(self).fail_after = None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def server(small_table, tmp_path):
    tf = tmp_path / "src.tfrecord"
    write_tfrecord(small_table, tf, epochs=(108,))
    RangeHandler.payload = tf.read_bytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_port}/nasbench_only108.tfrecord"
    httpd.shutdown()


def test_download_resumes_verifies_and_converts(server, small_table, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    RangeHandler.fail_after = 1000  # first attempt is cut off
    from naslib_petridish.download import DownloadError
    with pytest.raises(DownloadError, match="run the same command again"):
        download_nb101(server, cache, progress=False)
    assert (cache / "nasbench_only108.tfrecord.part").stat().st_size == 1000
    path = download_nb101(server, cache, progress=False)  # resumes with a Range request
    assert path == cache / "nb101_table.npz"
    assert (cache / "nasbench_only108.tfrecord").read_bytes() == RangeHandler.payload
    assert_tables_equal(read_nb101_tfrecord(cache / "nasbench_only108.tfrecord", progress=False),
                        NB101Table.load(path))
    # the cache is found without --nb101 or the environment variable
    monkeypatch.delenv("NASLIB_PETRIDISH_NB101", raising=False)
    monkeypatch.setenv("NASLIB_PETRIDISH_CACHE", str(cache))
    assert locate_ground_truth() == str(path)
    assert main(["-q", "info"]) == 0


def test_download_rejects_corrupted_file(server, tmp_path):
    good = RangeHandler.payload
    RangeHandler.payload = good[:50] + bytes([good[50] ^ 0xFF]) + good[51:]
    from naslib_petridish.download import DownloadError
    with pytest.raises(DownloadError, match="CRC mismatch.*moved to"):
        download_nb101(server, tmp_path / "c", progress=False)
    assert not (tmp_path / "c" / "nb101_table.npz").exists()


def test_locate_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("NASLIB_PETRIDISH_NB101", raising=False)
    monkeypatch.setenv("NASLIB_PETRIDISH_CACHE", str(tmp_path / "empty"))
    with pytest.raises(GroundTruthError, match="naslib-petridish download"):
        locate_ground_truth()
    monkeypatch.setenv("NASLIB_PETRIDISH_NB101", str(tmp_path / "missing.npz"))
    with pytest.raises(GroundTruthError, match="does not exist"):
        locate_ground_truth()
