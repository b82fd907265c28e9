"""Home: the run history and which benchmarks are ready."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static

from .benchmark import fetchable
from .state import fmt_num
from .widgets import status_text

if TYPE_CHECKING:
    from .app import TnaoApp

#: statuses of a run that can be resumed
RESUMABLE = ("stopped", "failed", "interrupted")
RUN_COLUMNS = ("run", "benchmark", "dataset", "method", "status", "best test", "date")
DATA_COLUMNS = ("benchmark", "status", "archs")
#: columns of the data table before its last one, with their cell padding and the
#: scrollbar: the last one wraps in what is left of the width
DATA_FIXED = 34


def data_note(row: dict, fetchable: tuple[str, ...] = ()) -> str:
    """The data table's last cell: a ready benchmark's datasets, else how to get it from
    here (the engine's hint names the CLI commands)."""
    if row.get("ready"):
        return ", ".join(row.get("datasets") or [])
    how = "press i to import a file"
    if row["benchmark"] in fetchable:
        how += f", or fetch it: ctrl+p, Fetch {row['benchmark']}"
    return (f"error: {row['error']}; " if row.get("error") else "") + how


def fmt_date(ts: float | None) -> str:
    if not ts:
        return ""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


class HomeScreen(Screen):
    BINDINGS = [
        Binding("n", "new_run", "New run", id="new"),
        Binding("o", "open_run", "Open", id="open"),
        Binding("r", "resume_run", "Resume", id="resume"),
        Binding("e", "export_run", "Export", id="export"),
        Binding("d", "delete_run", "Delete", id="delete"),
        # Short labels: at 80 columns the footer holds these, Quit and the palette key.
        Binding("i", "import_data", "Import", id="import"),
        Binding("g", "refresh", "Refresh", id="refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="home")
        self.runs: list[dict] = []

    @property
    def tnao(self) -> TnaoApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="runs-box"):
            yield Label("Run history", classes="section")
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            yield Static("", id="runs-empty")
        with Vertical(id="data-box"):
            yield Label("Benchmark data", classes="section")
            yield DataTable(id="data", cursor_type="row", show_cursor=False)
        yield Footer()

    def on_mount(self) -> None:
        runs = self.query_one("#runs", DataTable)
        for col in RUN_COLUMNS:
            runs.add_column(col, key=col)
        data = self.query_one("#data", DataTable)
        data.can_focus = False
        self.set_interval(2.0, self._poll)
        runs.focus()

    def on_screen_resume(self) -> None:
        self.refresh_runs()
        self.fill_data(self.tnao.data_rows)

    def _poll(self) -> None:
        # A live run's status and best test change; others are still.
        if self.is_current and any(r["status"] in ("created", "running") for r in self.runs):
            self.refresh_runs()

    def refresh_runs(self) -> None:
        runs = self.query_one("#runs", DataTable)
        keep = self.selected_id()
        try:
            self.runs = self.tnao.store.list_runs()
        except Exception as exc:  # a broken history must not take Home down
            self.runs = []
            self.tnao.show_error(str(exc))
        runs.clear()
        for r in self.runs:
            best = r.get("best_test")
            runs.add_row(
                r["id"],
                r["benchmark"],
                r["dataset"],
                r["method"],
                status_text(r["status"]),
                fmt_num(best if best is not None else math.nan),
                fmt_date(r.get("created_at")),
                key=r["id"],
            )
        ids = [r["id"] for r in self.runs]
        if keep in ids:
            runs.move_cursor(row=ids.index(keep))
        self.query_one("#runs-empty", Static).update(
            "" if self.runs else Text("No runs yet: press n to start one.", style="dim")
        )
        self.query_one("#runs-empty").display = not self.runs
        self.refresh_bindings()

    def on_resize(self) -> None:
        self.fill_data(self.tnao.data_rows)

    def fill_data(self, rows: list[dict] | None) -> None:
        data = self.query_one("#data", DataTable)
        # The last column has the width that is left and its rows wrap (auto height): a
        # list of datasets or a hint cut at the right edge read as the whole of it.
        data.clear(columns=True)
        for col in DATA_COLUMNS:
            data.add_column(col, key=col)
        data.add_column(
            "datasets", key="datasets", width=max(20, (self.size.width or 80) - DATA_FIXED)
        )
        if rows is None:
            data.add_row("...", Text("checking", style="dim"), "", "")
            return
        for r in rows:
            if r.get("ready"):
                st = Text("ready", style="green")
            elif r.get("error"):
                st = Text("error", style="red")
            else:
                st = Text("not ready", style="yellow")
            note = Text(data_note(r, fetchable()), style="" if r.get("ready") else "dim")
            data.add_row(
                r["benchmark"], st, f"{r['archs']:,}" if r.get("ready") else "", note, height=None
            )

    def selected_id(self) -> str | None:
        runs = self.query_one("#runs", DataTable)
        if not self.runs or runs.cursor_row is None or runs.row_count == 0:
            return None
        try:
            key = runs.coordinate_to_cell_key((runs.cursor_row, 0)).row_key
        except Exception:
            return None
        return str(key.value) if key.value else None

    def selected(self) -> dict | None:
        rid = self.selected_id()
        return next((r for r in self.runs if r["id"] == rid), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        run = self.selected() if self.is_mounted else None
        if action in ("open_run", "export_run", "delete_run"):
            return True if run else None
        if action == "resume_run":
            return True if run and run["status"] in RESUMABLE else None
        return True

    def on_data_table_row_highlighted(self) -> None:
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "runs":
            self.action_open_run()

    def action_new_run(self) -> None:
        self.tnao.new_run()

    def action_open_run(self) -> None:
        if run := self.selected():
            self.tnao.open_run(run["id"])

    def action_resume_run(self) -> None:
        if run := self.selected():
            self.tnao.resume_run(run["id"])

    def action_export_run(self) -> None:
        if run := self.selected():
            self.tnao.export_run(run["id"])

    def action_delete_run(self) -> None:
        if run := self.selected():
            self.tnao.delete_run(run["id"])

    def action_import_data(self) -> None:
        self.tnao.import_data("nb201")

    def action_refresh(self) -> None:
        self.refresh_runs()
        self.tnao.refresh_data()
