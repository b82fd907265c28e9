"""A stored campaign read back: its row and the summary of the runs it has, finished or
not (``tnao experiment show``, the app's Experiments screen while it runs). Imports no
search method: reading a campaign needs only its table.
"""

from __future__ import annotations

import math
from typing import Any

from .. import benchmarks, paths
from ..benchmarks.base import Table
from .inputs import ANYTIME
from .summary import Experiment, summarize

_TABLES: dict[tuple[str, str], Table] = {}  # a screen reads a running campaign often


def load(history: Any, experiment_id: str, top: str | None = None) -> tuple[dict, Experiment]:
    """The stored campaign (``history.get_experiment``) and its summary so far (``top``:
    its top-K target, ``summary.optima``)."""
    row = history.get_experiment(experiment_id)
    spec = row["spec"]
    key = (spec["benchmark"], str(paths.cache_dir(create=False)))
    if key not in _TABLES:
        _TABLES[key] = benchmarks.load(spec["benchmark"])
    table = _TABLES[key]
    results = history.experiment_results(row["id"])
    exp = summarize(
        table,
        spec["dataset"],
        results,
        spec["methods"],
        spec["seeds"],
        spec["budgets"],
        spec.get("anytime") or ANYTIME,
        spec.get("config") or {},
        top,
    )
    exp.experiment_id, exp.done, exp.total = row["id"], len(results), int(row["total"])
    return row, exp


def eta_seconds(results: list[dict], remaining: int) -> float:
    """Seconds left, from the pace of the last runs in (their finishing times): NaN
    before two runs are in. ``results`` in the order they finished. A gap far longer
    than the usual one (the campaign was stopped, then resumed) is not pace."""
    ends = [r["finished_at"] for r in results[-21:]]
    if remaining <= 0:
        return 0.0
    gaps = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    if not gaps or ends[-1] <= ends[0]:
        return math.nan
    usual = sorted(gaps)[len(gaps) // 2]
    kept = [g for g in gaps if g <= 5 * usual] if usual > 0 else gaps
    return sum(kept) / len(kept) * remaining
