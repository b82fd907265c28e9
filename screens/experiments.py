"""Experiments: set up a campaign (methods x seeds x budgets), watch it run (runs done,
ETA, the partial table) and compare its methods (mean anytime curves with their 95%
bands, the found-share table with intervals, each seed's outcome); and, from Home, the
best-so-far curves of two or more runs over each other.

A campaign runs in a ``tnao experiment`` process of its own, started detached: it goes on
when the app closes, records each run in the history as it finishes, and a killed one
resumes (r). The screen only reads the history, once a second.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Static,
    TabbedContent,
    TabPane,
)
from textual_plotext import PlotextPlot

from tnao_app import benchmarks, paths
from tnao_app.campaign import inputs, stored
from tnao_app.campaign.summary import Experiment, anytime_band
from tnao_app.errors import TnaoError
from tnao_app.experiment_report import table_cells

from .home import cursor_key
from .state import fmt_seconds
from .widgets import fill_table, status_text

if TYPE_CHECKING:
    from .app import TnaoApp

#: seconds between two looks at the history while a campaign runs
POLL_S = 1.0
#: statuses of a campaign that r resumes
RESUMABLE = ("stopped", "failed", "interrupted")
#: the form's fields: (id, label, default)
FIELDS = (
    ("benchmark", "benchmark", "analog"),
    ("dataset", "dataset", "cifar10"),
    ("methods", "methods", "random,ls,evolution,predictor"),
    ("seeds", "seeds", "0-29"),
    ("budgets", "budgets", "50,100,150,200"),
    ("workers", "workers", "2"),
    ("executor", "executor", "local"),
)
LIST_COLUMNS = ("id", "status", "benchmark", "dataset", "methods", "seeds", "runs")
SEED_COLUMNS = ("method", "seed", "best test", "top-test at", "top-signal at", "queries")
#: the command that runs a campaign: this interpreter's tnao
TNAO = [sys.executable, "-c", "from tnao_app.cli import main; main()"]


class Loaded(Message):
    """A campaign read from the history (in a worker), for the UI thread to show."""

    def __init__(self, row: dict, exp: Experiment, eta: float) -> None:
        super().__init__()
        self.row, self.exp, self.eta = row, exp, eta


def campaign_argv(values: dict[str, str], db: Path | None) -> list[str]:
    """The ``tnao experiment`` command of the form's values, each checked first (one
    sentence naming the field otherwise)."""
    inputs.parse_methods(values["methods"])
    inputs.parse_seeds(values["seeds"])
    inputs.parse_budgets(values["budgets"])
    if not values["workers"].strip().isdigit():
        raise TnaoError(f"Workers '{values['workers']}' is not a number; expected 0 or more.")
    if values["executor"] not in ("local", "ray"):
        raise TnaoError(f"Executor '{values['executor']}' is unknown; expected local or ray.")
    benchmarks.load(values["benchmark"]).dataset(values["dataset"])
    argv = ["experiment"]
    for key, flag in (
        ("benchmark", "-b"),
        ("dataset", "-d"),
        ("methods", "-m"),
        ("seeds", "-s"),
        ("budgets", "--budgets"),
        ("workers", "-w"),
        ("executor", "-e"),
    ):
        argv += [flag, values[key].strip()]
    return argv + (["--db", str(db)] if db else []) + ["--json"]


def seed_rows(exp: Experiment) -> list[tuple]:
    """Each (method, seed)'s outcome at the largest budget."""
    top = max(exp.budgets)
    out = []
    for r in exp.runs:
        if r["budget"] == top:
            out.append(
                (
                    r["method"],
                    r["seed"],
                    r["best_test"],
                    r["top_test_at"],
                    r["top_signal_at"],
                    r["queries"],
                )
            )
    return out


def _at(q: int | None) -> str:
    return "-" if q is None else str(q)


