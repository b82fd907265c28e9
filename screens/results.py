"""Guide step 5: the best architectures found, with their true rank; export.

A run with several objectives shows its Pareto front (the non-dominated queried cells,
one column per objective) with its hypervolume share and the hypervolume-per-query
chart; ``f`` writes the front as CSV and JSON. A constrained run names its constraints
and the table's constrained optimum (queried or not)."""

from __future__ import annotations

import math

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tnao_app.benchmarks import describe
from tnao_app.benchmarks.nb101.describe import LEGEND as NB101_LEGEND

from .dialogs import arch_lines
from .guide import GuideScreen
from .state import RunState, fmt_num, fmt_pct, pareto_view
from .widgets import (
    OP_SHORT,
    AnytimeChart,
    ArchTable,
    HypervolumeChart,
    fill_table,
    pareto_rows,
    short_arch,
)

RESULT_COLUMNS = ("#", "arch", "valid", "test", "true rank", "pct")


class ResultsScreen(GuideScreen):
    STEP = "results"
    DEFAULT_CSS = """
    #pareto-table { display: none; }
    #results-hypervolume { height: 14; display: none; }
    """
    BINDINGS = [
        Binding("e", "export", "Export", id="export"),
        Binding("f", "export_front", "Export front", id="export_front"),
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
            yield ArchTable(id="pareto-table", cursor_type="row", zebra_stripes=True)
            yield ArchTable(id="results-table", cursor_type="row", zebra_stripes=True)
            yield HypervolumeChart(id="results-hypervolume")
            yield AnytimeChart(id="results-anytime")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#results-table", DataTable)
        fill_table(table, RESULT_COLUMNS, [])
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
                f"  percentile {fmt_pct(best.get('percentile'), 2)}"
            )
            opt = (state.result or {}).get("optimum") or {}
            if isinstance(opt, dict) and opt:
                summary.append(
                    f"\noptimum of the table: test {fmt_num(opt.get('test'))} (rank 1)", style="dim"
                )
            summary.append(f"\n{state.queries} queries of {state.budget or '?'}", style="dim")
            cov = (state.result or {}).get("coverage")
            if isinstance(cov, dict) and cov.get("space"):
                summary.append(
                    f"\nthe table answers {cov['answerable']:,} of the space's "
                    f"{cov['space']:,} cells; every query was one of them",
                    style="dim",
                )
            summary.append_text(goal_summary(state.result or {}))
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
            self._fill_front(state)
        if self.chart_due(state, force):
            self.query_one(AnytimeChart).show_state(state)
            hv = self.query_one(HypervolumeChart)
            hv.display = state.multi_objective()
            if hv.display:
                hv.show_view(pareto_view(state, self.tnao._table(state.benchmark)), state.budget)

    def chart_data(self, state: RunState) -> tuple[int, object]:
        return state.query_version, (state.run_id, bool(state.queried))

    def _fill(self, state: RunState) -> None:
        table = self.query_one("#results-table", ArchTable)
        rows = [r for r in state.leaderboard if not math.isnan(r.test)]
        rows.sort(key=lambda r: (-(r.valid if not math.isnan(r.valid) else -1e9), r.rank))
        table.archs = []
        cells = []
        for i, r in enumerate(rows[:25], 1):
            rank = self.tnao.true_rank(state, r.test)
            table.archs.append(
                {
                    "arch": r.arch,
                    "title": f"Result {i}",
                    "valid": fmt_num(r.valid),
                    "test": fmt_num(r.test),
                    "true rank": str(rank) if rank else "-",
                    "pct": fmt_pct(r.percentile, 2),
                    "predicted": fmt_num(r.predicted, 3),
                }
            )
            cells.append(
                (
                    str(i),
                    short_arch(r.arch),
                    fmt_num(r.valid),
                    fmt_num(r.test),
                    str(rank) if rank else "-",
                    fmt_pct(r.percentile, 2),
                )
            )
        fill_table(table, RESULT_COLUMNS, cells)

    def _fill_front(self, state: RunState) -> None:
        """The Pareto table: the front of the queried cells, one column per objective."""
        table = self.query_one("#pareto-table", ArchTable)
        names, front = pareto_rows(state.result if state.status == "finished" else None)
        table.display = bool(front)
        table.archs = []
        if not front:
            table.clear(columns=True)
            return
        cells = []
        for i, e in enumerate(front, 1):
            values = {n: fmt_num(e.get(n), 4) for n in names}
            table.archs.append({"arch": e["arch"], "title": f"Front cell {i}", **values})
            cells.append((str(i), short_arch(e["arch"]), *values.values()))
        fill_table(table, ("#", "arch", *names), cells)
        table.styles.height = min(len(front) + 1, 16)  # the header and every row, to 16

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export":
            return True if self.state.run_id else None
        if action == "export_front":
            # shown only for a run with a front (a plain run's footer stays as it was)
            has = bool(pareto_rows(self.state.result)[1]) and self.state.status == "finished"
            return bool(self.state.run_id and has)
        return super().check_action(action, parameters)

    def action_export_front(self) -> None:
        self._write_front(self.state.run_id)

    @work(thread=True, exit_on_error=False, group="export-front")
    def _write_front(self, run_id: str) -> None:
        from tnao_app.export import export_front

        folder = self.tnao.export_dir
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / f"{run_id}-front.{fmt}" for fmt in ("csv", "json")]
        for path in paths:
            export_front(self.tnao.store, run_id, path.suffix[1:], out=path)
        self.app.call_from_thread(
            self.notify, f"Wrote the Pareto front of run {run_id} to {paths[0]} and .json."
        )

    def action_export(self) -> None:
        self.tnao.export_run(self.state.run_id)

    def _arch_table(self) -> ArchTable:
        """The table the keys act on: the focused one (the Pareto table or the best
        architectures), else the best architectures."""
        focused = self.focused
        if isinstance(focused, ArchTable):
            return focused
        return self.query_one("#results-table", ArchTable)

    @on(DataTable.RowSelected, "#results-table, #pareto-table")
    def action_details(self) -> None:
        self._arch_table().show_details()

    def action_copy_arch(self) -> None:
        table = self._arch_table()
        if table.current() is None and self.state.best().get("arch"):
            self.app.copy_to_clipboard(self.state.best()["arch"])
            self.notify("Copied the best architecture string.")
            return
        table.copy_arch()


def goal_summary(result: dict) -> Text:
    """The constraints with the table's constrained optimum, and the front's
    hypervolume share, for the summary (empty for a plain run)."""
    out = Text()
    if result.get("constraints"):
        co = result.get("constrained_optimum") or {}
        found = "queried" if co.get("found") else "not queried"
        out.append(
            f"\nconstraints {', '.join(result['constraints'])}: "
            f"{result.get('feasible_cells', 0):,} feasible cells; constrained optimum "
            f"(best feasible signal) {fmt_num(co.get('signal'))}, test "
            f"{fmt_num(co.get('test'))} ({found}); best feasible test "
            f"{fmt_num(co.get('best_feasible_test'))}",
            style="dim",
        )
    if result.get("front") is not None:
        out.append(
            f"\nPareto front: {len(result['front'])} cells, hypervolume "
            f"{100 * float(result.get('hypervolume_share') or 0):.2f}% of the table's true "
            f"front ({result.get('true_front_size', '?')} cells); f exports it",
        )
    return out


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
