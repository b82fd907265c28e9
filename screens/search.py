"""Guide step 4: the CSO leaderboard (updated every generation) and convergence chart.

A multi-round run searches once per round: the label, the bar and the chart show one
round (the current one while it searches, else the last searched one). A run with
several objectives shows, in place of the convergence and anytime charts, the Pareto
scatter of its queried cells (the front so far; the table's true front once it ends)
and the hypervolume share per query.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, ProgressBar, Static

from .guide import GuideScreen
from .state import RunState, fmt_num, pareto_view
from .widgets import (
    AnytimeChart,
    ConvergenceChart,
    HypervolumeChart,
    Leaderboard,
    ParetoChart,
    set_text,
)


class SearchScreen(GuideScreen):
    STEP = "search"
    STAGES = ("search", "evaluate")
    DEFAULT_CSS = """
    #pareto-charts { height: 50%; display: none; }
    #pareto, #hypervolume { width: 1fr; }
    """
    BINDINGS = [
        Binding("c", "copy_arch", "Copy", id="copy"),
        Binding("enter", "details", "Details", id="details", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows_seen: tuple | None = None

    def body(self) -> ComposeResult:
        with Horizontal(id="search-top"):
            yield Static("", id="gen-label")
            yield ProgressBar(id="gen-progress", show_eta=False)
        yield Leaderboard(id="leaderboard")
        with Horizontal(id="search-charts"):
            yield ConvergenceChart(id="convergence")
            yield AnytimeChart(id="anytime")
        with Horizontal(id="pareto-charts"):
            yield ParetoChart(id="pareto")
            yield HypervolumeChart(id="hypervolume")

    def chart_data(self, state: RunState) -> tuple[int, object]:
        # Only generations and queries move these charts (epochs used to, for nothing); a
        # new round, or the first points after an empty draw, is a new view and goes up
        # at once.
        rnd = state.search_round()
        return state.gen_version + state.query_version, (
            rnd,
            any(k[0] == rnd for k in state.generations),
            bool(state.queried),
            state.live,  # the table's true front is drawn once the run has ended
        )

    def show_state(self, state: RunState, force: bool) -> None:
        rnd = state.search_round()
        gens = state.generations_of(rnd)
        last = gens[-1] if gens else None
        done, total = state.round_generations(rnd)
        bar = self.query_one("#gen-progress", ProgressBar)
        if total:
            bar.update(total=total, progress=min(done, total))
        elif state.live and state.stage == "search" and state.round == rnd:
            bar.update(total=None)  # not told how many: an indeterminate bar, no 0 %
        else:
            bar.update(total=1, progress=0)
        label = Text()
        rounds = state.round_label(rnd)
        if rounds:
            label.append(f"{rounds}  ", style="bold")
        label.append(f"gen {done}/{total or '?'}")
        if state.live and state.stage == "evaluate" and state.round == rnd:
            label.append("  querying the top picks...", style="yellow")
        elif state.live and state.round > rnd:
            doing = "training" if state.stage == "train" else state.stage
            label.append(f"  {state.round_label(state.round)} {doing}...", style="yellow")
        elif last:
            label.append(
                f"  best {fmt_num(last.best_score, 3)}  distinct {last.distinct}", style="dim"
            )
        set_text(self.query_one("#gen-label", Static), label)
        if force or state.leaderboard is not self._rows_seen:
            self._rows_seen = state.leaderboard
            self.query_one(Leaderboard).show_rows(state.leaderboard)
        if self.chart_due(state, force):
            multi = state.multi_objective()
            self.query_one("#search-charts").display = not multi
            self.query_one("#pareto-charts").display = multi
            if multi:
                view = pareto_view(state, self.tnao._table(state.benchmark))
                self.query_one(ParetoChart).show_view(view)
                self.query_one(HypervolumeChart).show_view(view, state.budget)
            else:
                self.query_one(ConvergenceChart).show_state(state)
                self.query_one(AnytimeChart).show_state(state)

    @on(DataTable.RowSelected, "#leaderboard")
    def action_details(self) -> None:
        self.query_one(Leaderboard).show_details()

    def action_copy_arch(self) -> None:
        self.query_one(Leaderboard).copy_arch()
