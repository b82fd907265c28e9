"""Issue 18's targets over many seeds: hypervolume share of the table's true front at
given budgets, and how often constrained runs find the table's constrained optimum.

    python benchmarks/pareto_targets.py -b nb201 --objectives valid,-flops \\
        -m tnao,nsga2,motpe,random -s 0-99 --budgets 50,100,150
    python benchmarks/pareto_targets.py -b nb201 --constraints 'params<=0.5' \\
        -m tnao,random -s 0-99 --budgets 50,100,150

Each (method, seed) runs once at the largest budget through the engine's public
``search.driver.search``; a smaller budget reads the first B queries of that run, which
is what a run of budget B queries for an anytime method (every method here: the
baselines are, and TNAO is while its rounds query a fixed batch, ``search.top_k`` > 0;
any other method runs once per budget). The hypervolume share and the found flag come
from ``tnao_app.objectives.Goal``, the intervals from ``tnao_app.stats`` (bootstrap of
the mean share, Wilson for the found share).

``tnao_app.objectives.figures_at(goal, queried, budgets)`` gives one run's figures at
each budget (what a multi-seed command computes per run); ``pareto_targets(...)`` here
runs the seeds and returns one row per (method, budget) with the 95% intervals.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from tnao_app import benchmarks, catalogue
from tnao_app.config import Config
from tnao_app.objectives import Goal, figures_at
from tnao_app.search.driver import search
from tnao_app.stats import bootstrap_mean_ci, wilson


def anytime(method: str, config: Config) -> bool:
    if method in ("tnao", "nao"):
        return config.search.top_k > 0
    return catalogue.info(method).anytime


def run_queries(config: Config, table) -> list[int]:
    """The rows one run queried, in query order."""
    _method, oracle = search(config, table)
    return list(oracle.queried)


def pareto_targets(
    benchmark: str,
    dataset: str,
    methods: Sequence[str],
    seeds: Sequence[int],
    budgets: Sequence[int],
    *,
    objectives: str = "",
    constraints: str = "",
    overrides: dict | None = None,
    on_run: Callable[[str, int, float], None] | None = None,
    on_result: Callable[[dict], None] | None = None,
) -> list[dict]:
    """One row per (method, budget): the mean hypervolume share with its bootstrap 95%
    interval (runs with several objectives) and the share of seeds that queried the
    constrained optimum with its Wilson 95% interval (runs with constraints).
    ``on_result`` gets each (method, seed, budget)'s own figures as they come."""
    table = benchmarks.load(benchmark)
    budgets = sorted(int(b) for b in budgets)
    rows = []
    for method in methods:
        shares: dict[int, list[float]] = {b: [] for b in budgets}
        found: dict[int, list[bool]] = {b: [] for b in budgets}
        for seed in seeds:
            t0 = time.perf_counter()
            base = {
                **(overrides or {}),
                "run": {
                    **(overrides or {}).get("run", {}),
                    "benchmark": benchmark,
                    "dataset": dataset,
                    "method": method,
                    "seed": int(seed),
                },
                "goal": {
                    **(overrides or {}).get("goal", {}),
                    "objectives": objectives,
                    "constraints": constraints,
                },
            }

            def config(budget: int, base: dict = base) -> Config:
                cfg = Config.from_dict({**base, "run": {**base["run"], "budget": budget}})
                return cfg.resolve(table.dataset(dataset)).validate()

            first = config(budgets[-1])
            goal = Goal(table, first)
            if anytime(method, first):
                figures = figures_at(goal, run_queries(first, table), budgets)
            else:
                figures = {
                    b: figures_at(goal, run_queries(config(b), table), [b])[b] for b in budgets
                }
            for b, fig in figures.items():
                if "hv_share" in fig:
                    shares[b].append(fig["hv_share"])
                if "found" in fig:
                    found[b].append(fig["found"])
                if on_result is not None:
                    on_result({"method": method, "seed": int(seed), "budget": b, **fig})
            if on_run is not None:
                on_run(method, int(seed), time.perf_counter() - t0)
        for b in budgets:
            row: dict = {"method": method, "budget": b, "seeds": len(seeds)}
            if shares[b]:
                lo, hi = bootstrap_mean_ci(shares[b])
                row.update(hv_share=float(np.mean(shares[b])), hv_lo=lo, hv_hi=hi)
                row["hv_share_min"] = float(np.min(shares[b]))
            if found[b]:
                k = int(sum(found[b]))
                lo, hi = wilson(k, len(found[b]))
                row.update(found=k / len(found[b]), found_lo=lo, found_hi=hi)
            rows.append(row)
    return rows


RUN_COLUMNS = ("method", "seed", "budget", "hv_share", "found")


def seeds_of(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b) + 1) if b else [int(a)])
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-b", "--benchmark", default="nb201")
    p.add_argument("-d", "--dataset", default="cifar10")
    p.add_argument("-m", "--methods", default="tnao,nsga2,random")
    p.add_argument("-s", "--seeds", default="0-99")
    p.add_argument("--budgets", default="50,100,150")
    p.add_argument("--objectives", default="")
    p.add_argument("--constraints", default="")
    p.add_argument("--scalarise", default="chebyshev")
    p.add_argument("--csv", default="", help="the summary rows to FILE.csv")
    p.add_argument("--runs", default="", help="each run's figures to FILE.csv, as they come")
    a = p.parse_args(argv)
    seeds = seeds_of(a.seeds)
    if max(seeds) >= 1000:
        p.error("tune on seeds below 1000 (the issue keeps 1000+ for a final check)")

    def progress(method: str, seed: int, seconds: float) -> None:
        print(f"  {method} seed {seed}: {seconds:.1f} s", file=sys.stderr, flush=True)

    runs_file = open(a.runs, "w", newline="") if a.runs else None  # noqa: SIM115

    def record(one: dict) -> None:
        if runs_file is not None:
            runs_file.write(",".join(str(one.get(k, "")) for k in RUN_COLUMNS) + "\n")
            runs_file.flush()

    if runs_file is not None:
        runs_file.write(",".join(RUN_COLUMNS) + "\n")
    rows = pareto_targets(
        a.benchmark,
        a.dataset,
        a.methods.split(","),
        seeds,
        [int(b) for b in a.budgets.split(",")],
        objectives=a.objectives,
        constraints=a.constraints,
        overrides={"goal": {"scalarise": a.scalarise}},
        on_run=progress,
        on_result=record,
    )
    if runs_file is not None:
        runs_file.close()
    what = ", ".join(x for x in (a.objectives, a.constraints) if x)
    print(f"{a.benchmark}/{a.dataset} {what}: {len(seeds)} seeds ({a.seeds})")
    for r in rows:
        line = f"{r['method']:>8} @{r['budget']:<4}"
        if "hv_share" in r:
            line += (
                f" hv share {100 * r['hv_share']:6.2f}% "
                f"[{100 * r['hv_lo']:.2f}, {100 * r['hv_hi']:.2f}] "
                f"min {100 * r['hv_share_min']:.2f}%"
            )
        if "found" in r:
            line += (
                f" found {100 * r['found']:5.1f}% "
                f"[{100 * r['found_lo']:.1f}, {100 * r['found_hi']:.1f}]"
            )
        print(line)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
