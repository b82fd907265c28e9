"""Experiments: methods x seeds x budgets on one benchmark and dataset, summarised.

Each (method, seed, budget) run is deterministic per seed and independent of the others,
so runs go to a process pool (one torch thread per worker) and the summary does not
depend on the number of workers or the order runs finish in.

*Anytime* methods (random, evolution, predictor) query in an order that does not depend on
the budget: a run at budget b queries exactly the first b rows of a run at a larger
budget. They run once per seed at the largest budget, and every smaller budget is read
off the query trajectory (the oracle keeps query order). TNAO and NAO plan their stages
around the budget, so they run once per budget.

What a budget b reports, per seed: the returned architecture (best search signal among the
first b queries; ties: the first queried), its reported metric, and whether the table's
optimum was among those queries, for two optima: the best *reported* value of the whole
table (``top_test``) and the best *search signal* (``top_signal``; the target where the
signal is a proxy, e.g. 12-epoch validation for cifar100 / ImageNet16-120). Tied optimum
values count as one target: any of them found counts.

Intervals (95%, :mod:`tnao_app.stats`): the found shares carry a Wilson score interval
(``top_test_ci``, ``top_signal_ci``), the mean reported metric a percentile bootstrap
interval over seeds (``test_ci``; a fixed seed, so the same runs give the same table).

The *anytime curve* of a (method, seed) is read off its run at the largest budget: after
each query 1..n, the best search signal so far and the reported metric of the cell that
holds it (``Experiment.curves``; :func:`write_anytime`, :func:`write_plot`).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import sys
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np

from . import benchmarks, catalogue, device
from .benchmarks.base import Table
from .catalogue import METHODS
from .config import Config
from .errors import ConfigError, NotReadyError
from .search import driver
from .stats import bootstrap_mean_band, bootstrap_mean_ci, wilson

ANYTIME = tuple(m.name for m in catalogue.CATALOGUE.values() if m.anytime)
SUMMARY_FIELDS = (
    "method",
    "budget",
    "seeds",
    "test_mean",
    "test_std",
    "test_ci_lo",
    "test_ci_hi",
    "top_test_found",
    "top_test_share",
    "top_test_ci_lo",
    "top_test_ci_hi",
    "top_test_median_queries",
    "top_signal_found",
    "top_signal_share",
    "top_signal_ci_lo",
    "top_signal_ci_hi",
    "top_signal_median_queries",
    "seconds_mean",
)
ANYTIME_FIELDS = ("method", "seed", "query", "best_signal", "best_test")


# ---------------------------------------------------------------- parsing user input


#: the most seeds one experiment takes (each is a run per method and budget)
MAX_SEEDS = 100_000


def parse_seeds(text: str) -> list[int]:
    """'0-29', '0,1,5' or a mix ('0-4,10') -> sorted distinct seeds."""
    out: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise ConfigError(
                f"Seeds '{text}' are not understood; expected a range like 0-29 or a "
                "list like 0,1,5 of non-negative integers."
            )
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ConfigError(f"Seed range '{part}' runs backwards; expected low-high.")
        if hi - lo + 1 + len(out) > MAX_SEEDS:  # a set of 10^11 seeds fills any memory
            raise ConfigError(
                f"Seeds '{text}' are {hi - lo + 1 + len(out):,} seeds; expected at most "
                f"{MAX_SEEDS:,}."
            )
        out.update(range(lo, hi + 1))
    return sorted(out)


def parse_budgets(text: str) -> list[int]:
    """'50,100,150' -> sorted distinct positive budgets."""
    out: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ConfigError(
                f"Budgets '{text}' are not understood; expected positive integers "
                "separated by commas, like 50,100,150."
            )
        out.add(int(part))
    return sorted(out)


def parse_methods(text: str) -> list[str]:
    """'tnao,random' -> method names in the given order, checked against METHODS."""
    out: list[str] = []
    for part in str(text).split(","):
        name = part.strip()
        if name not in METHODS:
            raise ConfigError(
                f"Method '{name}' is unknown; expected a comma-separated list of "
                f"{', '.join(METHODS)}."
            )
        if name not in out:
            out.append(name)
    return out


# ---------------------------------------------------------------- methods and runs


def load_table(benchmark: str) -> Table:
    """The table of ``benchmark`` with a one-sentence error for any reason it is absent."""
    try:
        return benchmarks.load(benchmark)
    except ImportError:
        raise NotReadyError(
            f"Benchmark '{benchmark}' is not available in this build yet."
        ) from None


_TABLES: dict[str, Table] = {}  # per process: a worker loads each table once


def _table(benchmark: str) -> Table:
    if benchmark not in _TABLES:
        _TABLES[benchmark] = load_table(benchmark)
    return _TABLES[benchmark]


def task_config(
    base: dict, benchmark: str, dataset: str, method: str, seed: int, budget: int
) -> Config:
    """The resolved, validated config of one run."""
    data = {k: dict(v) for k, v in (base or {}).items()}
    data.setdefault("run", {}).update(
        benchmark=benchmark,
        dataset=dataset,
        method=method,
        seed=seed,
        budget=budget,
        device="cpu",
    )
    cfg = Config.from_dict(data).resolve(_table(benchmark).dataset(dataset)).validate()
    cfg.baselines.check()
    return cfg


def run_one(task: tuple) -> dict:
    """One run (picklable for the pool): returns its query trajectory."""
    benchmark, dataset, method, seed, budget, base = task
    cfg = task_config(base, benchmark, dataset, method, seed, budget)
    table = _table(benchmark)
    device.setup(seed, cfg.run.threads, "cpu")  # as `tnao run` does: same seed, same run
    t0 = time.perf_counter()
    _, oracle = driver.search(cfg, table)
    return {
        "method": method,
        "seed": seed,
        "budget": budget,
        "rows": [int(r) for r in oracle.queried],
        "signal": [float(v) for v in oracle.queried.values()],
        "seconds": time.perf_counter() - t0,
    }


def _init_worker() -> None:
    """One torch thread per worker: the pool already uses every core. The variable is
    read when torch is first imported, so a worker that never needs torch skips it."""
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def anytime_methods(base: dict, benchmark: str, dataset: str, budgets: Sequence[int]) -> set:
    """Methods whose first B queries do not depend on the total budget.

    TNAO is one when its rounds query a fixed ``top_k`` each and the round cap is not
    reached within the largest budget (its last round would take all that is left).
    """
    out = set(ANYTIME)
    top = max(budgets)
    cfg = task_config(base, benchmark, dataset, "tnao", 0, top)
    c = cfg.search
    if c.top_k > 0 and cfg.sample.n_labelled + c.top_k * (c.rounds - 1) >= top:
        out.add("tnao")
    return out


def plan(
    methods: Sequence[str],
    seeds: Sequence[int],
    budgets: Sequence[int],
    anytime: Collection[str] = ANYTIME,
) -> list:
    """(method, seed, budget) runs: anytime methods once at the largest budget."""
    top = max(budgets)
    out = []
    for m in methods:
        for s in seeds:
            for b in [top] if m in anytime else budgets:
                out.append((m, s, b))
    return out


# ---------------------------------------------------------------- summary


@dataclass
class Experiment:
    benchmark: str
    dataset: str
    signal: str
    report: str
    note: str
    methods: list[str]
    seeds: list[int]
    budgets: list[int]
    optimum: dict
    rows: list[dict] = field(default_factory=list)  # one per (method, budget)
    runs: list[dict] = field(default_factory=list)  # one per (method, seed, budget)
    # one per (method, seed): best-so-far signal and its cell's reported metric per query
    curves: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "benchmark": self.benchmark,
            "dataset": self.dataset,
            "signal": self.signal,
            "report": self.report,
            "note": self.note,
            "methods": self.methods,
            "seeds": self.seeds,
            "budgets": self.budgets,
            "optimum": self.optimum,
            "summary": self.rows,
            "runs": self.runs,
        }

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            flat = dict(r)
            for key in ("test_ci", "top_test_ci", "top_signal_ci"):
                flat[f"{key}_lo"], flat[f"{key}_hi"] = r[key]
            w.writerow({k: flat[k] for k in SUMMARY_FIELDS})
        return buf.getvalue()

    def anytime_csv_text(self) -> str:
        """One row per (method, seed, query): the anytime curves."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(ANYTIME_FIELDS)
        for c in self.curves:
            for q, (sig, test) in enumerate(zip(c["best_signal"], c["best_test"], strict=True), 1):
                w.writerow([c["method"], c["seed"], q, _num(sig), _num(test)])
        return buf.getvalue()


