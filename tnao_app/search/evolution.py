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

from ..benchmarks.base import Arch
from .baseline import BaselineMethod
from .method import Hooks, SearchContext

MUTATION_TRIES = 50


class RegularizedEvolution(BaselineMethod):
    name = "evolution"

    def __init__(self, ctx: SearchContext, hooks: Hooks | None = None):
        super().__init__(ctx, hooks)
        self.ctx.config.baselines.check()
        self.population: deque = deque()  # (arch, row, signal), oldest first
        self.pending: tuple[Arch, int] | None = None  # the proposed child

    def propose(self, k: int) -> list[int]:
        cfg = self.ctx.config.baselines
        if len(self.population) < cfg.population:
            self.pending = self.draw_open()
        else:
            self.pending = self._child(cfg.tournament)
        return [] if self.pending is None else [self.pending[1]]

    def _child(self, tournament: int) -> tuple[Arch, int] | None:
        table, pop, rng = self.ctx.table, self.population, self.rng
        picks = rng.choice(len(pop), size=min(tournament, len(pop)), replace=False)
        # best of the sample; ties go to the lowest index (the older member)
        parent = pop[max(sorted(picks.tolist()), key=lambda i: pop[i][2])]
        for _ in range(MUTATION_TRIES):
            cand = table.space.mutate(parent[0], rng)
            row = table.index_of(cand)
            if self.is_open(row):
                return cand, int(row)  # type: ignore[arg-type]  # is_open: not None
        return self.draw_open()

    def observe(self, rows: list[int], signals: list[float]) -> None:
        self.record(rows, signals)
        assert self.pending is not None and rows == [self.pending[1]]
        arch, row = self.pending
        self.population.append((arch, row, signals[0]))
        if len(self.population) > self.ctx.config.baselines.population:
            self.population.popleft()  # aging: the oldest dies, not the worst
        self.pending = None
        mean = np.mean([p[2] for p in self.population])
        self.generation(len(self.rows), self.ctx.budget, float(mean))

    def extra_state(self) -> dict:
        return {
            **super().extra_state(),
            "population": [(a, int(r), float(s)) for a, r, s in self.population],
        }

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.population = deque((a, int(r), float(s)) for a, r, s in state["population"])
