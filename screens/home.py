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
from .state import fmt_num, fmt_seconds
from .widgets import fill_table, readiness_text, status_text

if TYPE_CHECKING:
    from .app import TnaoApp

#: statuses of a run that can be resumed
RESUMABLE = ("stopped", "failed", "interrupted")
RUN_COLUMNS = (
    "run",
    "name",
    "benchmark",
    "dataset",
    "method",
    "budget",
    "seed",
    "queries",
    "status",
    "best test",
    "time",
    "date",
)
#: columns right-aligned (numbers)
NUMERIC = ("budget", "seed", "queries", "best test", "time")
#: seconds between two looks at the history for runs made elsewhere (tnao run)
POLL_S = 2.0
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


def query_counts(store) -> dict[str, int]:
    """Run id -> queries recorded so far: a stopped or running run has no total yet."""
    try:
        return {
            rid: int(n or 0)
            for rid, n in store.db.execute("SELECT run_id, MAX(n) FROM queries GROUP BY run_id")
        }
    except Exception:  # an older history without the table: no counts
        return {}


def run_row(r: dict, counts: dict[str, int]) -> dict:
    """The Home table's values of run ``r`` (sortable: numbers stay numbers)."""
    cfg = r.get("config") or {}
    start = r.get("started_at") or r.get("created_at")
    end = r.get("finished_at") if r["status"] not in ("running", "created") else None
    end = end or r.get("heartbeat_at")
    best = r.get("best_test")
    return {
        "run": r["id"],
        "name": r.get("name") or "",
        "benchmark": r["benchmark"],
        "dataset": r["dataset"],
        "method": r["method"],
        "budget": int((cfg.get("run") or {}).get("budget") or 0),
        "seed": r.get("seed") if r.get("seed") is not None else "",
        "queries": r.get("n_queries") or counts.get(r["id"], 0),
        "status": r["status"],
        "best test": best if best is not None else math.nan,
        "time": max(0.0, end - start) if start and end else math.nan,
        "date": r.get("created_at") or 0,
    }


def cell(col: str, value) -> Text | str:
    if col == "status":
        return status_text(value)
    if col == "best test":
        return Text(fmt_num(value), justify="right")
    if col == "time":
        return Text("" if math.isnan(value) else fmt_seconds(value), justify="right")
    if col == "date":
        return fmt_date(value)
    if col in NUMERIC:
        return Text(str(value), justify="right")
    return Text(str(value))  # a run's name is the user's text: a str cell is read as markup


def sort_key(col: str):
    def key(row: dict):
        v = row[col]
        if isinstance(v, float) and math.isnan(v):
            return (1, 0.0)  # not known: last
        return (0, v)

    return key


def cursor_key(table: DataTable) -> str | None:
    """The row key under ``table``'s cursor (None: an empty table, no row there yet)."""
    if table.cursor_row is None or table.row_count == 0:
        return None
    try:
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key
    except Exception:  # the cursor is past the rows while the table refills
        return None
    return str(key.value) if key.value else None


