"""What the screens show about one run, folded from events or read back from history.

Plain Python (no Textual): the App applies each event on the UI thread and the screens
redraw from this object on their own clock, so a burst of events costs one redraw.
A finished run is rebuilt from the history store through the same ``apply`` path, so a
live run and an opened one look the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tnao_app import catalogue
from tnao_app import events as ev

#: guide screen that shows each pipeline stage (evaluate is the end of the search)
STAGE_SCREEN = {"sample": "sampling", "train": "training", "search": "search", "evaluate": "search"}
GUIDE = ("benchmark", "sampling", "training", "search", "results")
LIVE = ("running", "stopping")


def in_rounds(method: str) -> bool:
    """Whether ``method`` runs sample -> train -> search -> evaluate in rounds with a
    model (the catalogue says); an unknown method (a newer TNAO's) does not."""
    return method in catalogue.CATALOGUE and catalogue.info(method).rounds


def _num(value, default: float = math.nan) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


@dataclass
class RunState:
    run_id: str = ""
    benchmark: str = ""
    dataset: str = ""
    method: str = ""
    seed: int = 0
    device: str = ""
    config: dict = field(default_factory=dict)
    #: idle | running | stopping | finished | stopped | failed | interrupted
    status: str = "idle"
    stage: str = ""
    round: int = 0  # 0-based round of a multi-round run (from the events' ``round``)
    plan: ev.RunPlan | None = None  # as RunStarted announced it (None: not told)
    #: planned rounds: the plan's, as StageStarted.rounds updates it; 0 = not known
    rounds: int = 0
    #: (stage, round) -> StageStarted.steps: epochs of a training, generations of a search
    steps: dict[tuple[str, int], int] = field(default_factory=dict)
    restarted: set[int] = field(default_factory=set)  # rounds that train a new model
    stages_done: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    progress: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    sampled: list[float] = field(default_factory=list)
    queries: int = 0
    budget: int = 0
    epochs: dict[tuple[int, int], ev.EpochEnded] = field(default_factory=dict)
    generations: dict[tuple[int, int], ev.Generation] = field(default_factory=dict)
    #: round -> the predictor's Kendall tau on its own training labels (end of training)
    train_tau: dict[int, float] = field(default_factory=dict)
    leaderboard: tuple[ev.LeaderRow, ...] = ()
    result: dict | None = None
    error: str = ""
    started: float | None = None  # clock() when the run (or this resume) began
    stage_started: float | None = None
    #: bumped on every change; the screens redraw only when it moved
    version: int = 0
    chart_version: int = 0  # epochs / generations changed (charts are the costly part)
    epoch_version: int = 0  # epochs changed (the training charts)
    gen_version: int = 0  # generations changed (the convergence chart)

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def epoch_list(self) -> list[ev.EpochEnded]:
        return [self.epochs[k] for k in sorted(self.epochs)]

    def generation_list(self) -> list[ev.Generation]:
        return [self.generations[k] for k in sorted(self.generations)]

    def apply(self, event: ev.Event, clock: Callable[[], float] | None = None) -> None:
        """Fold one event in. ``clock`` stamps stage starts for the ETA."""
        now = clock() if clock else None
        self.version += 1
        if isinstance(event, ev.RunStarted):
            self.run_id = event.run_id or self.run_id
            self.benchmark, self.dataset = event.benchmark, event.dataset
            self.method, self.seed, self.device = event.method, event.seed, event.device
            self.config = dict(event.config or {})
            self.plan = event.plan
            if event.plan is not None:
                self.rounds, self.budget = event.plan.rounds, event.plan.budget
            else:
                self.budget = int(self.config.get("run", {}).get("budget", self.budget) or 0)
            self.status, self.error, self.started = "running", "", now
        elif isinstance(event, ev.StageStarted):
            self.stage, self.stage_started = event.stage, now
            self.round = event.round
            self.progress.pop(event.stage, None)
            if event.steps:
                self.steps[(event.stage, event.round)] = event.steps
            if event.rounds:
                self.rounds = event.rounds
            if event.stage == "train":
                (self.restarted.add if event.restarted else self.restarted.discard)(event.round)
        elif isinstance(event, ev.StageFinished):
            self.stages_done[event.stage] = event.seconds
            if event.stage == "train":
                self._train_summary(event.round, event.summary)
            done, total, msg = self.progress.get(event.stage, (0, 0, ""))
            self.progress[event.stage] = (max(done, total), total, msg)
        elif isinstance(event, ev.Progress):
            self.progress[event.stage] = (event.done, event.total, event.message)
        elif isinstance(event, ev.Sampled):
            self.sampled = [s for s in event.signal if not math.isnan(s)]
        elif isinstance(event, ev.Queried):
            self.queries, self.budget = event.n_queries, event.budget
        elif isinstance(event, ev.EpochEnded):
            self.epochs[(event.round, event.epoch)] = event
            self.device = event.device or self.device
            self.chart_version += 1
            self.epoch_version += 1
        elif isinstance(event, ev.Generation):
            self.generations[(event.round, event.gen)] = event
            self.chart_version += 1
            self.gen_version += 1
        elif isinstance(event, ev.Leaderboard):
            self.leaderboard = tuple(event.rows)
        elif isinstance(event, ev.RunFinished):
            self.result, self.status, self.stage = dict(event.result), "finished", "evaluate"
            self.queries = int(self.result.get("queries", self.queries) or self.queries)
        elif isinstance(event, ev.RunStopped):
            self.status = "stopped"
        elif isinstance(event, ev.RunFailed):
            self.status, self.error = "failed", event.message

    def _train_summary(self, rnd: int, summary: dict | None) -> None:
        tau = _num((summary or {}).get("train_tau"))
        if not math.isnan(tau):
            self.train_tau[rnd] = tau

    def has_val_split(self) -> bool:
        """Whether training holds labels out (``train.val_fraction`` > 0) to measure the
        predictor's tau on; by default it does not, and every epoch's val_tau is NaN."""
        return _num(self.config.get("train", {}).get("val_fraction"), 0.0) > 0

    # --- rounds: as the events tell them, never re-derived from the config ------------
    def in_rounds(self) -> bool:
        """The run's method goes in rounds with a model (True while it is not known)."""
        method = self.method or self.config.get("run", {}).get("method", "")
        return not method or in_rounds(method)

    def has_stage(self, stage: str) -> bool:
        """Whether the run goes through ``stage``: as its plan says, else by its method."""
        if self.plan is not None:
            return stage in self.plan.stages
        return self.in_rounds() or stage in ("search", "evaluate")

    def rounds_total(self) -> int:
        """How many rounds the run has: a finished one, those it ran; else as planned (the
        plan, updated by each stage), never fewer than seen; 0 when not told."""
        seen = max((k[0] for k in (*self.epochs, *self.generations)), default=-1)
        seen = max(seen, self.round)
        if self.status == "finished":
            return seen + 1  # what it did, whatever the plan said
        return max(self.rounds, seen + 1) if self.rounds else 0

    def round_label(self, rnd: int) -> str:
        """``round k/n`` (1-based) for a multi-round run, ``round k`` while the total is
        not known and the run is seen to go in rounds; "" for a single-round one."""
        n = self.rounds_total()
        if n > 1:
            return f"round {rnd + 1}/{n}"
        seen = (k[0] for k in (*self.epochs, *self.generations))
        if n == 0 and max(rnd, self.round, *seen) > 0:
            return f"round {rnd + 1}"
        return ""

    def epochs_of(self, rnd: int) -> list[ev.EpochEnded]:
        return [self.epochs[k] for k in sorted(self.epochs) if k[0] == rnd]

    def generations_of(self, rnd: int) -> list[ev.Generation]:
        return [self.generations[k] for k in sorted(self.generations) if k[0] == rnd]

    def train_round(self) -> int:
        """The round the Training screen shows: the run's round while it trains or once
        it has epochs, else the last round that has some (while it searches, say)."""
        return _shown_round(self.round, self.stage == "train", [k[0] for k in self.epochs])

    def search_round(self) -> int:
        """The round the Search screen shows: the run's round while it searches or once
        it has generations, else the last round that has some (while the next trains)."""
        return _shown_round(
            self.round, self.stage in ("search", "evaluate"), [k[0] for k in self.generations]
        )

    def train_kind(self, rnd: int) -> str:
        """What round ``rnd``'s training does: "" (the first), "fine-tune" (the model goes
        on) or "retrain" (a new model: StageStarted.restarted, or, where the events are
        older than that field, epoch numbers that start over at 1)."""
        if rnd <= 0:
            return ""
        mine = self.epochs_of(rnd)
        if rnd in self.restarted or (mine and mine[0].epoch == 1):
            return "retrain"
        return "fine-tune"

    def train_over(self, rnd: int) -> bool:
        """Round ``rnd``'s training has ended (a later round or stage is under way)."""
        return (
            rnd < self.round
            or self.status == "finished"
            or (rnd == self.round and self.stage in ("search", "evaluate"))
        )

    def round_epochs(self, rnd: int) -> tuple[int, int]:
        """(epochs done, epochs planned) of round ``rnd``'s training, as the events say:
        ``EpochEnded.step`` of ``StageStarted.steps``; planned is 0 while not known (older
        events), and what was done once the training is over."""
        mine = self.epochs_of(rnd)
        last = mine[-1] if mine else None
        done = last.step if last and last.step > 0 else len(mine)
        total = self.steps.get(("train", rnd), 0)
        if not total and last and last.step > 0:
            # no StageStarted.steps (a stage row lost, say): the epoch's own counters tell
            # it, the round ends at the model's epoch ``epochs``
            total = last.epochs - last.epoch + last.step
        if not total and mine and self.train_over(rnd):
            total = done
        return done, max(total, done) if total else 0

    def round_generations(self, rnd: int) -> tuple[int, int]:
        """(generations done, generations planned) of round ``rnd``'s search; planned is
        0 while not known."""
        gens = self.generations_of(rnd)
        total = self.steps.get(("search", rnd), 0) or (gens[-1].generations if gens else 0)
        return len(gens), total

    def stage_fraction(self) -> float | None:
        """How much of the current stage is done (0..1), or None when unknown."""
        done, total, _ = self.progress.get(self.stage, (0, 0, ""))
        if self.stage == "train":
            finished, n = self.round_epochs(self.round)
            if n <= 0:
                return None
            part = done / total if total and done < total else 0.0
            return max(0.0, min(1.0, (finished + part) / n))
        if self.stage == "search":
            gens, n = self.round_generations(self.round)
            return max(0.0, min(1.0, gens / n)) if n else None
        return max(0.0, min(1.0, done / total)) if total else None

    def eta(self, clock: Callable[[], float]) -> float | None:
        """Seconds left in the current stage (of the current round), from its progress
        rate so far."""
        frac = self.stage_fraction()
        if not self.live or self.stage_started is None or not frac or frac >= 1.0:
            return None
        spent = clock() - self.stage_started
        return spent * (1.0 - frac) / frac

    def best(self) -> dict:
        return dict((self.result or {}).get("best") or {})


def _shown_round(current: int, in_stage: bool, rounds: list[int]) -> int:
    if in_stage or current in rounds or not rounds:
        return current
    return max(rounds)


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "--:--"
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def fmt_num(value, digits: int = 2) -> str:
    x = _num(value)
    return "-" if math.isnan(x) else f"{x:.{digits}f}"


# --- rebuilding a run from the history store -------------------------------------------


def from_store(store, run_id: str) -> RunState:
    """The state of a recorded run, read through ``store`` (a ``tnao_app.storage.Store``):
    its recorded events folded as the live ones were, then the run's status as the store
    sees it now (``interrupted`` for a run whose process died)."""
    run = store.get_run(run_id)
    st = RunState(run_id=run["id"])
    for event in store.replay(run["id"]):
        st.apply(event)
    st.run_id = run["id"]
    st.status = run.get("status") or "finished"
    st.error = (run.get("message") or "") if st.status == "failed" else ""
    st.queries = int(run.get("n_queries") or st.queries or 0)
    if st.status == "finished":
        st.stage = "evaluate"
    st.started = st.stage_started = None  # no clock of this session ran it
    st.version += 1
    return st


def histogram(values: Iterable[float], bins: int = 12) -> tuple[list[float], list[int]]:
    """Bin centres and counts of ``values`` (for the sampled-accuracy distribution)."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return [], []
    lo, hi = min(vals), max(vals)
    if hi <= lo:
        return [lo], [len(vals)]
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in vals:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    return [lo + width * (i + 0.5) for i in range(bins)], counts
