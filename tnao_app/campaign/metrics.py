"""Per-run measures a campaign stores beside each run's query trajectory, and how its
table shows them. Light (no search code): the summary and the app's screens read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import objectives
from ..benchmarks.base import Table
from ..config import Config

MetricFn = Callable[[Config, Table, object], "list[float] | None"]


@dataclass(frozen=True)
class RunMetric:
    """A per-run measure beyond the query trajectory: ``fn(config, table, oracle)`` gives
    one value after each query (so every budget reads its own), or ``None`` where the run
    has no such measure (it is then not stored)."""

    fn: MetricFn
    label: str = ""  # the table's column header (default: the name)
    percent: bool = False  # a fraction shown as a percentage
    note: str = ""  # what the column means, for the table's caption


#: name -> RunMetric (or a bare function: a mean with a bootstrap interval). A metric
#: registered here is stored with each run and shown as a column of the table. Register
#: at import time of a module this one imports: pool and Ray workers import it afresh.
RUN_METRICS: dict[str, RunMetric | MetricFn] = {
    "hv_share": RunMetric(
        objectives.hypervolume_metric,
        "HV share % [CI]",
        percent=True,
        note="HV share: hypervolume of the Pareto front of the first B queries over that of "
        "the table's true (feasible) front, mean over seeds with a bootstrap 95% interval.",
    ),
}


def run_metric(name: str) -> RunMetric:
    m = RUN_METRICS.get(name)
    if m is None:  # a stored run's metric this build no longer registers: a plain mean
        return RunMetric(lambda *_: None, name)
    return m if isinstance(m, RunMetric) else RunMetric(m, name)
