"""The driver: one loop, one budget, one checkpoint format and one resume path for every
search method.

Each step asks the method for up to ``budget - queries`` rows (``propose``), queries the
new ones through the run's ``Oracle`` (each unique row costs one query; a ``Queried``
event for each), and tells the method their signals (``observe``). A checkpoint holds the
oracle's record and the method's ``state_dict``; it is saved after observed batches and
whenever the method offers a consistent point mid-stage (``Hooks.checkpoint``): the
first, then at most one every ``run.checkpoint_every`` seconds. Resuming loads both and goes on
with the next ``propose``: the method continues exactly where its state stood, so a
resumed run ends as an uninterrupted one with the same seed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

from .. import catalogue
from ..benchmarks.base import Oracle, Table
from ..config import Config
from ..errors import TnaoError
from ..events import Event, Queried
from .method import Hooks, SearchContext, SearchMethod

#: the layout of a checkpoint's ``state``; older layouts are refused in one sentence
CHECKPOINT_VERSION = 2
#: proposals in a row that bring no new query before the driver ends the run (a method
#: that only proposes what it has seen would otherwise loop forever)
MAX_IDLE_PROPOSALS = 100

Checkpoint = Callable[[str, int, dict], None]


class ResumeError(TnaoError):
    """A checkpoint cannot be resumed by this version."""


class Driver:
    """Runs one method over one oracle to the end of the budget."""

    def __init__(
        self,
        method: SearchMethod,
        oracle: Oracle,
        *,
        emit: Callable[[Event], None] | None = None,
        checkpoint: Checkpoint | None = None,
        checkpoint_every: float = 0.0,
    ):
        self.method, self.oracle = method, oracle
        self.emit = emit or (lambda _e: None)
        self.sink = checkpoint
        self.every = checkpoint_every
        self._saved = float("-inf")  # when the last checkpoint was saved
        method.hooks.checkpoint = self.offer

    @property
    def budget(self) -> int:
        return int(self.oracle.budget or 0)

    def run(self, resume: dict | None = None) -> None:
        """Spend the budget; ``resume`` is the latest checkpoint ``{"stage", "step",
        "state"}`` of this run, when it continues an interrupted one."""
        if resume is not None:
            self.restore(resume["state"])
        m, o, idle = self.method, self.oracle, 0
        while not o.exhausted:
            m.hooks.check_stop()
            rows = m.propose(self.budget - o.n_queries)[: self.budget - o.n_queries]
            if not rows:
                break
            before = o.n_queries
            signals = [self._query(r) for r in rows]
            m.observe(rows, signals)
            idle = 0 if o.n_queries > before else idle + 1
            if idle >= MAX_IDLE_PROPOSALS:
                break
            self._save(m.stage, o.n_queries)

    def _query(self, row: int) -> float:
        o = self.oracle
        if row in o.queried:  # free: already paid for
            return o.queried[row]
        value = o.query(row)
        self.emit(Queried(_arch_text(o.table, row), value, o.n_queries, self.budget))
        return value

    # -- checkpoints -----------------------------------------------------------------
    def offer(self, stage: str, step: int) -> None:
        """The method's state is consistent: save it if a checkpoint is due."""
        self._save(stage, step)

    def _save(self, stage: str, step: int) -> None:
        # The run's first step is saved, then at most one step every ``checkpoint_every``
        # seconds, whatever the stage: a snapshot and its fsync cost more than a
        # generation, an epoch of a head, or a short round's whole stage, and a resume is
        # exact from any checkpoint (it redoes at most those seconds).
        if self.sink is None:
            return
        if time.monotonic() - self._saved < self.every:
            return
        self.sink(stage, step, self.state())
        self._saved = time.monotonic()

    def state(self) -> dict:
        return {
            "version": CHECKPOINT_VERSION,
            "queried": [(int(r), float(v)) for r, v in self.oracle.queried.items()],
            # a copy: a sink that keeps the dict must not see the method go on
            "method": copy.deepcopy(self.method.state_dict()),
        }

    def restore(self, state: dict) -> None:
        if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
            raise ResumeError(
                "This run's checkpoint was written by an older TNAO (checkpoint layout "
                f"{(state or {}).get('version', 1)}, this TNAO reads {CHECKPOINT_VERSION}); "
                "start the run again with the same seed and config for the same result."
            )
        self.oracle.queried = {int(r): float(v) for r, v in state["queried"]}
        self.method.load_state_dict(copy.deepcopy(state["method"]))


def _arch_text(table: Table, row: int) -> str:
    """The row's architecture string; its row number where the table knows no cell."""
    return table.native(row) if (table.tokens[row] >= 0).all() else str(row)


def build(
    config: Config, table: Table, device: str = "cpu", hooks: Hooks | None = None
) -> tuple[SearchMethod, Oracle]:
    """The method of ``config`` and the run's oracle (a validated, resolved config)."""
    ctx = SearchContext.of(table, config, device)
    cls = catalogue.load(config.run.method)
    method = cls(ctx, hooks)
    if ctx.goal is not None and ctx.goal.multi and not cls.searches_goal(ctx):
        from .scalarise import Scalarised  # several objectives: one scalarised signal

        method = Scalarised(method)
    return method, Oracle(table, config.run.dataset, config.run.budget)


def search(
    config: Config,
    table: Table,
    *,
    device: str = "cpu",
    hooks: Hooks | None = None,
    emit: Callable[[Event], None] | None = None,
) -> tuple[SearchMethod, Oracle]:
    """One whole run without a history (experiments, tests): the method and its oracle."""
    hooks = hooks or Hooks(emit=emit or (lambda _e: None))
    method, oracle = build(config, table, device, hooks)
    Driver(method, oracle, emit=hooks.emit).run()
    return method, oracle
