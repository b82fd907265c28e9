"""Time the NAS-Bench-101 TFRecord conversion on a file of the official size and layout.

Writes a synthetic ``nasbench_only108.tfrecord`` (every one of the 423,624 distinct cells,
3 repeats of 108 epochs = 1,270,872 records, at least the official 499 MB: its
``checkpoint_path`` fields are padded when records come out smaller than the official
average, and its records, 533 MB in all, are already larger): real cells from
``NB101Space.enumerate_cells`` with their real module hashes, JSON records, base64 (with
newlines) ``ModelMetrics`` protobufs of 3 evaluations; only the metric *values* are
synthetic (random). Then converts it with the importer into a temporary TNAO_HOME and
prints the wall time, and checks a few means against the values written. The file is
deleted afterwards unless ``--keep``.

    python benchmarks/bench_nb101_convert.py [--cells N] [--out /tmp/x.tfrecord] [--keep]

Hashing 423,624 cells in pure Python takes a few minutes (2 processes); the hashes are
kept in ``/tmp/nb101_bench_hashes.txt`` so a rerun skips that step.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OFFICIAL_BYTES = 499_000_000  # nasbench_only108.tfrecord is about 499 MB
HASH_CACHE = Path(tempfile.gettempdir()) / "nb101_bench_hashes.txt"


def _hash(arch):
    from tnao_app.benchmarks.nb101 import module_hash

    return module_hash(*arch)


def cells_and_hashes(limit: int | None):
    from tnao_app.benchmarks.nb101 import SPACE

    cells = list(SPACE.enumerate_cells())
    if limit:
        cells = cells[:limit]
    if HASH_CACHE.exists():
        hashes = HASH_CACHE.read_text().split()
        if len(hashes) >= len(cells):
            return cells, hashes[: len(cells)]
    t = time.perf_counter()
    with mp.Pool(min(2, os.cpu_count() or 1)) as pool:
        hashes = pool.map(_hash, cells, chunksize=2000)
    print(f"hashed {len(cells):,} cells in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    if len(set(hashes)) != len(hashes):
        raise SystemExit("enumerated cells do not have distinct hashes")
    if limit is None:
        HASH_CACHE.write_text("\n".join(hashes))
    return cells, hashes


def _records(i, cell, h, rng_vals, pad):
    from tnao_app.benchmarks.nb101 import encode_model_metrics, encode_record

    valid, test, times, params = rng_vals
    ckpt = "x" * pad
    out = []
    for r in range(3):
        evals = [
            dict(
                current_epoch=e,
                training_time=times[i, r] * e / 108,
                train_accuracy=1.0,
                validation_accuracy=valid[i, r] * (e > 0),
                test_accuracy=test[i, r] * (e > 0),
            )
            for e in (0.0, 54.0, 108.0)
        ]
        blob = encode_model_metrics(evals, int(params[i]), times[i, r] * 1.1, ckpt)
        out.append(encode_record(h, 108, cell[0], cell[1], blob))
    return out


def write_file(path: Path, cells, hashes, seed: int = 0):
    """Write the file; returns the means it should convert to and the file size."""
    from tnao_app.benchmarks import tfrecord

    rng = np.random.default_rng(seed)
    n = len(cells)
    valid = rng.uniform(0.80, 0.95, size=(n, 3))
    test = valid - rng.uniform(0.0, 0.01, size=(n, 3))
    times = rng.uniform(1000, 3000, size=(n, 3))
    params = rng.integers(200_000, 50_000_000, size=n)
    vals = (valid, test, times, params)
    # Pad checkpoint_path (3 per record) so the file has the official size: the record
    # size grows linearly with the pad (base64, its escaped newlines), so two probes do.
    probe = range(0, n, max(1, n // 500))

    def avg(pad: int) -> float:
        return float(
            np.mean(
                [
                    len(tfrecord.encode(d))
                    for i in probe
                    for d in _records(i, cells[i], hashes[i], vals, pad)
                ]
            )
        )

    a0, a1 = avg(0), avg(30)
    pad = max(0, round((OFFICIAL_BYTES / (3 * 423_624) - a0) * 30 / (a1 - a0)))
    with open(path, "wb") as f:
        buf = []
        for i in range(n):
            buf += _records(i, cells[i], hashes[i], vals, pad)
            if len(buf) >= 30_000:
                tfrecord.write_records(f, buf)
                buf.clear()
        tfrecord.write_records(f, buf)
    return valid.mean(axis=1) * 100, test.mean(axis=1) * 100, times.mean(axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=None, help="only the first N cells")
    ap.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "nasbench_only108.tfrecord"
    )
    ap.add_argument("--keep", action="store_true", help="keep the synthetic file")
    args = ap.parse_args()

    cells, hashes = cells_and_hashes(args.cells)
    t = time.perf_counter()
    want_valid, want_test, want_time = write_file(args.out, cells, hashes)
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} ({size / 1e6:.0f} MB, {3 * len(cells):,} records) "
        f"in {time.perf_counter() - t:.0f} s",
        file=sys.stderr,
    )

    with tempfile.TemporaryDirectory() as home:
        os.environ["TNAO_HOME"] = home
        from tnao_app.benchmarks import nb101

        t = time.perf_counter()
        out = nb101.import_file(args.out)
        convert = time.perf_counter() - t
        t = time.perf_counter()
        table = nb101.load_table()
        load = time.perf_counter() - t
        rows = [table.index_of(cells[i]) for i in (0, len(cells) // 2, len(cells) - 1)]
        for i, row in zip((0, len(cells) // 2, len(cells) - 1), rows, strict=True):
            assert abs(table.metrics["valid@108"][row] - want_valid[i]) < 1e-9
            assert abs(table.metrics["test@108"][row] - want_test[i]) < 1e-9
            assert abs(table.metrics["train-time@108"][row] - want_time[i]) < 1e-6
        assert len(table) == len(cells)
        print(
            f"converted {size / 1e6:.0f} MB, {3 * len(cells):,} records, "
            f"{len(table):,} cells in {convert:.1f} s; cache {out.stat().st_size / 1e6:.0f} MB,"
            f" loads in {load:.2f} s"
        )
    if not args.keep:
        args.out.unlink()


if __name__ == "__main__":
    main()