class HomeScreen(Screen):
    BINDINGS = [
        Binding("n", "new_run", "New", id="new"),
        Binding("o", "open_run", "Open", id="open"),
        Binding("r", "resume_run", "Resume", id="resume"),
        Binding("e", "export_run", "Export", id="export"),
        # (in the palette, the help, and on wide terminals the footer is no place for it)
        Binding("d", "delete_run", "Delete", id="delete", show=False),
        # Short labels: at 80 columns the footer holds these, Quit, Help and the palette.
        Binding("i", "import_data", "Import", id="import"),
        Binding("g", "refresh", "Refresh", id="refresh"),
        Binding("s", "sort", "Sort", id="sort", show=False),
        Binding("x", "experiments", "Experiments", id="experiments", show=False),
        Binding("space", "mark", "Mark to compare", id="mark", show=False),
        Binding("c", "compare", "Compare marked", id="compare", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="home")
        self.runs: list[dict] = []
        self.sort_by, self.reverse = "date", True  # newest first
        self._seen: object = None  # what the history held at the last look
        self.marked: set[str] = set()  # runs marked (space) to compare their curves (c)

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
        yield Footer(compact=True)

    def on_mount(self) -> None:
        runs = self.query_one("#runs", DataTable)
        data = self.query_one("#data", DataTable)
        data.can_focus = False
        self.set_interval(POLL_S, self._poll)
        runs.focus()

    def on_screen_resume(self) -> None:
        self.refresh_runs()
        self.fill_data(self.tnao.data_rows)

    def _poll(self) -> None:
        # Runs made elsewhere (tnao run, another app) appear, live ones move on.
        if self.is_current:
            self.refresh_runs(only_changed=True)

    def refresh_runs(self, only_changed: bool = False) -> None:
        runs = self.query_one("#runs", DataTable)
        keep = self.selected_id()
        store = self.tnao.store
        try:
            listed = store.list_runs()
            counts = query_counts(store)
        except Exception as exc:  # a broken history must not take Home down
            listed, counts = [], {}
            if not only_changed:
                self.tnao.show_error(str(exc))
        rows = [run_row(r, counts) for r in listed]
        seen = [(r["run"], r["status"], r["queries"], r["best test"], r["name"]) for r in rows]
        if only_changed and seen == self._seen:
            return
        self._seen = seen
        self.runs = listed
        rows.sort(key=sort_key(self.sort_by), reverse=self.reverse)
        order = {row["run"]: i for i, row in enumerate(rows)}
        self.runs.sort(key=lambda r: order[r["id"]])
        cols = [c for c in RUN_COLUMNS if c != "name" or any(r["name"] for r in rows)]
        cells = [[cell(c, row[c]) for c in cols] for row in rows]
        for row, values in zip(rows, cells, strict=True):
            if row["run"] in self.marked:  # a mark beside the id: compared with c
                values[0] = Text.assemble(("● ", "bold yellow"), row["run"])
        # the sort column's label carries its arrow (and is measured with it)
        fill_table(
            runs,
            [
                (col + (" ▼" if self.reverse else " ▲") if col == self.sort_by else col, col)
                for col in cols
            ],
            cells,
            keys=[row["run"] for row in rows],
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
            st = readiness_text(r)
            note = Text(data_note(r, fetchable()), style="" if r.get("ready") else "dim")
            data.add_row(
                r["benchmark"], st, f"{r['archs']:,}" if r.get("ready") else "", note, height=None
            )

    def selected_id(self) -> str | None:
        return cursor_key(self.query_one("#runs", DataTable)) if self.runs else None

    def selected(self) -> dict | None:
        rid = self.selected_id()
        return next((r for r in self.runs if r["id"] == rid), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        run = self.selected() if self.is_mounted else None
        if action in ("open_run", "export_run", "delete_run"):
            return True if run else None
        if action == "compare":
            return True if len(self.marked) >= 2 else None
        if action == "mark":
            return True if run else None
        if action == "resume_run":
            return True if run and run["status"] in RESUMABLE else None
        return True

    def on_data_table_row_highlighted(self) -> None:
        self.refresh_bindings()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        if event.data_table.id == "runs" and event.column_key.value:
            col = str(event.column_key.value)
            self.reverse = not self.reverse if col == self.sort_by else col in NUMERIC + ("date",)
            self.sort_by = col
            self.refresh_runs()

    def action_sort(self) -> None:
        """Sort by the next column (s again: the one after)."""
        cols = list(RUN_COLUMNS)
        self.sort_by = cols[(cols.index(self.sort_by) + 1) % len(cols)]
        self.reverse = self.sort_by in NUMERIC + ("date",)
        self.refresh_runs()
        self.notify(f"Sorted by {self.sort_by}" + (", largest first" if self.reverse else "."))

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

    def action_experiments(self) -> None:
        self.tnao.open_experiments()

    def action_mark(self) -> None:
        if run := self.selected():
            self.marked ^= {run["id"]}
            self._seen = None  # redraw the marks
            self.refresh_runs()
            n = len(self.marked)
            self.notify(f"{n} marked" + (": c compares them." if n >= 2 else "."))

    def action_compare(self) -> None:
        runs = [r for r in self.runs if r["id"] in self.marked]
        if len(runs) >= 2:
            self.tnao.compare_runs(runs)

    def action_import_data(self) -> None:
        self.tnao.import_data("nb201")

    def action_refresh(self) -> None:
        self.refresh_runs()
        self.tnao.refresh_data()
