"""What a TNAO round queries: beside the swarm's best distinct visits, spaced apart
(``search.pick_spacing``), a few *local* picks (the best-predicted unqueried one-edit
neighbours of the best queried cells: the benchmark's own answers anchor the search where
the predictor is unsure), and, once rounds stop finding better cells, a few *exploration*
picks far from the best queried ones and, later, an *escape*: the local picks climb from a
random cell, as local search restarts; *fill* takes the best-predicted table rows when the
swarm visited too few answerable cells.

Every choice is by the current model's predicted score; ``predicted`` records the score
of each pick (the leaderboard's column and the tau on new labels).
"""

from __future__ import annotations

import numpy as np

from ...benchmarks.base import Arch
from ..cso import RemapScorer, Visit
from ..method import SearchContext
from .sampling import Sampler

FALLBACK_ROWS = 20_000  # table rows scored when the swarm found too few answerable archs
MAXIMIN_POOL = 20  # random candidates per exploration pick
FAR_POOL = 2000  # random candidates scored per round of predicted exploration
FAR_FROM = 10  # predicted exploration keeps away from this many best queried cells
FAR_EDITS = 3  # ... by at least this many ops
POOL_TOP = 500  # best-scored pool cells the spaced picks choose from (search.picks = pool)


class Picker:
    def __init__(
        self,
        ctx: SearchContext,
        rng: np.random.Generator,
        queried: dict[int, float],
        predicted: dict[int, float],
        summary: dict,
        sampler: Sampler,
    ):
        self.ctx, self.rng, self.sampler = ctx, rng, sampler
        self.queried, self.predicted, self.summary = queried, predicted, summary

    def best_queried(self, n: int) -> list[int]:
        return sorted(self.queried, key=lambda r: -self.queried[r])[:n]

    def spaced(self, ranked: list[Visit], k: int) -> list[Visit]:
        """The first ``k`` of the swarm's ``ranked`` visits, skipping any closer than
        ``search.pick_spacing`` tokens to one already taken (topped up in order when too
        few are spaced): the swarm's best visits crowd around the predictor's favourite,
        and unspaced, one wrong guess spends the whole batch."""
        spacing = self.ctx.config.search.pick_spacing
        if spacing <= 1:
            return ranked[:k]
        tok = self.ctx.table.tokens
        out: list[Visit] = []
        for v in ranked:
            if len(out) >= k:
                break
            if all(int((tok[v.row] != tok[u.row]).sum()) >= spacing for u in out):
                out.append(v)
        taken = {v.row for v in out}
        out += [v for v in ranked if v.row not in taken][: k - len(out)]
        return out

    def pool_ranked(self, rows: np.ndarray, scores: np.ndarray, taken: list[int]) -> list[Visit]:
        """The answerable, unqueried pool cells (table ``rows``, -1 where the table lacks
        one) not in ``taken``, best score first (the first ``POOL_TOP``): what the swarm's
        visits approximate, where the pool can be scored whole. ``scores`` of shape
        ``(heads, n)`` (``search.picks = "turns"``): the heads take turns, each adding its
        best cell not yet ranked, so a batch covers where the heads disagree."""
        ok = (rows >= 0) & self.ctx.answerable_rows[np.maximum(rows, 0)]
        ok &= ~np.isin(rows, np.array([*self.queried, *taken], dtype=np.int64))
        idx = np.flatnonzero(ok)
        per_head = np.atleast_2d(scores)
        best = np.argsort(-per_head[:, idx], axis=1, kind="stable")[:, :POOL_TOP]
        _, first = np.unique(best.T.ravel(), return_index=True)  # turn by turn, no repeats
        idx = idx[best.T.ravel()[np.sort(first)][:POOL_TOP]]
        mean = per_head.mean(axis=0)
        table = self.ctx.table
        return [
            Visit(table.arch(int(rows[i])), int(rows[i]), True, float(mean[i]), np.zeros(0))
            for i in idx
        ]

    def neighbours(self, parents: list[int]) -> dict[int, Arch]:
        """The unqueried, answerable one-edit neighbours of ``parents`` (drawn by mutation)."""
        ctx, table, space = self.ctx, self.ctx.table, self.ctx.table.space
        # NB201 has 24 neighbours: 120 draws see nearly all; NB101's graph moves are capped
        n_mut = min(4 * space.seq_len * max(space.vocab_size, 2), 256)
        cand: dict[int, Arch] = {}
        for p in parents:
            a = table.arch(p)
            for _ in range(n_mut):
                m = space.mutate(a, self.rng)
                r = table.index_of(m)
                if r is not None and r not in self.queried and r not in cand and ctx.answerable(r):
                    cand[r] = m
        return cand

    def best_predicted(self, scorer: RemapScorer, cand: dict[int, Arch], k: int) -> list[int]:
        """The ``k`` of ``cand`` the model scores best (their scores recorded)."""
        if k <= 0 or not cand:
            return []
        rows = list(cand)
        _, s = scorer.encode_archs([cand[r] for r in rows])
        best = np.argsort(-s, kind="stable")[:k]
        self.predicted.update({rows[i]: float(s[i]) for i in best})
        return [rows[i] for i in best]

    def local(self, scorer: RemapScorer, k: int) -> list[int]:
        """The ``k`` best-predicted unqueried one-edit neighbours of the best queried
        cells: the swarm follows the predictor's global view, these refine around what
        the benchmark confirmed, so a predictor wrong near the incumbent cannot keep the
        run away from it."""
        if k <= 0:
            return []
        parents = self.best_queried(self.ctx.config.search.local_parents)
        return self.best_predicted(scorer, self.neighbours(parents), k)

    def climb(self, scorer: RemapScorer, at: int, k: int) -> tuple[list[int], int]:
        """The escape's ``k`` picks (``search.escape_after``) and the cell they climb from.

        A run whose labels all come from one basin has a ranker and local picks that keep
        to it; local search leaves such a basin by climbing again from a random cell. So
        does this: the best-predicted unqueried neighbours of the climb's cell ``at``, or,
        with no climb or none left to try there (a local optimum), a random unqueried cell
        and its best-predicted neighbours."""
        if k <= 0:
            return [], at
        if at >= 0:
            picks = self.best_predicted(scorer, self.neighbours([at]), k)
            if picks:
                return picks, at
        start = self.sampler.uniform_rows(1, set(self.queried))
        if not start:
            return [], -1
        s = start[0]
        cand = {r: a for r, a in self.neighbours([s]).items() if r != s}
        _, score = scorer.encode_archs([self.ctx.table.arch(s)])
        self.predicted[s] = float(score[0])
        self.summary["climbs"] = self.summary.get("climbs", 0) + 1
        return [s, *self.best_predicted(scorer, cand, k - 1)], s

    def climbed(self, at: int, picks: list[int]) -> int:
        """Where the climb stands after its picks were queried: the best of its cell and
        them (its cell again when none is better: its other neighbours are next)."""
        seen = [r for r in [at, *picks] if r >= 0 and r in self.queried]
        return max(seen, key=lambda r: self.queried[r]) if seen else -1

    def explore(self, scorer: RemapScorer, k: int, taken: list[int]) -> list[int]:
        """``k`` unqueried cells far from the queried ones (``search.explore``). A run stuck
        in one basin has labels from that basin only, and a ranker fitted to them cannot
        see another: these labels widen its view."""
        if k <= 0:
            return []
        known = list(self.queried) + list(taken)
        if self.ctx.config.search.explore == "predicted":
            return self.far_predicted(scorer, k, known)
        return self.maximin(scorer, k, known)

    def maximin(self, scorer: RemapScorer, k: int, known: list[int]) -> list[int]:
        """Each pick the random candidate farthest (token Hamming distance) from
        everything queried and picked; ties go to the earlier (random) candidate."""
        table = self.ctx.table
        cand = self.sampler.uniform_rows(MAXIMIN_POOL * k, set(known), max_tries=1000 * k)
        if not cand:
            return []
        tok = table.tokens[np.array(cand)]
        ref = table.tokens[np.array(known)]
        dmin = (tok[:, None, :] != ref[None, :, :]).sum(axis=2).min(axis=1)
        out = []
        for _ in range(min(k, len(cand))):
            i = int(np.argmax(dmin))
            out.append(cand[i])
            dmin = np.minimum(dmin, (tok != tok[i]).sum(axis=1))
            dmin[i] = -1
        _, s = scorer.encode_archs([table.arch(r) for r in out])
        self.predicted.update({r: float(v) for r, v in zip(out, s, strict=True)})
        self.summary["explored"] = self.summary.get("explored", 0) + len(out)
        return out

    def far_predicted(self, scorer: RemapScorer, k: int, known: list[int]) -> list[int]:
        """The ``k`` best-predicted of ``FAR_POOL`` random unqueried rows at least
        ``FAR_EDITS`` ops from each of the ``FAR_FROM`` best queried ones, spaced apart as
        the swarm's picks are. Random far cells mostly teach the ranker what is bad;
        these test where it sees another good region beside the incumbents'."""
        table = self.ctx.table
        tok = table.tokens
        top = self.best_queried(FAR_FROM)
        cand = self.sampler.uniform_rows(FAR_POOL, set(known), max_tries=10 * FAR_POOL)
        if not cand:
            return []
        t = tok[np.array(cand)]
        d = (t[:, None, :] != tok[np.array(top)][None]).sum(axis=2).min(axis=1)
        cand = [r for r, di in zip(cand, d, strict=True) if di >= FAR_EDITS]
        if not cand:
            return []
        _, s = scorer.encode_archs([table.arch(r) for r in cand])
        out: list[int] = []
        spacing = self.ctx.config.search.pick_spacing  # the same knob as the swarm's picks
        for i in np.argsort(-s, kind="stable"):
            if len(out) >= k:
                break
            if all(int((tok[cand[i]] != tok[u]).sum()) >= spacing for u in out):
                out.append(cand[i])
                self.predicted[cand[i]] = float(s[i])
        self.summary["explored"] = self.summary.get("explored", 0) + len(out)
        return out

    def complete(
        self, picks: list[int], q: int, scorer: RemapScorer, ranked: list[Visit]
    ) -> tuple[int, int]:
        """``picks`` topped up to ``q`` in place: the spaced best of ``ranked`` (the
        swarm's visits or the pool's cells), then ``fill``. Returns how many of the
        scorer's visits the table could not answer, and how many picks ``fill`` added."""
        skipped = sum(1 for v in scorer.visits.values() if v.row is None or not v.answerable)
        taken = set(picks)
        open_ = [
            v
            for v in ranked
            if v.row is not None
            and v.answerable
            and v.row not in self.queried
            and v.row not in taken
        ]
        for v in self.spaced(open_, max(q - len(picks), 0)):
            assert v.row is not None
            picks.append(v.row)
            self.predicted[v.row] = v.score
        filled = self.fill(picks, q, scorer)
        self.summary["skipped_unanswerable"] += skipped
        self.summary["filled_from_pool"] += filled
        return skipped, filled

    def fill(self, picks: list[int], q: int, scorer: RemapScorer) -> int:
        """Too few answerable distinct cells visited: append the best-predicted unqueried
        answerable table rows (which cells a table covers costs no query). Returns how
        many were added."""
        if len(picks) >= q:
            return 0
        table = self.ctx.table
        rows = np.arange(len(table))
        if len(rows) > FALLBACK_ROWS:
            rows = np.sort(self.rng.choice(rows, FALLBACK_ROWS, replace=False))
        cand = [
            int(r)
            for r in rows
            if (table.tokens[r] >= 0).all()
            and self.ctx.answerable(int(r))
            and int(r) not in self.queried
            and int(r) not in picks
        ]
        if not cand:
            return 0
        _, s = scorer.encode_archs([table.arch(r) for r in cand])
        n0 = len(picks)
        for i in np.argsort(-s, kind="stable")[: q - n0]:
            picks.append(cand[i])
            self.predicted[cand[i]] = float(s[i])
        return len(picks) - n0
