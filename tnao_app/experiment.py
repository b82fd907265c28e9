"""Experiments: methods x seeds x budgets on one benchmark and dataset, summarised.

The campaign package holds the parts (``tnao_app.campaign``: plan, executors, runner,
summary); this module is the one call most callers want, ``run_experiment``, and the
names they use from those parts.

Each (method, seed, budget) run is deterministic per seed and independent of the others,
so runs go to an executor (a local process pool with one torch thread per worker, or
Ray) and the summary does not depend on the number of workers or the order runs finish
in. *Anytime* methods (random, evolution, predictor, ...) query in an order that does not
depend on the budget: a run at budget b queries exactly the first b rows of a run at a
larger budget. They run once per seed at the largest budget, and every smaller budget is
read off the query trajectory. TNAO and NAO plan their stages around the budget, so they
run once per budget (TNAO is anytime when its rounds fit; see ``anytime_methods``).

Intervals (95%, :mod:`tnao_app.stats`): the found shares carry a Wilson score interval
(``top_test_ci``, ``top_signal_ci``), the mean reported metric a percentile bootstrap
interval over seeds (``test_ci``; a fixed seed, so the same runs give the same table).
The *anytime curve* of a (method, seed) is read off its run at the largest budget.
"""

from __future__ import annotations

from collections.abc import Sequence

from .campaign import runner
from .campaign.executors import EXECUTORS, Executor, LocalPool, RayExecutor, make
from .campaign.inputs import ANYTIME, MAX_SEEDS, parse_budgets, parse_methods, parse_seeds
from .campaign.plan import (
    RUN_METRICS,
    Spec,
    anytime_methods,
    load_table,
    plan,
    run_one,
    task_config,
)
from .campaign.runner import CampaignHistory, Progress
from .campaign.summary import (
    ANYTIME_FIELDS,
    SUMMARY_FIELDS,
    Experiment,
    anytime_band,
    anytime_curve,
    optima,
    summarize,
)

__all__ = [
    "ANYTIME",
    "ANYTIME_FIELDS",
    "EXECUTORS",
    "MAX_SEEDS",
    "RUN_METRICS",
    "SUMMARY_FIELDS",
    "CampaignHistory",
    "Executor",
    "Experiment",
    "LocalPool",
    "RayExecutor",
    "Spec",
    "anytime_band",
    "anytime_curve",
    "anytime_methods",
    "load_table",
    "make",
    "optima",
    "parse_budgets",
    "parse_methods",
    "parse_seeds",
    "plan",
    "resume_experiment",
    "run_experiment",
    "run_one",
    "summarize",
    "task_config",
]


def run_experiment(
    benchmark: str,
    dataset: str,
    methods: Sequence[str],
    seeds: Sequence[int],
    budgets: Sequence[int],
    *,
    workers: int | None = None,
    config: dict | None = None,
    progress: Progress | None = None,
    history: CampaignHistory | None = None,
    executor: Executor | None = None,
    top: str | None = None,
) -> Experiment:
    """Run the grid and summarise it. Every input is checked before any run starts; with
    a ``history`` the campaign is recorded there (``Experiment.experiment_id``) and each
    run as it finishes, so ``resume_experiment`` can finish it after a crash. ``top``:
    also count the seeds that found one of the table's best cells ("7", "0.02%")."""
    spec = Spec(benchmark, dataset, list(methods), list(seeds), list(budgets), config or {})
    return runner.start(spec, history, executor or LocalPool(workers), progress, top)


def resume_experiment(
    experiment_id: str,
    history: CampaignHistory,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
    top: str | None = None,
) -> Experiment:
    """Finish a recorded campaign: only the runs it lacks run."""
    return runner.resume(experiment_id, history, executor or LocalPool(workers), progress, top)
