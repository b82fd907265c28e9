"""Time and peak memory of importing the official NB201 / NATS-tss layouts.

The real files are 1-5 GB; this builds scaled-down files in the same layouts from the 3
genuine NATS-tss records in ../shared/data/raw (copied round-robin onto the first N
architectures of meta_archs, so numbers repeat: fine for time and memory, meaningless
as results), then imports each in a fresh process and reports wall time and peak RSS.
Peak RSS / file size lets one extrapolate to the full files; "pickle MB" is the size of
the pickled data itself (data.pkl of a zip .pth, the decompressed bytes of a .pbz2) and
"RSS / pickle" is (peak RSS - RSS before the import) / pickle MB.

    python benchmarks/bench_official_import.py --archs 1000
    # reuse built files, and time another version of the reader against them:
    python benchmarks/bench_official_import.py --files /tmp/nb201_files \
        --reader /tmp/official_old.py
"""

from __future__ import annotations

import argparse
import bz2
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SIMPLE = ROOT.parent / "shared" / "data" / "raw" / "D-X-Y_NATS-Bench" / "NATS-tss-v1_0-3ffb9-simple"

PROBE = r"""
import json, resource, sys, time


def peak_mb():
    # getrusage's ru_maxrss survives fork+exec on Linux (a child reports its parent's
    # peak when that was larger), so prefer this process's own high-water mark.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

if len(sys.argv) > 2:  # another version of the reader module, to compare against
    import importlib.util
    name = "tnao_app.benchmarks.nb201.official"
    spec = importlib.util.spec_from_file_location(name, sys.argv[2])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
from tnao_app import benchmarks
import tnao_app.benchmarks.nb201.official  # its imports are not part of the import time
base = peak_mb()
t = time.perf_counter()
benchmarks.import_file(sys.argv[1], "nb201")
dt = time.perf_counter() - t
n = len(benchmarks.load("nb201"))
print(json.dumps({"s": dt, "archs": n, "rss_mb": peak_mb(), "base_mb": base}))
"""


def build(tmp: Path, n: int) -> dict[str, Path]:
    import torch

    from tnao_app.benchmarks.nb201.unpickle import read_pbz2

    meta, _ = read_pbz2(SIMPLE / "meta.pickle.pbz2")
    genuine = [read_pbz2(SIMPLE / f"{i:06d}.pickle.pbz2")[0] for i in (0, 11, 284)]
    archs = meta["meta_archs"]

    def record(i: int) -> dict:
        rec = pickle.loads(pickle.dumps(genuine[i % 3]))  # a distinct copy per arch
        for state in rec.values():
            state["arch_index"], state["arch_str"] = i, archs[i]
        return rec

    simple = tmp / "NATS-tss-v1_0-3ffb9-simple"
    simple.mkdir()
    with bz2.open(simple / "meta.pickle.pbz2", "wb") as f:
        pickle.dump(meta, f)
    for i in range(n):
        with bz2.open(simple / f"{i:06d}.pickle.pbz2", "wb") as f:
            pickle.dump(record(i), f)
    pth = {"meta_archs": archs, "evaluated_indexes": set(range(n)), "arch2infos": {}}
    for i in range(n):
        rec = record(i)
        pth["arch2infos"][i] = {"less": rec["12"], "full": rec["200"]}
    out = {"nats-tss simple folder": simple}
    out["NB201 .pth (zip)"] = tmp / "zip.pth"
    torch.save(pth, out["NB201 .pth (zip)"])
    out["NB201 .pth (legacy)"] = tmp / "legacy.pth"
    torch.save(pth, out["NB201 .pth (legacy)"], _use_new_zipfile_serialization=False)
    full = {
        "meta_archs": archs,
        "evaluated_indexes": set(range(n)),
        "arch2infos": {
            i: {"12": v["less"], "200": v["full"]} for i, v in pth["arch2infos"].items()
        },
    }
    del pth
    out["NATS-tss full .pbz2"] = tmp / "full.pickle.pbz2"
    with bz2.open(out["NATS-tss full .pbz2"], "wb") as f:
        pickle.dump(full, f, protocol=4)
    return out


def size_mb(p: Path) -> float:
    if p.is_dir():
        return sum(f.stat().st_size for f in p.iterdir()) / 1e6
    return p.stat().st_size / 1e6


def pickle_mb(p: Path) -> float:
    """Bytes of pickled data: what an unpickler turns into objects."""
    if p.is_dir():
        return sum(pickle_mb(f) for f in p.iterdir())
    if p.name.endswith(".pbz2"):
        n = 0
        with bz2.open(p, "rb") as f:
            while block := f.read(1 << 20):
                n += len(block)
        return n / 1e6
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as zf:
            return sum(i.file_size for i in zf.infolist() if i.filename.endswith("/data.pkl")) / 1e6
    return size_mb(p)  # legacy .pth: the pickles are the file (no tensors in the records)


LABELS = {
    "nats-tss simple folder": "NATS-tss-v1_0-3ffb9-simple",
    "NB201 .pth (zip)": "zip.pth",
    "NB201 .pth (legacy)": "legacy.pth",
    "NATS-tss full .pbz2": "full.pickle.pbz2",
}


def run(files: dict[str, Path], n: int, home: Path, reader: str | None, only: str) -> None:
    env = dict(os.environ, TNAO_HOME=str(home))
    table = Table(
        title=f"Import of official layouts, {n} architectures "
        f"({os.cpu_count()} CPUs){' reader ' + reader if reader else ''}"
    )
    for col in (
        "format",
        "file MB",
        "pickle MB",
        "import s",
        "ms / arch",
        "peak RSS MB",
        "RSS / file size",
        "RSS / pickle",
    ):
        table.add_column(col, justify="left" if col == "format" else "right")
    for label, path in files.items():
        if only not in label:
            continue
        cmd = [sys.executable, "-c", PROBE, str(path)] + ([reader] if reader else [])
        r = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        got = json.loads(r.stdout.strip().splitlines()[-1])
        assert got["archs"] == n, got
        mb, pmb = size_mb(path), pickle_mb(path)
        table.add_row(
            label,
            f"{mb:.0f}",
            f"{pmb:.0f}",
            f"{got['s']:.1f}",
            f"{got['s'] / n * 1e3:.1f}",
            f"{got['rss_mb']:.0f}",
            f"{got['rss_mb'] / mb:.2f}",
            f"{(got['rss_mb'] - got['base_mb']) / pmb:.2f}",
        )
    Console(width=160).print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archs", type=int, default=1000)
    ap.add_argument(
        "--files",
        type=Path,
        default=None,
        help="folder to build the files in once and reuse (default: a temp dir)",
    )
    ap.add_argument(
        "--reader",
        default=None,
        help="path of another tnao_app/benchmarks/nb201/official.py to import with instead",
    )
    ap.add_argument("--only", default="", help="run only the formats whose label has this")
    args = ap.parse_args()
    if not SIMPLE.exists():
        sys.exit(f"{SIMPLE} is absent.")
    with tempfile.TemporaryDirectory(prefix="tnao_bench_official_") as d:
        tmp = Path(d)
        where = args.files / str(args.archs) if args.files else tmp / "files"
        files = {label: where / name for label, name in LABELS.items()}
        if not all(p.exists() for p in files.values()):
            where.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            files = build(where, args.archs)
            print(f"built {args.archs}-arch files in {time.perf_counter() - t:.0f} s")
        run(files, args.archs, tmp / "home", args.reader, args.only)


if __name__ == "__main__":
    main()
