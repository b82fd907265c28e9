"""Guide step 5: the best architectures found, with their true rank; export."""

from __future__ import annotations

import math

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tnao_app.benchmarks import describe
from tnao_app.benchmarks.nb101.describe import LEGEND as NB101_LEGEND

from .dialogs import arch_lines
from .guide import GuideScreen
from .state import RunState, fmt_num
from .widgets import OP_SHORT, AnytimeChart, ArchTable, short_arch


class ResultsScreen(GuideScreen):
    STEP = "results"
    BINDINGS = [
        Binding("e", "export", "Export", id="export"),
        Binding("c", "copy_arch", "Copy", id="copy"),
        Binding("enter", "details", "Details", id="details", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple | None = None

    def body(self) -> ComposeResult:
        # one column that scrolls on a short terminal: the summary, the table, the chart
        with VerticalScroll(id="results-body"):
            yield Static("", id="best-summary")
            yield ArchTable(id="results-table", cursor_type="row", zebra_stripes=True)
            yield AnytimeChart(id="results-anytime")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#results-table", DataTable)
        for col in ("#", "arch", "valid", "test", "true rank", "pct"):
            table.add_column(col, key=col)
        table.focus()  # up/down pick a row, enter opens it, c copies it

    def show_state(self, state: RunState, force: bool) -> None:
        summary = Text()
        best = state.best()
        what = run_heading(state)
        if what:
            summary.append(what + "\n", style="bold")
        if state.status == "finished" and best:
            summary.append("Best architecture\n", style="bold")
            # cut between its tokens to fit, never inside one (c copies it whole)
            width = max(20, (self.size.width or 80) - 2)
            shown = describe(state.benchmark, best.get("arch", ""))
            summary.append("\n".join(arch_lines(shown, width)) + "\n")
            summary.append(
                f"valid {fmt_num(best.get('valid'))}  test "
                f"{fmt_num(best.get('test'))}  true rank {best.get('rank', '-')}"
                f"  percentile {fmt_num(best.get('percentile'), 2)}"
            )
            opt = (state.result or {}).get("optimum") or {}
            if isinstance(opt, dict) and opt:
                summary.append(
                    f"\noptimum of the table: test {fmt_num(opt.get('test'))} (rank 1)", style="dim"
                )
            summary.append(f"\n{state.queries} queries of {state.budget or '?'}", style="dim")
            if best.get("arch", "").startswith("|"):
                legend = ", ".join(f"{v} {k}" for k, v in OP_SHORT.items())
                summary.append(f"\nops: {legend}", style="dim")
            elif state.benchmark == "nb101":
                summary.append(f"\n{NB101_LEGEND}", style="dim")
        elif state.live:
            summary.append("The run is still going; results appear when it finishes.", style="dim")
        elif state.status in ("stopped", "interrupted", "failed"):
            summary.append(f"The run is {state.status}; resume it from Home (r).", style="yellow")
        else:
            summary.append("No results yet.", style="dim")
        self.query_one("#best-summary", Static).update(summary)
        key = (state.run_id, state.leaderboard, state.status)
        if force or key != self._shown:
            self._shown = key
            self._fill(state)
        if self.chart_due(state, force):
            self.query_one(AnytimeChart).show_state(state)

    def chart_data(self, state: RunState) -> tuple[int, object]:
        return state.query_version, (state.run_id, bool(state.queried))

    def _fill(self, state: RunState) -> None:
        table = self.query_one("#results-table", ArchTable)
        table.clear()
        rows = [r for r in state.leaderboard if not math.isnan(r.test)]
        rows.sort(key=lambda r: (-(r.valid if not math.isnan(r.valid) else -1e9), r.rank))
        table.archs = []
        for i, r in enumerate(rows[:25], 1):
            rank = self.tnao.true_rank(state, r.test)
            table.archs.append(
                {
                    "arch": r.arch,
                    "title": f"Result {i}",
                    "valid": fmt_num(r.valid),
                    "test": fmt_num(r.test),
                    "true rank": str(rank) if rank else "-",
                    "pct": fmt_num(r.percentile, 2),
                    "predicted": fmt_num(r.predicted, 3),
                }
            )
            table.add_row(
                str(i),
                short_arch(r.arch),
                fmt_num(r.valid),
                fmt_num(r.test),
                str(rank) if rank else "-",
                fmt_num(r.percentile, 2),
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export":
            return True if self.state.run_id else None
        return super().check_action(action, parameters)

    def action_export(self) -> None:
        self.tnao.export_run(self.state.run_id)

    @on(DataTable.RowSelected, "#results-table")
    def action_details(self) -> None:
        self.query_one(ArchTable).show_details()

    def action_copy_arch(self) -> None:
        table = self.query_one(ArchTable)
        if table.current() is None and self.state.best().get("arch"):
            self.app.copy_to_clipboard(self.state.best()["arch"])
            self.notify("Copied the best architecture string.")
            return
        table.copy_arch()


def run_heading(state: RunState) -> str:
    """Which run this is: id, benchmark / dataset, method, seed (a run opened from
    history has nothing else on this screen that says so)."""
    if not (state.run_id or state.benchmark):
        return ""
    method = state.method or state.config.get("run", {}).get("method", "")
    parts = [f"Run {state.run_id}" if state.run_id else "Run"]
    if state.benchmark:
        parts.append(f"{state.benchmark} / {state.dataset}" if state.dataset else state.benchmark)
    if method:
        parts.append(f"method {method}")
    parts.append(f"seed {state.seed}")
    return "  ".join(parts)
