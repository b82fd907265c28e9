"""TNAO's round state: where a run stands between two checkpoints, typed."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

#: a round's phases, in order; "done" ends the run
PHASES = ("sample", "train", "search", "evaluate", "done")


@dataclass
class RoundState:
    round: int = 0  # 0-based; the sample comes before round 0's training
    phase: str = "sample"
    #: rounds in a row whose queries beat nothing found before, since the model was last
    #: trained afresh (``train.restart_after`` compares against it)
    stall: int = 0
    #: the same count, not reset by a restart (``search.explore_after`` compares against it)
    stale: int = 0
    base_round: int = 0  # the round the current model was created in
    fresh_round: bool = False  # the next training starts a new early-stopping record
    epoch0: int = -1  # the model's epoch count when this round's training began (-1: not yet)
    variant: int = 0  # the pretrained body the current model starts from (train.stage1)
    #: the latent search in flight: the strategy's and the scorer's state (None between)
    strategy: dict | None = None
    scorer: dict | None = None
    pool_best: float = math.nan  # best predicted score over the pool, this round
    #: the round's queries in flight (evaluate): its quota (-1: not begun), the queries
    #: before it, sequential local picks still to make, and its counts
    quota: int = -1
    before: int = 0
    local_left: int = 0
    skipped: int = 0
    filled: int = 0
    #: the escape's climb (``search.escape_after``): its cell (-1: none) and this round's
    #: picks from it
    climb: int = -1
    climb_picks: list[int] = field(default_factory=list)

    @property
    def restarted(self) -> bool:
        """This round trains a model created afresh in it (a later round only)."""
        return self.round > 0 and self.round == self.base_round

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RoundState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
