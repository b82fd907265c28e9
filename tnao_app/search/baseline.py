"""What the baselines share (random, evolution, predictor): the record of what a method
has queried, and uniform draws among the rows it has not seen.

Each proposes rows and keeps its own record from what it is told (rows in query order,
their signal, the best so far): everything its ``state_dict`` needs besides its RNG.
"""

from __future__ import annotations

import numpy as np

from ..benchmarks.base import Arch
from ..events import Generation
from .method import Hooks, SearchContext, SearchMethod

#: consecutive misses (sampled arch not in the table, not answerable, or seen) before
#: random sampling falls back to drawing directly among the rows still open
MAX_MISSES = 2000


class BaselineMethod(SearchMethod):
    def __init__(self, ctx: SearchContext, hooks: Hooks | None = None):
        super().__init__(ctx, hooks)
        self.known_tokens: np.ndarray = np.asarray((np.asarray(ctx.table.tokens) >= 0).all(axis=1))
        self.rows: list[int] = []  # in query order
        self.signal: dict[int, float] = {}
        self.best_row: int | None = None

    def record(self, rows: list[int], signals: list[float]) -> None:
        for row, value in zip(rows, signals, strict=True):
            if row in self.signal:
                continue
            self.rows.append(row)
            self.signal[row] = value
            if self.best_row is None or value > self.signal[self.best_row]:
                self.best_row = row

    def open_count(self) -> int:
        """Rows still worth proposing: answerable and not yet seen."""
        return int(self.ctx.answerable_rows.sum()) - len(self.rows)

    def is_open(self, row: int | None) -> bool:
        return self.ctx.answerable(row) and row not in self.signal

    def best_signal(self) -> float:
        return float("nan") if self.best_row is None else self.signal[self.best_row]

    def generation(self, gen: int, generations: int, mean_score: float) -> None:
        self.hooks.emit(
            Generation(gen, generations, self.best_signal(), float(mean_score), len(self.rows))
        )

    def draw_open(self) -> tuple[Arch, int] | None:
        """One architecture sampled uniformly from the space that the table can answer
        and this method has not seen, with its row; ``None`` when no such row is left.

        Rejection sampling keeps the space's own distribution; after ``MAX_MISSES`` misses
        in a row (a sparse or mostly-seen table) it draws uniformly among the open rows
        whose tokens the table knows.
        """
        if self.open_count() <= 0:
            return None
        table, rng = self.ctx.table, self.rng
        for _ in range(MAX_MISSES):
            arch = table.space.sample(rng)
            row = table.index_of(arch)
            if self.is_open(row):
                return arch, int(row)  # type: ignore[arg-type]  # is_open: not None
        pool = np.flatnonzero(self.ctx.answerable_rows & self.known_tokens)
        pool = pool[[int(r) not in self.signal for r in pool]]
        if pool.size == 0:
            return None
        row = int(pool[int(rng.integers(pool.size))])
        return table.arch(row), row

    def extra_state(self) -> dict:
        return {"rows": list(self.rows), "signals": [self.signal[r] for r in self.rows]}

    def load_extra_state(self, state: dict) -> None:
        self.rows, self.signal, self.best_row = [], {}, None
        self.record([int(r) for r in state["rows"]], [float(v) for v in state["signals"]])
