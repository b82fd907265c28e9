"""Multi-objective baselines through Optuna's ask/tell interface: NSGA-II (Deb et al.
2002, ``NSGAIISampler``) and multi-objective TPE (``TPESampler`` on several directions,
Ozaki et al. 2020).

The harness is TPE's (``tpe.py``): one categorical parameter per token position, each
proposal one asked trial whose tokens name a row; a trial on a seen or unanswerable row
(an infeasible one under constraints) is told *pruned* and the study asked again, free
of budget (both samplers build their populations and models from complete trials only),
and after ``MAX_ASKS`` such asks a uniform unseen row is added as a finished trial. The
study has one direction per objective of the run (``goal.objectives``; the search signal
alone without them), and a queried row is told the value of each: one query reveals
every metric of a cell. Resume replays the told history into a fresh study with the same
seed, as TPE does, and checks that the replayed asks give the same params.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError
from ..objectives import Goal
from .local import categorical
from .method import Hooks, SearchContext
from .tpe import ADDED, ASKED, TPE


class NSGA2(TPE):
    name = "nsga2"
    multi_objective = True

    def __init__(self, ctx: SearchContext, hooks: Hooks | None = None):
        if not categorical(ctx.table):
            raise ConfigError(
                f"method '{self.name}' needs a space of one categorical choice per "
                f"position; {ctx.table.benchmark} cells are graphs whose tokens depend on "
                "each other, so use ls, evolution or random (with --objectives) there."
            )
        self.goal = ctx.goal if ctx.goal is not None else Goal(ctx.table, ctx.config)
        self.directions = ["maximize" if o.maximise else "minimize" for o in self.goal.objectives]
        super().__init__(ctx, hooks)

    def _sampler(self) -> Any:
        return self.optuna.samplers.NSGAIISampler(
            population_size=self.ctx.config.baselines.nsga2_population,
            seed=int(self.ctx.config.run.seed),
        )

    def _study(self) -> Any:
        return self.optuna.create_study(sampler=self._sampler(), directions=self.directions)

    def _tell(self, trial: Any, tokens: list[int], value: Any) -> None:
        if value is None:
            self.study.tell(trial, state=self.optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, values=list(value))
        self.history.append([tokens, None if value is None else list(value), ASKED])

    def _add(self, tokens: list[int], value: Any) -> None:
        self.study.add_trial(
            self.optuna.trial.create_trial(
                params=dict(zip(self.names, tokens, strict=True)),
                distributions=self.dists,
                values=list(value),
            )
        )
        self.history.append([tokens, list(value), ADDED])

    def observe(self, rows: list[int], signals: list[float]) -> None:
        self.record(rows, signals)
        assert self.pending is not None and rows == [self.pending[1]]
        trial, _row, tokens = self.pending
        values = [float(v) for v in self.goal.values(rows)[0]]
        if trial is None:
            self._add(tokens, values)
        else:
            self._tell(trial, tokens, values)
        self.pending = None
        self.generation(len(self.rows), self.ctx.budget, float(signals[0]))

    def _stored(self, value: Any) -> Any:
        return [float(v) for v in np.ravel(value)]  # one value per objective


class MOTPE(NSGA2):
    """Optuna's TPE on several objectives (its multi-objective mode)."""

    name = "motpe"

    def _sampler(self) -> Any:
        return self.optuna.samplers.TPESampler(
            seed=int(self.ctx.config.run.seed),
            n_startup_trials=self.ctx.config.baselines.tpe_startup,
        )
