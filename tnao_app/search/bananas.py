"""BANANAS (White, Neiswanger & Savani, AAAI 2021): Bayesian optimisation with an
ensemble of neural predictors on the path encoding.

``bananas_init`` uniform random queries; then, until the budget is spent, each iteration

1. fits ``bananas_ensemble`` MLPs (``predictor.fit_rankers``: every member on all
   labels, each from its own initial weights seeded by the run seed and the fit index)
   to regress the search signal from the path encoding of every queried cell, with the
   mean *absolute* error as in the authors' code (naszilla's meta neural net: loss
   "mae"). Measured on NB201 cifar10 (100 random cells, 4 draws): Kendall tau against
   the whole table 0.65 with MAE, 0.42 with MSE, which chases the ~10% cells that do not
   train, and MSE's top 100 predicted held 1 of the table's top 100 (MAE: 25);
2. makes candidates by mutating the ``bananas_parents`` best queried cells
   (``space.mutate``, one edit; about ``bananas_candidates`` distinct, unseen and
   answerable mutants in all);
3. scores each candidate by independent Thompson sampling (one draw from
   N(mean, std) of the ensemble's predictions) and queries the ``bananas_batch``
   best, in score order.

Path encodings (binary: which input -> output op sequences the cell has):

- NB201 / analog: paths run from node 0 to node 3 along the cell's edges (4 paths:
  lengths 1, 2, 2 and 3). A ``none`` edge cuts every path through it, so such paths do
  not exist (our choice; the authors' 155 features keep ``none`` as an op): features
  are the sequences over the 4 other ops, 4 + 16 + 64 = 84. Measured as above, MAE:
  tau 0.65 with these 84, 0.53 with the 155.
- NB101: the official encoding: sequences of the 3 ops met on an input -> output path,
  of length 0 to 5, 1 + 3 + ... + 243 = 364 features.
- any other space: the one-hot of its tokens (``predictor.one_hot``).

Nothing depends on the budget: the driver cuts the last batch to the budget, which
keeps every earlier query (anytime). Deterministic per seed (the fits run single-
threaded with seeded generators, candidates and draws come from the method's RNG).
"""

from __future__ import annotations

import numpy as np

from ..benchmarks.base import Arch
from ..benchmarks.nb101.hashing import OPS as NB101_OPS
from ..benchmarks.nb101.space import NB101Space
from ..benchmarks.nb201.space import EDGES, OPS, NB201Space
from .baseline import BaselineMethod
from .method import Hooks, SearchContext
from .predictor import fit_rankers, one_hot

#: mutation draws per wanted candidate before a parent gives up (seen or duplicate mutants)
DRAWS_PER_CANDIDATE = 4


def _paths(edges: tuple[tuple[int, int], ...], last: int) -> list[list[int]]:
    """Every node-0 -> ``last`` path of a DAG given as ``(to, from)`` edges, as edge
    indices in path order."""
    out: list[list[int]] = []

    def walk(node: int, path: list[int]) -> None:
        if node == last:
            out.append(path)
            return
        for e, (to, src) in enumerate(edges):
            if src == node:
                walk(to, [*path, e])

    walk(0, [])
    return out


NB201_PATHS = _paths(EDGES, 3)
NB201_LIVE_OPS = len(OPS) - 1  # every op but none (code 0)
NB201_FEATURES = sum(NB201_LIVE_OPS**n for n in range(1, 4))  # 84
NB101_FEATURES = sum(len(NB101_OPS) ** n for n in range(6))  # 364


def nb201_path_encoding(tokens: np.ndarray) -> np.ndarray:
    """``(n, 6)`` NB201 op codes -> ``(n, 84)`` float32: 1 where the cell has a live
    path (no ``none`` edge on it) with that op sequence."""
    tokens = np.asarray(tokens, dtype=np.int64)
    out = np.zeros((len(tokens), NB201_FEATURES), dtype=np.float32)
    base, n = NB201_LIVE_OPS, np.arange(len(tokens))
    for path in NB201_PATHS:
        length = len(path)
        offset = sum(base**i for i in range(1, length))
        ops = tokens[:, path]
        live = (ops != 0).all(axis=1)
        code = np.zeros(len(tokens), dtype=np.int64)
        for j in range(length):
            code = code * base + (ops[:, j] - 1)
        out[n[live], offset + code[live]] = 1.0
    return out


def nb101_path_encoding(arch: Arch) -> np.ndarray:
    """One NB101 cell ``(matrix, ops)`` -> ``(364,)`` float32 path encoding."""
    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]
    matrix, ops = arch  # type: ignore[misc]  # an NB101 arch is a (matrix, ops) pair
    v = len(ops)
    out = np.zeros(NB101_FEATURES, dtype=np.float32)
    base = len(NB101_OPS)

    def walk(node: int, seq: list[int]) -> None:
        if node == v - 1:
            offset = sum(base**i for i in range(len(seq)))
            code = 0
            for o in seq:
                code = code * base + o
            out[offset + code] = 1.0
            return
        for nxt in range(node + 1, v):
            if matrix[node][nxt]:
                walk(nxt, seq if nxt == v - 1 else [*seq, NB101_OPS.index(ops[nxt])])

    walk(0, [])
    return out