class CurvesChart(PlotextPlot):
    """Mean best-so-far reported metric per method against queries, with the 95%
    bootstrap band's edges as dotted lines of the method's colour."""

    drawn: tuple[str, ...] = ()  # the methods whose curves are on the chart

    def show(self, exp: Experiment | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self.drawn = ()
        if exp is None or not exp.curves:
            plt.title("no runs in yet")
            self.refresh()
            return
        plt.title(f"mean best-so-far {exp.report}, 95% bands")
        for i, m in enumerate(exp.methods):
            q, mean, lo, hi = anytime_band(exp, m)
            if not len(q):
                continue
            xs = [int(x) for x in q]
            color = i + 1  # plotext's colour codes: one per method, the band in its colour
            plt.plot(xs, [float(v) for v in mean], label=m, color=color)
            self.drawn += (m,)
            for edge in (lo, hi):
                pts = [(x, float(v)) for x, v in zip(xs, edge, strict=True) if math.isfinite(v)]
                if pts:
                    plt.plot([p[0] for p in pts], [p[1] for p in pts], color=color, marker="dot")
        plt.xlabel("queries")
        self.refresh()


class ExperimentsScreen(Screen):
    BINDINGS = [
        Binding("ctrl+r", "start", "Start", id="exp-start"),
        Binding("r", "resume", "Resume", id="exp-resume"),
        Binding("e", "export", "Export", id="exp-export"),
        Binding("escape", "back", "Home", id="exp-back"),
    ]

    def __init__(self) -> None:
        super().__init__(id="experiments")
        self.listed: list[dict] = []
        self.exp: Experiment | None = None
        self.row: dict | None = None
        self.shown: str | None = None  # the campaign the lower half shows
        self._seen: object = None
        self._cells: object = None  # what the table shows (unchanged: not rebuilt)
        self._procs: list[subprocess.Popen] = []

    @property
    def tnao(self) -> TnaoApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="exp-top"):
            with Vertical(id="exp-form"):
                yield Label("New campaign (ctrl+r starts it)", classes="section")
                for key, label, default in FIELDS:
                    with Horizontal(classes="exp-field"):
                        yield Label(f"{label:>9}", classes="exp-label")
                        yield Input(default, id=f"form-{key}", compact=True)
            with Vertical(id="exp-list-box"):
                yield Label("Campaigns", classes="section")
                yield DataTable(id="exp-list", cursor_type="row", zebra_stripes=True)
        yield Static("", id="exp-progress")
        with TabbedContent(id="exp-tabs"):
            with TabPane("Table", id="tab-table"):
                yield DataTable(id="exp-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Curves", id="tab-curves"):
                yield CurvesChart(id="exp-curves")
            with TabPane("Seeds", id="tab-seeds"):
                yield DataTable(id="exp-seeds", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        fill_table(self.query_one("#exp-list", DataTable), LIST_COLUMNS, [])
        fill_table(self.query_one("#exp-seeds", DataTable), SEED_COLUMNS, [])
        self.refresh_list()
        self.set_interval(POLL_S, self._poll)
        self.query_one("#exp-list", DataTable).focus()

    # -- the list ------------------------------------------------------------------------
    def refresh_list(self) -> None:
        try:
            listed = self.tnao.store.list_experiments()
        except TnaoError as exc:
            self.tnao.show_error(str(exc))
            listed = []
        seen = [(r["id"], r["status"], r["done"]) for r in listed]
        if seen == self._seen:
            return
        self._seen = seen
        self.listed = listed
        table = self.query_one("#exp-list", DataTable)
        keep = self.selected_id()
        fill_table(
            table,
            LIST_COLUMNS,
            [
                (
                    r["id"],
                    status_text(r["status"]),
                    r["benchmark"],
                    r["dataset"],
                    ",".join(r["spec"]["methods"]),
                    Text(str(len(r["spec"]["seeds"])), justify="right"),
                    Text(f"{r['done']}/{r['total']}", justify="right"),
                )
                for r in listed
            ],
            keys=[r["id"] for r in listed],
        )
        ids = [r["id"] for r in listed]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        if listed and (self.shown is None or self.shown in ids):
            self.load(self.shown or ids[0])
        self.refresh_bindings()

    def selected_id(self) -> str | None:
        return cursor_key(self.query_one("#exp-list", DataTable)) if self.listed else None

    def selected(self) -> dict | None:
        rid = self.selected_id()
        return next((r for r in self.listed if r["id"] == rid), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "exp-list" and event.row_key.value:
            self.load(str(event.row_key.value))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "resume":
            row = self.selected() if self.is_mounted else None
            return True if row and row["status"] in RESUMABLE else None
        if action == "export":
            return True if self.exp is not None and self.exp.done else None
        return True

    def _poll(self) -> None:
        for p in list(self._procs):
            if p.poll() is not None:
                self._procs.remove(p)
                if p.returncode not in (0, None):
                    self.tnao.show_error(_last_line(p) or "The campaign process failed.")
        if self.is_current:
            self.refresh_list()
            if self.row is not None and self.row["status"] == "running":
                now = next((r for r in self.listed if r["id"] == self.row["id"]), None)
                # read the runs again only when one came in (or the campaign ended)
                if now is None or (now["done"], now["status"]) != (
                    self.row["done"],
                    self.row["status"],
                ):
                    self.load(self.row["id"])

    # -- one campaign ----------------------------------------------------------------------
    def load(self, experiment_id: str) -> None:
        self.shown = experiment_id
        self._load(experiment_id)

    @work(thread=True, exclusive=True, group="exp-load", exit_on_error=False)
    def _load(self, experiment_id: str) -> None:
        store = self.tnao.store  # a Store gives each thread a connection of its own
        row, exp = stored.load(store, experiment_id)
        results = store.experiment_results(row["id"])
        eta = stored.eta_seconds(results, row["total"] - row["done"])
        self.post_message(Loaded(row, exp, eta))

    def on_loaded(self, message: Loaded) -> None:
        if message.row["id"] != self.shown:
            return
        self.row, self.exp = message.row, message.exp
        self.show(message.row, message.exp, message.eta)

    def show(self, row: dict, exp: Experiment, eta: float) -> None:
        done, total = row["done"], row["total"]
        left = (
            ""
            if row["status"] != "running"
            else ("  ETA -" if math.isnan(eta) else f"  ETA {fmt_seconds(eta)}")
        )
        line = Text.assemble(
            (f"{row['id']}  ", "bold"),
            status_text(row["status"]),
            f"  runs {done}/{total}{left}  ",
            (f"{exp.benchmark} {exp.dataset}, {len(exp.seeds)} seeds, report {exp.report}", "dim"),
        )
        self.query_one("#exp-progress", Static).update(line)
        head, body = table_cells(exp)
        seeds_now = seed_rows(exp)
        # a campaign re-read without news (the periodic refresh) keeps the tables as they
        # are: rebuilt, they would flicker and lose their column widths for a frame
        if (head, body, seeds_now) != self._cells:
            self._cells = (head, body, seeds_now)
            self._fill(head, body, seeds_now)
            self.query_one("#exp-curves", CurvesChart).show(exp)
        self.refresh_bindings()

    def _fill(self, head: list[str], body: list[list[str]], seeds_now: list) -> None:
        fill_table(
            self.query_one("#exp-table", DataTable),
            [(h, f"c{i}") for i, h in enumerate(head)],
            [
                [Text(c, justify="left" if i == 0 else "right") for i, c in enumerate(cells)]
                for cells in body
            ],
        )
        fill_table(
            self.query_one("#exp-seeds", DataTable),
            SEED_COLUMNS,
            [
                (
                    m,
                    Text(str(s), justify="right"),
                    Text(f"{best:.3f}", justify="right"),
                    Text(_at(qt), justify="right"),
                    Text(_at(qs), justify="right"),
                    Text(str(n), justify="right"),
                )
                for m, s, best, qt, qs, n in seeds_now
            ],
        )

    # -- actions -----------------------------------------------------------------------------
    def form_values(self) -> dict[str, str]:
        return {key: self.query_one(f"#form-{key}", Input).value for key, _, _ in FIELDS}

    def action_start(self) -> None:
        try:
            argv = campaign_argv(self.form_values(), self.tnao.db_path)
        except TnaoError as exc:
            self.tnao.show_error(str(exc))
            return
        self._spawn(argv)
        self.notify("Campaign started: it runs in its own process and goes on if you quit.")
        self.shown = None  # the newest campaign, once it is in the history

    def action_resume(self) -> None:
        row = self.selected()
        if row is None or row["status"] not in RESUMABLE:
            return
        argv = ["experiment", "--resume", row["id"], "-e", row["executor"]]
        opts = (row.get("spec") or {}).get("executor_options") or {}
        if opts.get("workers"):  # as it was started: not one worker per core
            argv += ["-w", str(int(opts["workers"]))]
        if opts.get("address"):
            argv += ["--address", str(opts["address"])]
        self._spawn(
            argv + (["--db", str(self.tnao.db_path)] if self.tnao.db_path else []) + ["--json"]
        )
        self.notify(f"Resuming {row['id']}: {row['total'] - row['done']} runs to go.")

    def _spawn(self, argv: list[str]) -> None:
        logs = paths.home() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = open(logs / f"experiment-{int(time.time() * 1000)}.log", "w+b")  # noqa: SIM115
        proc = subprocess.Popen(
            [*TNAO, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # not the app's ^C, not the app's end
            env={**os.environ},
        )
        proc.log = log  # type: ignore[attr-defined]
        self._procs.append(proc)

    def action_export(self) -> None:
        if self.exp is not None:
            self._export(self.exp, self.tnao.export_dir)

    @work(thread=True, group="exp-export", exit_on_error=False)
    def _export(self, exp: Experiment, folder: Path) -> None:
        from tnao_app import experiment_report as report

        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"experiment-{exp.experiment_id}"
        for fmt, suffix in (("csv", "csv"), ("json", "json"), ("md", "md"), ("latex", "tex")):
            report.write_table(exp, stem.with_suffix(f".{suffix}"), fmt)
        for suffix in ("png", "svg"):
            report.write_plot(exp, stem.with_suffix(f".{suffix}"))
        self.app.call_from_thread(
            self.notify, f"Wrote {stem.name}.csv/.json/.md/.tex/.png/.svg in {folder}"
        )

    def action_back(self) -> None:
        self.app.pop_screen()


def _last_line(proc: subprocess.Popen) -> str:
    """The last line a failed campaign process wrote (its one-sentence error)."""
    log = getattr(proc, "log", None)
    if log is None:
        return ""
    log.seek(0)
    lines = [x for x in log.read().decode("utf-8", "replace").splitlines() if x.strip()]
    return lines[-1].removeprefix("Error: ") if lines else ""


class CompareScreen(Screen):
    """The best-so-far search signal of two or more runs (from Home), one line each."""

    BINDINGS = [Binding("escape", "back", "Home", id="compare-back")]

    def __init__(self, runs: list[dict], curves: dict[str, list[float]]) -> None:
        super().__init__(id="compare")
        self.runs, self.curves = runs, curves

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(f"{len(self.runs)} runs: best search signal so far", classes="section")
        yield PlotextPlot(id="compare-chart")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        plt = self.query_one(PlotextPlot).plt
        plt.title("best signal so far vs queries")
        for i, r in enumerate(self.runs):
            ys = self.curves.get(r["id"]) or []
            pts = [(n, v) for n, v in enumerate(ys, 1) if math.isfinite(v)]
            if pts:
                label = f"{r['id']} {r['method']} s{r['seed']}"
                plt.plot([p[0] for p in pts], [p[1] for p in pts], label=label, color=i + 1)
        plt.xlabel("queries")

    def action_back(self) -> None:
        self.app.pop_screen()


def best_so_far(queries: list[dict]) -> list[float]:
    """A run's best search signal after each of its queries (unanswered ones hold it)."""
    out: list[float] = []
    best = -math.inf
    for q in queries:
        v = q.get("signal")
        if v is not None and math.isfinite(v) and v > best:
            best = float(v)
        out.append(best if math.isfinite(best) else math.nan)
    return out
