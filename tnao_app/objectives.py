"""What a run optimises: its objectives, its constraints, and how results are judged.

A run searches its dataset's signal by default. ``goal.constraints`` limits cost columns
(params, FLOPs: properties of a cell, known without a query), so feasibility is known up
front: an infeasible cell is *unanswerable* in the run's ``SearchContext`` and no method
ever proposes it. ``goal.objectives`` names several metrics, each maximised or ("-")
minimised; one query of a cell reveals every metric of it (as training it would), so a
query still costs one unit of budget.

``Goal`` holds both for one table and dataset, with the points the Pareto code reads
(``pareto.py``: every coordinate maximised) normalised to the table's ranges:

* each objective's *gain* is the value, negated when minimised;
* the table's true front is the Pareto front of its feasible, answerable cells; its
  *nadir* is the worst gain of each objective over the front, its *ideal* the best;
* normalised gain = (gain - nadir) / (ideal - nadir), and the hypervolume's reference
  point is ``-REF_MARGIN`` in every coordinate: the nadir moved 10% of the front's range
  further out, so the front's extreme cells count too. (The table's overall worst as
  the reference, an untrainable 10%-accuracy cell, made nearly any 100 cells cover 99%:
  random search had 99.3% on NB201 cifar10 accuracy vs FLOPs.) Cells worse than the
  reference in an objective add nothing;
* ``hypervolume_share`` = the hypervolume of the run's front over that of the table's
  true front: 1.0 when the run found the whole true front.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from . import pareto
from .benchmarks.base import DatasetSpec, Table, best_rows
from .config import Config
from .errors import ConfigError

#: metric-name endings of cost columns: properties of a cell known without a query
COST_ENDINGS = ("params", "flops", "latency")
ALIASES = ("valid", "params", "flops")
#: the reference point's distance beyond the true front's nadir, in front ranges
REF_MARGIN = 0.1
_CONSTRAINT = re.compile(r"^\s*([^\s<>=!]+)\s*<=\s*([^\s<>=]+)\s*$")


@dataclass(frozen=True)
class Objective:
    name: str  # as the user spelled it, without the sign ("valid", "flops")
    metric: str  # the table's column
    maximise: bool

    def spelled(self) -> str:
        return self.name if self.maximise else f"-{self.name}"


@dataclass(frozen=True)
class Constraint:
    metric: str  # the table's column
    limit: float

    def spelled(self) -> str:
        return f"{self.metric}<={self.limit:g}"


def is_cost(metric: str) -> bool:
    return metric.rsplit("/", 1)[-1].lower().endswith(COST_ENDINGS)


def _dataset_prefix(spec: DatasetSpec) -> str:
    return spec.report.split("/", 1)[0]


def resolve_metric(table: Table, spec: DatasetSpec, name: str) -> str:
    """The column ``name`` means on this table and dataset: an alias (valid = the search
    signal; params / flops = the dataset's column), else a column name as it is."""
    key = name.strip()
    if key.lower() in ("valid", "signal"):
        return spec.signal
    if key.lower() in ("params", "flops"):
        own = f"{_dataset_prefix(spec)}/{key.lower()}"
        if own in table.metrics:
            return own
        same = [m for m in table.metrics if m.rsplit("/", 1)[-1].lower() == key.lower()]
        if len(same) == 1:
            return same[0]
        raise ConfigError(
            f"Benchmark '{table.benchmark}' has no {key.lower()} column for dataset "
            f"'{spec.name}'; its cost columns are: {_costs(table)}."
        )
    if key in table.metrics:
        return key
    raise ConfigError(
        f"Metric '{key}' is not a column of benchmark '{table.benchmark}'; expected valid, "
        f"params, flops or one of: {', '.join(sorted(table.metrics))}."
    )


def _costs(table: Table) -> str:
    return ", ".join(sorted(m for m in table.metrics if is_cost(m))) or "none"


def parse_constraints(text: str) -> list[tuple[str, float]]:
    """``"params<=0.5,cifar10/flops<=100"`` -> ``[("params", 0.5), ...]`` (names as
    spelled; ``resolve_metric`` maps them to columns). Strict: one sentence naming the
    first entry that is not METRIC<=VALUE with a finite number."""
    out = []
    for part in [p for p in text.split(",") if p.strip()]:
        m = _CONSTRAINT.match(part)
        if m is None:
            raise ConfigError(
                f"Constraint '{part.strip()}' is not METRIC<=VALUE; expected e.g. "
                "params<=0.5 or cifar10/flops<=100."
            )
        try:
            value = float(m.group(2))
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ConfigError(
                f"Constraint '{part.strip()}' has the limit '{m.group(2)}'; expected a "
                "finite number, e.g. params<=0.5."
            )
        out.append((m.group(1), value))
    return out


def parse_objectives(text: str) -> list[tuple[str, bool]]:
    """``"valid,-flops"`` -> ``[("valid", True), ("flops", False)]`` (True: maximise)."""
    out = []
    for part in text.split(","):
        name = part.strip()
        maximise = not name.startswith("-")
        name = name.lstrip("+-").strip()
        if not name:
            raise ConfigError(
                f"Objectives '{text}' have an empty entry; expected names separated by "
                "commas, '-' before one to minimise, e.g. valid,-flops."
            )
        out.append((name, maximise))
    return out


class Goal:
    """The objectives and constraints of one run on one table and dataset."""

    def __init__(self, table: Table, config: Config):
        g = config.goal
        self.table = table
        self.spec = spec = table.dataset(config.run.dataset)
        self.constraints = [
            self._constraint(name, limit) for name, limit in parse_constraints(g.constraints)
        ]
        objs = parse_objectives(g.objectives) if g.objectives.strip() else [("valid", True)]
        self.objectives: list[Objective] = []
        for name, maximise in objs:
            metric = resolve_metric(table, spec, name)
            if metric == spec.report and spec.report != spec.signal:
                raise ConfigError(
                    f"Objective '{name}' is the reported metric {spec.report}, which never "
                    f"chooses; expected the search signal (valid) or another column."
                )
            if any(o.metric == metric for o in self.objectives):
                raise ConfigError(f"Objective '{name}' ({metric}) is named twice.")
            self.objectives.append(Objective(name, metric, maximise))
        if len(self.objectives) > pareto.MAX_DIMS:
            raise ConfigError(
                f"{len(self.objectives)} objectives are too many; expected at most "
                f"{pareto.MAX_DIMS}."
            )
        #: the table's answerable cells that meet every constraint (known without a query)
        self.feasible = ~np.isnan(table.metric(spec.signal))
        for c in self.constraints:
            col = table.metric(c.metric)
            self.feasible &= ~np.isnan(col) & (col <= c.limit)
        for o in self.objectives:
            self.feasible &= ~np.isnan(table.metric(o.metric))
        if not self.feasible.any():
            raise ConfigError(self._nothing_feasible())
        self._gains = np.stack(
            [self._gain(o) for o in self.objectives], axis=1
        )  # (rows, k), every coordinate maximised
        f = self._gains[self.feasible]
        #: the feasible table's range of each gain (a cost column's is known up front)
        self.worst, self.best = f.min(axis=0), f.max(axis=0)
        rows = np.flatnonzero(self.feasible)
        self.true_rows = rows[pareto.non_dominated(self._gains[rows])]
        t = self._gains[self.true_rows]
        self.nadir, self.ideal = t.min(axis=0), t.max(axis=0)
        self.ref = np.full(len(self.objectives), -REF_MARGIN)
        self._true_hv: float | None = None

    def _nothing_feasible(self) -> str:
        """Why no cell is feasible, in one sentence: each limit with its column's smallest
        value, or the objectives no cell holds together."""
        table, spec = self.table, self.spec
        if not self.constraints:
            names = ", ".join(o.metric for o in self.objectives)
            return (
                f"No cell of benchmark '{table.benchmark}' has a value of every objective "
                f"({names}); expected objectives its cells hold together."
            )
        answerable = ~np.isnan(table.metric(spec.signal))
        parts = []
        for c in self.constraints:
            col = table.metric(c.metric)[answerable]
            col = col[~np.isnan(col)]
            low = f"its smallest is {col.min():.4g}" if col.size else "the column has no value"
            parts.append(f"{c.spelled()} ({low})")
        return (
            f"No cell of benchmark '{table.benchmark}' meets {', '.join(parts)}; expected "
            "looser limits."
        )

    def _constraint(self, name: str, limit: float) -> Constraint:
        try:
            metric = resolve_metric(self.table, self.spec, name)
        except ConfigError:  # its message lists every column; a limit takes cost columns only
            if name.strip().lower() in ALIASES:
                raise  # "has no params column": already about cost columns
            raise ConfigError(
                f"Constraint metric '{name}' is not a column of benchmark "
                f"'{self.table.benchmark}'; expected one of its cost columns: "
                f"{_costs(self.table)}."
            ) from None
        if not is_cost(metric):
            raise ConfigError(
                f"Constraint metric '{name}' ({metric}) is not a cost column of benchmark "
                f"'{self.table.benchmark}' (one known without a query); expected one of: "
                f"{_costs(self.table)}."
            )
        return Constraint(metric, limit)

    def is_known(self, metric: str) -> bool:
        """A property of the cell, known without a query (a cost column)."""
        return is_cost(metric)

    def gains(self, o: Objective, rows: list[int] | np.ndarray) -> np.ndarray:
        """``o``'s gains (negated where minimised) of ``rows``, as the table holds them."""
        return self._gain(o)[np.asarray(rows, dtype=np.int64)]

    def _gain(self, o: Objective) -> np.ndarray:
        col = np.asarray(self.table.metric(o.metric), dtype=np.float64)
        return col if o.maximise else -col

    # -- what a run is -----------------------------------------------------------------
    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    @property
    def constrained(self) -> bool:
        return bool(self.constraints)

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.objectives]

    def values(self, rows: list[int] | np.ndarray) -> np.ndarray:
        """The objectives' values of ``rows`` as the table holds them (queried rows only:
        a query reveals them), shape (len(rows), k)."""
        r = np.asarray(rows, dtype=np.int64)
        return np.stack([self.table.metric(o.metric)[r] for o in self.objectives], axis=1)

    def points(self, rows: list[int] | np.ndarray) -> np.ndarray:
        """Gains of ``rows`` normalised to the true front (0 = its nadir, 1 = its ideal)."""
        r = np.asarray(rows, dtype=np.int64)
        span = np.where(self.ideal > self.nadir, self.ideal - self.nadir, 1.0)
        return (self._gains[r] - self.nadir) / span

    def scaled(self, rows: list[int] | np.ndarray) -> np.ndarray:
        """Gains of ``rows`` scaled to the feasible table's range (0 = worst, 1 = best)."""
        r = np.asarray(rows, dtype=np.int64)
        span = np.where(self.best > self.worst, self.best - self.worst, 1.0)
        return (self._gains[r] - self.worst) / span

    # -- fronts and hypervolume ----------------------------------------------------------
    def front(self, rows: list[int]) -> list[int]:
        """The rows of ``rows`` on their Pareto front, in the given order."""
        rows = [int(r) for r in rows]
        if not rows:
            return []
        mask = pareto.non_dominated(self.points(rows))
        return [r for r, m in zip(rows, mask, strict=True) if m]

    def hypervolume(self, rows: list[int]) -> float:
        """Hypervolume of ``rows`` (normalised gains) above the reference point."""
        if not len(rows):
            return 0.0
        return pareto.hypervolume(self.points(rows), self.ref)

    def true_front(self) -> tuple[np.ndarray, float]:
        """The table's feasible Pareto front (rows) and its hypervolume (cached)."""
        if self._true_hv is None:
            self._true_hv = self.hypervolume(self.true_rows.tolist())
        return self.true_rows, self._true_hv

    def hypervolume_share(self, rows: list[int]) -> float:
        total = self.true_front()[1]
        return self.hypervolume(rows) / total if total > 0 else 1.0

    def hypervolume_curve(self, rows: list[int]) -> list[float]:
        """The hypervolume share after each of ``rows`` (in query order)."""
        out: list[float] = []
        front: list[int] = []
        share = 0.0
        for r in rows:
            new = self.front([*front, int(r)])
            if new != front:  # a dominated cell leaves the front and its volume as they were
                front, share = new, self.hypervolume_share(new)
            out.append(share)
        return out

    def constrained_optimum(self) -> tuple[list[int], float]:
        """The feasible cells with the best search signal, and that signal: the cell a
        search is asked for, as the unconstrained top-signal target. (The best feasible
        *reported* value need not be it: on NB201 cifar10 under params<=0.5 the best-test
        cell ranks 8th by validation, so no search of the signal aims at it.)"""
        return best_rows(self.table.metric(self.spec.signal), self.feasible)

    def constrained_best_reported(self) -> float:
        """The best reported value of any feasible cell (for comparison only)."""
        rep = np.asarray(self.table.metric(self.spec.report), dtype=np.float64)
        return float(np.nanmax(np.where(self.feasible, rep, np.nan)))

    # -- the result ----------------------------------------------------------------------
    def entry(self, row: int) -> dict:
        """One front entry: the architecture and one value per objective."""
        vals = self.values([row])[0]
        return {
            "arch": self.table.native(row),
            **{o.name: float(v) for o, v in zip(self.objectives, vals, strict=True)},
        }

    def result(self, queried: list[int]) -> dict:
        """What a run's result adds: constraints and their optimum, the front and its
        hypervolume share (only the parts the run asked for)."""
        out: dict = {}
        if self.constrained:
            rows, best = self.constrained_optimum()
            seen = set(queried)
            rep = self.table.metric(self.spec.report)
            out["constraints"] = [c.spelled() for c in self.constraints]
            out["feasible_cells"] = int(self.feasible.sum())
            out["constrained_optimum"] = {
                "arch": self.table.native(rows[0]),
                "signal": best,
                "test": float(rep[rows[0]]),
                "found": any(r in seen for r in rows),
                "best_feasible_test": self.constrained_best_reported(),
            }
        if self.multi:
            front = self.front(queried)
            true_rows, true_hv = self.true_front()
            out["objectives"] = [
                {"name": o.name, "metric": o.metric, "goal": "max" if o.maximise else "min"}
                for o in self.objectives
            ]
            out["front"] = best_first(out["objectives"], [self.entry(r) for r in front])
            out["hypervolume"] = self.hypervolume(front)
            out["hypervolume_share"] = out["hypervolume"] / true_hv if true_hv > 0 else 1.0
            out["true_front_size"] = len(true_rows)
        return out


