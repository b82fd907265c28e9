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
from tnao_app.stats import cut

#: guide screen that shows each pipeline stage (evaluate is the end of the search)
STAGE_SCREEN = {"sample": "sampling", "train": "training", "search": "search", "evaluate": "search"}
GUIDE = ("benchmark", "sampling", "training", "search", "results")
LIVE = ("running", "stopping")
#: the pseudo-stage of the Progress events the run process sends while it starts up
#: (before RunStarted): importing the engine, loading the benchmark
START = "start"


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
    #: n_queries -> search signal of that query, as the Queried events told it
    queried: dict[int, float] = field(default_factory=dict)
    #: n_queries -> the architecture of that query (the Pareto view reads its objectives)
    queried_arch: dict[int, str] = field(default_factory=dict)
    #: stage -> the round it last finished in (a multi-round run's steps are done only
    #: once their last round is)
    finished_round: dict[str, int] = field(default_factory=dict)
    seconds_done: float = 0.0  # the finished stages' seconds, every round
    prior_seconds: float = 0.0  # run time of the sessions before this one (a resume)
    #: (clock, fraction) at the first step of the current stage / of this session: the
    #: ETAs count the rate from there, so neither a stage's set-up (a swarm's first
    #: scoring) nor the work done before a resume reads as speed
    stage_mark: tuple[float, float] | None = None
    run_mark: tuple[float, float] | None = None
    #: what the run process said it is doing while it starts (before RunStarted)
    starting: str = ""
    #: a run another process drives, read from the history ("" = not followed): who
    followed: str = ""
    wall_started: float | None = None  # time.time() it started (a followed run's elapsed)
    #: bumped on every change; the screens redraw only when it moved
    version: int = 0
    chart_version: int = 0  # epochs / generations changed (charts are the costly part)
    epoch_version: int = 0  # epochs changed (the training charts)
    gen_version: int = 0  # generations changed (the convergence chart)
    query_version: int = 0  # queries changed (the anytime chart)

    @property
    def live(self) -> bool:
        return self.status in LIVE

    @property
    def owned(self) -> bool:
        """A live run this app drives (not one followed from the history)."""
        return self.live and not self.followed

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
                if not self.stage and event.plan.stages:
                    # where the run starts (a one-stage method announces no stage at all)
                    self.stage = event.plan.stages[0]
            else:
                self.budget = int(self.config.get("run", {}).get("budget", self.budget) or 0)
            # The clock runs from the user's start (ctrl+r, resume), not from when the
            # run process got going: elapsed time never jumps back.
            if not (self.live and self.started is not None):
                self.started = now
            self.status, self.error, self.starting = "running", "", ""
            self.run_mark = None
        elif isinstance(event, ev.StageStarted):
            self.stage, self.stage_started = event.stage, now
            self.stage_mark = None
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
            self.finished_round[event.stage] = event.round
            if math.isfinite(_num(event.seconds)):
                self.seconds_done += float(event.seconds)
            if event.stage == "train":
                self._train_summary(event.round, event.summary)
            done, total, msg = self.progress.get(event.stage, (0, 0, ""))
            self.progress[event.stage] = (max(done, total), total, msg)
        elif isinstance(event, ev.Progress):
            if event.stage == START:
                self.starting = event.message
            else:
                self.progress[event.stage] = (event.done, event.total, event.message)
        elif isinstance(event, ev.Sampled):
            self.sampled = [s for s in event.signal if not math.isnan(s)]
        elif isinstance(event, ev.Queried):
            self.queries, self.budget = event.n_queries, event.budget
            if event.n_queries > 0:
                self.queried[event.n_queries] = event.signal
                self.queried_arch[event.n_queries] = event.arch
                self.query_version += 1
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
        if now is not None and self.live and isinstance(event, STEPS):
            self._mark(event, now)

    def _mark(self, event: ev.Event, now: float) -> None:
        if self.stage_mark is None and getattr(event, "stage", self.stage) == self.stage:
            frac = self.stage_fraction()
            if frac is not None:
                self.stage_mark = (now, frac)
        if self.run_mark is None:
            frac = self.run_fraction()
            if frac is not None:
                self.run_mark = (now, frac)

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

    def guide_steps(self) -> tuple[str, ...]:
        """The guide's steps for this run: without a training stage (the plan's, else
        the method's) the Training step is skipped."""
        return tuple(g for g in GUIDE if g != "training" or self.has_stage("train"))

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
        """Seconds left in the current stage (of the current round), from its rate since
        its first step (a stage's set-up, or the epochs done before a resume, are no
        measure of its speed); None until a second step."""
        return _eta(self.stage_fraction(), self.stage_mark, clock) if self.live else None

    def run_fraction(self) -> float | None:
        """How much of the whole run is done (0..1), every round: a round-based run by
        its rounds (the current one by its stages: training, then search, weighted by how
        long the last round's took), any other by its queries; None when not known."""
        if self.status == "finished":
            return 1.0
        if self.plan is not None and self.plan.round_queries and self.has_stage("train"):
            n = self.rounds_total()
            if not n or self.stage in ("", "sample"):
                return 0.0 if n else None
            frac = self.stage_fraction() or 0.0
            t, s = _num(self.stages_done.get("train")), _num(self.stages_done.get("search"))
            w = t / (t + s) if t > 0 and s > 0 else 0.5  # the training share of a round
            pos = {"train": w * frac, "search": w + (1 - w) * frac}.get(self.stage, 1.0)
            # (a live run is never 100 % done: its last queries are still to come)
            return max(0.0, min(0.99, (self.round + pos) / n))
        if self.budget:
            return max(0.0, min(1.0 if not self.live else 0.99, self.queries / self.budget))
        return None

    def run_eta(self, clock: Callable[[], float]) -> float | None:
        """Seconds left in the whole run, from this session's rate (see ``run_mark``)."""
        return _eta(self.run_fraction(), self.run_mark, clock) if self.live else None

    def elapsed(self, clock: Callable[[], float]) -> float | None:
        """Run time so far: this session's, plus the sessions' before a resume."""
        if self.started is None:
            return None
        return self.prior_seconds + clock() - self.started

    def best_curve(self) -> list[tuple[int, float]]:
        """The anytime curve: (queries made, best search signal so far), every query."""
        out: list[tuple[int, float]] = []
        best = -math.inf
        for n in sorted(self.queried):
            v = self.queried[n]
            if math.isfinite(v) and v > best:
                best = v
            if math.isfinite(best):
                out.append((n, best))
        return out

    def step_done(self, stage: str) -> bool:
        """Whether ``stage`` is over for the whole run: finished in its last round (a
        multi-round run trains and searches again until then)."""
        if self.status == "finished":
            return True
        if stage not in self.stages_done:
            return False
        if stage == "sample":  # the first round's only
            return True
        n = self.rounds_total()
        return n <= 1 or self.finished_round.get(stage, 0) >= n - 1

    def best(self) -> dict:
        return dict((self.result or {}).get("best") or {})

    # --- objectives and constraints (the config's goal section) -------------------------
    def goal(self) -> dict:
        g = self.config.get("goal") or {}
        return {
            "objectives": str(g.get("objectives") or ""),
            "constraints": str(g.get("constraints") or ""),
        }

    def multi_objective(self) -> bool:
        """The run searches several objectives (a Pareto front, not one best cell)."""
        return len([p for p in self.goal()["objectives"].split(",") if p.strip()]) >= 2