class Bananas(BaselineMethod):
    name = "bananas"

    def __init__(self, ctx: SearchContext, hooks: Hooks | None = None):
        super().__init__(ctx, hooks)
        self.ctx.config.baselines.check()
        space = ctx.table.space
        self.kind = (
            "nb201"
            if isinstance(space, NB201Space)
            else "nb101"
            if isinstance(space, NB101Space)
            else "tokens"
        )
        self.fit = 0  # ensembles fitted so far
        self.fits = 0  # fits planned once the initial sample is in (display only)
        self.batch = False  # the pending proposal is a scored batch (not a random draw)
        self._enc: dict[int, np.ndarray] = {}  # row -> encoding (derived, not state)
        self._guess: dict[int, float] = {}  # the pending batch's mean predictions

    def encode(self, rows: list[int], archs: list[Arch] | None = None) -> np.ndarray:
        """Encodings of ``rows`` (their cells ``archs`` where the caller has them)."""
        table = self.ctx.table
        if self.kind == "nb201":
            return nb201_path_encoding(table.tokens[rows])
        if self.kind == "tokens":
            return one_hot(
                np.stack([table.space.to_tokens(a) for a in archs])
                if archs is not None
                else table.tokens[rows],
                table.space.vocab_size,
            )
        for i, row in enumerate(rows):
            if row not in self._enc:
                arch = archs[i] if archs is not None else table.arch(row)
                self._enc[row] = nb101_path_encoding(arch)
        return np.stack([self._enc[r] for r in rows])

    def candidates(self) -> tuple[list[int], list[Arch]]:
        """Distinct open mutants of the best queried cells, parents best first."""
        cfg, table, rng = self.ctx.config.baselines, self.ctx.table, self.rng
        # best first; ties: the earlier query (a stable sort of the query order)
        ranked = sorted(self.rows, key=lambda r: -self.signal[r])[: cfg.bananas_parents]
        per = -(-cfg.bananas_candidates // len(ranked))
        rows: list[int] = []
        archs: list[Arch] = []
        taken: set[int] = set()
        for parent in ranked:
            arch, got = table.arch(parent), 0
            for _ in range(per * DRAWS_PER_CANDIDATE):
                if got == per:
                    break
                cand = table.space.mutate(arch, rng)
                row = table.index_of(cand)
                if self.is_open(row) and row not in taken:
                    assert row is not None  # is_open: a row
                    taken.add(row)
                    rows.append(row)
                    archs.append(cand)
                    got += 1
        return rows, archs

    def propose(self, k: int) -> list[int]:
        cfg = self.ctx.config.baselines
        self.batch = False
        if len(self.rows) < cfg.bananas_init:
            got = self.draw_open()
            return [] if got is None else [got[1]]
        if not self.fits:
            self.fits = -(-max(self.ctx.budget - len(self.rows), 0) // cfg.bananas_batch)
        cand, archs = self.candidates()
        if not cand:  # every mutant of the best cells seen: keep going at random
            got = self.draw_open()
            return [] if got is None else [got[1]]
        self.fit += 1
        y = np.array([self.signal[r] for r in self.rows])
        nets = fit_rankers(
            self.encode(self.rows),
            y,
            seed=int(self.ctx.config.run.seed) * 100_003 + self.fit,
            hidden=cfg.bananas_hidden,
            epochs=cfg.bananas_epochs,
            members=cfg.bananas_ensemble,
            loss="mae",
            bootstrap=False,
        )
        pred = nets.score(self.encode(cand, archs)).astype(np.float64)  # (members, n)
        mean, std = pred.mean(axis=0), pred.std(axis=0)
        # independent Thompson sampling: one draw per candidate from the ensemble's spread
        draw = mean + std * self.rng.standard_normal(len(cand))
        order = np.argsort(-draw, kind="stable")[: cfg.bananas_batch]
        scale, shift = float(max(y.std(), 1e-8)), float(y.mean())  # z-scores -> signal units
        picks = [int(cand[i]) for i in order]
        self._guess = {r: float(mean[i]) * scale + shift for i, r in zip(order, picks, strict=True)}
        self.batch = True
        return picks

    def observe(self, rows: list[int], signals: list[float]) -> None:
        self.record(rows, signals)
        if self.batch:
            # the rows the driver queried (it cuts the last batch to the budget)
            self.predicted.update({r: self._guess[r] for r in rows})
            self.generation(self.fit, self.fits, float(np.mean(signals)))
        self._guess = {}

    def extra_state(self) -> dict:
        return {**super().extra_state(), "fit": self.fit, "fits": self.fits}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.fit, self.fits = int(state["fit"]), int(state["fits"])
