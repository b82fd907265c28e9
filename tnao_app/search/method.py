"""The interface every search method implements: ask/tell, as Optuna's samplers are.

A method proposes rows of the table to query (``propose``) and is told their search
signals (``observe``); the driver (``driver.py``) owns the loop, the budget, the query
accounting and every checkpoint. A method owns its seeded RNG and a versioned state
(``state_dict`` / ``load_state_dict``) that holds everything it needs to continue, so a
resumed run makes exactly the choices an uninterrupted one makes.

Long inner stages (TNAO's training and swarm) report through ``Hooks``: events, a stop
check every batch, and ``checkpoint(stage, step)`` at points where the state is
consistent, which the driver turns into a saved checkpoint when one is due.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..benchmarks.base import DatasetSpec, Table
from ..config import Config
from ..errors import Stopped, TnaoError
from ..events import Event, RunPlan
from ..objectives import Goal, goal_of


def _never() -> bool:
    return False


def _ignore(*_args: Any, **_kwargs: Any) -> None:
    return None


@dataclass
class Hooks:
    """What a method may call back into while it works."""

    emit: Callable[[Event], None] = _ignore
    should_stop: Callable[[], bool] = _never
    #: ``checkpoint(stage, step)``: the method's state is consistent now; the driver
    #: saves it if a checkpoint is due (its own throttle decides)
    checkpoint: Callable[[str, int], None] = _ignore

    def check_stop(self) -> None:
        if self.should_stop():
            raise Stopped()


@dataclass
class SearchContext:
    """What a method may read: the table (never its signal column: signals come only
    through ``observe``), which rows a query can answer (a property of the table, known
    without a query), the config, the budget and the device.

    A run with constraints (``goal.constraints``) makes the cells over a limit
    unanswerable: feasibility is a property of the cell, so every method, which proposes
    only answerable rows, never queries an infeasible one. ``goal`` holds the run's
    objectives and constraints (``None`` for a plain run)."""

    table: Table
    spec: DatasetSpec
    config: Config
    budget: int
    device: str = "cpu"
    answerable_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    goal: Goal | None = None

    @classmethod
    def of(cls, table: Table, config: Config, device: str = "cpu") -> SearchContext:
        spec = table.dataset(config.run.dataset)
        goal = goal_of(table, config)
        answerable = ~np.isnan(table.metric(spec.signal))
        if goal is not None:
            answerable &= goal.feasible
        return cls(
            table=table,
            spec=spec,
            config=config,
            budget=int(config.run.budget),
            device=device,
            answerable_rows=answerable,
            goal=goal,
        )

    @property
    def restricted(self) -> bool:
        """Some rows the table holds are unanswerable (a partial table or constraints)."""
        return not bool(self.answerable_rows.all())

    def rows_of(self, tokens: np.ndarray) -> np.ndarray:
        """Table rows of token sequences (-1 where the table lacks the cell)."""
        space, table = self.table.space, self.table
        rows = [table.index_of(space.from_tokens(t.tolist())) for t in np.asarray(tokens)]
        return np.array([-1 if r is None else r for r in rows], dtype=np.int64)

    def answerable(self, row: int | None) -> bool:
        return row is not None and bool(self.answerable_rows[row])

    def report(self, row: int) -> float:
        """The reported metric of a queried row, for display only (never to choose)."""
        return float(self.table.metric(self.spec.report)[row])


class StateError(TnaoError):
    """A checkpoint's method state does not fit this method or version."""


class SearchMethod(ABC):
    """Ask/tell search over the rows of a table."""

    name: ClassVar[str] = ""
    #: bump when ``state_dict``'s layout changes; older states are refused in one sentence
    STATE_VERSION: ClassVar[int] = 1
    #: reads every objective of ``ctx.goal`` itself (NSGA-II); otherwise a run with
    #: several objectives tells the method one scalarised signal (``search.scalarise``)
    multi_objective: ClassVar[bool] = False

    def __init__(self, ctx: SearchContext, hooks: Hooks | None = None):
        self.ctx = ctx
        self.hooks = hooks or Hooks()
        self.rng = np.random.default_rng(ctx.config.run.seed)
        #: row -> the method's latest predicted score (the leaderboard's column)
        self.predicted: dict[int, float] = {}
        #: the stage the last proposal came from (names the checkpoint after it)
        self.stage = "search"

    @classmethod
    def searches_goal(cls, ctx: SearchContext) -> bool:
        """Reads the objectives of ``ctx.goal`` itself; otherwise a run with several
        objectives wraps the method in ``search.scalarise.Scalarised``."""
        return cls.multi_objective

    def plan(self) -> RunPlan:
        """What the run will do, for the UIs (they never re-derive it)."""
        return RunPlan(budget=self.ctx.budget)

    @abstractmethod
    def propose(self, k: int) -> list[int]:
        """Up to ``k`` distinct rows to query next, none of them queried before; an empty
        list when the method has nothing left to propose."""

    @abstractmethod
    def observe(self, rows: list[int], signals: list[float]) -> None:
        """The search signals of the rows of the last proposal, in its order."""

    def summary(self) -> dict:
        """Run summary figures (``tnao run --json``'s ``summary``); empty by default."""
        return {}

    def relabel(self, signals: dict[int, float]) -> bool:
        """Replace the signals told so far by ``signals`` (row -> value, every row told),
        before the next proposal: a run with several objectives rescalarises them with
        each batch's new weights (ParEGO). ``False``: the method keeps what it was told
        (its state holds more than the values: the baselines' populations, studies)."""
        return False

    # -- state ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue, the RNG included, with the state version."""
        return {
            "version": self.STATE_VERSION,
            "method": self.name,
            "rng": self.rng.bit_generator.state,
            "predicted": dict(self.predicted),
            "stage": self.stage,
            **self.extra_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("method") != self.name or state.get("version") != self.STATE_VERSION:
            raise StateError(
                f"The checkpoint holds a '{state.get('method')}' state of version "
                f"{state.get('version')}; this TNAO resumes '{self.name}' version "
                f"{self.STATE_VERSION} only. Start the run again with the same seed for "
                "the same result."
            )
        self.rng.bit_generator.state = state["rng"]
        self.predicted = {int(r): float(v) for r, v in state["predicted"].items()}
        self.stage = state["stage"]
        self.load_extra_state(state)

    def extra_state(self) -> dict:
        """The method's own part of ``state_dict`` (plain values, arrays, nested dicts)."""
        return {}

    def load_extra_state(self, state: dict) -> None:  # noqa: B027 - optional hook
        """Restore what ``extra_state`` returned."""
