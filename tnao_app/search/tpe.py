"""TPE: Optuna's tree-structured Parzen estimator (Bergstra et al. 2011) through Optuna's
ask/tell interface.

One categorical parameter per token position (NB201 / analog: per edge, the 5 ops), in a
study ``optuna.create_study(sampler=TPESampler(seed=run seed, n_startup_trials=
tpe_startup), direction="maximize")``. Each proposal asks a trial; its params are the
tokens, ``space.from_tokens`` makes the cell and ``table.index_of`` its row. A trial on a
row the run has already queried, or one the table cannot answer, is told as *pruned*
and the study is asked again, without spending budget: TPE puts pruned trials in its
worse group, so it moves off cells it cannot use. (Measured on NB201 cifar10, seeds
0-4, budget 200: telling a seen cell its known value instead piles duplicates on the
incumbent, 894 trials a run for 200 queries, 13 s a run, the optimum found in 3 of 5
seeds; pruned: 408 trials, 4 s, 5 of 5. A failed trial leaves the model as it was, so
the next ask repeats it.) After ``MAX_ASKS`` such asks in a row the proposal falls back
to a uniform unseen row, added to the study as a finished trial once its value is
known. Nothing depends on the budget (anytime).

Resume: an in-memory study does not go into a checkpoint, so the state keeps every
trial told, in order (its tokens, its value or ``None`` for pruned, and whether it was
asked or added). Loading the state builds the study afresh with the same seed and
replays that history: the same asks give the same params, so the sampler ends in the
state the uninterrupted run had (checked on replay: a different Optuna refuses).

Spaces whose tokens are not independent choices (NAS-Bench-101's graph cells) are
refused in one sentence.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .baseline import BaselineMethod
from .local import categorical
from .method import Hooks, SearchContext, StateError

#: asks in a row that land on seen or unanswerable rows before a uniform unseen row
MAX_ASKS = 20
ASKED, ADDED = "asked", "added"


def _optuna() -> Any:
    try:
        import optuna
    except ModuleNotFoundError:
        raise ConfigError(
            "method 'tpe' needs Optuna: pip install 'optuna>=4,<5' (a dependency of tnao)."
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per trial
    return optuna


class TPE(BaselineMethod):
    name = "tpe"

    def __init__(self, ctx: SearchContext, hooks: Hooks | None = None):
        super().__init__(ctx, hooks)
        self.ctx.config.baselines.check()
        table = ctx.table
        if not categorical(table):
            raise ConfigError(
                "method 'tpe' needs a space of one categorical choice per position; "
                f"{table.benchmark} cells are graphs whose tokens depend on each other "
                "(adjacency and ops), so use ls, bananas, evolution or random there."
            )
        self.optuna = _optuna()
        space = table.space
        choices = tuple(range(space.vocab_size))
        self.names = [f"pos{i}" for i in range(space.seq_len)]
        self.dists = {
            n: self.optuna.distributions.CategoricalDistribution(choices) for n in self.names
        }
        #: every trial told, in order: [tokens, value (None: pruned), ASKED or ADDED]
        self.history: list[list] = []
        self.study = self._study()
        self.pending: tuple[Any, int, list[int]] | None = None  # (trial or None, row, tokens)

    def _study(self) -> Any:
        sampler = self.optuna.samplers.TPESampler(
            seed=int(self.ctx.config.run.seed),
            n_startup_trials=self.ctx.config.baselines.tpe_startup,
        )
        return self.optuna.create_study(sampler=sampler, direction="maximize")

    def _ask(self) -> tuple[Any, list[int]]:
        trial = self.study.ask(self.dists)
        return trial, [int(trial.params[n]) for n in self.names]

    def _tell(self, trial: Any, tokens: list[int], value: float | None) -> None:
        if value is None:
            self.study.tell(trial, state=self.optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, value)
        self.history.append([tokens, value, ASKED])

    def _add(self, tokens: list[int], value: float) -> None:
        self.study.add_trial(
            self.optuna.trial.create_trial(
                params=dict(zip(self.names, tokens, strict=True)),
                distributions=self.dists,
                value=value,
            )
        )
        self.history.append([tokens, value, ADDED])

    def propose(self, k: int) -> list[int]:
        table = self.ctx.table
        for _ in range(MAX_ASKS):
            trial, tokens = self._ask()
            row = table.index_of(table.space.from_tokens(tokens))
            if self.is_open(row):
                assert row is not None  # is_open: a row
                self.pending = (trial, int(row), tokens)
                return [int(row)]
            self._tell(trial, tokens, None)  # seen or unanswerable: pruned, ask again
        got = self.draw_open()
        if got is None:
            return []
        row = got[1]
        self.pending = (None, row, [int(t) for t in table.tokens[row]])
        return [row]

    def observe(self, rows: list[int], signals: list[float]) -> None:
        self.record(rows, signals)
        assert self.pending is not None and rows == [self.pending[1]]
        trial, _row, tokens = self.pending
        if trial is None:
            self._add(tokens, float(signals[0]))
        else:
            self._tell(trial, tokens, float(signals[0]))
        self.pending = None
        self.generation(len(self.rows), self.ctx.budget, float(signals[0]))

    def summary(self) -> dict:
        return {"trials": len(self.history)}

    def extra_state(self) -> dict:
        return {**super().extra_state(), "history": [list(h) for h in self.history]}

    def _stored(self, value: Any) -> Any:
        """A told value as the study takes it, from the state (one number here)."""
        return float(value)

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.history, self.study, self.pending = [], self._study(), None
        for i, (tokens, value, kind) in enumerate(state["history"]):
            tokens = [int(t) for t in tokens]
            value = None if value is None else self._stored(value)
            if kind == ADDED:
                assert value is not None  # an added trial always has its value
                self._add(tokens, value)
                continue
            trial, asked = self._ask()
            if asked != tokens:
                raise StateError(
                    f"Replaying the TPE study gave other params at trial {i} (another "
                    "Optuna version?); start the run again with the same seed."
                )
            self._tell(trial, tokens, value)
