"""Wall time of a default `tnao run --benchmark nb201` on this machine's CPU, against the
previous default (the whole model trained in every run: train.stage1 = "joint") measured
in the same process, alternating, so the ratio is fair on a busy machine.

Imports the shared NB201 table into a temporary TNAO_HOME, then times the command as a
user runs it (process start, imports, run, history database included):
  previous   the whole model trained per run (train.stage1 = "joint")
  cold       the default with an empty stage-1 cache (the first run on a machine)
  warm       the default with the stage-1 bodies cached (every later run)

    python benchmarks/bench_run_cpu.py [--repeat 3] [--budget 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics

from cli_timing import SHARED, home_with, timed

CSV = SHARED / "nb201.csv.gz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    home, env = home_with(CSV, "nb201", "tnao_bench_")
    joint = home / "joint.json"
    joint.write_text(json.dumps({"train": {"stage1": "joint"}}))
    base = ["run", "--benchmark", "nb201", "--device", "cpu", "--json"]
    base += ["--budget", str(a.budget), "--seed", str(a.seed), "--db", str(home / "h.db")]
    cases = {"previous": [*base, "--config", str(joint)], "cold": base, "warm": base}
    times: dict[str, list[float]] = {k: [] for k in cases}
    best: dict[str, float] = {}
    print(f"cores: {os.cpu_count()}; budget {a.budget}, seed {a.seed}; tnao {' '.join(base)}")
    for i in range(a.repeat):
        for name, args in cases.items():
            if name == "cold":
                shutil.rmtree(home / "cache" / "stage1", ignore_errors=True)
            dt, res = timed(args, env)
            times[name].append(dt)
            best[name] = res["best"]["test"]
            print(f"  repeat {i + 1} {name:<8} {dt:6.1f} s", flush=True)
    ref = statistics.median(times["previous"])
    print(f"\n{'run':<10} {'median s':>9} {'min s':>7} {'x faster':>9} {'best test':>10}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<10} {med:9.1f} {min(ts):7.1f} {ref / med:9.1f} {best[name]:10.3f}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
