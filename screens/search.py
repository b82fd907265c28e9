"""Guide step 4: the CSO leaderboard (updated every generation) and convergence chart."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from .guide import GuideScreen
from .state import RunState, fmt_num
from .widgets import ConvergenceChart, Leaderboard, set_text


class SearchScreen(GuideScreen):
    STEP = "search"

    def __init__(self) -> None:
        super().__init__()
        self._rows_seen: tuple | None = None

    def body(self) -> ComposeResult:
        with Horizontal(id="search-top"):
            yield Static("", id="gen-label")
            yield ProgressBar(id="gen-progress", show_eta=False)
        yield Leaderboard(id="leaderboard")
        yield ConvergenceChart(id="convergence")

    def show_state(self, state: RunState, force: bool) -> None:
        gens = state.generation_list()
        last = gens[-1] if gens else None
        total = int(last.generations) if last else int(
            state.config.get("search", {}).get("generations", 0) or 0)
        done = len([g for g in gens if g.round == last.round]) if last else 0
        self.query_one("#gen-progress", ProgressBar).update(total=total or 1,
                                                            progress=min(done, total or 0))
        label = Text(f"generation {done}/{total or '?'}")
        if last:
            label.append(f"  best {fmt_num(last.best_score, 3)}  distinct {last.distinct}",
                         style="dim")
            if last.round:
                label.append(f"  round {last.round + 1}", style="dim")
        if state.stage == "evaluate" and state.live:
            label.append("  querying the top architectures...", style="yellow")
        set_text(self.query_one("#gen-label", Static), label)
        if force or state.leaderboard is not self._rows_seen:
            self._rows_seen = state.leaderboard
            self.query_one(Leaderboard).show_rows(state.leaderboard)
        if self.chart_due(state, force):
            self.query_one(ConvergenceChart).show_state(state)
