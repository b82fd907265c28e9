"""Research script: how often, and how fast, does a method find the target architecture?

Runs one method over many seeds on the full NB201 table (imported once into a temporary
TNAO_HOME from ../shared/data/nb201.csv.gz) and prints success rates and the queries to
the target ("queries to the optimum" = unique queries made when a target was first
queried, samples included). Targets: cifar10 -> the global test optimum (both cells with
test 94.3733, rows 6111 and 13714, as `tnao experiment`'s top-test column counts them);
cifar100 / imagenet16 -> the architecture with the best search signal in the table.

    python benchmarks/tune_tnao.py --dataset cifar10 --budget 100 --seeds 0-9 \
        [--method tnao] [--workers 2] [--set search.rounds=1 --set train.epochs=8 ...]

Tune on seeds < 100 only; each worker uses one torch thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT.parent / "shared" / "data" / "nb201.csv.gz"


def _parse_set(items: list[str]) -> dict:
    out: dict = {}
    for it in items:
        key, _, val = it.partition("=")
        sec, _, field = key.partition(".")
        try:
            value = json.loads(val)  # numbers, true/false
        except ValueError:
            value = val  # plain strings
        out.setdefault(sec, {})[field] = value
    return out


def one(args: tuple) -> dict:
    home, method, dataset, budget, seed, overrides = args
    os.environ["TNAO_HOME"] = home
    from tnao_app import benchmarks
    from tnao_app.benchmarks.base import best_rows
    from tnao_app.config import Config
    from tnao_app.runs.pipeline import run_pipeline

    table = benchmarks.load("nb201")
    spec = table.dataset(dataset)
    col = table.metric(spec.signal if dataset != "cifar10" else spec.report)
    # every tied optimum (within benchmarks.base.TIE), as tnao experiment counts them
    targets = {table.native(int(r)) for r in best_rows(col, ~np.isnan(col))[0]}
    data = {
        "run": {
            "benchmark": "nb201",
            "dataset": dataset,
            "method": method,
            "budget": budget,
            "seed": seed,
            "device": "cpu",
            "threads": 1,
        }
    }
    for sec, vals in overrides.items():
        data.setdefault(sec, {}).update(vals)
    hit = {"q": None}

    def listen(ev) -> None:
        if ev.kind == "Queried" and ev.arch in targets and hit["q"] is None:
            hit["q"] = ev.n_queries

    t0 = time.perf_counter()
    res = run_pipeline(Config.from_dict(data), listeners=[listen])
    return {
        "seed": seed,
        "q": hit["q"],
        "test": res["best"]["test"],
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="tnao")
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--seeds", default="0-9")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    lo, _, hi = a.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    overrides = _parse_set(a.set)
    home = tempfile.mkdtemp(prefix="tnao_tune_")
    os.environ["TNAO_HOME"] = home
    from tnao_app.benchmarks import nb201

    nb201.import_csv(CSV)
    jobs = [(home, a.method, a.dataset, a.budget, s, overrides) for s in seeds]
    with ProcessPoolExecutor(a.workers) as ex:
        rows = list(ex.map(one, jobs))
    qs = [r["q"] for r in rows]
    found = [q for q in qs if q is not None]
    print(f"{a.method} {a.dataset} budget {a.budget} seeds {a.seeds} {overrides}")
    print("  queries to target per seed:", qs)
    for b in (50, 100, 150, 200):
        if b <= a.budget:
            print(f"  success within {b}: {sum(q <= b for q in found)}/{len(rows)}")
    med = statistics.median([q if q is not None else a.budget + 1 for q in qs])
    print(f"  median queries to target: {med} (not found counted as {a.budget + 1})")
    print(
        f"  mean best test {np.mean([r['test'] for r in rows]):.4f}; "
        f"mean seconds/run {np.mean([r['seconds'] for r in rows]):.1f}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
