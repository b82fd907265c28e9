"""The interface every search method implements, so all share one harness.

A method gets a ``SearchContext`` (the table, the run's ``Oracle`` that counts queries,
an emit function for events, a stop check, a checkpoint hook) and its own seeded RNG
(as Optuna's samplers own theirs). It spends the budget through the oracle and returns;
the pipeline turns the oracle's record into the result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..benchmarks.base import Oracle, Table
from ..config import Config
from ..events import Event


class Stopped(Exception):
    """Raised inside a method when the user asked the run to stop."""


def _never() -> bool:
    return False


def _ignore(*_args, **_kwargs) -> None:
    return None


@dataclass
class SearchContext:
    table: Table
    oracle: Oracle
    config: Config
    emit: Callable[[Event], None] = _ignore
    should_stop: Callable[[], bool] = _never
    #: ``checkpoint(stage, step, state)``: persist ``state`` so a resume can continue
    checkpoint: Callable[[str, int, dict], None] = _ignore
    #: the latest checkpoint ``{"stage", "step", "state"}`` when resuming, else None
    resume: dict | None = None
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    def check_stop(self) -> None:
        if self.should_stop():
            raise Stopped()


class SearchMethod(ABC):
    name: str = ""

    def __init__(self, ctx: SearchContext):
        self.ctx = ctx
        self.rng = np.random.default_rng(ctx.config.run.seed)

    @abstractmethod
    def run(self) -> None:
        """Spend the budget through ``self.ctx.oracle``; return when done."""
