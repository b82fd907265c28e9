"""Wall time of a default `tnao run --benchmark nb101 --budget 150` on the real NAS-Bench-101
subset (../shared/data/nb101_subset_specs.csv.gz: 30,001 of 423,624 cells), as a user
runs it (process start, imports, run, history database included):
  cold   the first run on a machine: the stage-1 body of the run's variant is pretrained
         on the table's cells and cached with their features
  warm   every later run (the body and its features read from the cache)

The target is warm <= 30 s on a 2-core machine. Alternating seeds would each pretrain
their own variant, so every case runs the same seed; the last column is the best
validation accuracy found (the subset's best is 94.91%).

    python benchmarks/bench_nb101_run.py [--repeat 3] [--budget 150] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics

from cli_timing import SHARED, home_with, timed

CSV = SHARED / "nb101_subset_specs.csv.gz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3, help="warm runs")
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    home, env = home_with(CSV, "nb101", "tnao_bench101_")
    args = ["run", "--benchmark", "nb101", "--device", "cpu", "--json"]
    args += ["--budget", str(a.budget), "--seed", str(a.seed), "--db", str(home / "h.db")]
    print(f"cores: {os.cpu_count()}; tnao {' '.join(args)}")
    times: dict[str, list[float]] = {"cold": [], "warm": []}
    best: dict[str, float] = {}
    for name in ["cold"] + ["warm"] * a.repeat:
        dt, res = timed(args, env)
        times[name].append(dt)
        best[name] = res["best"]["valid"]
        print(f"  {name:<5} {dt:7.1f} s", flush=True)
    print(f"\n{'run':<6} {'median s':>9} {'min s':>7} {'best valid':>11}")
    for name, ts in times.items():
        print(f"{name:<6} {statistics.median(ts):9.1f} {min(ts):7.1f} {best[name]:11.3f}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
