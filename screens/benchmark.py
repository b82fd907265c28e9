"""Guide step 1: choose the benchmark and dataset; import or fetch a missing one."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from .guide import GuideScreen
from .state import RunState
from .widgets import fill_table, readiness_text

BENCH_COLUMNS = ("benchmark", "status", "archs")


def fetchable() -> tuple[str, ...]:
    """Benchmarks that can be downloaded from inside the app."""
    try:
        from tnao_app.benchmarks.fetch import SOURCES
    except ImportError:
        return ()
    return tuple(SOURCES)


def default_choice(rows: list[dict]) -> str:
    """The preselected benchmark: a ready imported one, else the embedded default."""
    ready = [r["benchmark"] for r in rows if r.get("ready")]
    for name in ready:
        if name != "analog":
            return name
    return "analog"


class BenchmarkScreen(GuideScreen):
    STEP = "benchmark"
    BINDINGS = [
        Binding("i", "import_data", "Import", id="import"),
        Binding("f", "fetch_data", "Fetch", id="fetch"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.benchmark = ""
        self.dataset = ""
        self._rows_seen: list[dict] | None = None

    def body(self) -> ComposeResult:
        with Horizontal(id="bench-body"):
            with Vertical(id="bench-left"):
                yield Label("Benchmark", classes="section")
                yield DataTable(id="benchmarks", cursor_type="row")
                yield Static("", id="bench-hint")
                yield Static("", id="fetch-label")
                yield ProgressBar(id="fetch-progress", show_eta=False)
            with Vertical(id="bench-right"):
                yield Label("Dataset", classes="section")
                yield OptionList(id="datasets")
                yield Static("", id="dataset-note")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#benchmarks", DataTable)
        fill_table(table, BENCH_COLUMNS, [])
        self.query_one("#fetch-progress").display = False
        self.fill(self.tnao.data_rows)
        table.focus()

    # the App calls this with fresh rows of benchmarks.status()
    def fill(self, rows: list[dict] | None) -> None:
        if rows is None or rows is self._rows_seen:
            return
        self._rows_seen = rows
        table = self.query_one("#benchmarks", DataTable)
        fill_table(
            table,
            BENCH_COLUMNS,
            [
                (r["benchmark"], readiness_text(r), f"{r['archs']:,}" if r.get("ready") else "")
                for r in rows
            ],
            keys=[r["benchmark"] for r in rows],
        )
        want = self.benchmark or self.state.benchmark or default_choice(rows)
        names = [r["benchmark"] for r in rows]
        if want in names:
            table.move_cursor(row=names.index(want))
        self.select(want)

    def row(self, name: str) -> dict:
        for r in self.tnao.data_rows or []:
            if r["benchmark"] == name:
                return r
        return {"benchmark": name, "ready": False, "datasets": [], "hint": ""}

    def select(self, name: str) -> None:
        self.benchmark = name
        r = self.row(name)
        hint = self.query_one("#bench-hint", Static)
        if r.get("ready"):
            hint.update(
                Text(f"{r.get('source', '')}\n{r.get('size_mb', 0):.1f} MB cache", style="dim")
            )
        else:
            how = "press i to import a file" + (", f to fetch it" if name in fetchable() else "")
            hint.update(
                Text(f"Not ready: {how}.\n{r.get('error') or r.get('hint', '')}", style="yellow")
            )
        opts = self.query_one("#datasets", OptionList)
        opts.clear_options()
        datasets = list(r.get("datasets") or [])
        for d in datasets:
            opts.add_option(Option(d, id=d))
        want = (
            self.dataset
            if self.dataset in datasets
            else (
                self.state.dataset
                if self.state.dataset in datasets
                else (datasets[0] if datasets else "")
            )
        )
        self.dataset = want
        if want:
            opts.highlighted = datasets.index(want)
        # A benchmark without data has no dataset: no note left over from the last one.
        self.query_one("#dataset-note", Static).update(
            Text(self.tnao.dataset_note(name, want), style="dim") if want else ""
        )
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#benchmarks")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value and self.state.status == "idle":
            self.select(str(event.row_key.value))

    @on(DataTable.RowSelected, "#benchmarks")
    def _selected(self) -> None:
        self.query_one("#datasets").focus()

    @on(OptionList.OptionHighlighted, "#datasets")
    def _dataset(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and self.state.status == "idle":
            self.dataset = event.option.id
            self.query_one("#dataset-note", Static).update(
                Text(self.tnao.dataset_note(self.benchmark, self.dataset), style="dim")
            )

    @on(OptionList.OptionSelected, "#datasets")
    def _dataset_chosen(self) -> None:
        self.action_next()

    def show_state(self, state: RunState, force: bool) -> None:
        # Once a run exists its benchmark is fixed: show it, do not let it change.
        locked = state.status != "idle"
        self.query_one("#benchmarks").disabled = locked
        self.query_one("#datasets").disabled = locked
        if locked and state.benchmark and state.benchmark != self.benchmark:
            self.benchmark, self.dataset = state.benchmark, state.dataset
            self.select(state.benchmark)

    def show_fetch(self, done: int, total: int | None) -> None:
        bar = self.query_one("#fetch-progress", ProgressBar)
        bar.display = True
        bar.update(total=total, progress=done)
        size = f"{done / 1e6:,.1f} MB" + (f" of {total / 1e6:,.1f} MB" if total else "")
        self.query_one("#fetch-label", Static).update(f"Downloading {self.benchmark}: {size}")

    def hide_fetch(self) -> None:
        self.query_one("#fetch-progress").display = False
        self.query_one("#fetch-label", Static).update("")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("import_data", "fetch_data"):
            if self.state.status != "idle":
                return False
            return action == "import_data" or self.benchmark in fetchable()
        return super().check_action(action, parameters)

    def can_leave(self) -> bool:
        if self.state.status != "idle":
            return True
        if not self.row(self.benchmark).get("ready"):
            self.tnao.show_error(
                f"Benchmark '{self.benchmark}' has no data yet; import or fetch it first."
            )
            return False
        if not self.dataset:
            self.tnao.show_error(f"Choose a dataset of benchmark '{self.benchmark}'.")
            return False
        return True

    def action_import_data(self) -> None:
        self.tnao.import_data(self.benchmark if self.benchmark != "analog" else "nb201")

    def action_fetch_data(self) -> None:
        self.tnao.fetch_data(self.benchmark)
