"""Random search: uniform samples from the space, one query each (Bergstra & Bengio 2012;
Li & Talwalkar 2019 found it a hard baseline for NAS)."""

from __future__ import annotations

from ._baseline import Ledger, draw_open
from .base import SearchMethod


class RandomSearch(SearchMethod):
    name = "random"

    def run(self) -> None:
        ledger = Ledger(self.ctx)
        step = 0
        while not ledger.done:
            self.ctx.check_stop()
            got = draw_open(ledger, self.rng)
            if got is None:
                break
            ledger.query(got[1])
            step += 1
            ledger.generation(step, ledger.budget, ledger.best_signal())
            ledger.checkpoint(step, every=10)
