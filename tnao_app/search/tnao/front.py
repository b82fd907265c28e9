"""TNAO's picks for a front of the signal against one cost (``goal.front_picks = "hvi"``).

When a run's objectives are the search signal and one cost column (``valid,-flops``),
the cost of every cell is known without a query: only the signal is unknown. TNAO then
trains its ranker on the signal alone, exactly as in a single-objective run (no
scalarisation to relearn each round), and chooses a round's queries by predicted
*hypervolume improvement*:

1. the ranker's scores are mapped to the signal's scale by an isotonic (monotone) fit to
   the queried cells' (score, signal) pairs, so every unqueried cell has an estimated
   signal and its known cost: a point beside the queried front;
2. the batch is chosen greedily: the cell whose estimated point adds most hypervolume to
   the queried front, then the next against the front with the first added (a
   *fantasy*: its estimate stands in for the answer), and so on. A pick covers its cost
   range, so the next is drawn to another;
3. when no cell is predicted to add any, the next goes to the cell whose estimate is
   closest below the front at its cost (most likely to reach it if the estimate is low).

As TNAO's single-objective rounds do, the first ``goal.front_local`` picks of a round come
from the one-edit neighbours of the queried front's cells (the benchmark's own answers
anchor the search where the ranker is unsure), the rest from the whole pool.

Normalisation uses paid-for values only: each coordinate is scaled to the queried front's
range, and the reference point lies 10% of that range beyond its worst corner (as the
result's hypervolume does against the table's true front, which no method may see).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...objectives import Goal
from ..method import SearchContext
from .sampling import table_pool_rows

REF_MARGIN = 0.1  # the reference point beyond the queried front's worst, in front ranges
TIE = 1e-9  # within a plateau of the isotonic fit, the higher score first


def handles(goal: Goal | None) -> bool:
    """The goal is the signal, maximised, against one cost column (known up front)."""
    if goal is None or len(goal.objectives) != 2:
        return False
    sig, cost = goal.objectives
    return sig.metric == goal.spec.signal and sig.maximise and goal.is_known(cost.metric)


def isotonic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The non-decreasing least-squares fit of ``y`` on ``x`` (pool adjacent violators),
    as knots: each block's mean ``x`` and its fitted value, ``x`` increasing."""
    # equal scores start as one block (their mean label), so the fit does not depend on
    # the order the cells were queried in
    ux, inv, counts = np.unique(
        np.asarray(x, dtype=np.float64), return_inverse=True, return_counts=True
    )
    ysum = np.bincount(inv, weights=np.asarray(y, dtype=np.float64), minlength=len(ux))
    vals: list[float] = []  # block means of y
    wts: list[int] = []
    xsum: list[float] = []
    for xi, yi, ci in zip(ux, ysum, counts, strict=True):
        vals.append(float(yi / ci))
        wts.append(int(ci))
        xsum.append(float(xi * ci))
        while len(vals) > 1 and vals[-2] > vals[-1]:
            w = wts[-2] + wts[-1]
            vals[-2] = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / w
            xsum[-2] += xsum[-1]
            wts[-2] = w
            del vals[-1], wts[-1], xsum[-1]
    kx = np.array(xsum) / np.array(wts)
    return kx, np.array(vals)


def estimate(scores: np.ndarray, q_scores: np.ndarray, q_signal: np.ndarray) -> np.ndarray:
    """The signal the ranker's ``scores`` stand for: the isotonic fit on the queried
    cells, linear between its knots and flat beyond them, plus a tie-break by score."""
    kx, ky = isotonic(q_scores, q_signal)
    if len(kx) == 1:
        est = np.full(len(scores), ky[0])
    else:
        est = np.interp(scores, kx, ky)
    return est + TIE * (scores - scores.mean())


