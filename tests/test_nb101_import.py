"""NAS-Bench-101 importers: the TFRecord reader (framing, JSON, base64, protobuf), the CSV
reader, the registry and the CLI.

TFRecord files here are synthetic, written by the tests in the official layout (real cells
and their real module hashes; metric values made up): the genuine file is 499 MB and not
in ../shared. One writer below builds the bytes by hand (struct + crc32c, not the
project's encoders) so the reader is not only checked against its own writer.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import tempfile
from pathlib import Path

import crc32c
import numpy as np
import pytest
from conftest import NB101_CSV, need
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tnao_app import benchmarks
from tnao_app.benchmarks import cache, nb101, tfrecord
from tnao_app.benchmarks.base import Oracle
from tnao_app.benchmarks.nb101 import OPS, SPACE
from tnao_app.errors import DataError, UnknownArchError

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --------------------------------------------------------------------------- writers


def hand_frame(data: bytes) -> bytes:
    """TFRecord framing written from the format description, independently of
    ``tfrecord.encode``."""

    def mask(c: int) -> int:
        return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    length = struct.pack("<Q", len(data))
    return (
        length
        + struct.pack("<I", mask(crc32c.crc32c(length)))
        + data
        + struct.pack("<I", mask(crc32c.crc32c(data)))
    )


def hand_metrics(evals: list[tuple[float, float, float, float, float]], params: int) -> bytes:
    """A ModelMetrics protobuf assembled byte by byte from the schema."""
    out = b""
    for ev in evals:
        sub = b"".join(bytes([(f << 3) | 1]) + struct.pack("<d", x) for f, x in enumerate(ev, 1))
        sub += b"\x32\x00"  # checkpoint_path = ""
        out += b"\x0a" + bytes([len(sub)]) + sub
    p = params
    varint = b""
    while True:
        if p < 0x80:
            varint += bytes([p])
            break
        varint += bytes([(p & 0x7F) | 0x80])
        p >>= 7
    return out + b"\x10" + varint + b"\x19" + struct.pack("<d", 123.0)


def record(
    arch, epochs: int, valid: float, test: float, ttime: float, params: int, h: str | None = None
) -> bytes:
    matrix, ops = arch
    evals = [
        (0.0, 0.0, 0.1, 0.1, 0.1),
        (epochs / 2, ttime / 2, 0.5, 0.5, 0.5),
        (float(epochs), ttime, 1.0, valid, test),
    ]
    raw = base64.encodebytes(hand_metrics(evals, params)).decode()
    adj = "".join(str(x) for row in matrix for x in row)
    return json.dumps([h or nb101.module_hash(*arch), epochs, adj, ",".join(ops), raw]).encode()


def cells(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    out: dict[str, tuple] = {}
    while len(out) < n:
        a = SPACE.sample(rng)
        out.setdefault(SPACE.canonical_id(a), a)
    return list(out.values())


def official_file(path: Path, archs, budgets=(108,), seed: int = 1, shuffle: bool = True):
    """Write an official-layout file; returns the expected means per (hash, epochs)."""
    rng = np.random.default_rng(seed)
    recs, want = [], {}
    for a in archs:
        h = nb101.module_hash(*a)
        params = int(rng.integers(200_000, 50_000_000))
        for e in budgets:
            v = rng.uniform(0.1, 0.95, 3)
            t = v - rng.uniform(0, 0.02, 3)
            tt = rng.uniform(100, 3000, 3)
            recs += [record(a, e, v[r], t[r], tt[r], params) for r in range(3)]
            want[h, e] = (100 * v.mean(), 100 * t.mean(), tt.mean(), params)
    order = rng.permutation(len(recs)) if shuffle else range(len(recs))
    path.write_bytes(b"".join(hand_frame(recs[i]) for i in order))
    return want


# --------------------------------------------------------------------------- framing


def test_framing_round_trip_with_offsets(tmp_path):
    datas = [b"", b"x", os.urandom(5000), b"abc" * 10]
    f = tmp_path / "a.tfrecord"
    f.write_bytes(b"".join(tfrecord.encode(d) for d in datas))
    assert tfrecord.encode(b"hello") == hand_frame(b"hello")
    got = list(tfrecord.read_file(f))
    assert [d for _, d in got] == datas
    offsets, pos = [], 0
    for d in datas:
        offsets.append(pos)
        pos += 16 + len(d)
    assert [o for o, _ in got] == offsets
    # Records spanning chunk borders read the same.
    with open(f, "rb") as fh:
        small = list(tfrecord.iter_records(fh, chunk=7))
    assert small == got
    assert tfrecord.looks_like_tfrecord(f)


# --------------------------------------------------------------------------- importer


def test_official_layout_round_trips_to_the_right_means(tmp_path, tnao_home):
    archs = cells(40)
    f = tmp_path / "nasbench_full.tfrecord"
    want = official_file(f, archs, budgets=(4, 12, 36, 108))
    out = benchmarks.import_file(f, "nb101")
    assert out == cache.cache_path("nb101") and out.exists()
    table = benchmarks.load("nb101")
    assert len(table) == 40
    assert table.source["records"] == 40 * 4 * 3 and table.source["repeats"] == 3
    assert table.source["epochs"] == [4, 12, 36, 108]
    assert table.dataset("cifar10").signal == "valid@108"
    assert table.dataset("cifar10").report == "test@108"
    for a in archs:
        h = nb101.module_hash(*a)
        row = table.index_of(a)
        assert table.id_of(row) == h
        for e in (4, 12, 36, 108):
            v, t, tt, params = want[h, e]
            assert table.metric(f"valid@{e}")[row] == pytest.approx(v, abs=1e-9)
            assert table.metric(f"test@{e}")[row] == pytest.approx(t, abs=1e-9)
            assert table.metric(f"train-time@{e}")[row] == pytest.approx(tt, abs=1e-9)
        assert round(table.metric("params")[row] * 1e6) == params  # read in millions
        # The stored tokens decode to the same cell (the same hash).
        assert SPACE.canonical_id(table.arch(row)) == h
        assert json.loads(table.native(row))["ops"][0] == "input"
    # Rows are sorted by hash; an isomorphic relabelling is found too.
    assert list(table.ids) == sorted(table.ids)


def test_only108_layout_and_search_use(tmp_path, tnao_home):
    archs = cells(60, seed=4)
    f = tmp_path / "nasbench_only108.tfrecord"
    want = official_file(f, archs)
    nb101.import_file(f)
    table = nb101.load_table()
    assert set(table.metrics) == {"valid@108", "test@108", "train-time@108", "params"}
    # What the search stages do: sample / mutate / decode, look up, query the oracle.
    oracle = Oracle(table, "cifar10", budget=10)
    rng = np.random.default_rng(0)
    row = table.index_of(archs[3])
    assert oracle.answerable(row)
    h = SPACE.canonical_id(archs[3])
    assert oracle.query(row) == pytest.approx(want[h, 108][0])
    assert oracle.report(row) == pytest.approx(want[h, 108][1])
    m = SPACE.mutate(archs[3], rng)
    assert table.index_of(m) is None or oracle.answerable(table.index_of(m))
    logits = np.eye(6)[SPACE.to_tokens(archs[5])] * 3
    assert table.index_of(SPACE.decode(logits)) == table.index_of(archs[5])
    rank, pct = table.rank_of(float(table.metric("valid@108").max()), "valid@108")
    assert rank == 1 and pct == 100.0


def _good_file(tmp_path, n=4):
    recs = [record(a, 108, 0.9, 0.89, 1000.0, 1234) for a in cells(n, seed=9)]
    frames = [hand_frame(r) for r in recs]
    offsets = np.cumsum([0] + [len(x) for x in frames]).tolist()
    return frames, offsets


def _expect_error(tmp_path, blob: bytes, *fragments: str):
    f = tmp_path / "nasbench_only108.tfrecord"
    f.write_bytes(blob)
    with pytest.raises(DataError) as exc:
        nb101.import_file(f)
    msg = str(exc.value)
    for frag in fragments:
        assert frag in msg, msg
    assert not cache.cache_path("nb101").exists()  # nothing half-written
    return msg


def test_flipped_crc_bytes_name_the_record_offset(tmp_path, tnao_home):
    frames, offs = _good_file(tmp_path)
    bad = bytearray(b"".join(frames))
    bad[offs[2] + 9] ^= 0x40  # a byte of the length CRC of record 2
    _expect_error(tmp_path, bytes(bad), "length CRC", f"byte offset {offs[2]}")
    bad = bytearray(b"".join(frames))
    bad[offs[3] - 1] ^= 0x01  # the last byte of record 2's data CRC
    _expect_error(tmp_path, bytes(bad), "data CRC", f"byte offset {offs[2]}")
    bad = bytearray(b"".join(frames))
    bad[offs[1] + 30] ^= 0x01  # a data byte of record 1
    _expect_error(tmp_path, bytes(bad), "data CRC", f"byte offset {offs[1]}")


def test_truncated_file_names_the_record_offset(tmp_path, tnao_home):
    frames, offs = _good_file(tmp_path)
    blob = b"".join(frames)
    _expect_error(tmp_path, blob[: offs[3] + 50], "truncated", f"byte offset {offs[3]}")
    _expect_error(tmp_path, blob[: offs[3] + 5], "truncated", f"byte offset {offs[3]}")
    _expect_error(tmp_path, blob[: offs[4] - 1], "truncated", f"byte offset {offs[3]}")
    _expect_error(tmp_path, b"", "holds no records")


def _with_bad_record(tmp_path, data: bytes, *fragments: str):
    frames, offs = _good_file(tmp_path, n=3)
    blob = b"".join(frames[:2]) + hand_frame(data) + frames[2]
    return _expect_error(tmp_path, blob, f"byte offset {offs[2]}", *fragments)


def test_bad_record_contents_name_the_record_offset(tmp_path, tnao_home):
    a = cells(1, seed=11)[0]
    good = json.loads(record(a, 108, 0.9, 0.9, 10.0, 5))
    _with_bad_record(tmp_path, b'["abc", 108, ', "not valid JSON")
    _with_bad_record(tmp_path, b"\xff\xfe\x00", "not valid JSON")
    _with_bad_record(tmp_path, json.dumps(good[:4]).encode(), "5-item JSON list")
    _with_bad_record(
        tmp_path, json.dumps([*good[:4], "@@not base64@@"]).encode(), "not valid base64"
    )
    _with_bad_record(tmp_path, json.dumps([*good[:4], "QUJ"]).encode(), "not valid base64")
    broken = base64.b64encode(b"\x0a\xff\x01\x09").decode()  # length past the end
    _with_bad_record(
        tmp_path, json.dumps([*good[:4], broken]).encode(), "malformed ModelMetrics protobuf"
    )
    no_params = base64.b64encode(hand_metrics([(1, 2, 3, 4, 5)], 7)[:-11]).decode()
    _with_bad_record(tmp_path, json.dumps([*good[:4], no_params]).encode(), "trainable_parameters")
    _with_bad_record(tmp_path, json.dumps([good[0], 100, *good[2:]]).encode(), "epochs 100")
    _with_bad_record(tmp_path, json.dumps(["XYZ", *good[1:]]).encode(), "module hash 'XYZ'")
    _with_bad_record(tmp_path, json.dumps([good[0], 108, "0101", *good[3:]]).encode(), "adjacency")
    wrong = "0" * 32
    _with_bad_record(tmp_path, json.dumps([wrong, *good[1:]]).encode(), "hashes to")
    bad_op = good[3].replace("output", "softmax")
    _with_bad_record(tmp_path, json.dumps([*good[:3], bad_op, good[4]]).encode(), "invalid cell")


@FUZZ
@given(blob=st.binary(max_size=600))
def test_fuzz_arbitrary_bytes_only_raise_data_error(tnao_home, blob):
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "x.tfrecord"
        f.write_bytes(blob)
        with pytest.raises(DataError):
            nb101.import_file(f)


_FUZZ_BASE = None


def _fuzz_base() -> bytes:
    global _FUZZ_BASE
    if _FUZZ_BASE is None:
        _FUZZ_BASE = b"".join(
            hand_frame(record(a, 108, 0.9, 0.8, 100.0, 99)) for a in cells(3, seed=21)
        )
    return _FUZZ_BASE


@FUZZ
@given(
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_fuzz_damaged_files_only_raise_data_error(tnao_home, edits, cut):
    blob = bytearray(_fuzz_base())
    for pos, val in edits:
        blob[pos % len(blob)] = val
    if cut is not None:
        blob = blob[: cut % (len(blob) + 1)]
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "x.tfrecord"
        f.write_bytes(bytes(blob))
        try:
            nb101.import_file(f)
        except DataError:
            pass


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


@FUZZ
@given(
    items=st.lists(_json, min_size=0, max_size=6),
    metrics=st.one_of(st.binary(max_size=200), st.none()),
    raw=st.booleans(),
)
def test_fuzz_well_framed_bad_records_only_raise_data_error(tnao_home, items, metrics, raw):
    """Valid framing around random JSON (the CRCs pass, so every later stage is hit)."""
    a = cells(1, seed=31)[0]
    good = json.loads(record(a, 108, 0.9, 0.8, 1.0, 2))
    if metrics is not None and len(items) >= 5:
        items = [good[0], 108, good[2], good[3], base64.b64encode(metrics).decode()]
    data = json.dumps(items).encode() if not raw else bytes(str(items), "utf-8")
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "x.tfrecord"
        f.write_bytes(hand_frame(data))
        try:
            nb101.import_file(f)
        except DataError:
            pass


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_protobuf_decoder_raises_only_its_own_error(blob):
    for fn in (nb101.final_metrics, nb101.decode_model_metrics):
        try:
            fn(blob)
        except nb101.ProtoError:
            pass


def test_decoders_agree_on_official_layout():
    blob = nb101.encode_model_metrics(
        [
            dict(
                current_epoch=e,
                training_time=e * 2,
                train_accuracy=1.0,
                validation_accuracy=e / 200,
                test_accuracy=e / 300,
            )
            for e in (0.0, 54.0, 108.0)
        ],
        params=8_555_530,
        total_time=9.0,
        checkpoint_path="gs://bucket/model.ckpt-123",
    )
    assert nb101.final_metrics(blob) == (8_555_530, 108 / 200, 108 / 300, 216.0)
    params, evals = nb101.decode_model_metrics(blob)
    assert params == 8_555_530 and [e[1] for e in evals] == [0.0, 54.0, 108.0]


def test_project_encoder_matches_hand_written_protobuf():
    evals = [(0.0, 0.0, 0.1, 0.2, 0.3), (108.0, 5.0, 0.9, 0.8, 0.7)]
    ours = nb101.encode_model_metrics(
        [
            dict(
                zip(
                    (
                        "current_epoch",
                        "training_time",
                        "train_accuracy",
                        "validation_accuracy",
                        "test_accuracy",
                    ),
                    ev,
                    strict=True,
                )
            )
            for ev in evals
        ],
        params=300_000,
        total_time=123.0,
    )
    assert ours == hand_metrics(evals, 300_000)


# --------------------------------------------------------------------------- CSV


@pytest.fixture(scope="module")
def subset_home(tmp_path_factory) -> Path:
    csv_path = need(NB101_CSV)
    home = tmp_path_factory.mktemp("nb101_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TNAO_HOME", str(home))
    nb101.import_file(csv_path)
    mp.undo()
    return home


def test_shared_subset_csv(subset_home, monkeypatch):
    monkeypatch.setenv("TNAO_HOME", str(subset_home))
    table = benchmarks.load("nb101")
    assert len(table) == 30_001
    assert table.source["with_spec"] == 1000 and table.source["repeats"] == 1
    spec = table.dataset("cifar10")
    assert spec.signal == spec.report == "valid@108"
    assert "no test accuracy" in spec.note and "single" in spec.note
    row = table.index_of(
        SPACE.from_spec(
            [
                [
                    int(c)
                    for c in "0100110001000000010010000010000001000000010000000"[r * 7 : r * 7 + 7]
                ]
                for r in range(7)
            ],
            ["input", OPS[0], OPS[2], OPS[0], OPS[0], OPS[1], "output"],
        )
    )
    assert table.id_of(row) == "00005c142e6f48ac74fdcf73e3439874"
    assert table.metric("valid@108")[row] == pytest.approx(93.04887652)
    assert round(table.metric("params")[row] * 1e6) == 8_555_530  # read in millions
    assert table.metric("train-time@108")[row] == pytest.approx(1768.975952)
    vals = table.metric("valid@108")
    assert 9.0 < np.nanmin(vals) and np.nanmax(vals) < 95.0
    known = np.nonzero(table.tokens[:, 0] != -1)[0]
    assert len(known) == 1000
    for i in known[::50]:
        assert SPACE.canonical_id(table.arch(int(i))) == table.id_of(int(i))
    unknown = int(np.nonzero(table.tokens[:, 0] == -1)[0][0])
    with pytest.raises(UnknownArchError):
        table.arch(unknown)
    # Sampling the whole space then looking up the hash reaches hash-only rows too.
    rng = np.random.default_rng(0)
    hits = [table.index_of(SPACE.sample(rng)) for _ in range(300)]
    assert sum(h is not None for h in hits) > 5  # ~7 % of the space
    oracle = Oracle(table, "cifar10")
    got = next(h for h in hits if h is not None)
    assert oracle.query(got) == vals[got]


def test_csv_with_canonical_names_and_errors(tmp_path, tnao_home):
    archs = cells(5, seed=41)
    lines = ["module_hash,adjacency,ops,valid@108,test@108,params"]
    for i, (m, ops) in enumerate(archs):
        adj = "".join(str(x) for r in m for x in r)
        h = nb101.module_hash(m, ops) if i % 2 else ""
        lines.append(f'{h},{adj},"{",".join(ops)}",{90 + i},{89 + i},{1000 + i}')
    f = tmp_path / "t.csv"
    f.write_text("\n".join(lines) + "\n")
    nb101.import_file(f)
    table = nb101.load_table()
    assert table.dataset("cifar10").report == "test@108"
    assert table.dataset("cifar10").note == ""
    for i, a in enumerate(archs):
        assert table.metric("valid@108")[table.index_of(a)] == 90 + i

    def bad(text: str, frag: str):
        g = tmp_path / "bad.csv"
        g.write_text(text)
        with pytest.raises(DataError, match=frag):
            nb101.import_file(g)

    m, ops = archs[0]
    adj = "".join(str(x) for r in m for x in r)
    bad("valid@108\n90\n", "neither a 'module_hash'")
    bad("module_hash,valid@108\nnothex,90\n", "expected 32")
    bad(f"module_hash,valid@108\n{'a' * 32},90\n{'a' * 32},91\n", "repeats")
    bad(f'module_hash,adjacency,ops,valid@108\n{"b" * 32},{adj},"{",".join(ops)}",9\n', "hashes to")
    bad(f"module_hash,valid@108\n{'a' * 32},ninety\n", "expected a number")
    bad(f"module_hash,val_acc_108\n{'a' * 32},93.1\n", "is '93.1', expected a fraction from 0 to 1")
    bad(f"module_hash,test@108\n{'a' * 32},93.1\n", "108-epoch validation")
    bad("", "empty")


def test_import_file_detects_formats(tmp_path, tnao_home):
    archs = cells(3, seed=51)
    f = tmp_path / "download.bin"  # a renamed official file is still recognised
    official_file(f, archs)
    nb101.import_file(f)
    assert len(nb101.load_table()) == 3
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(DataError, match="not a known NAS-Bench-101 format"):
        nb101.import_file(junk)
    with pytest.raises(DataError, match="folder"):
        nb101.import_file(tmp_path)


# --------------------------------------------------------------------------- CLI


def _cli(argv, capsys):
    from tnao_app.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out + out.err


def test_cli_import_and_status(tmp_path, tnao_home, capsys):
    f = tmp_path / "nasbench_only108.tfrecord"
    official_file(f, cells(7, seed=61))
    code, out = _cli(["data", "import", str(f), "--benchmark", "nb101"], capsys)
    assert code == 0, out
    assert "nb101 ready" in out and "7 architectures" in out
    code, out = _cli(["data", "status", "--json"], capsys)
    assert code == 0
    rows = {r["benchmark"]: r for r in json.loads(out)}
    assert rows["nb101"]["ready"] and rows["nb101"]["archs"] == 7
    assert rows["nb101"]["datasets"] == ["cifar10"]
    # A damaged file: one sentence, non-zero exit, no traceback, the old cache kept.
    blob = bytearray(f.read_bytes())
    blob[20] ^= 1
    g = tmp_path / "broken.tfrecord"
    g.write_bytes(bytes(blob))
    code, out = _cli(["data", "import", str(g), "--benchmark", "nb101"], capsys)
    assert code == 1 and "byte offset 0" in out and "Traceback" not in out
    assert len(nb101.load_table()) == 7


def test_cli_import_shared_csv(tnao_home, capsys):
    code, out = _cli(["data", "import", str(need(NB101_CSV)), "--benchmark", "nb101"], capsys)
    assert code == 0, out
    assert "30,001 architectures" in out


@settings(max_examples=300, deadline=None)
@given(tail=st.binary(max_size=6), after=st.binary(max_size=4))
def test_fuzz_official_layout_evaluation_with_odd_tails(tail, after):
    """The fast path for the official evaluation layout meets a damaged tail."""
    prefix = b"".join(bytes([(f << 3) | 1]) + struct.pack("<d", f / 10) for f in range(1, 6))
    entry = prefix + tail
    blob = b"\x0a" + bytes([len(entry)]) + entry + after
    try:
        params, valid, test, ttime = nb101.final_metrics(blob + b"\x10\x05")
    except nb101.ProtoError:
        return
    if not tail and not after:
        assert (valid, test, ttime) == (0.4, 0.5, 0.2)
