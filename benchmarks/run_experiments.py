"""Baseline comparison on the full NAS-Bench-201 table: prints one table per dataset.

    python benchmarks/run_experiments.py [--seeds 0-29] [--budgets 50,100,150,200]
        [--workers 2] [--methods random,evolution,predictor] [--out DIR]

cifar10 runs every method given; cifar100 and ImageNet16-120 run ``--other-methods``
(default: predictor). Uses the nb201 cache of TNAO_HOME when it is ready; otherwise imports
../shared/data/nb201.csv.gz into a temporary TNAO_HOME (never into ../shared).
With --out, writes <dataset>.csv (summary) and <dataset>.json (summary + every run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent / "shared" / "data" / "nb201.csv.gz"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0-29")
    p.add_argument("--budgets", default="50,100,150,200")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--methods", default="random,evolution,predictor")
    p.add_argument("--other-methods", default="predictor")
    p.add_argument("--datasets", default="cifar10,cifar100,imagenet16")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from tnao_app import benchmarks
    from tnao_app import experiment as ex
    from tnao_app.cli.experiment import render

    console = Console()
    if benchmarks.module("nb201").load_table() is None:
        if not SHARED_CSV.exists():
            console.print(f"nb201 is not ready and {SHARED_CSV} is absent.")
            return 1
        os.environ["TNAO_HOME"] = tempfile.mkdtemp(prefix="tnao_bench_")
        benchmarks.import_file(SHARED_CSV, "nb201")
    seeds, budgets = ex.parse_seeds(args.seeds), ex.parse_budgets(args.budgets)
    for ds in args.datasets.split(","):
        methods = ex.parse_methods(args.methods if ds == "cifar10" else args.other_methods)
        t0 = time.perf_counter()
        exp = ex.run_experiment("nb201", ds, methods, seeds, budgets, workers=args.workers)
        console.print(render(exp))
        console.print(f"{ds}: {time.perf_counter() - t0:.0f} s wall with {args.workers} workers\n")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            ex.write_csv(exp, args.out / f"{ds}.csv")
            (args.out / f"{ds}.json").write_text(json.dumps(exp.to_dict(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