def hv_gain_2d(front: np.ndarray, cand: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Hypervolume each candidate point adds to ``front`` (2-D, both maximised, above
    ``ref``), all candidates at once: the candidate's box above the front's staircase."""
    a, b = cand[:, 0], cand[:, 1]
    f = front[np.argsort(-front[:, 0], kind="stable")] if len(front) else front
    # the staircase: right of the first point nothing (height ref); between point j and
    # j+1 the height is point j's (best b among points at least as far right)
    uppers = np.concatenate([[np.inf], f[:, 0]])
    lowers = np.maximum(np.concatenate([f[:, 0], [ref[0]]]), ref[0])
    heights = np.concatenate([[ref[1]], np.maximum.accumulate(f[:, 1]) if len(f) else []])
    heights = np.maximum(heights, ref[1])  # a front point below the reference adds nothing
    width = np.clip(np.minimum(a[:, None], uppers[None]) - lowers[None], 0.0, None)
    height = np.clip(b[:, None] - heights[None], 0.0, None)
    return (width * height).sum(axis=1)


def gap_below(front: np.ndarray, cand: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """How far each candidate's ``b`` lies below the front's height at its ``a`` (0 for
    one on or above it)."""
    if not len(front):
        return np.zeros(len(cand))
    a, b = cand[:, 0], cand[:, 1]
    covers = front[None, :, 0] >= a[:, None]  # front points at least as far right
    h = np.where(covers, front[None, :, 1], -np.inf).max(axis=1)
    h = np.where(np.isfinite(h), h, ref[1])
    return np.clip(h - b, 0.0, None)


def choose(
    goal: Goal,
    queried: dict[int, float],
    q_scores: np.ndarray,
    rows: np.ndarray,
    scores: np.ndarray,
    quota: list[tuple[np.ndarray | None, int]],
) -> list[int]:
    """Picks among the candidate ``rows`` (unqueried, answerable; the ranker's
    ``scores``) by greedy predicted hypervolume gain: for each ``(mask, k)`` of
    ``quota`` in turn, ``k`` of the candidates in ``mask`` (``None``: all), every pick a
    fantasy on the front for the next. ``q_scores``: the ranker's scores of the
    ``queried`` rows, in their order."""
    if not len(rows):
        return []
    qrows = np.array(list(queried), dtype=np.int64)
    qsig = np.array([queried[int(r)] for r in qrows])
    cost = goal.gains(goal.objectives[1], np.concatenate([qrows, rows]))
    qa, ca = cost[: len(qrows)], cost[len(qrows) :]
    cb = estimate(np.asarray(scores, dtype=np.float64), np.asarray(q_scores), qsig)
    # scale to the queried front (paid-for values only)
    qpts = np.stack([qa, qsig], axis=1)
    fpts = qpts[_front_mask(qpts)]
    lo, hi = fpts.min(axis=0), fpts.max(axis=0)
    span = np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0))
    front = (fpts - lo) / span
    cand = (np.stack([ca, cb], axis=1) - lo) / span
    ref = np.full(2, -REF_MARGIN)
    out: list[int] = []
    free = np.ones(len(rows), dtype=bool)
    short = 0  # a group's picks it had no candidates for go to the next group
    for mask, k in quota:
        allowed = free.copy() if mask is None else free & mask
        n, k = 0, k + short
        while n < k and allowed.any():
            gain = np.where(allowed, hv_gain_2d(front, cand, ref), -1.0)
            i = int(np.argmax(gain))
            if gain[i] <= 0.0:  # nothing predicted to add: the nearest below the front
                gap = np.where(allowed, gap_below(front, cand, ref), np.inf)
                i = int(np.lexsort((-cand[:, 1], gap))[0])  # ties: the higher estimate
            out.append(int(rows[i]))
            free[i] = allowed[i] = False
            front = np.vstack([front, cand[i]])
            front = front[_front_mask(front)]
            n += 1
        short = k - n
    return out


def round_picks(
    ctx: SearchContext,
    pool: np.ndarray,
    pool_rows: np.ndarray,
    s_pool: np.ndarray,
    queried: dict[int, float],
    score_rows: Callable[[list[int]], np.ndarray],
    q: int,
    n_local: int,
) -> dict[int, float] | None:
    """A round's ``q`` picks among the answerable, unqueried cells of the pool (tokens
    ``pool``, table rows ``pool_rows`` (-1: not in the table), the ranker's ``s_pool``):
    ``n_local`` among the one-edit neighbours of the queried front, the rest anywhere.
    ``score_rows`` scores queried rows the pool lacks. Returns each pick (in order) with
    its score; ``None`` where no candidate is left."""
    goal = ctx.goal
    assert goal is not None
    at = {int(r): i for i, r in enumerate(pool_rows) if r >= 0}
    qrows = list(queried)
    q_scores = np.array([s_pool[at[r]] if r in at else np.nan for r in qrows])
    miss = np.flatnonzero(np.isnan(q_scores))
    if len(miss):  # a queried cell outside a sampled pool: score it directly
        q_scores[miss] = score_rows([qrows[i] for i in miss])
    ok = (pool_rows >= 0) & ctx.answerable_rows[np.maximum(pool_rows, 0)]
    ok &= ~np.isin(pool_rows, np.array(qrows, dtype=np.int64))
    if not ok.any():
        return None
    on_front = ctx.table.tokens[np.array(goal.front(qrows))]
    cand = pool[ok]
    near = np.zeros(len(cand), dtype=bool)
    for t in on_front:  # one-edit neighbours of the queried front
        near |= (cand != t[None]).sum(axis=1) == 1
    k_local = min(n_local, q)
    quota = [(near, k_local), (None, q - k_local)]
    picks = choose(goal, queried, q_scores, pool_rows[ok], s_pool[ok], quota)
    return {r: float(s_pool[at[r]]) for r in picks}


def pool_table_rows(ctx: SearchContext, pool: np.ndarray) -> np.ndarray:
    """The table row of each pool cell (-1: not in the table); a partial table's pool is
    its own rows."""
    part = table_pool_rows(ctx)
    return np.asarray(part, dtype=np.int64) if part is not None else ctx.rows_of(pool)


def _front_mask(points: np.ndarray) -> np.ndarray:
    from ...pareto import non_dominated

    return non_dominated(points)