def _num(v: float) -> str:
    return "" if math.isnan(v) else repr(float(v))


def anytime_curve(rows: Sequence[int], signal: Sequence[float], report: np.ndarray) -> dict:
    """Best-so-far signal after each query and the reported metric of the cell holding it
    (the first queried of tied signals, as the budget's returned architecture)."""
    best_sig: list[float] = []
    best_test: list[float] = []
    cur_sig, cur_test = -math.inf, math.nan
    for r, v in zip(rows, signal, strict=True):
        if not best_sig or v > cur_sig:
            cur_sig, cur_test = float(v), float(report[r])
        best_sig.append(cur_sig)
        best_test.append(cur_test)
    return {"best_signal": best_sig, "best_test": best_test}


def anytime_band(exp: Experiment, method: str) -> tuple[np.ndarray, ...]:
    """Queries 1..q, the mean best-so-far reported metric over seeds, and its bootstrap
    95% band (q: the shortest curve of the method)."""
    cs = [c["best_test"] for c in exp.curves if c["method"] == method]
    if not cs:
        empty = np.zeros(0)
        return (empty, empty, empty, empty)
    q = min(len(c) for c in cs)
    m = np.array([c[:q] for c in cs], dtype=float)
    lo, hi = bootstrap_mean_band(m)
    return (np.arange(1, q + 1), m.mean(axis=0), lo, hi)


