"""The base of the five guide screens: stage bar, status line, navigation, redraw clock."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from .state import GUIDE, RunState, fmt_seconds
from .widgets import StageBar, set_text, status_style

if TYPE_CHECKING:
    from .app import TnaoApp

#: redraws per second while a guide screen is shown (the issue asks for >= 4)
REDRAW_HZ = 5
#: a live chart redraws at most this often (plotext builds cost; labels stay at REDRAW_HZ)
CHART_MIN_S = 1.0


def _width(parts: list[tuple[str, str, str]]) -> int:
    return sum(len(t) for _k, t, _s in parts) + 2 * max(len(parts) - 1, 0)


def _shorter(key: str, text: str) -> str:
    """A status-line part for a narrow terminal: no device, no labels."""
    if key == "device":
        return ""
    return text.split(" ", 1)[1] if key in ("elapsed", "id") else text


class GuideScreen(Screen):
    """One step of the new-run guide. Subclasses fill ``body()`` and ``show_state()``."""

    STEP = ""
    #: the pipeline stages this step shows (its status line gives only their ETA)
    STAGES: tuple[str, ...] = ()
    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("ctrl+n", "next", "Next", id="next", priority=True),
        Binding("ctrl+g", "home", "Home", id="home"),
        Binding("ctrl+t", "stop", "Stop run", id="stop"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="guide")
        self._seen = -1
        self._seen_status = ""
        self._chart_seen = -1
        self._chart_view: object = None
        self._chart_at = 0.0
        self.ticks = 0  # redraw count (read by the responsiveness benchmark)

    @property
    def tnao(self) -> TnaoApp:
        return self.app  # type: ignore[return-value]

    @property
    def state(self) -> RunState:
        return self.tnao.state

    def compose(self) -> ComposeResult:
        yield StageBar(self.STEP, id="stagebar")
        yield from self.body()
        yield Static("", id="statusline")
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.set_interval(1 / REDRAW_HZ, self.tick)

    def on_screen_resume(self) -> None:
        self.redraw(force=True)

    def tick(self) -> None:
        if self.is_current:
            self.redraw()

    def redraw(self, force: bool = False) -> None:
        """Redraw from the run state when it moved; the clock line every tick."""
        st = self.state
        self.ticks += 1
        # A chart held back by CHART_MIN_S still counts as pending work.
        charts = self.chart_data(st)
        changed = (
            force
            or st.version != self._seen
            or (charts is not None and charts[0] != self._chart_seen)
        )
        if st.live:
            self.tnao.redraws.append((time.perf_counter(), st.stage, changed))
        if changed:
            self._seen = st.version
            self.query_one(StageBar).show_state(st)
            self.show_state(st, force)
        if st.status != self._seen_status:
            self._seen_status = st.status
            self.refresh_bindings()
        set_text(self.query_one("#statusline", Static), self.status_line(st))

    def show_state(self, state: RunState, force: bool) -> None:
        """Update the widgets from ``state`` (only called when it changed)."""

    def chart_data(self, state: RunState) -> tuple[int, object] | None:
        """(version, view) of what this screen's charts plot, or None when it has none:
        ``version`` moves with their data, ``view`` changes when they start showing
        something else (first points, another round)."""
        return None

    def chart_due(self, state: RunState, force: bool) -> bool:
        """Whether the charts should redraw now: new data, and not more than once per
        ``CHART_MIN_S`` while the run is live, except for a new view. The first points
        (a chart drawn empty when the screen opened) and a new round go up at once:
        throttled behind that empty draw, a search shorter than ``CHART_MIN_S`` (CSO
        with a small swarm) ran and ended with its chart still blank."""
        version, view = self.chart_data(state) or (state.chart_version, None)
        if not force and version == self._chart_seen:
            return False
        now = time.perf_counter()
        fresh = view != self._chart_view
        if not force and not fresh and state.live and now - self._chart_at < CHART_MIN_S:
            return False
        self._chart_seen, self._chart_view, self._chart_at = version, view, now
        return True

    def status_line(self, st: RunState) -> Text:
        clock = self.tnao.clock
        text = Text()
        if not st.run_id:
            if st.status == "stopping":
                text.append("Cancelling the start...", style="yellow")
            elif st.live:
                # The run process takes seconds to start (more under load): say what it
                # is doing and for how long, so a wait never looks like a hang.
                text.append("Starting the run", style="bold yellow")
                spent = st.elapsed(clock)
                if spent is not None:
                    text.append(f" {fmt_seconds(spent)}")
                text.append(f": {st.starting or 'starting the run process'}...", style="dim")
                text.append("  ctrl+t cancels", style="dim")
            else:
                text.append("No run yet.", style="dim")
            return text
        # (key, text, style): the less important parts go first when the line is too long
        parts: list[tuple[str, str, str]] = [("id", f"run {st.run_id}", "bold")]
        parts.append(("status", st.status, status_style(st.status)))
        if st.followed and st.live:
            if st.wall_started:
                parts.append(
                    ("elapsed", f"elapsed {fmt_seconds(time.time() - st.wall_started)}", "")
                )
            parts.append(("stage", st.stage or "starting", "dim"))
            parts.append(("followed", f"read-only: driven by {st.followed}", "cyan"))
        elif st.live and st.started is not None:
            parts.append(("elapsed", f"elapsed {fmt_seconds(st.elapsed(clock))}", ""))
            if st.stage == "evaluate" and st.stage in self.STAGES:
                parts.append(("stage", "evaluating", ""))  # a handful of queries: no ETA
            elif st.stage and (not self.STAGES or st.stage in self.STAGES):
                parts.append(("stage", f"{st.stage} ETA {fmt_seconds(st.eta(clock))}", ""))
            elif st.stage:
                # Another step's stage: say where the run is, not an ETA of a stage this
                # step does not show (it read as a stale one). The step's label has the round.
                parts.append(("stage", f"now: {st.stage}", "dim"))
            frac = st.run_fraction()
            if frac is not None:  # the whole run, every round
                parts.append(
                    ("total", f"total {frac:.0%} ETA {fmt_seconds(st.run_eta(clock))}", "")
                )
        if st.budget:
            parts.append(("queries", f"queries {st.queries}/{st.budget}", ""))
        if st.device and not (st.followed and st.live):
            parts.append(("device", st.device, ""))
        if st.error:
            parts.append(("error", st.error, "red"))
        width = self.size.width - 2 if self.size.width else 0
        for cut in ("device", "elapsed", "id"):
            if not width or _width(parts) <= width:
                break
            parts = [(k, _shorter(k, t), s) if k == cut else (k, t, s) for k, t, s in parts]
            parts = [p for p in parts if p[1]]
        for i, (_key, part, style) in enumerate(parts):
            text.append(("  " if i > 1 else " " if i else "") + part, style=style)
        return text

    # --- navigation ----------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            # a followed run is read-only: it is stopped where it runs
            return self.state.status == "running" and not self.state.followed
        if action == "next":
            return self.STEP != GUIDE[-1]
        return True

    def action_next(self) -> None:
        if self.can_leave():
            steps = self.state.guide_steps()
            i = steps.index(self.STEP) if self.STEP in steps else GUIDE.index(self.STEP)
            self.tnao.show_step(steps[min(i + 1, len(steps) - 1)])

    def can_leave(self) -> bool:
        return True

    def action_back(self) -> None:
        steps = self.state.guide_steps()
        i = steps.index(self.STEP) if self.STEP in steps else GUIDE.index(self.STEP)
        if i == 0:
            self.tnao.go_home()
        else:
            self.tnao.show_step(steps[i - 1])

    def action_home(self) -> None:
        self.tnao.go_home()

    def action_stop(self) -> None:
        self.tnao.stop_run()
