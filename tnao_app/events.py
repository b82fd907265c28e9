"""Typed events a run emits. The CLI, the history store and the TUI subscribe to them.

Data flows one way: the pipeline emits, subscribers render or record. Events are plain
frozen dataclasses of JSON-friendly values so they cross threads and processes safely
and storage can write them as they are (``asdict``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

STAGES = ("sample", "train", "search", "evaluate")


@dataclass(frozen=True)
class Event:
    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class RunPlan:
    """What a run will do, as its method plans it: UIs show this, never re-derive it."""

    budget: int  # unique queries the run may make
    stages: tuple[str, ...] = ("search",)  # the STAGES the method goes through
    rounds: int = 1  # planned rounds (train -> search -> evaluate); 1 for one-pass methods
    sample: int = 0  # queries of the first sample (0: the method has no sample stage)
    round_queries: int = 0  # queries per round after the sample (0: not in rounds)


@dataclass(frozen=True)
class RunStarted(Event):
    run_id: str
    benchmark: str
    dataset: str
    method: str
    seed: int
    device: str
    config: dict
    resumed: bool = False
    plan: RunPlan | None = None


@dataclass(frozen=True)
class StageStarted(Event):
    stage: str  # one of STAGES
    round: int = 0  # 0-based round of a multi-round method
    #: steps this stage makes in this round: epochs of a training, generations of a
    #: search, queries of a sample or evaluate; 0 = not known in advance
    steps: int = 0
    rounds: int = 0  # the plan's rounds as of now (a run can end early); 0 = unchanged
    restarted: bool = False  # train: a new model from scratch in a later round


@dataclass(frozen=True)
class StageFinished(Event):
    stage: str
    seconds: float
    summary: dict = field(default_factory=dict)
    round: int = 0


@dataclass(frozen=True)
class Progress(Event):
    """Fine-grained progress inside a stage (per batch while training)."""

    stage: str
    done: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class Sampled(Event):
    """Architectures sampled and queried for the training set."""

    archs: tuple[str, ...]  # native strings
    signal: tuple[float, ...]  # their search-signal values (NaN: not queried)


@dataclass(frozen=True)
class Queried(Event):
    """One new benchmark query (each costs one unit of budget)."""

    arch: str
    signal: float
    n_queries: int
    budget: int


@dataclass(frozen=True)
class EpochEnded(Event):
    epoch: int  # 1-based, counted over the model's whole life (fine-tuning goes on)
    epochs: int  # the model's epoch count at the end of this round's training
    loss_rec: float
    loss_rank: float
    loss_total: float
    val_tau: float  # Kendall tau of the predictor on the validation split
    val_spearman: float
    seconds: float
    device: str
    round: int = 0
    step: int = 0  # 1-based epoch within this round's training (StageStarted.steps)


@dataclass(frozen=True)
class Generation(Event):
    """One CSO generation (or one step of another search)."""

    gen: int  # 1-based
    generations: int
    best_score: float  # best predicted score so far
    mean_score: float  # mean predicted score of the swarm
    distinct: int  # distinct architectures visited so far
    round: int = 0


@dataclass(frozen=True)
class LeaderRow:
    rank: int
    arch: str
    predicted: float  # NaN where the method has no predictor
    valid: float  # queried search signal; NaN if not queried yet
    test: float  # reported metric; NaN until queried
    percentile: float  # of the reported metric in the whole table; NaN until queried


@dataclass(frozen=True)
class Leaderboard(Event):
    rows: tuple[LeaderRow, ...]


@dataclass(frozen=True)
class CheckpointSaved(Event):
    stage: str
    step: int
    path: str
    sha256: str


@dataclass(frozen=True)
class RunFinished(Event):
    result: dict  # as printed by `tnao run --json`


@dataclass(frozen=True)
class RunStopped(Event):
    stage: str


@dataclass(frozen=True)
class RunFailed(Event):
    message: str


Listener = Callable[[Event], None]


class Bus:
    """Fans one event out to many listeners, in subscription order."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def emit(self, event: Event) -> None:
        for fn in self._listeners:
            fn(event)
