"""Drive a campaign: run what its plan still lacks on an executor, record each run in
the history as it finishes, and summarise.

The history is any object with the methods of ``CampaignHistory``
(``tnao_app.storage.Store`` is the one we ship; the engine never imports storage). Each
finished run is one committed row, so a campaign killed at any moment (even ``kill -9``)
resumes with the runs it had and never repeats one; as runs are deterministic from
their seed, the resumed table equals an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

from ..errors import ConfigError, Stopped, TnaoError
from . import plan as pl
from .executors import Executor, LocalPool
from .summary import Experiment, anytime_curve, summarize

#: seconds between heartbeats of a live campaign (a dead driver reads as interrupted)
HEARTBEAT_S = 5.0

Progress = Callable[[int, int], None]


class CampaignHistory(Protocol):
    def create_experiment(self, spec: dict, total: int, executor: str) -> str: ...
    def get_experiment(self, experiment_id: str) -> dict: ...
    def claim_experiment(self, experiment_id: str, executor: str) -> dict: ...
    def experiment_results(self, experiment_id: str) -> list[dict]: ...
    def record_experiment_run(self, experiment_id: str, result: dict, curve: dict) -> None: ...
    def end_experiment(self, experiment_id: str, status: str, message: str = "") -> None: ...
    def experiment_heartbeat(self, experiment_id: str) -> None: ...


@contextlib.contextmanager
def _heartbeat(history: CampaignHistory | None, experiment_id: str | None) -> Iterator[None]:
    """A daemon thread refreshes the campaign's heartbeat while it runs."""
    if history is None or experiment_id is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            with contextlib.suppress(TnaoError):  # a busy moment: the next beat
                history.experiment_heartbeat(experiment_id)

    t = threading.Thread(target=beat, name=f"tnao-experiment-{experiment_id}", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()


def _drive(
    spec: pl.Spec,
    executor: Executor,
    done: list[dict],
    history: CampaignHistory | None,
    experiment_id: str | None,
    progress: Progress | None,
    top: str | None = None,
) -> Experiment:
    table = pl.table(spec.benchmark)
    report = table.metric(table.dataset(spec.dataset).report)
    tasks = spec.tasks()
    planned = {pl.task_key(t) for t in tasks}
    results = [r for r in done if pl.task_key(r) in planned]
    have = {pl.task_key(r) for r in results}
    todo = [t for t in tasks if pl.task_key(t) not in have]
    if progress:
        progress(len(results), len(tasks))
    try:
        with _heartbeat(history, experiment_id):
            for res in executor.map(pl.run_one, todo):
                if history is not None and experiment_id is not None:
                    curve = anytime_curve(res["rows"], res["signal"], report)
                    history.record_experiment_run(experiment_id, res, curve)
                results.append(res)
                if progress:
                    progress(len(results), len(tasks))
    except BaseException as exc:
        if history is not None and experiment_id is not None:
            stopped = not isinstance(exc, Exception) or isinstance(exc, Stopped)
            with contextlib.suppress(TnaoError):
                history.end_experiment(
                    experiment_id,
                    "stopped" if stopped else "failed",
                    # a signal's exception carries its sentence (str() is the number)
                    getattr(exc, "message", None) or str(exc) or type(exc).__name__,
                )
        raise
    if history is not None and experiment_id is not None:
        history.end_experiment(experiment_id, "finished")
    exp = summarize(
        table,
        spec.dataset,
        results,
        spec.methods,
        spec.seeds,
        spec.budgets,
        spec.anytime,
        spec.config,
        top,
    )
    exp.experiment_id, exp.done, exp.total = experiment_id, len(results), len(tasks)
    return exp


def start(
    spec: pl.Spec,
    history: CampaignHistory | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    top: str | None = None,
) -> Experiment:
    """Check ``spec``, record it in ``history`` (if any) and run it; ``top``: the
    summary's top-K target (``summary.optima``)."""
    spec.check()
    executor = executor or LocalPool()
    exp_id = None
    if history is not None:
        # how it was run, so a resume from the app runs it the same way (a plan key
        # ``Spec.from_dict`` ignores)
        options = {"workers": getattr(executor, "workers", None)}
        options["address"] = getattr(executor, "address", None)
        data = {**spec.to_dict(), "executor_options": options}
        exp_id = history.create_experiment(data, len(spec.tasks()), executor.name)
    return _drive(spec, executor, [], history, exp_id, progress, top)


def resume(
    experiment_id: str,
    history: CampaignHistory,
    executor: Executor | None = None,
    progress: Progress | None = None,
    top: str | None = None,
) -> Experiment:
    """Run what a stopped, failed or interrupted campaign still lacks (a finished one
    runs nothing) and summarise all of it."""
    executor = executor or LocalPool()
    row = history.claim_experiment(experiment_id, executor.name)
    spec = pl.Spec.from_dict(row["spec"])
    try:
        stored_anytime = list(spec.anytime)
        spec.check()
        if stored_anytime and sorted(stored_anytime) != spec.anytime:
            # the defaults changed since the start (a new TNAO): the stored plan is kept
            # only if it still means the same runs, else the table would mix two plans
            raise ConfigError(
                f"Experiment {row['id']} was planned with {', '.join(stored_anytime)} run "
                "once at the largest budget, and this TNAO's settings plan "
                f"{', '.join(spec.anytime)}; start a new experiment with these settings."
            )
    except BaseException as exc:
        history.end_experiment(row["id"], "failed", str(exc))
        raise
    done = history.experiment_results(row["id"])
    return _drive(spec, executor, done, history, row["id"], progress, top)
