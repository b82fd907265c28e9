"""Where TNAO's data comes from: the free reconstruction pool and the first sample.

The pool is every cell of a small enumerable space (NB201: 15,625), else a fixed random
sample: reconstruction needs no query. The first sample is drawn uniformly, kept
*balanced* by default (``sample.design``): each pick is the one of ``BALANCE_POOL``
uniform draws whose ops are rarest on their edges so far, so that the first model does
not miss an op on an edge by chance.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from ...benchmarks.base import Arch
from ..method import SearchContext

ENUMERATE_MAX = 100_000  # spaces up to this size train reconstruction on every cell
TABLE_POOL_MAX = 100_000  # a partial table up to this many rows is the pool itself
DEFAULT_UNLABELLED = 20_000
BALANCE_POOL = 16  # random candidates per pick of a balanced first sample


def pool_is_seedless(ctx: SearchContext) -> bool:
    """The pool is the whole (small, enumerable) space, the same for every seed."""
    enum = getattr(ctx.table.space, "enumerate", None)
    return (
        ctx.config.sample.n_unlabelled == 0 and enum is not None and len(ctx.table) <= ENUMERATE_MAX
    )


def table_pool_rows(ctx: SearchContext) -> np.ndarray | None:
    """The rows that make the pool when the table is a part of a big space (the
    NAS-Bench-101 subset: 30,001 of 423,624 cells): the answerable rows whose cells are
    known. Reconstructing cells no query can answer teaches the search nothing, and
    scoring the answerable cells directly keeps every candidate queryable. ``None``
    where the pool is the space itself or a sample of it."""
    small = len(ctx.table) <= TABLE_POOL_MAX
    if pool_is_seedless(ctx) or ctx.config.sample.n_unlabelled or not small:
        return None
    known = (np.asarray(ctx.table.tokens) >= 0).all(axis=1)
    return np.flatnonzero(ctx.answerable_rows & known)


def pool_is_fixed(ctx: SearchContext) -> bool:
    """The pool does not depend on the seed: the whole space, or a partial table's rows."""
    return pool_is_seedless(ctx) or table_pool_rows(ctx) is not None


def reconstruction_pool(ctx: SearchContext, seed: int | None = None) -> np.ndarray:
    """Tokens of the free reconstruction pool (deterministic per seed, the run's by
    default; no queries)."""
    space, n = ctx.table.space, ctx.config.sample.n_unlabelled
    archs: list[Arch]
    rows = table_pool_rows(ctx)
    if rows is not None:
        return np.asarray(ctx.table.tokens[rows]).astype(np.int64)
    if pool_is_seedless(ctx):
        whole = getattr(space, "enumerate_tokens", None)
        if whole is not None:
            return whole()  # the same tokens, without 15,625 tuples in between
        archs = list(space.enumerate())  # type: ignore[attr-defined]  # pool_is_seedless
    else:
        rng = np.random.default_rng([ctx.config.run.seed if seed is None else seed, 1])
        seen: dict[str, Arch] = {}
        for _ in range((n or DEFAULT_UNLABELLED) * 2):
            a = space.sample(rng)
            seen.setdefault(space.canonical_id(a), a)
            if len(seen) >= (n or DEFAULT_UNLABELLED):
                break
        archs = list(seen.values())
    return np.stack([space.to_tokens(a) for a in archs]).astype(np.int64)


class Sampler:
    """Uniform and balanced row draws with the method's RNG; counts the draws that the
    table could not answer into ``summary["skipped_unanswerable"]``."""

    def __init__(self, ctx: SearchContext, rng: np.random.Generator, summary: dict):
        self.ctx, self.rng, self.summary = ctx, rng, summary
        # A partial table: a uniform draw over the space's distinct cells, kept when the
        # table answers it, is a uniform draw over the answerable rows; drawn directly,
        # without the ~14 space draws (and cell hashes) per answerable NB101 cell.
        self.rows = table_pool_rows(ctx)

    def uniform_rows(
        self, n: int, exclude: Collection[int] = frozenset(), max_tries: int | None = None
    ) -> list[int]:
        """Up to ``n`` distinct rows drawn uniformly from the space, none in ``exclude``;
        architectures the table cannot answer are skipped (and counted)."""
        if self.rows is not None:
            open_ = self.rows
            if exclude:
                open_ = open_[~np.isin(open_, np.fromiter(exclude, np.int64, len(exclude)))]
            k = min(n, len(open_))
            return [int(r) for r in self.rng.choice(open_, k, replace=False)] if k else []
        table, space = self.ctx.table, self.ctx.table.space
        rows: list[int] = []
        seen = set(exclude)
        for _ in range(1000 * n if max_tries is None else max_tries):
            if len(rows) >= n:
                break
            r = table.index_of(space.sample(self.rng))
            if r is None or not self.ctx.answerable(r):
                self.summary["skipped_unanswerable"] += 1
                continue
            if r not in seen:
                seen.add(r)
                rows.append(r)
        return rows

    def balanced_rows(self, n: int) -> list[int]:
        """``n`` distinct rows, each the one among ``BALANCE_POOL`` uniform candidates
        whose tokens are rarest among those already taken: every op on every edge
        appears about equally often."""
        tok = self.ctx.table.tokens
        space = self.ctx.table.space
        L, V = space.seq_len, space.vocab_size
        counts = np.zeros((L, V))
        pos = np.arange(L)
        rows: list[int] = []
        for _ in range(n):
            cand = self.uniform_rows(BALANCE_POOL, set(rows))
            if not cand:
                break
            t = tok[np.array(cand)]
            cost = np.where(t >= 0, counts[pos, np.clip(t, 0, None)], 0).sum(axis=1)
            i = int(np.argmin(cost))
            rows.append(cand[i])
            ok = t[i] >= 0
            counts[pos[ok], t[i][ok]] += 1
        return rows

    def first_sample(self, n: int) -> list[int]:
        if self.ctx.config.sample.design == "balanced":
            return self.balanced_rows(n)
        return self.uniform_rows(n)
