"""Wall time of a default `tnao run --benchmark nb201` on this machine's CPU.

Imports the shared NB201 table into a temporary TNAO_HOME, then times the command as a
user runs it (process start, imports, run, history database included).

    python benchmarks/bench_run_cpu.py [--repeat 1] [extra tnao run options]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT.parent / "shared" / "data" / "nb201.csv.gz"


def main() -> None:
    args = sys.argv[1:]
    repeat = 1
    if args[:1] == ["--repeat"]:
        repeat, args = int(args[1]), args[2:]
    home = tempfile.mkdtemp(prefix="tnao_bench_")
    env = {**os.environ, "TNAO_HOME": home}
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from tnao_app.cli import main; main()",
            "data",
            "import",
            str(CSV),
            "--benchmark",
            "nb201",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    cmd = [
        sys.executable,
        "-c",
        "from tnao_app.cli import main; main()",
        "run",
        "--benchmark",
        "nb201",
        "--device",
        "cpu",
        "--json",
        *args,
    ]
    print(f"cores: {os.cpu_count()}; command: tnao {' '.join(cmd[3:])}")
    for i in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if out.returncode:
            print(out.stderr)
            sys.exit(out.returncode)
        print(f"run {i + 1}: {dt:.1f} s wall")


if __name__ == "__main__":
    main()
