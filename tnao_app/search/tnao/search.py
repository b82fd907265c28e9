"""TNAO as an ask/tell method: sample -> (train -> search -> evaluate) in rounds.

``propose`` runs the round's long stages (training the auto-encoder, the latent search)
and returns the round's picks; ``observe`` takes their signals and closes the round.
Round 0 trains from scratch; each later round fine-tunes on every label so far, or, after
a round that found nothing better (``train.restart_after``), trains a new model.
``search.rounds = 1`` is the paper's single pass. The whole state (round state, model and
optimiser, the search in flight, every RNG) is in ``state_dict``; the stages offer a
checkpoint after each epoch and each search step, so a resumed run continues exactly.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np
import torch

from ...events import (
    EpochEnded,
    Generation,
    Progress,
    RunPlan,
    Sampled,
    StageFinished,
    StageStarted,
)
from ...train import EpochStats, Trainer, rank_corr
from ..cso import RemapScorer
from ..method import Hooks, SearchContext, SearchMethod
from . import front, plan, stage1
from .latent import (
    GradientAscent,
    LatentStrategy,
    SwarmSearch,
    live_leaderboard,
    pool_leaderboard,
    snap_to_answerable,
)
from .picks import Picker
from .sampling import Sampler, reconstruction_pool, table_pool_rows
from .state import RoundState


class RoundSearch(SearchMethod):
    """The rounds of TNAO with a latent-space search ``strategy``."""

    strategy: ClassVar[type[LatentStrategy]]

    def __init__(self, ctx: SearchContext, hooks: Hooks | None = None):
        super().__init__(ctx, hooks)
        self.cfg = ctx.config
        self.space = ctx.table.space
        self.st = RoundState(variant=ctx.config.run.seed % max(ctx.config.train.stage1_variants, 1))
        self._features: dict[int, torch.Tensor] = {}  # pretrained variant -> pool features
        self.queried: dict[int, float] = {}  # row -> signal, in query order
        self._summary: dict = {"skipped_unanswerable": 0, "filled_from_pool": 0}
        self.sampler = Sampler(ctx, self.rng, self._summary)
        self.picker = Picker(
            ctx, self.rng, self.queried, self.predicted, self._summary, self.sampler
        )
        self.trainer: Trainer | None = None
        self._pool: np.ndarray | None = None
        self._t0 = time.perf_counter()  # when the current stage began (its seconds)
        self._scorer_obj: RemapScorer | None = None  # the round's scorer (evaluate)
        self._pool_rows: np.ndarray | None = None  # table row of each pool cell (constraints)
        #: the signal against one cost: picks by predicted hypervolume gain (front.py)
        self.front_mode = self.searches_goal(ctx)
        # "auto" settings decided once for this table (a partial one changes both)
        self.picks_mode = ctx.config.picks(ctx.table.partial)  # swarm, pool or turns
        self.local_k = ctx.config.local_k(ctx.table.partial)

    @classmethod
    def searches_goal(cls, ctx: SearchContext) -> bool:
        # TNAO's own rounds only: NAO's difference is its latent search, which front
        # picks skip, and tnao-paper is the published single-objective pass
        run = ctx.config
        return (
            cls.name == "tnao"
            and run.run.method == "tnao"
            and run.goal.front_picks == "hvi"
            and front.handles(ctx.goal)
        )

    # -- the plan --------------------------------------------------------------------
    def plan(self) -> RunPlan:
        return plan.run_plan(self.cfg, self.ctx.budget)

    def summary(self) -> dict:
        out = {**self._summary, "rounds": self.st.round}
        rows = table_pool_rows(self.ctx)
        if rows is not None:  # a partial table: the pool and every pick are its cells
            out["table_cells"] = len(rows)
        return out

    def relabel(self, signals: dict[int, float]) -> bool:
        # each round trains on every label afresh, so new labels are all a rescalarised
        # multi-objective run needs (the dict is shared with the picker: update in place)
        for r in self.queried:
            self.queried[r] = float(signals[r])
        return True

    @property
    def pool(self) -> np.ndarray:
        if self._pool is None:
            self._pool = reconstruction_pool(self.ctx)
        return self._pool

    @property
    def pool_rows(self) -> np.ndarray:
        """The table row of each pool cell (-1: not in the table)."""
        if self._pool_rows is None:
            self._pool_rows = front.pool_table_rows(self.ctx, self.pool)
        return self._pool_rows

    def left(self) -> int:
        return self.ctx.budget - len(self.queried)

    # -- ask / tell ------------------------------------------------------------------
    def propose(self, k: int) -> list[int]:
        while True:
            self.hooks.check_stop()
            phase = self.st.phase
            if phase == "sample":
                return self._sample(k)
            if phase == "train":
                self._train()
            elif phase == "search":
                self._search()
            elif phase == "evaluate":
                picks = self._picks(k)
                if picks or self.st.phase == "done":
                    return picks
                self._close_round([], [])  # nothing to query: on to the next round
            else:
                return []

    def observe(self, rows: list[int], signals: list[float]) -> None:
        if self.st.phase == "sample":
            self._record(rows, signals)
            self.hooks.emit(Sampled(tuple(self.ctx.table.native(r) for r in rows), tuple(signals)))
            summary = {"sampled": len(rows), "queries": len(self.queried)}
            self.hooks.emit(StageFinished("sample", self._seconds(), summary, 0))
            self.st.phase = "train"
        else:
            self._observe_picks(rows, signals)

    def _record(self, rows: list[int], signals: list[float]) -> None:
        for r, v in zip(rows, signals, strict=True):
            self.queried.setdefault(int(r), float(v))

    def _seconds(self) -> float:
        return time.perf_counter() - self._t0

    def _start(self, stage: str, steps: int, **kw) -> None:
        self.stage, self._t0 = stage, time.perf_counter()
        self.hooks.emit(StageStarted(stage, self.st.round, steps, **kw))

    # -- sample ----------------------------------------------------------------------
    def _sample(self, k: int) -> list[int]:
        n = min(self.cfg.sample.n_labelled, k)
        self._start("sample", n)
        return self.sampler.first_sample(n)

    # -- train -----------------------------------------------------------------------
    def _new_trainer(self, seed: int | None = None) -> Trainer:
        """A new model and its trainer: the whole model (``train.stage1 = "joint"``) or
        the head on the pretrained body of the round state's variant."""
        seed = self.cfg.run.seed if seed is None else seed
        emit = self.hooks.emit

        def progress(done: int, total: int, message: str) -> None:
            emit(Progress("train", done, total, message))

        def on_batch(done: int, total: int, loss: float) -> None:
            progress(done, total, f"loss {loss:.4f}")

        model = stage1.new_model(self.ctx, seed)
        kw = dict(
            device=self.ctx.device,
            seed=seed,
            on_batch=on_batch,
            on_epoch=None,
            should_stop=self.hooks.should_stop,
            bootstrap=not self.front_mode and self.picks_mode == "turns",
        )
        if not stage1.uses_cache(self.cfg):
            return Trainer(model, self.cfg.train, **kw)  # type: ignore[arg-type]
        v = self.st.variant
        body, feats = stage1.pretrained_body(self.ctx, v, progress, self.hooks.should_stop)
        # the body, to_z and the decoder from stage 1; the predictor heads stay new
        keep = {k: t for k, t in body.items() if not k.startswith("heads.")}
        model.load_state_dict(keep, strict=False)
        model.to(self.ctx.device)
        if v not in self._features:
            self._features[v] = (
                feats.to(self.ctx.device)
                if feats is not None
                else stage1.pool_features(model, self.pool, self.ctx.device)
            )
        return stage1.HeadTrainer(model, self.cfg.train, self._features[v], **kw)

    def _labelled(self) -> tuple[np.ndarray, np.ndarray]:
        rows = list(self.queried)
        x = np.stack([self.ctx.table.tokens[r] for r in rows]).astype(np.int64)
        y = np.array([self.queried[r] for r in rows], dtype=np.float64)
        return x, y

    def _train(self) -> None:
        st, tc, rnd = self.st, self.cfg.train, self.st.round
        # Fine-tuning keeps the latent order the first labels gave; when the queries stop
        # finding better architectures, a model trained afresh on every label so far (new
        # weights, new seed; with a cached stage 1, the next pretrained body) can see
        # another basin.
        restart = bool(tc.restart_after and st.stall >= tc.restart_after)
        if restart:
            st.variant = (st.variant + 1) % max(tc.stage1_variants, 1)
            st.stall, st.base_round = 0, rnd
        new = restart or self.trainer is None
        if st.epoch0 < 0:
            st.epoch0 = 0 if new or self.trainer is None else self.trainer.epoch
        target = plan.train_target(self.cfg, rnd, st.base_round)
        rounds = plan.rounds_total(self.cfg, rnd, self.left())
        # announced before the model is built: a cold stage-1 cache trains a body first,
        # and its progress belongs to this stage
        self._start("train", target - st.epoch0, rounds=rounds, restarted=st.restarted)
        if restart:
            self.trainer = self._new_trainer(seed=self.cfg.run.seed + 1000 * rnd)
        elif self.trainer is None:
            self.trainer = self._new_trainer()
        trainer = self.trainer
        if st.fresh_round:
            trainer.begin_round()  # a fresh early-stopping record for this round
            st.fresh_round = False
        x, y = self._labelled()
        pool = np.concatenate([self.pool, x])

        def on_epoch(s: EpochStats) -> None:
            self.hooks.emit(
                EpochEnded(
                    s.epoch,
                    s.epochs,
                    s.loss_rec,
                    s.loss_rank,
                    s.loss_total,
                    s.val_tau,
                    s.val_spearman,
                    s.seconds,
                    self.ctx.device,
                    rnd,
                    s.epoch - st.epoch0,
                )
            )
            self.hooks.checkpoint("train", s.epoch)

        trainer.on_epoch = on_epoch
        # Round 0 trains on the whole pool per epoch; later rounds see finetune_batches
        # of it per epoch, a restarted model too (it found the optimum in more NB201
        # cifar10 seeds than whole epochs did)
        last = trainer.fit(
            pool,
            x,
            y,
            target,
            split_seed=self.cfg.run.seed + rnd,
            max_batches=tc.finetune_batches if rnd else 0,
        )
        st.phase, st.strategy, st.scorer = "search", None, None
        summary: dict = {
            "labels": len(y),
            "epochs": trainer.epoch,
            "restarted": st.restarted,
        }
        if last is not None:
            summary.update(val_tau=last.val_tau, train_tau=last.train_tau, loss=last.loss_total)
        self.hooks.emit(StageFinished("train", self._seconds(), summary, rnd))

    # -- search ----------------------------------------------------------------------
    def _scorer(self) -> RemapScorer:
        assert self.trainer is not None
        return RemapScorer(
            self.trainer.model, self.space, self.ctx.table, self.ctx, self.ctx.device
        )

    def _pool_latents(self) -> tuple[np.ndarray, np.ndarray]:
        """Latents and predicted scores (the heads' mean) of the whole reconstruction pool."""
        assert self.trainer is not None
        return stage1.pool_latents(self.trainer, self.pool, self.ctx.device)

    def _pool_scores(self) -> np.ndarray:
        """The pool's predicted scores: the heads' mean, or ``(heads, n)`` for "turns"."""
        z, s = self._pool_latents()
        if self.picks_mode != "turns":
            return s
        assert self.trainer is not None
        return stage1.head_scores(self.trainer.model, z, self.ctx.device)

    def _search(self) -> None:
        st, rnd = self.st, self.st.round
        if (
            self.front_mode or self.picks_mode != "swarm"
        ):  # no latent search: the picks score the pool
            self._start("search", 0)
            st.phase = "evaluate"
            picks = "hvi" if self.front_mode else self.picks_mode
            s_pool = self._pool_latents()[1]
            self.hooks.emit(pool_leaderboard(self.ctx, self.queried, self.pool_rows, s_pool))
            self.hooks.emit(StageFinished("search", self._seconds(), {"picks": picks}, rnd))
            return
        scorer = self._scorer()
        z_pool, s_pool = self._pool_latents()
        part = table_pool_rows(self.ctx)  # a partial table's pool: its answerable cells
        snap_to_answerable(self.ctx, scorer, part, lambda: self.pool_rows, z_pool, s_pool)
        strategy = self.strategy(self.cfg, scorer, z_pool, s_pool, self.rng, self._labelled())
        self._start("search", strategy.steps)
        if st.strategy is not None:
            assert st.scorer is not None
            scorer.load_state_dict(st.scorer)
            strategy.load_state_dict(st.strategy)
        else:
            strategy.start()
        while strategy.done_steps < strategy.steps:
            self.hooks.check_stop()
            best, mean = strategy.step()
            gen = strategy.done_steps
            self.hooks.emit(Generation(gen, strategy.steps, best, mean, len(scorer.visits), rnd))
            self.hooks.emit(live_leaderboard(self.ctx, self.queried, scorer))
            st.strategy, st.scorer = strategy.state_dict(), scorer.state_dict()
            self.hooks.checkpoint("search", rnd * strategy.steps + gen)
        strategy.finish()
        if scorer.snap is not None:
            self._summary["snapped_to_table"] = (
                self._summary.get("snapped_to_table", 0) + scorer.snapped
            )
        st.scorer = scorer.state_dict()
        st.pool_best = float(s_pool.max()) if len(s_pool) else float("nan")
        st.phase = "evaluate"
        self.hooks.emit(StageFinished("search", self._seconds(), strategy.summary(), rnd))

    # -- evaluate --------------------------------------------------------------------
    def _round_scorer(self) -> RemapScorer:
        """The round's scorer: the current model, with the swarm's visits when its picks
        come from them (kept for the round's sequential local steps)."""
        if self._scorer_obj is None:
            self._scorer_obj = self._scorer()
            if self.st.scorer is not None and not self.front_mode:
                self._scorer_obj.load_state_dict(self.st.scorer)
        return self._scorer_obj

    def _picks(self, k: int) -> list[int]:
        st, c = self.st, self.cfg.search
        if st.quota < 0:  # the round's first proposal
            st.quota = plan.quota(self.cfg, st.round, k)
            st.before = len(self.queried)
            st.skipped = st.filled = 0
            seq = c.local_steps == "sequential" and not self.front_mode
            st.local_left = min(self.local_k, st.quota) if seq else 0
            self._start("evaluate", st.quota)
        scorer = self._round_scorer()
        if self.front_mode:
            return self._front_picks(scorer, st.quota)
        if st.local_left > 0:  # one local step; observe counts it
            step = self.picker.local(scorer, 1)
            if step:
                return step
            st.local_left = 0
        q = st.quota - (len(self.queried) - st.before)
        k, seq = min(self.local_k, q), c.local_steps == "sequential"
        picks: list[int] = []
        if c.escape_after and st.stale >= c.escape_after and not seq:
            picks, st.climb = self.picker.climb(scorer, st.climb, k)
            st.climb_picks = list(picks)
        elif not seq:
            picks = self.picker.local(scorer, k)
        if c.explore_k and st.stale >= c.explore_after:
            picks += self.picker.explore(scorer, min(c.explore_k, q - len(picks)), picks)
        if self.picks_mode == "swarm":
            ranked = scorer.ranked()
        else:  # every pool cell by the ranker's score ("turns": each head's)
            ranked = self.picker.pool_ranked(self.pool_rows, self._pool_scores(), picks)
        st.skipped, st.filled = self.picker.complete(picks, q, scorer, ranked)
        return picks

    def _front_picks(self, scorer: RemapScorer, q: int) -> list[int]:
        """The round's ``q`` picks by predicted hypervolume gain over every answerable,
        unqueried pool cell (``front.choose``)."""
        assert self.ctx.goal is not None
        _, s_pool = self._pool_latents()
        table = self.ctx.table
        picked = front.round_picks(
            self.ctx,
            self.pool,
            self.pool_rows,
            s_pool,
            self.queried,
            lambda rows: scorer.encode_archs([table.arch(r) for r in rows])[1],
            q,
            self.cfg.goal.front_local,
        )
        if picked is None:  # every answerable cell queried: nothing for later rounds either
            self.st.phase = "done"
            return []
        self.predicted.update(picked)
        return list(picked)

    def _observe_picks(self, rows: list[int], signals: list[float]) -> None:
        """A sequential local step is recorded and the round goes on; the round's other
        picks close it."""
        st = self.st
        if st.local_left > 0:
            self._record(rows, signals)
            st.local_left -= 1
            if len(self.queried) - st.before < st.quota and self.left() > 0:
                return
            rows, signals = [], []  # the steps spent the round's quota: it ends here
        self._close_round(rows, signals)

    def _close_round(self, rows: list[int], signals: list[float]) -> None:
        st = self.st
        self._record(rows, signals)
        new = list(self.queried)[st.before :]  # the round's queries
        # rounds in a row whose queries beat nothing already found (train.restart_after);
        # with front picks, whose queries added nothing to the front
        if self.front_mode:
            assert self.ctx.goal is not None
            old = list(self.queried)[: st.before]
            improved = bool(
                set(self.ctx.goal.front(list(self.queried))) - set(self.ctx.goal.front(old))
            )
        else:  # both under the current labels (a scalarised goal relabels each proposal)
            before = [self.queried[r] for r in list(self.queried)[: st.before]]
            improved = bool(new) and max(self.queried[r] for r in new) > max(before)
        st.stall = 0 if improved else st.stall + 1
        st.stale = 0 if improved else st.stale + 1  # not reset by a restart
        st.climb = -1 if improved else self.picker.climbed(st.climb, st.climb_picks)
        st.climb_picks = []
        # An honest check of the predictor that chose them: tau on the new labels.
        tau, _ = rank_corr(
            np.array([self.predicted[r] for r in new]), np.array([self.queried[r] for r in new])
        )
        self._refresh_predictions(self._round_scorer())
        self._scorer_obj = None
        rnd = st.round
        st.round = rnd + 1
        more = self.left() > 0 and st.round < self.cfg.search.rounds
        st.phase = "train" if more else "done"
        st.fresh_round = more
        st.strategy = st.scorer = None
        st.epoch0 = -1
        st.quota = -1
        summary = {
            "queried": len(new),
            "queries": len(self.queried),
            "skipped_unanswerable": st.skipped,
            "filled_from_pool": st.filled,
            "tau_on_new": tau,
            "best_signal": max(self.queried.values()),
        }
        self.hooks.emit(StageFinished("evaluate", self._seconds(), summary, rnd))

    def _refresh_predictions(self, scorer: RemapScorer) -> None:
        """The current model's score of every queried row (for the leaderboard)."""
        rows = list(self.queried)
        _, s = scorer.encode_archs([self.ctx.table.arch(r) for r in rows])
        self.predicted.update({r: float(v) for r, v in zip(rows, s, strict=False)})

    # -- state -----------------------------------------------------------------------
    def extra_state(self) -> dict:
        return {
            "round_state": self.st.to_dict(),
            "queried": list(self.queried.items()),
            "summary": dict(self._summary),
            "trainer": self.trainer.state_dict() if self.trainer is not None else None,
        }

    def load_extra_state(self, state: dict) -> None:
        self.st = RoundState.from_dict(state["round_state"])
        self.queried.clear()
        self.queried.update((int(r), float(v)) for r, v in state["queried"])
        self._summary.clear()
        self._summary.update(state["summary"])
        # the picker holds the same dicts; predicted was replaced by the base class
        self.picker.predicted = self.predicted
        self.trainer, self._scorer_obj = None, None
        if state["trainer"] is not None:
            self.trainer = self._new_trainer()
            self.trainer.load_state_dict(state["trainer"])


class TNAOSearch(RoundSearch):
    name = "tnao"
    strategy = SwarmSearch


class NAOSearch(RoundSearch):
    name = "nao"
    strategy = GradientAscent