@dataclass
class ParetoView:
    """What the Pareto charts and table draw, in the objectives' own units."""

    names: list[str]  # objectives as spelled, without the sign
    maximise: list[bool]
    points: list[tuple[float, ...]]  # each queried cell, in query order
    archs: list[str]
    front: list[int]  # indices of ``points`` on the current front
    hypervolume: list[tuple[int, float]]  # (queries, hypervolume share) after each query
    true_front: list[tuple[float, ...]]  # the table's (drawn once the run has ended)


_GOALS: dict[tuple, object] = {}


def _goal_of(state: RunState, table):
    """The run's ``Goal`` on ``table`` (cached: the true front is computed once)."""
    from tnao_app.config import Config
    from tnao_app.objectives import Goal

    g = state.goal()
    key = (id(table), state.dataset, g["objectives"], g["constraints"])
    if key not in _GOALS:
        cfg = Config.from_dict(
            {"run": {"benchmark": state.benchmark, "dataset": state.dataset}, "goal": g}
        )
        _GOALS[key] = Goal(table, cfg)
    return _GOALS[key]


def pareto_view(state: RunState, table) -> ParetoView | None:
    """The queried cells' objectives, their front and its hypervolume share per query,
    for a run with several objectives on ``table`` (None otherwise, or when the table
    cannot take the run's objectives)."""
    from tnao_app.errors import TnaoError

    if table is None or not state.multi_objective():
        return None
    try:
        goal = _goal_of(state, table)
    except TnaoError:
        return None
    rows, archs, ns = [], [], []
    for n in sorted(state.queried_arch):
        arch = state.queried_arch[n]
        try:
            row = table.index_of(table.space.from_native(arch))
        except (TnaoError, ValueError):
            row = None
        if row is not None:
            rows.append(int(row))
            archs.append(arch)
            ns.append(n)
    values = goal.values(rows) if rows else []
    curve = goal.hypervolume_curve(rows)
    front = goal.front(rows)
    where = {r: i for i, r in enumerate(rows)}
    true_rows = goal.true_front()[0].tolist() if not state.live else []
    return ParetoView(
        names=goal.names,
        maximise=[o.maximise for o in goal.objectives],
        points=[tuple(float(x) for x in v) for v in values],
        archs=archs,
        front=[where[r] for r in front],
        hypervolume=list(zip(ns, curve, strict=True)),
        true_front=[tuple(float(x) for x in v) for v in goal.values(true_rows)]
        if true_rows
        else [],
    )


