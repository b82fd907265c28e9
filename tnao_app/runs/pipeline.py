"""A run, end to end: check the input, load the benchmark, drive a search method over the
run's ``Oracle`` (``search.driver``), and turn what it queried into the result.

Every run emits ``RunStarted`` first and exactly one of ``RunFinished`` / ``RunStopped`` /
``RunFailed`` last; bad input raises its ``TnaoError`` before anything is emitted, so a run
with bad input leaves nothing half-written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np

from .. import benchmarks, catalogue, device
from ..benchmarks.base import Oracle, Table
from ..config import Config
from ..errors import Stopped, TnaoError
from ..events import (
    Bus,
    Event,
    Leaderboard,
    LeaderRow,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    StageStarted,
)
from ..objectives import Goal, goal_of
from ..search.driver import Checkpoint, Driver, build
from ..search.method import Hooks

LEADERBOARD_ROWS = 10


def prepare(config: Config) -> tuple[Table, str]:
    """Validate ``config`` and load its table; raises the first problem as one sentence."""
    config.validate()
    r = config.run
    benchmarks.module(r.benchmark)  # unknown name -> ConfigError
    table = benchmarks.load(r.benchmark)  # no data -> NotReadyError saying how to get it
    spec = table.dataset(r.dataset)  # dataset the benchmark lacks -> ConfigError
    config.resolve(spec, table.partial).validate()  # e.g. a budget below the automatic sample size
    goal_of(table, config)  # objectives and constraints this table cannot take
    catalogue.load(r.method)
    return table, device.resolve(r.device)


def leaderboard(
    table: Table, oracle: Oracle, predicted: dict[int, float], n: int = LEADERBOARD_ROWS
) -> tuple[LeaderRow, ...]:
    """The best queried architectures by search signal (ties: first queried)."""
    rows = sorted(oracle.queried, key=lambda r: -oracle.queried[r])[:n]
    out = []
    for k, r in enumerate(rows, start=1):
        test = oracle.report(r)
        out.append(
            LeaderRow(
                rank=k,
                arch=table.native(r),
                predicted=float(predicted.get(r, float("nan"))),
                valid=oracle.queried[r],
                test=test,
                percentile=table.rank_of(test, oracle.spec.report)[1],
            )
        )
    return tuple(out)


def result_of(
    config: Config,
    run_id: str,
    table: Table,
    oracle: Oracle,
    rows,
    *,
    seconds: float,
    dev: str,
    extra: dict | None = None,
    goal: Goal | None = None,
) -> dict:
    """The dict ``tnao run --json`` prints; a run with objectives or constraints adds its
    front, hypervolume share and constrained optimum (``Goal.result``)."""
    r, spec = config.run, oracle.spec
    best = oracle.best()
    test = oracle.report(best)
    rank, pct = table.rank_of(test, spec.report)
    rep = table.metric(spec.report)
    opt = int(np.nanargmax(rep))
    out = {
        "run_id": run_id,
        "benchmark": r.benchmark,
        "dataset": r.dataset,
        "method": r.method,
        "seed": r.seed,
        "queries": oracle.n_queries,
        "budget": oracle.budget,
        "signal": spec.signal,
        "report": spec.report,
        "note": spec.note,
        "best": {
            "arch": table.native(best),
            "valid": oracle.queried[best],
            "test": test,
            "rank": rank,
            "percentile": pct,
        },
        "optimum": {"arch": table.native(opt), "test": float(rep[opt])},
        "leaderboard": [_row(x) for x in rows],
        "seconds": round(seconds, 3),
        "device": dev,
    }
    if table.partial:  # how much of the space a query could reach
        answerable = int(np.count_nonzero(~np.isnan(oracle.signal_col)))
        out["coverage"] = {"answerable": answerable, "space": table.space.cells}
    if goal is not None:
        out.update(goal.result(list(oracle.queried)))
    if extra:
        out["summary"] = extra
    return out


def _row(x: LeaderRow) -> dict:
    return {k: getattr(x, k) for k in x.__dataclass_fields__}


def run_pipeline(
    config: Config,
    *,
    run_id: str = "",
    listeners: Iterable[Callable[[Event], None]] = (),
    should_stop: Callable[[], bool] = lambda: False,
    checkpoint: Checkpoint | None = None,
    resume: dict | None = None,
) -> dict:
    """Run ``config`` and return its result dict (see :func:`result_of`).

    ``checkpoint(stage, step, state)`` is called with the method's full state after each
    epoch / generation / stage; ``resume`` (the last such ``{"stage","step","state"}``)
    continues a run so that its result equals an uninterrupted run's.
    """
    table, dev = prepare(config)
    r = config.run
    device.setup(r.seed, r.threads, dev)
    bus = Bus()
    for fn in listeners:
        bus.subscribe(fn)
    method, oracle = build(config, table, dev, Hooks(emit=bus.emit, should_stop=should_stop))
    driver = Driver(
        method,
        oracle,
        emit=bus.emit,
        checkpoint=checkpoint,
        checkpoint_every=r.checkpoint_every,
    )
    stage = {"now": method.plan().stages[0]}

    def track(ev: Event) -> None:
        if isinstance(ev, StageStarted):
            stage["now"] = ev.stage

    bus.subscribe(track)
    t0 = time.perf_counter()
    bus.emit(
        RunStarted(
            run_id,
            r.benchmark,
            r.dataset,
            r.method,
            r.seed,
            dev,
            config.to_dict(),
            resumed=resume is not None,
            plan=method.plan(),
        )
    )
    try:
        driver.run(resume)
        if not oracle.queried:
            raise TnaoError(f"Method '{r.method}' made no query; nothing to report.")
        rows = leaderboard(table, oracle, method.predicted)
        bus.emit(Leaderboard(rows))
        result = result_of(
            config,
            run_id,
            table,
            oracle,
            rows,
            seconds=time.perf_counter() - t0,
            dev=dev,
            extra=method.summary(),
            goal=method.ctx.goal,
        )
    except Stopped:
        bus.emit(RunStopped(stage["now"]))
        raise
    except TnaoError as exc:
        bus.emit(RunFailed(str(exc)))
        raise
    except Exception as exc:  # a bug: still tell the subscribers, then let it surface
        bus.emit(RunFailed(f"{type(exc).__name__}: {exc}"))
        raise
    bus.emit(RunFinished(result))
    return result
