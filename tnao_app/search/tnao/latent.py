"""Searches in the trained latent space, one per method: competitive swarm optimisation
(TNAO) and NAO-style gradient ascent on the predictor (the NAO baseline).

A strategy moves points in the latent box; every architecture they decode to is scored
through the ``RemapScorer`` (decode -> repair -> re-encode -> predict), whose visits are
the round's candidates. The round (``search.py``) runs the steps, emits the events and
offers a checkpoint after each; a strategy holds only what its steps need.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import torch

from ...config import Config
from ...events import Leaderboard, LeaderRow
from ..cso import CSO, RemapScorer
from ..method import SearchContext


class LatentStrategy(ABC):
    def __init__(
        self,
        config: Config,
        scorer: RemapScorer,
        z_pool: np.ndarray,
        s_pool: np.ndarray,
        rng: np.random.Generator,
        labelled: tuple[np.ndarray, np.ndarray],
    ):
        self.config, self.scorer, self.rng = config, scorer, rng
        self.z_pool, self.s_pool = z_pool, s_pool
        self.lo, self.hi = z_pool.min(axis=0), z_pool.max(axis=0)
        self.x_lab, self.y_lab = labelled  # tokens and signals queried so far

    @property
    @abstractmethod
    def steps(self) -> int:
        """Steps of one round's search."""

    @property
    @abstractmethod
    def done_steps(self) -> int: ...

    @abstractmethod
    def start(self) -> None:
        """Fresh start points (a new round)."""

    @abstractmethod
    def step(self) -> tuple[float, float]:
        """One step; (best predicted score so far, mean score of the points or NaN)."""

    @abstractmethod
    def state_dict(self) -> dict: ...

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...

    def summary(self) -> dict:
        return {"distinct": len(self.scorer.visits)}

    def finish(self) -> None:  # noqa: B027 - optional hook
        """Release what the steps held (gradients)."""

    def labelled_latents(self) -> np.ndarray:
        space = self.scorer.space
        z, _ = self.scorer.encode_archs([space.from_tokens(t.tolist()) for t in self.x_lab])
        return z


class SwarmSearch(LatentStrategy):
    """Competitive swarm optimisation (``cso.CSO``) started at the best latents."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        c = self.config.search
        self.span = self.hi - self.lo
        self.order = np.argsort(-self.s_pool, kind="stable")
        self.cursor = c.particles
        self.swarm = CSO(
            self.scorer,
            self.lo,
            self.hi,
            self.rng,
            phi=c.phi,
            remap=c.remap,
            restart_patience=c.restart_patience,
            restart_points=self.restart_points,
        )

    @property
    def steps(self) -> int:
        return self.config.search.generations

    @property
    def done_steps(self) -> int:
        return self.swarm.gen

    def restart_points(self, n: int) -> np.ndarray:
        """Next-best pool latents the swarm has not started from, plus noise."""
        idx = self.order[(self.cursor + np.arange(n)) % len(self.order)]
        self.cursor += n
        noise = self.rng.normal(size=(n, self.z_pool.shape[1]))
        return self.z_pool[idx] + noise * self.config.search.init_noise * self.span

    def start(self) -> None:
        """The best latents (by the predictor over the pool, or by signal over the
        labelled set) plus noise scaled to the latent box."""
        c, n = self.config.search, self.config.search.particles
        if c.init == "labelled":
            order = np.argsort(-self.y_lab, kind="stable")
            base = self.labelled_latents()[order[np.arange(n) % len(order)]]
        else:
            base = self.z_pool[self.order[np.arange(n) % len(self.order)]]
        self.swarm.start(base + self.rng.normal(size=base.shape) * c.init_noise * self.span)

    def step(self) -> tuple[float, float]:
        self.swarm.step()
        return self.swarm.best_f, float(self.swarm.f.mean())

    def state_dict(self) -> dict:
        return {"swarm": self.swarm.state_dict(), "cursor": self.cursor}

    def load_state_dict(self, state: dict) -> None:
        self.swarm.load_state_dict(state["swarm"])
        self.cursor = int(state["cursor"])

    def summary(self) -> dict:
        return {
            "distinct": len(self.scorer.visits),
            "best_score": self.swarm.best_f,
            "restarts": self.swarm.restarts,
            "pool_best_score": float(self.s_pool.max()) if len(self.s_pool) else float("nan"),
        }


class GradientAscent(LatentStrategy):
    """NAO (Luo et al. 2018): from the latents of the best queried architectures, each
    step moves every point along the predictor's gradient, ``z += eta * dS/dz``
    (normalised per point, so ``eta`` is a distance in latent units); every architecture
    the points decode to on the way is a candidate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.z = np.zeros((0, self.lo.shape[0]))
        self.n = 0

    @property
    def steps(self) -> int:
        return self.config.baselines.nao_steps

    @property
    def done_steps(self) -> int:
        return self.n

    def start(self) -> None:
        space = self.scorer.space
        order = np.argsort(-self.y_lab, kind="stable")[: self.config.search.particles]
        self.z = self.labelled_latents()[order].astype(np.float64)
        self.scorer.add([space.from_tokens(self.x_lab[i].tolist()) for i in order])

    def step(self) -> tuple[float, float]:
        model, dev = self.scorer.model, self.scorer.device
        model.eval()
        span = float(np.mean(self.hi - self.lo))
        zt = torch.tensor(self.z, dtype=torch.float32, device=dev, requires_grad=True)
        model.predict(zt).sum().backward()
        assert zt.grad is not None
        g = zt.grad.detach().cpu().numpy().astype(np.float64)
        g /= np.linalg.norm(g, axis=1, keepdims=True) + 1e-12
        eta = self.config.baselines.nao_step_size
        self.z = np.clip(self.z + eta * span / 10 * g, self.lo, self.hi)
        self.scorer.add(self.scorer.decode(self.z))
        self.n += 1
        return max(v.score for v in self.scorer.visits.values()), float("nan")

    def state_dict(self) -> dict:
        return {"z": self.z.copy(), "step": self.n}

    def load_state_dict(self, state: dict) -> None:
        self.z, self.n = state["z"].copy(), int(state["step"])

    def finish(self) -> None:
        self.scorer.model.zero_grad(set_to_none=True)


