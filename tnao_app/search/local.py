"""Local search (White, Nolen, Savani & Neiswanger 2020, "Local search is state of the art
for NAS benchmarks"), first-improvement variant.

``ls_init`` uniform random cells are queried; the best of them is the current cell.
Then its one-edit neighbours are queried one at a time in a random order, and the first
one that beats the current cell (strictly, by search signal) becomes the current cell,
whose neighbourhood is walked next. When every neighbour of the current cell has been
seen without an improvement (a local optimum), the search restarts from a fresh uniform
random cell: it is queried and becomes the current cell whatever its signal.

Neighbours are what one edit reaches, taken from the space's own structure:

- spaces of one categorical choice per token position (NB201 and the analog table:
  one op per edge, every combination a row): the rows whose tokens differ from the
  current cell's in exactly one position (NB201: 6 edges x 4 other ops = 24);
- other spaces (NB101's graph cells): up to ``ls_draws`` draws of ``space.mutate``
  (one token change, more only where a single change gives no valid cell), distinct.

Only answerable rows the run has not seen are proposed; a seen neighbour is skipped for
free. One row per proposal, and nothing depends on the budget (anytime).
"""

from __future__ import annotations

import numpy as np

from ..benchmarks.base import Table
from .baseline import BaselineMethod
from .method import Hooks, SearchContext


def categorical(table: Table) -> bool:
    """Whether every token position is an independent categorical choice: the table
    holds one row for each of the ``vocab_size ** seq_len`` token combinations (NB201,
    analog). Then one edit is one changed token, and any token tuple names a row."""
    space = table.space
    tokens = np.asarray(table.tokens)
    return (
        tokens.ndim == 2
        and tokens.shape[1] == space.seq_len
        and len(table) == space.vocab_size**space.seq_len
        and bool((tokens >= 0).all())
    )


def one_edit_rows(tokens: np.ndarray, row: int) -> np.ndarray:
    """Rows whose tokens differ from ``row``'s in exactly one position, ascending."""
    diff = (tokens != tokens[row][None, :]).sum(axis=1)
    return np.flatnonzero(diff == 1)


class LocalSearch(BaselineMethod):
    name = "ls"

    def __init__(self, ctx: SearchContext, hooks: Hooks | None = None):
        super().__init__(ctx, hooks)
        self.ctx.config.baselines.check()
        self.by_tokens = categorical(ctx.table)
        self._tokens = np.asarray(ctx.table.tokens)
        self.current: int | None = None  # the cell whose neighbourhood is walked
        self.queue: list[int] = []  # its neighbours still to try, in order
        self.pending = -1  # the proposed row
        self.restart = False  # the pending row is a restart cell
        self.restarts = 0
        self.moves = 0

    def neighbours(self, row: int) -> list[int]:
        """The one-edit neighbours of ``row`` in a random order (see the module doc)."""
        if self.by_tokens:
            near = one_edit_rows(self._tokens, row)
            return [int(r) for r in self.rng.permutation(near)]
        table, out, seen = self.ctx.table, [], {row}
        arch = table.arch(row)
        for _ in range(self.ctx.config.baselines.ls_draws):
            got = table.index_of(table.space.mutate(arch, self.rng))
            if got is not None and got not in seen:  # draw order is already random
                seen.add(got)
                out.append(int(got))
        return out

    def move_to(self, row: int) -> None:
        self.current = row
        self.queue = self.neighbours(row)

    def propose(self, k: int) -> list[int]:
        if len(self.rows) < self.ctx.config.baselines.ls_init:
            return self._fresh(restart=False)
        if self.current is None:  # the initial sample is in: start from its best
            assert self.best_row is not None
            self.move_to(self.best_row)
        while self.queue:
            row = self.queue.pop(0)
            if self.is_open(row):
                self.pending, self.restart = row, False
                return [row]
        return self._fresh(restart=True)  # a local optimum: every neighbour seen

    def _fresh(self, *, restart: bool) -> list[int]:
        got = self.draw_open()
        if got is None:
            return []
        self.pending, self.restart = got[1], restart
        return [got[1]]

    def observe(self, rows: list[int], signals: list[float]) -> None:
        self.record(rows, signals)
        assert rows == [self.pending]
        if self.restart:
            self.restarts += 1
            self.move_to(rows[0])
        elif self.current is not None and signals[0] > self.signal[self.current]:
            self.moves += 1  # first improvement: move at once
            self.move_to(rows[0])
        self.pending, self.restart = -1, False
        here = float("nan") if self.current is None else self.signal[self.current]
        self.generation(len(self.rows), self.ctx.budget, here)

    def summary(self) -> dict:
        return {"moves": self.moves, "restarts": self.restarts}

    def extra_state(self) -> dict:
        return {
            **super().extra_state(),
            "current": self.current,
            "queue": list(self.queue),
            "moves": self.moves,
            "restarts": self.restarts,
        }

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        cur = state["current"]
        self.current = None if cur is None else int(cur)
        self.queue = [int(r) for r in state["queue"]]
        self.moves, self.restarts = int(state["moves"]), int(state["restarts"])
