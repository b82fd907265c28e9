"""Shared plumbing of the baseline searches (random, evolution, predictor).

Every baseline spends the budget through the run's ``Oracle`` one new row at a time,
emits a ``Queried`` event per new row, and keeps its own record of what it has seen
(never the oracle's): a resumed run replays deterministically from the seed, and rows
the pipeline already restored into the oracle then cost nothing again.
"""

from __future__ import annotations

import numpy as np

from ..benchmarks.base import Arch
from ..events import Generation, Queried
from .base import SearchContext

#: consecutive misses (sampled arch not in the table, not answerable, or seen) before
#: random sampling falls back to drawing directly among the rows still open
MAX_MISSES = 2000


class Ledger:
    """What a baseline has paid for: rows in query order, their signal, and the budget.

    ``query`` refuses a row it has already seen, so a method cannot pay twice.
    """

    def __init__(self, ctx: SearchContext):
        self.ctx = ctx
        oracle = ctx.oracle
        self.budget = int(oracle.budget if oracle.budget is not None else ctx.config.run.budget)
        table = ctx.table
        self.answerable = ~np.isnan(oracle.signal_col)
        self.known_tokens = (np.asarray(table.tokens) >= 0).all(axis=1)
        self.rows: list[int] = []
        self.signal: dict[int, float] = {}
        self.best_row: int | None = None
        self._restore(ctx.resume)

    def _restore(self, resume: dict | None) -> None:
        """Put a checkpoint's rows back into the oracle (silently: they were announced
        before the stop); the method's replay then finds them already paid for."""
        state = (resume or {}).get("state") or {}
        if (resume or {}).get("stage") != "search" or not isinstance(state, dict):
            return
        oracle = self.ctx.oracle
        for r in state.get("rows", []):
            if int(r) not in oracle.queried:
                oracle.query(int(r))

    @property
    def done(self) -> bool:
        return len(self.rows) >= self.budget or self.open_count() == 0

    @property
    def left(self) -> int:
        return max(self.budget - len(self.rows), 0)

    def open_count(self) -> int:
        """Rows still worth proposing: answerable and not yet seen."""
        return int(self.answerable.sum()) - len(self.rows)

    def is_open(self, row: int | None) -> bool:
        return row is not None and bool(self.answerable[row]) and row not in self.signal

    def query(self, row: int) -> float:
        if row in self.signal:
            raise ValueError(f"row {row} was already queried by this method")
        oracle = self.ctx.oracle
        new = row not in oracle.queried
        value = oracle.query(row)
        self.rows.append(row)
        self.signal[row] = value
        if self.best_row is None or value > self.signal[self.best_row]:
            self.best_row = row
        if new:
            self.ctx.emit(
                Queried(
                    self.ctx.table.native(row) if self.known_tokens[row] else str(row),
                    value,
                    oracle.n_queries,
                    self.budget,
                )
            )
        return value

    def best_signal(self) -> float:
        return float("nan") if self.best_row is None else self.signal[self.best_row]

    def generation(self, gen: int, generations: int, mean_score: float) -> None:
        self.ctx.emit(
            Generation(gen, generations, self.best_signal(), float(mean_score), len(self.rows))
        )

    def checkpoint(self, step: int, every: int = 1) -> None:
        """Offer ``{"rows": rows in query order}`` every ``every`` steps and at the end.

        That is enough to restore the oracle; on resume the method replays from its seed,
        which re-queries exactly these rows first (free once the oracle has them) and so
        continues where it stopped.
        """
        if step % every == 0 or self.done:
            self.ctx.checkpoint("search", step, {"rows": list(self.rows)})


def draw_open(ledger: Ledger, rng: np.random.Generator) -> tuple[Arch, int] | None:
    """One architecture sampled uniformly from the space that the table can answer and
    this method has not seen, with its row; ``None`` when no such row is left.

    Rejection sampling keeps the space's own distribution; after ``MAX_MISSES`` misses in
    a row (a sparse or mostly-seen table) it draws uniformly among the open rows whose
    tokens the table knows.
    """
    if ledger.open_count() <= 0:
        return None
    table = ledger.ctx.table
    space = table.space
    for _ in range(MAX_MISSES):
        arch = space.sample(rng)
        row = table.index_of(arch)
        if ledger.is_open(row):
            return arch, int(row)
    pool = np.flatnonzero(ledger.answerable & ledger.known_tokens)
    pool = pool[[int(r) not in ledger.signal for r in pool]]
    if pool.size == 0:
        return None
    row = int(pool[int(rng.integers(pool.size))])
    return table.arch(row), row
