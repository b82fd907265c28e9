"""Random search: uniform samples from the space, one query each (Bergstra & Bengio 2012;
Li & Talwalkar 2019 found it a hard baseline for NAS)."""

from __future__ import annotations

from .baseline import BaselineMethod


class RandomSearch(BaselineMethod):
    name = "random"

    def propose(self, k: int) -> list[int]:
        got = self.draw_open()
        return [] if got is None else [got[1]]

    def observe(self, rows: list[int], signals: list[float]) -> None:
        self.record(rows, signals)
        self.generation(len(self.rows), self.ctx.budget, self.best_signal())
