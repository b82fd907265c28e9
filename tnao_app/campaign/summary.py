"""A campaign's results summarised: per (method, budget) the mean reported metric with
its bootstrap interval and the found shares with their Wilson intervals; per (method,
seed) the anytime curve.

What a budget b reports, per seed: the returned architecture (best search signal among the
first b queries; ties: the first queried), its reported metric, and whether the table's
optimum was among those queries, for two optima: the best *reported* value of the whole
table (``top_test``) and the best *search signal* (``top_signal``; the target where the
signal is a proxy, e.g. 12-epoch validation for cifar100 / ImageNet16-120). Tied optimum
values (equal within ``benchmarks.base.TIE``, which absorbs float rounding) count as one
target: any of them found counts. A third target, where the dataset names one (NB101: the
paper's top 0.02%) or the caller asks (``top``), is *any* of the table's best cells by
signal: "K" cells or "P%" of the answerable ones, ties at the cut included (``top_k``).

A summary of a campaign still running (or stopped) counts the seeds whose runs are in:
``seeds`` of a row says how many.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..benchmarks.base import TIE, Table, best_rows
from ..config import Config
from ..errors import ConfigError
from ..objectives import goal_of
from ..stats import bootstrap_mean_band, bootstrap_mean_ci, wilson
from .inputs import ANYTIME
from .metrics import RUN_METRICS

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
# where the summary has a top-K target (``optima``)
TOP_K_FIELDS = (
    "top_k_found",
    "top_k_share",
    "top_k_ci_lo",
    "top_k_ci_hi",
    "top_k_median_queries",
)
ANYTIME_FIELDS = ("method", "seed", "query", "best_signal", "best_test")


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
    experiment_id: str | None = None  # where the history holds it (None: not recorded)
    done: int = 0  # runs in / runs planned
    total: int = 0

    def to_dict(self) -> dict:
        return {
            "experiment_id": self.experiment_id,
            "benchmark": self.benchmark,
            "dataset": self.dataset,
            "signal": self.signal,
            "report": self.report,
            "note": self.note,
            "methods": self.methods,
            "seeds": self.seeds,
            "budgets": self.budgets,
            "runs_done": self.done,
            "runs_total": self.total,
            "optimum": self.optimum,
            "summary": self.rows,
            "runs": self.runs,
        }

    def csv_text(self) -> str:
        buf = io.StringIO()
        names = self.metric_names()
        names = [x for k in names for x in (k, f"{k}_ci_lo", f"{k}_ci_hi")]
        if "top_k" in self.optimum:
            names = [*TOP_K_FIELDS, *names]
        w = csv.DictWriter(buf, fieldnames=[*SUMMARY_FIELDS, *names], lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            flat = dict(r)
            for key in ("test_ci", "top_test_ci", "top_signal_ci", "top_k_ci"):
                if key in r:
                    flat[f"{key}_lo"], flat[f"{key}_hi"] = r[key]
            flat.update(r.get("metrics", {}))
            for k, (lo, hi) in r.get("metrics_ci", {}).items():
                flat[f"{k}_ci_lo"], flat[f"{k}_ci_hi"] = lo, hi
            w.writerow({k: flat.get(k) for k in (*SUMMARY_FIELDS, *names)})
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

    def metric_names(self) -> list[str]:
        """The per-run metrics (``plan.RUN_METRICS``) the rows carry, in order."""
        out: list[str] = []
        for r in self.rows:
            out += [k for k in r.get("metrics", {}) if k not in out]
        return out


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


def parse_top(text: str) -> tuple[float, bool] | None:
    """'7' -> (7, False): the 7 best cells; '0.02%' -> (0.02, True): the best 0.02%;
    'none' -> None: no such target."""
    if str(text).strip().lower() == "none":
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*", str(text))
    value = float(m.group(1)) if m else 0.0
    if not m or value <= 0 or (m.group(2) and value > 100) or (not m.group(2) and value % 1):
        raise ConfigError(
            f"Top target '{text}' is not understood; expected a number of cells like 7, "
            "a share of the table like 0.02%, or none."
        )
    return value, bool(m.group(2))


def top_cells(
    sig: np.ndarray, answerable: np.ndarray, value: float, share: bool
) -> tuple[list[int], int]:
    """The rows among ``answerable`` whose signal is at least the K-th best (ties at the
    cut count), and K: ``value`` cells, or ``value`` % of them rounded up (``share``)."""
    vals = np.sort(sig[answerable])[::-1]
    k = math.ceil(value / 100 * len(vals) - 1e-9) if share else int(value)
    k = min(max(k, 1), len(vals))
    cut = vals[k - 1]
    return np.flatnonzero(answerable & (sig >= cut - TIE)).tolist(), k


def optima(table: Table, dataset: str, config: dict | None = None, top: str | None = None) -> dict:
    """The table's best reported value and best signal, with the rows that hold them;
    under the constraints of ``config``'s goal, the best of the feasible cells (the
    others can never be queried). With ``top`` (default: the dataset's), also the best
    cells by signal that ``top_cells`` names."""
    spec = table.dataset(dataset)
    rep, sig = table.metric(spec.report), table.metric(spec.signal)
    answerable = ~np.isnan(sig)  # an arch no query can reach cannot count as a target
    constraints = _constraints(table, dataset, config)
    if constraints is not None:
        answerable &= constraints[0]
    top_test, best_rep = best_rows(rep, answerable)
    top_signal, best_sig = best_rows(sig, answerable)
    top = spec.top if top is None else top
    parsed = None if top is None else parse_top(top)
    extra = {}
    if top is not None and parsed is not None:  # "none": no such target
        rows, k = top_cells(sig, answerable, *parsed)
        extra["top_k"] = {
            "target": top.strip(),
            "k": k,
            "cells": len(rows),
            "value": float(min(sig[rows])),  # the cut: every target's signal is >= it
            "rows": rows,
        }
    return {
        "constraints": [] if constraints is None else constraints[1],
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
        **extra,
    }


def _constraints(table: Table, dataset: str, config: dict | None):
    """The feasible rows under ``config``'s constraints and their spelling; ``None``
    without constraints."""
    config = config or {}
    if not (config.get("goal") or {}).get("constraints"):
        return None
    cfg = Config.from_dict({**config, "run": {**config.get("run", {}), "dataset": dataset}})
    g = goal_of(table, cfg)
    assert g is not None
    return g.feasible, [c.spelled() for c in g.constraints]


def _native(table: Table, row: int) -> str:
    return table.native(row) if (table.tokens[row] >= 0).all() else str(row)


def _at(curve: Sequence[float], b: int) -> float:
    """A per-query metric after b queries (its last value if the run stopped sooner)."""
    return float(curve[min(b, len(curve)) - 1]) if len(curve) else math.nan


def _row(m: str, b: int, per_seed: list[dict], top_k: bool = False) -> dict:
    tests = np.array([r["best_test"] for r in per_seed])
    n = len(per_seed)
    have = {k for r in per_seed for k in r.get("metrics", {})}
    names = [k for k in RUN_METRICS if k in have] + sorted(have - set(RUN_METRICS))
    return {
        "method": m,
        "budget": b,
        "seeds": n,
        "test_mean": float(tests.mean()) if n else math.nan,
        "test_std": float(tests.std(ddof=1)) if n > 1 else 0.0,
        "test_ci": bootstrap_mean_ci(tests),
        **_found("top_test", per_seed),
        **_found("top_signal", per_seed),
        "seconds_mean": float(np.mean([r["seconds"] for r in per_seed])) if n else 0.0,
        **(_found("top_k", per_seed) if top_k else {}),
        **_metric_figures(names, per_seed),
    }


def _found(target: str, per_seed: list[dict]) -> dict:
    """A target's found share over the seeds (``{target}_at`` of each run), its Wilson
    interval and the median queries to it."""
    hits = [r[f"{target}_at"] for r in per_seed if r[f"{target}_at"] is not None]
    n = len(per_seed)
    return {
        f"{target}_found": len(hits),
        f"{target}_share": len(hits) / n if n else math.nan,
        f"{target}_ci": wilson(len(hits), n),
        f"{target}_median_queries": float(np.median(hits)) if hits else None,
    }


def _metric_figures(names: list[str], per_seed: list[dict]) -> dict:
    """Per registered metric: the mean over the seeds that have it, its bootstrap 95%
    interval, and how many seeds have it."""
    means, cis, counts = {}, {}, {}
    for k in names:
        vals = np.array([r["metrics"][k] for r in per_seed if k in r["metrics"]], dtype=float)
        vals = vals[~np.isnan(vals)]
        counts[k] = len(vals)
        means[k] = float(vals.mean()) if len(vals) else math.nan
        cis[k] = bootstrap_mean_ci(vals)
    return {"metrics": means, "metrics_ci": cis, "metrics_n": counts}


def summarize(
    table: Table,
    dataset: str,
    results: Sequence[dict],
    methods: Sequence[str],
    seeds: Sequence[int],
    budgets: Sequence[int],
    anytime: Collection[str] = ANYTIME,
    config: dict | None = None,
    top: str | None = None,
) -> Experiment:
    """The summary of ``results`` (a run per planned (method, seed, budget); a missing
    one leaves its seed out of that row); ``config``: the campaign's, whose constraints
    make the targets the best feasible cells; ``top``: the top-K target (``optima``)."""
    spec = table.dataset(dataset)
    rep = table.metric(spec.report)
    opt = optima(table, dataset, config, top)
    t_test, t_sig = set(opt["top_test"]["rows"]), set(opt["top_signal"]["rows"])
    t_k = set(opt["top_k"]["rows"]) if "top_k" in opt else None
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
    by_key = {(r["method"], int(r["seed"]), int(r["budget"])): r for r in results}
    largest = max(budgets)
    for m in methods:
        for b in budgets:
            per_seed = []
            for s in seeds:
                res = by_key.get((m, s, largest if m in anytime else b))
                if res is None or not res["rows"]:
                    continue
                rows, signal = res["rows"][:b], res["signal"][:b]
                best = rows[int(np.argmax(signal))]  # argmax: first of ties
                run = {
                    "method": m,
                    "seed": s,
                    "budget": b,
                    "queries": len(rows),
                    "best_row": best,
                    "best_arch": _native(table, best),
                    "best_signal": float(max(signal)),
                    "best_test": float(rep[best]),
                    "top_test_at": _first_hit(rows, t_test),
                    "top_signal_at": _first_hit(rows, t_sig),
                    **({} if t_k is None else {"top_k_at": _first_hit(rows, t_k)}),
                    "seconds": res["seconds"],
                    "shared_run_budget": res["budget"],
                    "metrics": {k: _at(v, b) for k, v in (res.get("metrics") or {}).items()},
                }
                if b == (largest if m in anytime else b):
                    run["trajectory"] = res["rows"]
                    run["trajectory_signal"] = res["signal"]
                if b == largest:
                    curve = anytime_curve(res["rows"], res["signal"], rep)
                    exp.curves.append({"method": m, "seed": s, **curve})
                exp.runs.append(run)
                per_seed.append(run)
            exp.rows.append(_row(m, b, per_seed, t_k is not None))
    return exp
