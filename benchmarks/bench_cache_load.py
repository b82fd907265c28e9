"""Load time and peak memory of each ready benchmark's local cache.

Each measurement runs in a fresh Python process: it imports the package and the
benchmark's module (timed apart), then times ``benchmarks.load(name)`` (the npz cache ->
Table), and reports its peak RSS
(``resource.getrusage``). A process that does the same imports but loads nothing gives
the interpreter baseline, subtracted to get what the table itself costs.

    python benchmarks/bench_cache_load.py --shared     # import ../shared NB201 into a temp home
    python benchmarks/bench_cache_load.py              # the caches of the current TNAO_HOME

Targets (DESIGN.md): nb201 loads in <= 0.2 s and <= 200 MB RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SHARED_NB201 = ROOT.parent / "shared" / "data" / "nb201.csv.gz"
TARGETS = {"nb201": (0.2, 200.0)}  # seconds, MB of RSS

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

t0 = time.perf_counter()
from tnao_app import benchmarks
t1 = time.perf_counter()
name = sys.argv[1]
n = 0
t2 = t1
if name != "-":
    benchmarks.module(name)  # the benchmark's module (imported lazily by load)
    t1 = time.perf_counter()
    table = benchmarks.load(name)
    n = len(table)
    t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "archs": n, "maxrss_mb": peak_mb()}))
"""


def probe(name: str, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, name], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--shared",
        action="store_true",
        help="import ../shared/data/nb201.csv.gz into a temporary TNAO_HOME first",
    )
    ap.add_argument("--repeats", type=int, default=7, help="fresh processes per benchmark")
    args = ap.parse_args()
    console = Console(width=160)  # the table is wide; don't squeeze it into 80 columns
    env = dict(os.environ)
    tmp = None
    if args.shared:
        if not SHARED_NB201.exists():
            sys.exit(f"{SHARED_NB201} is absent; run without --shared.")
        tmp = tempfile.TemporaryDirectory(prefix="tnao_bench_")
        env["TNAO_HOME"] = tmp.name
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from tnao_app.cli import main; main()",
                "data",
                "import",
                str(SHARED_NB201),
                "--benchmark",
                "nb201",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
    try:
        status = json.loads(
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from tnao_app.cli import main; main()",
                    "data",
                    "status",
                    "--json",
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        ready = [r for r in status if r["ready"]]
        base = [probe("-", env) for _ in range(args.repeats)]
        base_rss = statistics.median(b["maxrss_mb"] for b in base)
        base_imp = statistics.median(b["import_s"] for b in base)
        t = Table(
            title=f"Cache load (median of {args.repeats} fresh processes; "
            f"TNAO_HOME={env.get('TNAO_HOME', '(default)')})"
        )
        for col in (
            "benchmark",
            "archs",
            "cache MB",
            "imports ms",
            "load ms (median)",
            "load ms (min-max)",
            "peak RSS MB",
            "RSS over baseline MB",
            "target",
        ):
            t.add_column(col, justify="right" if col != "benchmark" else "left")
        t.add_row(
            "(baseline: imports only)",
            "",
            "",
            f"{base_imp * 1e3:.0f}",
            "",
            "",
            f"{base_rss:.1f}",
            "0.0",
            "",
        )
        for r in ready:
            runs = [probe(r["benchmark"], env) for _ in range(args.repeats)]
            load = [x["load_s"] for x in runs]
            rss = statistics.median(x["maxrss_mb"] for x in runs)
            med = statistics.median(load)
            verdict = ""
            if r["benchmark"] in TARGETS:
                t_s, t_mb = TARGETS[r["benchmark"]]
                ok = med <= t_s and rss <= t_mb and (rss - base_rss) <= t_mb
                mark = "[green]met[/]" if ok else "[red]MISSED[/]"
                verdict = f"{mark} (<= {t_s} s, <= {t_mb:.0f} MB)"
            imp = statistics.median(x["import_s"] for x in runs)
            t.add_row(
                r["benchmark"],
                f"{runs[0]['archs']:,}",
                f"{r['size_mb']:.2f}",
                f"{imp * 1e3:.0f}",
                f"{med * 1e3:.1f}",
                f"{min(load) * 1e3:.1f}-{max(load) * 1e3:.1f}",
                f"{rss:.1f}",
                f"{rss - base_rss:.1f}",
                verdict,
            )
        console.print(t)
        console.print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
