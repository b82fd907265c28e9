"""Regularized (aging) evolution (Real et al., AAAI 2019).

A population of P architectures starts from uniform samples. Each step draws S members
at random, mutates the best of them (by search signal) and queries the child, which
replaces the *oldest* member. Here every step pays for a new architecture: a child this
run has already seen is mutated again (a few tries, then a fresh random sample), so no
step is free and the loop always ends.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ._baseline import Ledger, draw_open
from .base import SearchMethod

MUTATION_TRIES = 50


class RegularizedEvolution(SearchMethod):
    name = "evolution"

    def run(self) -> None:
        cfg = self.ctx.config.baselines
        cfg.check()
        ledger = Ledger(self.ctx)
        table, space, rng = self.ctx.table, self.ctx.table.space, self.rng
        population: deque = deque()  # (arch, row, signal), oldest first
        step = 0

        def record(arch, row: int) -> None:
            nonlocal step
            population.append((arch, row, ledger.query(row)))
            if len(population) > cfg.population:
                population.popleft()  # aging: the oldest dies, not the worst
            step += 1
            ledger.generation(step, ledger.budget, np.mean([p[2] for p in population]))
            ledger.checkpoint(step, every=10)

        while not ledger.done and len(population) < cfg.population:
            self.ctx.check_stop()
            got = draw_open(ledger, rng)
            if got is None:
                return
            record(*got)

        while not ledger.done:
            self.ctx.check_stop()
            k = min(cfg.tournament, len(population))
            picks = rng.choice(len(population), size=k, replace=False)
            # best of the sample; ties go to the lowest index (the older member)
            parent = population[max(sorted(picks.tolist()), key=lambda i: population[i][2])]
            child = None
            arch = parent[0]
            for _ in range(MUTATION_TRIES):
                cand = space.mutate(arch, rng)
                row = table.index_of(cand)
                if ledger.is_open(row):
                    child = (cand, int(row))
                    break
            if child is None:
                child = draw_open(ledger, rng)
                if child is None:
                    return
            record(*child)
