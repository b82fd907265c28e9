"""TNAO: sample -> train -> search -> evaluate, optionally in several rounds.

Round 0 samples ``n_labelled`` architectures from the whole space (uniform draws, kept so
that every op sits on every edge about equally often: ``sample.design``) and queries
them; every round then trains (round 0: from scratch; later rounds: fine-tunes on all
labels so far), searches the latent space with CSO under the remapping scoring scheme, and
queries the best distinct decoded architectures the swarm visited that the table can
answer (spaced apart, ``search.pick_spacing``), beside a few one-edit neighbours of the
best queried ones (local picks) and, once rounds stop finding better ones, a few
best-predicted ones far from the best queried (exploration).
``rounds=1`` is the paper's single pass.

Everything the run needs to continue sits in one state dict, checkpointed after the sample,
after every epoch, every generation and every evaluate step; ``ctx.resume`` restores it, so
an interrupted run ends exactly as an uninterrupted one with the same seed.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch

from ..events import (
    Generation,
    Leaderboard,
    LeaderRow,
    Progress,
    Queried,
    Sampled,
    StageFinished,
    StageStarted,
)
from ..model import ModelShape, TNAOModel
from ..train import EpochStats, Trainer, rank_corr
from .base import SearchContext, SearchMethod, _ignore
from .cso import CSO, RemapScorer

ENUMERATE_MAX = 100_000  # spaces up to this size train reconstruction on every cell
DEFAULT_UNLABELLED = 20_000
FALLBACK_ROWS = 20_000  # table rows scored when the swarm found too few answerable archs
MAXIMIN_POOL = 20  # random candidates per exploration pick
BALANCE_POOL = 16  # random candidates per pick of a balanced first sample
FAR_POOL = 2000  # random candidates scored per round of predicted exploration
FAR_FROM = 10  # predicted exploration keeps away from this many best queried cells
FAR_EDITS = 3  # ... by at least this many ops


class TNAOSearch(SearchMethod):
    name = "tnao"
    search_stage = "search"

    def __init__(self, ctx: SearchContext):
        super().__init__(ctx)
        self.cfg = ctx.config
        self.space = ctx.table.space
        self.predicted: dict[int, float] = {}  # row -> latest predicted score (leaderboard)
        self.summary: dict = {"skipped_unanswerable": 0, "filled_from_pool": 0, "rounds": 0}
        self._saved: tuple[str, float] = ("", -math.inf)  # stage and time of the last checkpoint

    # -- building blocks -------------------------------------------------------------
    def _pool(self) -> np.ndarray:
        """Tokens of the free reconstruction pool (deterministic per seed; no queries)."""
        n = self.cfg.sample.n_unlabelled
        enum = getattr(self.space, "enumerate", None)
        if n == 0 and enum is not None and len(self.ctx.table) <= ENUMERATE_MAX:
            archs = enum()
        else:
            rng = np.random.default_rng([self.cfg.run.seed, 1])
            seen: dict[str, object] = {}
            for _ in range((n or DEFAULT_UNLABELLED) * 2):
                a = self.space.sample(rng)
                seen.setdefault(self.space.canonical_id(a), a)
                if len(seen) >= (n or DEFAULT_UNLABELLED):
                    break
            archs = list(seen.values())
        return np.stack([self.space.to_tokens(a) for a in archs]).astype(np.int64)

    def _model(self, seed: int | None = None) -> TNAOModel:
        m = self.cfg.model
        torch.manual_seed(self.cfg.run.seed if seed is None else seed)
        shape = ModelShape(
            self.space.seq_len,
            self.space.vocab_size,
            m.d_model,
            m.n_heads,
            m.n_layers,
            m.d_latent,
            m.dropout,
            m.n_predictors,
        )
        rel = self.space.token_relations() if m.graph_attention else None
        return TNAOModel(shape, rel)

    def _labelled(self) -> tuple[list[int], np.ndarray, np.ndarray]:
        rows = list(self.ctx.oracle.queried)
        x = np.stack([self.ctx.table.tokens[r] for r in rows]).astype(np.int64)
        y = np.array([self.ctx.oracle.queried[r] for r in rows], dtype=np.float64)
        return rows, x, y

    def _query(self, rows: list[int]) -> None:
        o = self.ctx.oracle
        for r in rows:
            if o.exhausted:
                break
            new = r not in o.queried
            v = o.query(r)
            if new:
                self.ctx.emit(Queried(self.ctx.table.native(r), v, o.n_queries, o.budget or 0))

    def _snapshot(self, st: dict) -> dict:
        """A deep copy of the run state plus every RNG, for ``ctx.checkpoint``."""
        out = copy.deepcopy({k: v for k, v in st.items() if k != "trainer"})
        out["rng"] = copy.deepcopy(self.rng.bit_generator.state)
        out["queried"] = list(self.ctx.oracle.queried.items())
        out["predicted"] = dict(self.predicted)
        out["summary"] = dict(self.summary)
        out["trainer"] = self.trainer.state_dict() if self.trainer is not None else None
        return out

    def _save(self, stage: str, step: int, st: dict, force: bool = False) -> None:
        """Checkpoint at the first step of each stage, after queries (``force``), and
        otherwise at most every ``run.checkpoint_every`` seconds: a snapshot and its fsync
        cost more than a generation (measured: a quarter of a default CPU run). A stop or
        crash then redoes at most that much work, and a resume still ends exactly as an
        uninterrupted run, since every checkpoint holds the whole state."""
        if self.ctx.checkpoint is _ignore:  # snapshots cost copies: only when kept
            return
        now = time.monotonic()
        recent = now - self._saved[1] < self.cfg.run.checkpoint_every
        if not force and stage == self._saved[0] and recent:
            return
        self.ctx.checkpoint(stage, step, self._snapshot(st))
        self._saved = (stage, time.monotonic())

    def _quota(self, rnd: int) -> int:
        o, c = self.ctx.oracle, self.cfg.search
        left = (o.budget or 0) - o.n_queries
        if c.top_k and rnd < c.rounds - 1:
            # A fixed batch per round: the first B queries of a run do not depend on its
            # budget, so one run serves every smaller budget (tnao experiment uses this).
            return min(c.top_k, left)
        return math.ceil(left / max(c.rounds - rnd, 1))

    # -- the run ---------------------------------------------------------------------
    def run(self) -> None:
        ctx = self.ctx
        self.pool = self._pool()
        self.trainer: Trainer | None = None
        if ctx.resume:
            st = self._restore(ctx.resume["state"])
        else:
            st = {"round": 0, "phase": "sample", "swarm": None, "scorer": None}
        while st["phase"] != "done":
            ctx.check_stop()
            phase = st["phase"]
            if phase == "sample":
                self._sample(st)
            elif phase == "train":
                self._train(st)
            elif phase == "search":
                self._search(st)
            elif phase == "evaluate":
                self._evaluate(st)
        self.summary["rounds"] = st["round"]

    def _restore(self, state: dict) -> dict:
        o = self.ctx.oracle
        o.queried = dict((int(r), float(v)) for r, v in state["queried"])
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.predicted = dict(state["predicted"])
        self.summary = dict(state["summary"])
        if state["trainer"] is not None:
            self.trainer = self._new_trainer()
            self.trainer.load_state_dict(state["trainer"])
        return {
            k: copy.deepcopy(v)
            for k, v in state.items()
            if k not in ("rng", "queried", "predicted", "summary", "trainer")
        }

    def _new_trainer(self, seed: int | None = None) -> Trainer:
        ctx = self.ctx
        seed = self.cfg.run.seed if seed is None else seed

        def on_batch(done: int, total: int, loss: float) -> None:
            ctx.emit(Progress("train", done, total, f"loss {loss:.4f}"))

        return Trainer(
            self._model(seed),
            self.cfg.train,
            device=ctx.device,
            seed=seed,
            on_batch=on_batch,
            on_epoch=None,
            should_stop=ctx.should_stop,
        )

    def _sample(self, st: dict) -> None:
        ctx, o, t0 = self.ctx, self.ctx.oracle, time.perf_counter()
        ctx.emit(StageStarted("sample", 0))
        n = min(self.cfg.sample.n_labelled, o.budget or self.cfg.sample.n_labelled)
        if self.cfg.sample.design == "balanced":
            rows = self._balanced_rows(n)
        else:
            rows = self._uniform_rows(n)
        self._query(rows)
        ctx.emit(
            Sampled(tuple(ctx.table.native(r) for r in rows), tuple(o.queried[r] for r in rows))
        )
        ctx.emit(
            StageFinished(
                "sample",
                time.perf_counter() - t0,
                {"sampled": len(rows), "queries": o.n_queries},
                0,
            )
        )
        st["phase"] = "train"
        self._save("sample", 0, st, force=True)

    def _uniform_rows(
        self, n: int, exclude: set[int] = frozenset(), max_tries: int | None = None
    ) -> list[int]:
        """Up to ``n`` distinct rows drawn uniformly from the space, none in ``exclude``;
        architectures the table cannot answer are skipped (and counted)."""
        o, table = self.ctx.oracle, self.ctx.table
        rows: list[int] = []
        seen = set(exclude)
        for _ in range(1000 * n if max_tries is None else max_tries):
            if len(rows) >= n:
                break
            r = table.index_of(self.space.sample(self.rng))
            if not o.answerable(r):
                self.summary["skipped_unanswerable"] += 1
                continue
            if r not in seen:
                seen.add(r)
                rows.append(r)
        return rows

    def _balanced_rows(self, n: int) -> list[int]:
        """``n`` distinct rows, each the one among ``BALANCE_POOL`` uniform candidates whose
        tokens are rarest among those already taken: every op on every edge appears about
        equally often, so the first model does not miss one by chance."""
        tok = self.ctx.table.tokens
        L, V = self.space.seq_len, self.space.vocab_size
        counts = np.zeros((L, V))
        pos = np.arange(L)
        rows: list[int] = []
        for _ in range(n):
            cand = self._uniform_rows(BALANCE_POOL, set(rows))
            if not cand:
                break
            t = tok[np.array(cand)]
            cost = np.where(t >= 0, counts[pos, np.clip(t, 0, None)], 0).sum(axis=1)
            i = int(np.argmin(cost))
            rows.append(cand[i])
            ok = t[i] >= 0
            counts[pos[ok], t[i][ok]] += 1
        return rows

    def _train(self, st: dict) -> None:
        ctx, tc, rnd = self.ctx, self.cfg.train, st["round"]
        t0 = time.perf_counter()
        ctx.emit(StageStarted("train", rnd))
        if tc.restart_after and st.get("stall", 0) >= tc.restart_after:
            # Fine-tuning keeps the latent order the first labels gave; when the queries stop
            # finding better architectures, a model trained afresh on every label so far
            # (new weights, new seed) can see another basin.
            self.trainer = self._new_trainer(seed=self.cfg.run.seed + 1000 * rnd)
            st["stall"] = 0
            st["base_round"] = rnd
        if self.trainer is None:
            self.trainer = self._new_trainer()
        base = st.get("base_round", 0)
        target = tc.epochs + (rnd - base) * tc.finetune_epochs
        if st.pop("fresh_round", False):
            self.trainer.begin_round()  # a fresh early-stopping record for this round
        _, x, y = self._labelled()
        pool = np.concatenate([self.pool, x])

        def on_epoch(s: EpochStats) -> None:
            ctx.emit(_epoch_event(s, ctx.device, rnd))
            self._save("train", s.epoch, st)

        self.trainer.on_epoch = on_epoch
        fresh = rnd == base
        # Round 0 trains on the whole pool per epoch; later rounds see finetune_batches of it
        # per epoch, a restarted model too (measured on NB201 cifar10, seeds 0-29: optimum
        # found 26/30 and 27/30 at budgets 100/150, against 26/28 with whole epochs)
        last = self.trainer.fit(
            pool,
            x,
            y,
            target,
            split_seed=self.cfg.run.seed + rnd,
            max_batches=tc.finetune_batches if rnd else 0,
        )
        st["phase"] = "search"
        st["swarm"] = st["scorer"] = None
        summary = {
            "labels": len(y),
            "epochs": self.trainer.epoch,
            "restarted": bool(fresh and rnd > 0),
        }
        if last is not None:
            summary.update(val_tau=last.val_tau, train_tau=last.train_tau, loss=last.loss_total)
        ctx.emit(StageFinished("train", time.perf_counter() - t0, summary, rnd))

    # -- search ----------------------------------------------------------------------
    def _pool_latents(self, scorer: RemapScorer) -> tuple[np.ndarray, np.ndarray]:
        """Latents and predicted scores of the whole reconstruction pool."""
        zs, ss = [], []
        model, dev = self.trainer.model, self.ctx.device
        model.eval()
        with torch.no_grad():
            for i in range(0, len(self.pool), 4096):
                t = torch.as_tensor(self.pool[i : i + 4096], device=dev)
                z = model.encode(t)
                zs.append(z.float().cpu().numpy())
                ss.append(model.predict(z).float().cpu().numpy())
        return np.concatenate(zs).astype(np.float64), np.concatenate(ss).astype(np.float64)

    def _setup_search(self, st: dict) -> tuple[RemapScorer, np.ndarray, np.ndarray, np.ndarray]:
        scorer = RemapScorer(
            self.trainer.model, self.space, self.ctx.table, self.ctx.oracle, self.ctx.device
        )
        z_pool, s_pool = self._pool_latents(scorer)
        lo, hi = z_pool.min(axis=0), z_pool.max(axis=0)
        return scorer, z_pool, s_pool, (lo, hi)

    def _start_points(self, z_pool, s_pool, n: int) -> np.ndarray:
        """Where the swarm starts: the best latents (by the predictor over the pool, or by
        signal over the labelled set) plus noise scaled to the latent box."""
        c = self.cfg.search
        span = z_pool.max(axis=0) - z_pool.min(axis=0)
        if c.init == "labelled":
            rows, x, y = self._labelled()
            z_lab, _ = RemapScorer(
                self.trainer.model, self.space, self.ctx.table, self.ctx.oracle, self.ctx.device
            ).encode_archs([self.space.from_tokens(t.tolist()) for t in x])
            order = np.argsort(-y, kind="stable")
            base = z_lab[order[np.arange(n) % len(order)]]
        else:
            order = np.argsort(-s_pool, kind="stable")
            base = z_pool[order[np.arange(n) % len(order)]]
        return base + self.rng.normal(size=base.shape) * c.init_noise * span

    def _search(self, st: dict) -> None:
        ctx, c, rnd = self.ctx, self.cfg.search, st["round"]
        t0 = time.perf_counter()
        ctx.emit(StageStarted(self.search_stage, rnd))
        scorer, z_pool, s_pool, (lo, hi) = self._setup_search(st)
        span = hi - lo
        order = np.argsort(-s_pool, kind="stable")
        cursor = {"i": c.particles}

        def restart_points(n: int) -> np.ndarray:
            # Next-best pool latents the swarm has not started from, plus noise.
            idx = order[(cursor["i"] + np.arange(n)) % len(order)]
            cursor["i"] += n
            return z_pool[idx] + self.rng.normal(size=(n, z_pool.shape[1])) * c.init_noise * span

        swarm = CSO(
            scorer,
            lo,
            hi,
            self.rng,
            phi=c.phi,
            remap=c.remap,
            restart_patience=c.restart_patience,
            restart_points=restart_points,
        )
        if st["swarm"] is not None:
            scorer.load_state_dict(st["scorer"])
            swarm.load_state_dict(st["swarm"])
            cursor["i"] = st["cursor"]
        else:
            swarm.start(self._start_points(z_pool, s_pool, c.particles))
        while swarm.gen < c.generations:
            ctx.check_stop()
            swarm.step()
            ctx.emit(
                Generation(
                    swarm.gen,
                    c.generations,
                    swarm.best_f,
                    float(swarm.f.mean()),
                    len(scorer.visits),
                    rnd,
                )
            )
            ctx.emit(self._live_leaderboard(scorer))
            st["swarm"], st["scorer"] = swarm.state_dict(), scorer.state_dict()
            st["cursor"] = cursor["i"]
            self._save("search", rnd * c.generations + swarm.gen, st)
        st["scorer"] = scorer.state_dict()
        st["pool_best"] = float(s_pool.max()) if len(s_pool) else float("nan")
        st["phase"] = "evaluate"
        ctx.emit(
            StageFinished(
                self.search_stage,
                time.perf_counter() - t0,
                {
                    "distinct": len(scorer.visits),
                    "best_score": swarm.best_f,
                    "restarts": swarm.restarts,
                    "pool_best_score": st["pool_best"],
                },
                rnd,
            )
        )

    def _live_leaderboard(self, scorer: RemapScorer, k: int = 10) -> Leaderboard:
        """The swarm's best distinct architectures so far, with what is known of them
        (valid/test only once queried), so a UI can show the search as it goes."""
        o, table = self.ctx.oracle, self.ctx.table
        rows = []
        for rank, v in enumerate(scorer.ranked()[:k], start=1):
            known = v.row is not None and v.row in o.queried
            test = o.report(v.row) if known else float("nan")
            rows.append(
                LeaderRow(
                    rank,
                    table.space.to_native(v.arch),
                    float(v.score),
                    o.queried[v.row] if known else float("nan"),
                    test,
                    table.rank_of(test, o.spec.report)[1] if known else float("nan"),
                )
            )
        return Leaderboard(tuple(rows))

    # -- evaluate --------------------------------------------------------------------
    def _evaluate(self, st: dict) -> None:
        ctx, o, rnd = self.ctx, self.ctx.oracle, st["round"]
        t0 = time.perf_counter()
        ctx.emit(StageStarted("evaluate", rnd))
        scorer = RemapScorer(self.trainer.model, self.space, ctx.table, o, ctx.device)
        scorer.load_state_dict(st["scorer"])
        q = self._quota(rnd)
        c = self.cfg.search
        picks = self._local_picks(scorer, min(c.local_k, q))
        if c.explore_k and st.get("stale", 0) >= c.explore_after:
            picks += self._explore_picks(scorer, min(c.explore_k, q - len(picks)), picks)
        skipped = sum(1 for v in scorer.visits.values() if v.row is None or not v.answerable)
        open_ = [
            v
            for v in scorer.ranked()
            if v.row is not None and v.answerable and v.row not in o.queried and v.row not in picks
        ]
        chosen = self._spaced(open_, max(q - len(picks), 0))
        for v in chosen:
            picks.append(v.row)
            self.predicted[v.row] = v.score
        filled = self._fill(picks, q, scorer)
        self.summary["skipped_unanswerable"] += skipped
        self.summary["filled_from_pool"] += filled
        # Honest check of the predictor that chose them: tau on the new, unseen labels.
        before, best_before = o.n_queries, max(o.queried.values())
        self._query(picks)
        # rounds in a row whose queries beat nothing already found (see train.restart_after)
        improved = max(o.queried.values()) > best_before
        st["stall"] = 0 if improved else st.get("stall", 0) + 1
        st["stale"] = 0 if improved else st.get("stale", 0) + 1  # not reset by a restart
        got = [r for r in picks if r in o.queried]
        tau, _ = rank_corr(
            np.array([self.predicted[r] for r in got]), np.array([o.queried[r] for r in got])
        )
        self._refresh_predictions(scorer)
        st["round"] = rnd + 1
        more = not o.exhausted and st["round"] < self.cfg.search.rounds
        st["phase"] = "train" if more else "done"
        st["fresh_round"] = more
        st["swarm"] = st["scorer"] = None
        ctx.emit(
            StageFinished(
                "evaluate",
                time.perf_counter() - t0,
                {
                    "queried": o.n_queries - before,
                    "queries": o.n_queries,
                    "skipped_unanswerable": skipped,
                    "filled_from_pool": filled,
                    "tau_on_new": tau,
                    "best_signal": max(o.queried.values()),
                },
                rnd,
            )
        )
        self._save("evaluate", rnd, st, force=True)

    def _spaced(self, ranked: list, k: int) -> list:
        """The first ``k`` of the swarm's ``ranked`` visits, skipping any closer than
        ``search.pick_spacing`` tokens to one already taken (topped up in order when too
        few are spaced). The swarm's best visits crowd around the predictor's favourite:
        unspaced, one wrong guess spends the whole batch (measured on NB201: see README)."""
        spacing = self.cfg.search.pick_spacing
        if spacing <= 1:
            return ranked[:k]
        tok = self.ctx.table.tokens
        out: list = []
        for v in ranked:
            if len(out) >= k:
                break
            if all(int((tok[v.row] != tok[u.row]).sum()) >= spacing for u in out):
                out.append(v)
        taken = {v.row for v in out}
        out += [v for v in ranked if v.row not in taken][: k - len(out)]
        return out

    def _local_picks(self, scorer: RemapScorer, k: int) -> list[int]:
        """The ``k`` best-predicted unqueried one-edit neighbours of the best queried
        architectures. The swarm follows the predictor's global view; these picks refine
        around what the benchmark confirmed, so a predictor that is wrong near the
        incumbent cannot keep the run away from it (measured on NB201: see README)."""
        if k <= 0:
            return []
        o, table, space = self.ctx.oracle, self.ctx.table, self.space
        parents = sorted(o.queried, key=lambda r: -o.queried[r])[: self.cfg.search.local_parents]
        # NB201 has 24 neighbours: 120 draws see nearly all; NB101's graph moves are capped
        n_mut = min(4 * space.seq_len * max(space.vocab_size, 2), 256)
        cand: dict[int, object] = {}
        for p in parents:
            a = table.arch(p)
            for _ in range(n_mut):
                m = space.mutate(a, self.rng)
                r = table.index_of(m)
                if r is not None and r not in o.queried and r not in cand and o.answerable(r):
                    cand[r] = m
        if not cand:
            return []
        rows = list(cand)
        _, s = scorer.encode_archs([cand[r] for r in rows])
        best = np.argsort(-s, kind="stable")[:k]
        self.predicted.update({rows[i]: float(s[i]) for i in best})
        return [rows[i] for i in best]

    def _explore_picks(self, scorer: RemapScorer, k: int, taken: list[int]) -> list[int]:
        """``k`` unqueried architectures far from the queried ones (``search.explore``).
        A run stuck around one basin has labels from that basin only, and a ranker fitted
        to them cannot see another: these labels widen its view. "maximin": each pick the
        random candidate farthest (token Hamming distance) from every queried one."""
        if k <= 0:
            return []
        o, table = self.ctx.oracle, self.ctx.table
        known = list(o.queried) + list(taken)
        if self.cfg.search.explore == "predicted":
            return self._far_predicted(scorer, k, known)
        cand = self._uniform_rows(MAXIMIN_POOL * k, set(known), max_tries=1000 * k)
        if not cand:
            return []
        # maximin: each next pick the farthest (token Hamming distance) from everything
        # queried and picked; ties go to the earlier (random) candidate
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

    def _far_predicted(self, scorer: RemapScorer, k: int, known: list[int]) -> list[int]:
        """The ``k`` best-predicted of ``FAR_POOL`` random unqueried rows at least
        ``FAR_EDITS`` ops from each of the ``FAR_FROM`` best queried ones, spaced apart as
        the swarm's picks are (``search.pick_spacing``).
        Random far cells mostly teach the ranker what is bad; these test where it sees
        another good region beside the incumbents' (measured on NB201: see README)."""
        o, table = self.ctx.oracle, self.ctx.table
        tok = table.tokens
        top = sorted(o.queried, key=lambda r: -o.queried[r])[:FAR_FROM]
        cand = self._uniform_rows(FAR_POOL, set(known), max_tries=10 * FAR_POOL)
        if not cand:
            return []
        t = tok[np.array(cand)]
        d = (t[:, None, :] != tok[np.array(top)][None]).sum(axis=2).min(axis=1)
        cand = [r for r, di in zip(cand, d, strict=True) if di >= FAR_EDITS]
        if not cand:
            return []
        _, s = scorer.encode_archs([table.arch(r) for r in cand])
        out: list[int] = []
        spacing = self.cfg.search.pick_spacing  # the same knob as the swarm's picks
        for i in np.argsort(-s, kind="stable"):
            if len(out) >= k:
                break
            if all(int((tok[cand[i]] != tok[u]).sum()) >= spacing for u in out):
                out.append(cand[i])
                self.predicted[cand[i]] = float(s[i])
        self.summary["explored"] = self.summary.get("explored", 0) + len(out)
        return out

    def _fill(self, picks: list[int], q: int, scorer: RemapScorer) -> int:
        """Too few answerable distinct archs visited: take the best-predicted unqueried
        answerable table rows instead (knowing which archs a table covers costs no query)."""
        if len(picks) >= q:
            return 0
        o, table = self.ctx.oracle, self.ctx.table
        rows = np.arange(len(table))
        if len(rows) > FALLBACK_ROWS:
            rows = np.sort(self.rng.choice(rows, FALLBACK_ROWS, replace=False))
        rows = [
            int(r)
            for r in rows
            if (table.tokens[r] >= 0).all()
            and o.answerable(int(r))
            and int(r) not in o.queried
            and int(r) not in picks
        ]
        if not rows:
            return 0
        _, s = scorer.encode_archs([table.arch(r) for r in rows])
        n0 = len(picks)
        for k in np.argsort(-s, kind="stable")[: q - n0]:
            picks.append(rows[k])
            self.predicted[rows[k]] = float(s[k])
        return len(picks) - n0

    def _refresh_predictions(self, scorer: RemapScorer) -> None:
        """The current model's score of every queried row (for the leaderboard)."""
        rows = list(self.ctx.oracle.queried)
        _, s = scorer.encode_archs([self.ctx.table.arch(r) for r in rows])
        self.predicted.update({r: float(v) for r, v in zip(rows, s, strict=False)})


def _epoch_event(s: EpochStats, device: str, rnd: int):
    from ..events import EpochEnded

    return EpochEnded(
        s.epoch,
        s.epochs,
        s.loss_rec,
        s.loss_rank,
        s.loss_total,
        s.val_tau,
        s.val_spearman,
        s.seconds,
        device,
        rnd,
    )