def best_first(objectives: list[dict], front: list[dict]) -> list[dict]:
    """A result's ``front`` entries best first by its first objective (then the next): a
    torch export's ``build()`` and the first row of every table are the run's best cell
    by it. Read from a result, so fronts stored in another order show the same way."""

    def key(e: dict) -> tuple:
        return tuple(-e[o["name"]] if o["goal"] == "max" else e[o["name"]] for o in objectives)

    return sorted(front, key=key)


def figures_at(goal: Goal, queried: list[int], budgets: list[int]) -> dict[int, dict]:
    """What one run scores at each budget B, from its first B queries (in query order):
    ``hv_share`` (several objectives) and ``found`` (constraints: whether it queried a
    cell of the table's constrained optimum). The per-run figures of a multi-seed
    experiment; an anytime method's one run answers every budget."""
    best = set(goal.constrained_optimum()[0]) if goal.constrained else set()
    out: dict[int, dict] = {}
    for b in budgets:
        head = [int(r) for r in queried[: int(b)]]
        one: dict = {}
        if goal.multi:
            one["hv_share"] = goal.hypervolume_share(goal.front(head))
        if goal.constrained:
            one["found"] = bool(best & set(head))
        out[int(b)] = one
    return out


def hypervolume_metric(config: Config, table: Table, oracle) -> list[float] | None:
    """The hypervolume share after each query of a finished run (``None`` where the run
    has one objective): a campaign's per-run metric (``campaign.plan.RUN_METRICS``, one
    value after each query), registered there as ``"hv_share"``."""
    rows = [int(r) for r in oracle.queried]
    goal = goal_of(table, config)
    if goal is None or not goal.multi:
        return None
    return goal.hypervolume_curve(rows)


def goal_of(table: Table, config: Config) -> Goal | None:
    """The run's ``Goal``; ``None`` for a plain run (one signal, no constraint)."""
    g = config.goal
    if not g.objectives.strip() and not g.constraints.strip():
        return None
    return Goal(table, config)
