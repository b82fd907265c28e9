"""Several objectives for a single-objective method: a scalarised signal per batch.

A run with several objectives (``goal.objectives``) wraps a method that searches one
signal (TNAO, the baselines) in ``Scalarised``: it proposes what the method proposes and,
when the driver tells it a batch's signals, tells the method one number per row instead:
the augmented Chebyshev scalarisation of the row's objectives (ParEGO, Knowles 2006)

    s = -( max_i w_i (1 - g_i) + RHO * sum_i w_i (1 - g_i) )

of its normalised gains ``g`` (1 = best). ``scalarise = "chebyshev"`` draws the weights
``w`` of each batch uniformly from the simplex when the batch starts (a seeded RNG of its
own), so successive batches pull towards different parts of the front; ``"fixed"`` uses
equal weights. A method that can take new labels (``SearchMethod.relabel``: TNAO, whose
rounds retrain on every label) is given the scalars of every row it has seen under the
new weights before it proposes, as ParEGO does; the others keep each row's scalar under
the weights of the batch that queried it.

Each objective is scaled to the Pareto front of the cells queried so far (0 at its
nadir, 1 at its ideal), so only paid-for values set the scale, and the scale is where the
front is: scaled to the whole observed range instead, NB201's untrainable 10%-accuracy
cells squeezed every front cell's accuracy into the top tenth while FLOPs spanned all of
it, and the Chebyshev distance chased FLOPs alone (TNAO: 83% of the true front's
hypervolume at 100 queries, seed 0, below random search's 90% mean).

The wrapper's state (its RNG, the batch's weights, the rows it has seen) travels in the
method's ``state_dict`` under ``"scalarise"``, so a resumed run draws the same weights.
"""

from __future__ import annotations

import numpy as np

from ..events import RunPlan
from ..objectives import Goal
from .method import SearchMethod

RHO = 0.05  # the augmentation term's weight (ParEGO's value)
STATE_KEY = "scalarise"


class Scalarised(SearchMethod):
    """``inner`` searching the scalarised objectives of ``inner.ctx.goal``."""

    def __init__(self, inner: SearchMethod):
        goal = inner.ctx.goal
        assert goal is not None and goal.multi
        # no super().__init__: the wrapper shares the inner method's context, hooks and RNG
        self.inner = inner
        self.ctx, self.hooks, self.rng = inner.ctx, inner.hooks, inner.rng
        self.name = inner.name  # type: ignore[misc]  # the run's method is the inner one
        self.goal: Goal = goal
        self.mode = inner.ctx.config.goal.scalarise
        self.wrng = np.random.default_rng([int(inner.ctx.config.run.seed), 18])
        self.seen: list[int] = []  # rows told so far, in order
        self.weights: list[list[float]] = []  # each batch's weights (for the summary)
        #: the weights of the batch being proposed (drawn when it starts, used when its
        #: signals come); None between batches
        self.current: np.ndarray | None = None
        self.relabelled = 0  # batches before which the method took rescalarised labels

    # -- delegation ------------------------------------------------------------------------
    @property
    def predicted(self) -> dict[int, float]:
        return self.inner.predicted

    @predicted.setter
    def predicted(self, value: dict[int, float]) -> None:
        self.inner.predicted = value

    @property
    def stage(self) -> str:
        return self.inner.stage

    @stage.setter
    def stage(self, value: str) -> None:
        self.inner.stage = value

    def plan(self) -> RunPlan:
        return self.inner.plan()

    def propose(self, k: int) -> list[int]:
        if self.current is None:  # a new batch (not a proposal resumed mid-way)
            self.current = self._draw()
            if self.seen and self.inner.relabel(
                dict(zip(self.seen, self.scalars(self.seen, self.current).tolist(), strict=True))
            ):
                self.relabelled += 1
        return self.inner.propose(k)

    def summary(self) -> dict:
        return {
            **self.inner.summary(),
            "scalarise": self.mode,
            "batches": len(self.weights),
            "relabelled": self.relabelled,
        }

    # -- the scalar signal -----------------------------------------------------------------
    def _draw(self) -> np.ndarray:
        k = len(self.goal.objectives)
        if self.mode == "fixed":
            return np.full(k, 1.0 / k)
        return self.wrng.dirichlet(np.ones(k))

    def scalars(self, rows: list[int], weights: np.ndarray) -> np.ndarray:
        """The scalarised signal of ``rows`` under ``weights``, every objective scaled to
        the front of the cells queried so far (``rows`` included): 0 at its nadir, 1 at
        its ideal (values the run has paid for)."""
        g = self.goal
        known = list(dict.fromkeys([*self.seen, *rows]))
        front = g.scaled(g.front(known))
        lo, hi = front.min(axis=0), front.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        norm = (g.scaled(rows) - lo) / span
        dist = weights * (1.0 - norm)
        return -(dist.max(axis=1) + RHO * dist.sum(axis=1))

    def observe(self, rows: list[int], signals: list[float]) -> None:
        new = [r for r in dict.fromkeys(int(r) for r in rows) if r not in set(self.seen)]
        w = self._draw() if self.current is None else self.current
        self.current = None
        self.weights.append([float(x) for x in w])
        values = self.scalars(list(rows), w) if rows else np.zeros(0)
        self.seen.extend(new)
        self.inner.observe(list(rows), [float(v) for v in values])

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = self.inner.state_dict()
        state[STATE_KEY] = {
            "rng": self.wrng.bit_generator.state,
            "seen": list(self.seen),
            "weights": [list(w) for w in self.weights],
            "mode": self.mode,
            "current": None if self.current is None else [float(x) for x in self.current],
            "relabelled": self.relabelled,
        }
        return state

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        mine = state.pop(STATE_KEY)
        self.inner.load_state_dict(state)
        self.wrng.bit_generator.state = mine["rng"]
        self.seen = [int(r) for r in mine["seen"]]
        self.weights = [[float(x) for x in w] for w in mine["weights"]]
        cur = mine["current"]
        self.current = None if cur is None else np.asarray(cur, dtype=np.float64)
        self.relabelled = int(mine["relabelled"])