def _first_hit(rows: Sequence[int], targets: set[int]) -> int | None:
    """1-based position of the first row in ``targets``."""
    for i, r in enumerate(rows):
        if r in targets:
            return i + 1
    return None


def optima(table: Table, dataset: str) -> dict:
    """The table's best reported value and best signal, with the rows that hold them."""
    spec = table.dataset(dataset)
    rep, sig = table.metric(spec.report), table.metric(spec.signal)
    answerable = ~np.isnan(sig)  # an arch no query can reach cannot count as a target
    best_rep = float(np.nanmax(np.where(answerable, rep, np.nan)))
    best_sig = float(np.nanmax(sig))
    top_test = np.flatnonzero(answerable & (rep == best_rep)).tolist()
    top_signal = np.flatnonzero(sig == best_sig).tolist()
    return {
        "top_test": {
            "value": best_rep,
            "rows": top_test,
            "archs": [_native(table, r) for r in top_test],
        },
        "top_signal": {
            "value": best_sig,
            "rows": top_signal,
            "archs": [_native(table, r) for r in top_signal],
            "report": [float(rep[r]) for r in top_signal],
        },
    }


def _native(table: Table, row: int) -> str:
    return table.native(row) if (table.tokens[row] >= 0).all() else str(row)


def summarize(
    table: Table,
    dataset: str,
    results: Sequence[dict],
    methods: Sequence[str],
    seeds: Sequence[int],
    budgets: Sequence[int],
    anytime: Collection[str] = ANYTIME,
) -> Experiment:
    spec = table.dataset(dataset)
    rep = table.metric(spec.report)
    opt = optima(table, dataset)
    t_test, t_sig = set(opt["top_test"]["rows"]), set(opt["top_signal"]["rows"])
    exp = Experiment(
        table.benchmark,
        dataset,
        spec.signal,
        spec.report,
        spec.note,
        list(methods),
        list(seeds),
        list(budgets),
        opt,
    )
    by_key = {(r["method"], r["seed"], r["budget"]): r for r in results}
    top = max(budgets)
    for m in methods:
        for b in budgets:
            per_seed = []
            for s in seeds:
                res = by_key[(m, s, top if m in anytime else b)]
                rows, signal = res["rows"][:b], res["signal"][:b]
                if not rows:
                    continue
                best = rows[int(np.argmax(signal))]  # argmax: first of ties
                q_test, q_sig = _first_hit(rows, t_test), _first_hit(rows, t_sig)
                run = {
                    "method": m,
                    "seed": s,
                    "budget": b,
                    "queries": len(rows),
                    "best_row": best,
                    "best_arch": _native(table, best),
                    "best_signal": float(max(signal)),
                    "best_test": float(rep[best]),
                    "top_test_at": q_test,
                    "top_signal_at": q_sig,
                    "seconds": res["seconds"],
                    "shared_run_budget": res["budget"],
                }
                if b == (top if m in anytime else b):
                    run["trajectory"] = res["rows"]
                    run["trajectory_signal"] = res["signal"]
                if b == top:
                    curve = anytime_curve(res["rows"], res["signal"], rep)
                    exp.curves.append({"method": m, "seed": s, **curve})
                exp.runs.append(run)
                per_seed.append(run)
            tests = np.array([r["best_test"] for r in per_seed])
            hits_t = [r["top_test_at"] for r in per_seed if r["top_test_at"] is not None]
            hits_s = [r["top_signal_at"] for r in per_seed if r["top_signal_at"] is not None]
            n = len(per_seed)
            exp.rows.append(
                {
                    "method": m,
                    "budget": b,
                    "seeds": n,
                    "test_mean": float(tests.mean()) if n else math.nan,
                    "test_std": float(tests.std(ddof=1)) if n > 1 else 0.0,
                    "test_ci": bootstrap_mean_ci(tests),
                    "top_test_found": len(hits_t),
                    "top_test_share": len(hits_t) / n if n else math.nan,
                    "top_test_ci": wilson(len(hits_t), n),
                    "top_test_median_queries": float(np.median(hits_t)) if hits_t else None,
                    "top_signal_found": len(hits_s),
                    "top_signal_share": len(hits_s) / n if n else math.nan,
                    "top_signal_ci": wilson(len(hits_s), n),
                    "top_signal_median_queries": float(np.median(hits_s)) if hits_s else None,
                    "seconds_mean": float(np.mean([r["seconds"] for r in per_seed])) if n else 0.0,
                }
            )
    return exp


