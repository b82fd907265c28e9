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

from tnao_app import events as ev

#: guide screen that shows each pipeline stage (evaluate is the end of the search)
STAGE_SCREEN = {"sample": "sampling", "train": "training", "search": "search", "evaluate": "search"}
GUIDE = ("benchmark", "sampling", "training", "search", "results")
LIVE = ("running", "stopping")
#: methods that repeat train -> search -> evaluate in rounds (the others search once)
ROUND_METHODS = ("tnao", "nao")


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
            self.budget = int(self.config.get("run", {}).get("budget", self.budget) or 0)
            self.status, self.error, self.started = "running", "", now
        elif isinstance(event, ev.StageStarted):
            self.stage, self.stage_started = event.stage, now
            self.round = event.round
            self.progress.pop(event.stage, None)
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

    # --- rounds ----------------------------------------------------------------------
    def rounds_total(self) -> int:
        """How many rounds this run has: a finished run, those it ran; else from its
        config, as the method spends the budget (TNAO: ``top_k`` queries a round up to the
        ``rounds`` cap, the last round taking what is left), never fewer than seen."""
        cfg = self.config
        method = self.method or cfg.get("run", {}).get("method", "")
        est = 1
        if method in ROUND_METHODS:
            s = cfg.get("search", {})
            cap = int(s.get("rounds", 1) or 1)
            top_k = int(s.get("top_k", 0) or 0)
            budget = self.budget or int(cfg.get("run", {}).get("budget", 0) or 0)
            labelled = min(int(cfg.get("sample", {}).get("n_labelled", 0) or 0), budget)
            left = budget - labelled
            if left > 0:
                est = min(cap, math.ceil(left / top_k) if top_k > 0 else left)
        seen = max((k[0] for k in (*self.epochs, *self.generations)), default=-1)
        if self.status == "finished" and seen >= 0:
            return max(seen, self.round) + 1  # what it did, whatever the estimate said
        return max(est, self.round + 1, seen + 1)

    def round_label(self, rnd: int) -> str:
        """``round k/n`` (1-based) for a multi-round run; "" for a single-round one."""
        n = self.rounds_total()
        return f"round {rnd + 1}/{n}" if n > 1 else ""

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

    def round_epochs(self, rnd: int) -> tuple[int, int]:
        """(epochs finished, epochs planned) of round ``rnd``. Epoch numbers run on across
        rounds (round 0 trains ``epochs``, each later round fine-tunes up to
        ``epochs + r * finetune_epochs``), so a round counts from where the last one ended."""
        tc = self.config.get("train", {})
        before = [e.epoch for k, e in self.epochs.items() if k[0] < rnd]
        first = int(tc.get("epochs", 0) or 0)
        tune = int(tc.get("finetune_epochs", 0) or 0)
        start = max(before) if before else (first + (rnd - 1) * tune if rnd else 0)
        mine = self.epochs_of(rnd)
        if mine:
            return mine[-1].epoch - start, max(mine[-1].epochs - start, 1)
        return 0, (tune if rnd else first)

    def stage_fraction(self) -> float | None:
        """How much of the current stage is done (0..1), or None when unknown."""
        done, total, _ = self.progress.get(self.stage, (0, 0, ""))
        if self.stage == "train":
            finished, n = self.round_epochs(self.round)
            if n <= 0:
                return None
            part = done / total if total and done < total else 0.0
            return min(1.0, (finished + part) / n)
        if self.stage == "search":
            gens = self.generations_of(self.round)
            n = (
                gens[-1].generations
                if gens
                else int(self.config.get("search", {}).get("generations", 0) or 0)
            )
            return min(1.0, len(gens) / n) if n else None
        return done / total if total else None

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
# The store returns rows as dicts; these helpers take the event fields by name so a
# stored row and a live event go through the same ``RunState.apply``.


def _event_from_row(cls: type, row: dict, **fixed):
    """An event (or LeaderRow) from a stored row: NULL floats come back as NaN."""
    names = cls.__dataclass_fields__
    data = {k: v for k, v in row.items() if k in names}
    data.update(fixed)
    for name, f in names.items():
        if f.type in ("float", float) and data.get(name) is None:
            data[name] = math.nan
    try:
        return cls(**data)
    except TypeError:
        return None


def from_store(store, run_id: str) -> RunState:
    """The state of a recorded run, read through ``store`` (a ``tnao_app.storage.Store``)."""
    run = dict(store.get_run(run_id))
    st = RunState(run_id=run_id)
    cfg = run.get("config") or {}
    st.config = dict(cfg) if isinstance(cfg, dict) else {}
    rc = st.config.get("run", {})
    st.benchmark = run.get("benchmark") or rc.get("benchmark", "")
    st.dataset = run.get("dataset") or rc.get("dataset", "")
    st.method = run.get("method") or rc.get("method", "")
    st.seed = int(run.get("seed", rc.get("seed", 0)) or 0)
    st.device = run.get("device") or ""
    st.budget = int(rc.get("budget", 0) or 0)
    for row in _rows(store, "stages", run_id):
        stage = row.get("stage", "")
        rnd = int(row.get("round") or 0)
        if row.get("status") == "finished":
            st.stages_done[stage] = _num(row.get("seconds"), 0.0)
            if stage == "train":
                st._train_summary(rnd, row.get("summary"))
        st.stage = stage or st.stage
        st.round = max(st.round, rnd)
    sampled = _rows(store, "sampled", run_id)
    st.sampled = [_num(r.get("signal", r.get("valid"))) for r in sampled]
    st.sampled = [s for s in st.sampled if not math.isnan(s)]
    for row in _rows(store, "epochs", run_id):
        e = _event_from_row(
            ev.EpochEnded,
            row,
            epochs=row.get("epochs", 0) or 0,
            val_spearman=_num(row.get("val_spearman")),
            seconds=_num(row.get("seconds"), 0.0),
            device=row.get("device") or st.device,
        )
        if e is not None:
            st.apply(e)
    for row in _rows(store, "generations", run_id):
        g = _event_from_row(
            ev.Generation,
            row,
            generations=row.get("generations", 0) or 0,
            distinct=int(row.get("distinct_archs") or 0),
        )
        if g is not None:
            st.apply(g)
    lb = [_event_from_row(ev.LeaderRow, r) for r in _rows(store, "leaderboard", run_id)]
    st.leaderboard = tuple(r for r in lb if r is not None)
    result = run.get("result")
    if isinstance(result, dict) and result:
        st.result = result
    st.queries = int(run.get("n_queries") or (st.result or {}).get("queries", 0) or 0)
    st.status = run.get("status") or "finished"
    st.error = run.get("message") or "" if st.status == "failed" else ""
    if st.status == "finished":
        st.stage = "evaluate"
    st.version += 1
    return st


def _rows(store, name: str, run_id: str) -> list[dict]:
    fn = getattr(store, name, None)
    if fn is None:
        return []
    got = fn(run_id)
    return [dict(r) for r in (got or [])]


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