#: the events that move a stage on (its ETA is measured from the first of them)
STEPS = (ev.Progress, ev.EpochEnded, ev.Generation, ev.Queried)


def _eta(
    frac: float | None, mark: tuple[float, float] | None, clock: Callable[[], float]
) -> float | None:
    if frac is None or mark is None or frac >= 1.0 or frac <= mark[1]:
        return None
    t0, f0 = mark
    return max(0.0, clock() - t0) * (1.0 - frac) / (frac - f0)


def budget_note(plan: ev.RunPlan | None) -> str:
    """A sentence when the run's plan cannot spend its budget (its rounds are capped):
    the run would otherwise end early without a word."""
    if plan is None or not plan.round_queries or plan.rounds <= 0:
        return ""
    if plan.sample + plan.rounds * plan.round_queries >= plan.budget:
        return ""
    wanted = -(-(plan.budget - plan.sample) // plan.round_queries)
    return (
        f"The budget of {plan.budget:,} queries needs {wanted:,} rounds of "
        f"{plan.round_queries}, but the run plans {plan.rounds}: search.rounds caps it."
    )


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


def fmt_pct(value, digits: int = 2) -> str:
    """A percentile cut (not rounded) to ``digits`` (``stats.cut``): only the table's best
    reads 100."""
    x = _num(value)
    return "-" if math.isnan(x) else f"{cut(x, digits):.{digits}f}"


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
    st.queries = int(run.get("n_queries") or st.queries or max(st.queried, default=0))
    if st.status == "finished":
        st.stage = "evaluate"
    st.started = st.stage_started = None  # no clock of this session ran it
    st.wall_started = run.get("started_at") or run.get("created_at")
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