# ---------------------------------------------------------------- the driver


def run_experiment(
    benchmark: str,
    dataset: str,
    methods: Sequence[str],
    seeds: Sequence[int],
    budgets: Sequence[int],
    *,
    workers: int | None = None,
    config: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Experiment:
    """Run the grid and summarise it. Every input is checked before any run starts."""
    methods, seeds, budgets = list(methods), list(seeds), list(budgets)
    if not methods or not seeds or not budgets:
        raise ConfigError("An experiment needs at least one method, one seed and one budget.")
    table = load_table(benchmark)
    table.dataset(dataset)
    # the main process's table serves the checks below and in-process runs; workers load
    # their own
    _TABLES[benchmark] = table
    base = config or {}
    for m in methods:
        catalogue.load(m)
        for b in budgets:
            task_config(base, benchmark, dataset, m, seeds[0], b)
    workers = max(1, int(workers or os.cpu_count() or 1))
    anytime = (
        anytime_methods(base, benchmark, dataset, budgets) if "tnao" in methods else set(ANYTIME)
    )
    todo = plan(methods, seeds, budgets, anytime)
    tasks = [(benchmark, dataset, m, s, b, base) for m, s, b in todo]
    results: list[dict] = []
    if progress:
        progress(0, len(tasks))
    if workers == 1 or len(tasks) == 1:
        _init_worker()
        for t in tasks:
            results.append(run_one(t))
            if progress:
                progress(len(results), len(tasks))
    else:
        # spawn, not fork: a forked copy of a process that already ran torch can hang
        with ProcessPoolExecutor(
            max_workers=min(workers, len(tasks)),
            mp_context=get_context("spawn"),
            initializer=_init_worker,
        ) as pool:
            for res in pool.map(run_one, tasks, chunksize=1):
                results.append(res)
                if progress:
                    progress(len(results), len(tasks))
    return summarize(table, dataset, results, methods, seeds, budgets, anytime)