def live_leaderboard(
    ctx: SearchContext, queried: dict[int, float], scorer: RemapScorer, k: int = 10
) -> Leaderboard:
    """The latent search's best distinct architectures so far, with what is known of
    them (valid/test only once queried), so a UI can show the search as it goes."""
    to_native = ctx.table.space.to_native
    return leaderboard(
        ctx, queried, [(to_native(v.arch), v.row, v.score) for v in scorer.ranked()[:k]]
    )


def pool_leaderboard(
    ctx: SearchContext,
    queried: dict[int, float],
    pool_rows: np.ndarray,
    scores: np.ndarray,
    k: int = 10,
) -> Leaderboard:
    """The pool's best-scored answerable cells (where no swarm runs: ``search.picks =
    "pool"``, front picks), shown as the swarm's would be."""
    ok = np.flatnonzero((pool_rows >= 0) & ctx.answerable_rows[np.maximum(pool_rows, 0)])
    top = ok[np.argsort(-scores[ok], kind="stable")[:k]]
    table = ctx.table
    return leaderboard(
        ctx, queried, [(table.native(int(pool_rows[i])), int(pool_rows[i]), scores[i]) for i in top]
    )


def leaderboard(
    ctx: SearchContext, queried: dict[int, float], ranked: list[tuple[str, int | None, float]]
) -> Leaderboard:
    """Rows of (architecture, table row or None, predicted score), best first, with what
    is known of each."""
    table, nan = ctx.table, float("nan")
    rows = []
    for rank, (arch, row, score) in enumerate(ranked, start=1):
        known = row is not None and row in queried
        test = ctx.report(row) if known else nan  # type: ignore[arg-type]
        rows.append(
            LeaderRow(
                rank,
                arch,
                float(score),
                queried[row] if known else nan,  # type: ignore[index]
                test,
                table.rank_of(test, ctx.spec.report)[1] if known else nan,
            )
        )
    return Leaderboard(tuple(rows))


def snap_to_answerable(
    ctx: SearchContext,
    scorer: RemapScorer,
    table_rows: np.ndarray | None,
    pool_rows: Callable[[], np.ndarray],
    z_pool: np.ndarray,
    s_pool: np.ndarray,
) -> None:
    """Keep the swarm's candidates queryable: on a partial table (``table_rows``, its
    pool) every visit is a cell the table answers; with constraints on a whole-space pool
    an infeasible decode scores as its nearest feasible pool cell (``pool_rows()``: the
    table row of each pool cell, -1 where none)."""
    if table_rows is not None:
        scorer.snap_to(table_rows, z_pool, s_pool)
    elif ctx.goal is not None and ctx.restricted:
        pr = pool_rows()
        ok = (pr >= 0) & ctx.answerable_rows[np.maximum(pr, 0)]
        scorer.snap_to(pr[ok], z_pool[ok], s_pool[ok])
