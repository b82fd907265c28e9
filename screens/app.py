"""tnao-tui: the guided terminal app (Home, the five-step new-run guide, dialogs).

Long work (a run, an import, a fetch, an export) runs in thread workers attached to the
App, never to a screen, so leaving a screen does not kill it. Workers only post messages;
the App folds run events into one ``RunState`` on the UI thread and the screens redraw
from it a few times a second. Errors a user can cause arrive as one-sentence dialogs.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from tnao_app import benchmarks, paths
from tnao_app import events as ev
from tnao_app.config import Config
from tnao_app.errors import TnaoError

from .benchmark import BenchmarkScreen, fetchable
from .dialogs import (
    ConfirmDialog,
    ErrorDialog,
    ExportChoice,
    ExportDialog,
    ImportChoice,
    ImportDialog,
)
from .guide import GuideScreen
from .home import RESUMABLE, HomeScreen
from .messages import DataStatus, FetchProgress, Followed, RunEvent, wrap
from .results import ResultsScreen
from .sampling import SamplingScreen
from .search import SearchScreen
from .state import STAGE_SCREEN, RunState, budget_note, from_store
from .training import TrainingScreen

#: the guide's config presets; "tiny" makes a whole run take seconds (tests, demos)
PRESETS: dict[str, dict] = {
    "": {},
    "tiny": {
        "run": {"budget": 30, "device": "cpu"},
        "sample": {"n_labelled": 20, "n_unlabelled": 200},
        "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_latent": 4},
        "train": {"epochs": 3, "batch_size": 64, "val_fraction": 0.25},
        "search": {"particles": 8, "generations": 3, "top_k": 5, "rounds": 1},
    },
}

#: most per-batch progress messages a run sends the UI per second
PROGRESS_HZ = 10
#: seconds between two reads of a run that another process drives
FOLLOW_S = 1.0

STEP_SCREENS: dict[str, type[GuideScreen]] = {
    "benchmark": BenchmarkScreen,
    "sampling": SamplingScreen,
    "training": TrainingScreen,
    "search": SearchScreen,
    "results": ResultsScreen,
}


def describe_error(exc: BaseException) -> str:
    """The sentence a dialog shows: a user error as it is, anything else named."""
    if isinstance(exc, TnaoError):
        return str(exc)
    return f"Unexpected error ({type(exc).__name__}): {exc}"


class TnaoApp(App[None]):
    CSS_PATH = ["app.tcss", "experiments.tcss"]
    TITLE = "TNAO"
    SUB_TITLE = "two-stage neural architecture optimization"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("f1,question_mark", "help", "Help", id="help", key_display="?"),
    ]

    def __init__(
        self,
        db: str | os.PathLike | None = None,
        preset: str | None = None,
        overrides: dict | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.db_path = Path(db).expanduser() if db else None
        self.preset = preset if preset is not None else os.environ.get("TNAO_TUI_PRESET", "")
        if self.preset not in PRESETS:
            raise TnaoError(
                f"Unknown preset '{self.preset}'; expected one of: "
                f"{', '.join(p for p in PRESETS if p) or 'none'}."
            )
        self.overrides = overrides or {}
        #: monotonic clock for elapsed time and ETA (tests pass a frozen one)
        self.clock = clock or time.monotonic
        self.state = RunState()
        #: where the export dialog proposes to write (tests pin it): the data folder, not
        #: the current directory (a git checkout, say)
        self.export_dir = paths.home() / "exports"
        self.last_import = ""  # the path the import dialog last had (kept after an error)
        self.data_rows: list[dict] | None = None
        self.guide: dict[str, GuideScreen] = {}
        self._store = None
        self._token = 0  # which run worker's events the state listens to
        self.run_job: Worker | None = None  # the run worker the state follows
        self._tables: dict[str, benchmarks.Table] = {}
        #: seconds from a worker's post_message to its handling (responsiveness figure)
        self.latencies: list[float] = []
        #: (perf_counter, stage, state changed) per guide redraw while a run is live
        self.redraws: list[tuple[float, str, bool]] = []
        #: stage -> seconds, from StageFinished (the overhead benchmark reads it)
        self.stage_seconds: dict[str, float] = {}
        #: stage -> CPU seconds the UI thread used during it
        self.ui_cpu: dict[str, float] = {}

    # --- setup ---------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return HomeScreen()

    def on_mount(self) -> None:
        self.refresh_data()
        theme = self.settings().get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    # --- settings that last across restarts (the data folder's tui.json) ----------------
    @staticmethod
    def settings_path() -> Path:
        return paths.home() / "tui.json"

    def settings(self) -> dict:
        import json

        try:
            data = json.loads(self.settings_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save_setting(self, key: str, value: object) -> None:
        import json

        data = self.settings()
        data[key] = value
        try:
            self.settings_path().write_text(json.dumps(data, indent=1), encoding="utf-8")
        except OSError as exc:
            self.notify(
                f"Cannot save the settings to {self.settings_path()}: {exc.strerror}.",
                markup=False,
            )

    def _theme_changed(self, theme) -> None:
        self.save_setting("theme", theme.name)

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        # The palette's Screenshot saves to ~/Downloads, and failed where there is none:
        # then it goes to the data folder (the notification says where).
        if path is None:
            from platformdirs import user_downloads_path

            folder = user_downloads_path()
            if not folder.is_dir():
                folder = paths.home() / "screenshots"
                folder.mkdir(parents=True, exist_ok=True)
            path = str(folder)
        return super().deliver_screenshot(filename, path, time_format)

    def action_help(self) -> None:
        from .help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def on_unmount(self) -> None:
        # TNAO_TUI_STATS=PATH: write the responsiveness figures (benchmarks/ reads them).
        path = os.environ.get("TNAO_TUI_STATS")
        if path:
            import json

            Path(path).write_text(
                json.dumps(
                    {
                        "latencies": self.latencies,
                        "redraws": self.redraws,
                        "stage_seconds": self.stage_seconds,
                        "ui_cpu": self.ui_cpu,
                        "status": self.state.status,
                        "run_id": self.state.run_id,
                    }
                )
            )

    @property
    def store(self):
        """The history store for this (UI) thread."""
        if self._store is None:
            from tnao_app.storage import Store

            self._store = Store(self.db_path)
        return self._store

    def base_config(self) -> Config:
        """Defaults, then the preset, then constructor overrides."""
        cfg = Config.from_dict(PRESETS[self.preset])
        for section, values in self.overrides.items():
            for key, value in values.items():
                setattr(getattr(cfg, section), key, value)
        return cfg

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # The run commands act on the run selected on Home or shown in the guide (the
        # screen the palette was opened from), else on the latest one that fits.
        def on_run(
            act: Callable[[str], None],
            what: str,
            statuses: tuple[str, ...] = (),
            latest: bool = True,
        ):
            def command() -> None:
                run_id = self.target_run(screen, statuses, latest)
                if run_id:
                    act(run_id)
                else:
                    self.notify(
                        f"No run to {what}" + ("." if latest else ": select one on Home first.")
                    )

            return command

        yield SystemCommand("New run", "Start the guide for a new run", self.new_run)
        yield SystemCommand(
            "Open run",
            "Show the selected, else the latest, run's steps",
            on_run(self.open_run, "open"),
        )
        yield SystemCommand(
            "Resume run",
            "Resume the selected, else the latest, stopped or interrupted run",
            on_run(self.resume_run, "resume", RESUMABLE),
        )
        yield SystemCommand(
            "Export run",
            "Export the selected, else the latest finished, run to a file",
            on_run(self.export_run, "export", ("finished",)),
        )
        yield SystemCommand(
            "Delete run",
            "Delete the selected run and its checkpoints (asks first)",
            on_run(self.delete_run, "delete", latest=False),
        )
        yield SystemCommand(
            "Import benchmark data",
            "Convert an official benchmark file or a CSV table into the cache",
            self.import_data,
        )
        for name in fetchable():
            yield SystemCommand(
                f"Fetch {name}",
                f"Download the {name} benchmark and import it (runs in the background)",
                lambda name=name: self.fetch_data(name),
            )
        yield SystemCommand(
            "Experiments",
            "Campaigns of methods x seeds x budgets: start, watch, compare, export",
            self.open_experiments,
        )
        yield SystemCommand("Data status", "Which benchmarks are ready", self.data_status)
        yield SystemCommand("Home", "Run history", self.go_home)
        yield from super().get_system_commands(screen)

    def target_run(
        self, screen: Screen, statuses: tuple[str, ...] = (), latest: bool = True
    ) -> str | None:
        """The run a command acts on: the one selected on Home or shown by the guide when
        it has one of ``statuses`` (any when empty), else (``latest``) the latest such run."""

        def fits(status: str) -> bool:
            return not statuses or status in statuses

        if isinstance(screen, HomeScreen):
            run = screen.selected()
            if run and fits(run["status"]):
                return run["id"]
        elif isinstance(screen, GuideScreen) and self.state.run_id:
            if fits(self.state.status):
                return self.state.run_id
        if not latest:
            return None
        runs = [r for r in self.store.list_runs() if fits(r["status"])]
        return runs[0]["id"] if runs else None

    # --- navigation ----------------------------------------------------------------
    def _new_guide(self, state: RunState) -> None:
        for screen in self.guide.values():
            if screen not in self.screen_stack:
                self.uninstall_screen(screen)
        self.state = state
        self.guide = {name: cls() for name, cls in STEP_SCREENS.items()}
        for name, screen in self.guide.items():
            self.install_screen(screen, f"guide-{name}-{id(screen)}")

    def show_step(self, step: str) -> None:
        screen = self.guide[step]
        if screen is self.screen:
            return
        if isinstance(self.screen, GuideScreen):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def guide_screen(self, step: str) -> GuideScreen | None:
        return self.guide.get(step)

    def go_home(self) -> None:
        if isinstance(self.screen, GuideScreen):
            self.pop_screen()

    def new_run(self) -> None:
        if self.state.owned:
            self.notify(
                "A run is in progress: stop it first (ctrl+t) or wait for it.", severity="warning"
            )
            return
        self.go_home()
        self.open_guide(RunState(), "benchmark")

    def open_experiments(self) -> None:
        from .experiments import ExperimentsScreen

        if not isinstance(self.screen, ExperimentsScreen):
            self.push_screen(ExperimentsScreen())

    def compare_runs(self, runs: list[dict]) -> None:
        """Two or more runs' best-so-far curves over each other (from Home's marks)."""
        from .experiments import CompareScreen, best_so_far

        try:
            curves = {r["id"]: best_so_far(self.store.queries(r["id"])) for r in runs}
        except TnaoError as exc:
            self.show_error(str(exc))
            return
        self.push_screen(CompareScreen(runs, curves))

    def open_guide(self, state: RunState, step: str) -> None:
        """A new guide showing ``state``, at ``step`` (the tests and the snapshot pictures
        open one on a made-up state)."""
        self._new_guide(state)
        self.show_step(step)

    def open_run(self, run_id: str) -> None:
        if self.state.live and self.state.run_id == run_id:
            self.go_home()
            self.show_step(self._stage_step(self.state))
            return
        try:
            state = from_store(self.store, run_id)
        except TnaoError as exc:
            self.show_error(str(exc))
            return
        if self.state.owned:
            self.notify(
                "A run is in progress; opening another run stops following it.", severity="warning"
            )
            return
        self.workers.cancel_group(self, "follow")
        step = "results" if state.status == "finished" else self._stage_step(state)
        if state.live:
            # Another process (tnao run, another app) drives it: follow it from the
            # history, read-only; it never holds this app's run slot.
            run = self.store.get_run(run_id)
            state.followed = f"pid {run.get('pid')} on {run.get('host')}"
            self._token += 1
            self._follow_worker(run_id, self._token, self.store)
        self.go_home()
        self.open_guide(state, step)

    def _stage_step(self, state: RunState) -> str:
        step = STAGE_SCREEN.get(state.stage, "sampling")
        return step if step in state.guide_steps() else "search"

    @work(thread=True, exclusive=True, exit_on_error=False, group="follow", name="follow")
    def _follow_worker(self, run_id: str, token: int, store) -> None:
        """Re-read a run that another process drives, once a second, until it ends."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            time.sleep(FOLLOW_S)
            if worker.is_cancelled:
                return
            try:
                state = from_store(store, run_id)
            except TnaoError:
                continue  # locked for a moment, say: the next read
            self.post_message(Followed(state, str(token)))
            if not state.live:
                return

    def on_followed(self, message: Followed) -> None:
        old = self.state
        if message.tag != self.run_tag or not old.followed or old.run_id != message.state.run_id:
            return
        new = message.state
        new.followed = old.followed if new.live else ""
        new.version = old.version + 1  # the screens redraw when it moves
        self.state = new
        if new.stage != old.stage and new.round == 0 and new.stage in STAGE_SCREEN:
            self._follow(self._stage_step(new))
        if new.status == "finished" and old.status != "finished":
            self._follow("results")
        if not new.live:
            self._refresh_home()

    def resume_run(self, run_id: str) -> None:
        if self.state.owned:
            self.notify("A run is in progress: stop it first.", severity="warning")
            return
        try:
            state = from_store(self.store, run_id)
        except TnaoError as exc:
            self.show_error(str(exc))
            return
        self.workers.cancel_group(self, "follow")
        state.status = "running"
        state.started = self.clock()
        # elapsed goes on from the sessions before (their stages' seconds)
        state.prior_seconds = state.seconds_done
        self.go_home()
        self.open_guide(state, self._stage_step(state))
        self._token += 1
        self.run_job = self._run_worker(None, run_id, self._token, self.store)

    def data_status(self) -> None:
        self.go_home()
        self.refresh_data()
        rows = self.data_rows or []
        ready = [r["benchmark"] for r in rows if r.get("ready")]
        self.notify(f"Ready: {', '.join(ready) or 'none'}.", title="Benchmark data")

    # --- runs ----------------------------------------------------------------------
    def start_run(self, config: Config) -> None:
        if self.state.owned:
            return
        self.workers.cancel_group(self, "follow")
        self.state.status = "running"
        self.state.config = config.to_dict()
        self.state.benchmark, self.state.dataset = config.run.benchmark, config.run.dataset
        self.state.budget = config.run.budget
        self.state.started = self.clock()
        self.state.version += 1
        self._token += 1
        self.run_job = self._run_worker(config, None, self._token, self.store)

    @work(thread=True, exclusive=True, exit_on_error=False, group="run", name="run")
    def _run_worker(
        self, config: Config | None, resume_id: str | None, token: int, store
    ) -> dict | None:
        # ``store`` is the App's Store: it gives this thread its own connection, and one
        # Store per file per process keeps SQLite's locks in one place.
        from tnao_app.errors import Stopped
        from tnao_app.runs.child import run_in_child

        worker = get_current_worker()
        tag = str(token)

        def listener(event: ev.Event) -> None:
            # The only thing a worker does with the UI: post a message (thread-safe).
            self.post_message(wrap(event, tag, time.perf_counter()))

        try:
            # The run itself goes to a child process (tnao_app/runs/child.py): the UI's
            # repaints then cost training nothing.
            return run_in_child(
                config, resume_id, store.path, listener, lambda: worker.is_cancelled
            )
        except Stopped:
            return None

    @property
    def run_tag(self) -> str:
        """The tag of the run the state listens to: its worker's messages carry it."""
        return str(self._token)

    def on_run_event(self, message: RunEvent) -> None:
        if message.run_id != self.run_tag:
            return  # a stopped run's late events
        if message.posted:
            self.latencies.append(time.perf_counter() - message.posted)
        event = message.event
        state = self.state
        was_status = state.status
        state.apply(event, self.clock)
        if was_status == "stopping" and state.status == "running":
            state.status = "stopping"
        if isinstance(event, ev.RunStarted) and event.plan is not None:
            self._check_plan(event.plan)
        follow = None
        if isinstance(event, ev.StageStarted):
            self._ui_cpu0 = time.thread_time()  # this (UI) thread's CPU seconds
        if isinstance(event, ev.StageFinished):
            self.stage_seconds[event.stage] = event.seconds
            self.ui_cpu[event.stage] = time.thread_time() - getattr(self, "_ui_cpu0", 0.0)
        if isinstance(event, ev.StageStarted) and event.round == 0:
            # Only the first round leads the user on: later rounds train and search again,
            # and pulling the user from Training to Search every round took the screen away.
            follow = STAGE_SCREEN.get(event.stage)
        elif isinstance(event, ev.RunStarted) and not event.resumed:
            follow = STAGE_SCREEN.get(state.stage)  # a baseline goes straight to Search
        elif isinstance(event, ev.RunFinished):
            follow = "results"
        if follow:
            self._follow(follow)
        if isinstance(event, (ev.RunFinished, ev.RunStopped, ev.RunFailed)):
            self._refresh_home()

    def on_run_progress(self, message: RunEvent) -> None:
        # Textual dispatches by the message's own class name: route the subclass here.
        self.on_run_event(message)

    def _check_plan(self, plan: ev.RunPlan) -> None:
        """Say so when the run's plan cannot spend its budget: its rounds are capped."""
        note = budget_note(plan)
        if note:
            self.notify(note, title="Budget", severity="warning", timeout=12)

    def _follow(self, step: str) -> None:
        """Move on with the run when the user is on the step just before it."""
        current = self.screen
        if not isinstance(current, GuideScreen) or current not in self.guide.values():
            return
        steps = self.state.guide_steps()
        if current.STEP not in steps or step not in steps:
            return
        if steps.index(step) == steps.index(current.STEP) + 1:
            self.show_step(step)

    def stop_run(self) -> None:
        if self.state.status != "running" or self.state.followed:
            return
        self.workers.cancel_group(self, "run")
        if not self.state.run_id:
            # Still starting: nothing recorded yet. Back to the form at once; the run
            # process sees the stop before it creates the run (tnao_app/cli/child.py).
            self._token += 1  # its late events go nowhere
            config = self.state.config
            self.state = RunState(version=self.state.version + 1)
            self.state.config = config
            self.notify("Start cancelled: the run was not created.")
            return
        self.state.status = "stopping"
        self.state.version += 1
        self.notify("Stopping after the current batch...")

    def run_worker_active(self) -> bool:
        return any(
            w.group == "run" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
            for w in self.workers
        )

    async def action_quit(self) -> None:
        if self.state.status == "running" and not self.state.followed:

            def answer(yes: bool | None) -> None:
                if yes:
                    self.workers.cancel_group(self, "run")
                    self.exit()

            self.push_screen(
                ConfirmDialog(
                    "A run is in progress. Stop it and quit? It can be resumed from Home.",
                    yes="Stop and quit",
                ),
                answer,
            )
            return
        self.workers.cancel_all()
        self.exit()

    # --- workers' ends: one place turns failures into dialogs ------------------------
    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker, state = event.worker, event.state  # worker.state may have moved on
        if worker.group == "run" and worker is not self.run_job:
            return  # a run whose start was cancelled: the form is the user's again
        if state == WorkerState.ERROR:
            err = worker.error
            if worker.group == "run":
                self.state.status = "failed"
                self.state.error = describe_error(err)
                self.state.version += 1
                self._refresh_home()
            elif worker.group == "fetch":
                for s in self.guide.values():
                    if isinstance(s, BenchmarkScreen):
                        s.hide_fetch()
            self.show_error(describe_error(err))
        elif state == WorkerState.CANCELLED and worker.group == "run":
            self._refresh_home()
        elif state == WorkerState.SUCCESS and worker.group == "run":
            if self.state.status == "stopping":
                self.state.status = "stopped"
                self.state.version += 1

    def show_error(
        self, message: str, title: str = "Error", then: Callable[[], object] | None = None
    ) -> None:
        """One sentence in a dialog; ``then`` runs once it is closed (focus a field)."""
        self.push_screen(ErrorDialog(message, title), (lambda _: then()) if then else None)

    def _refresh_home(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                screen.refresh_runs()

    # --- benchmark data ------------------------------------------------------------
    def refresh_data(self) -> None:
        self._data_worker()

    @work(thread=True, exit_on_error=False, group="data")
    def _data_worker(self, path: Path | None = None, benchmark: str = "") -> None:
        if path is not None:
            benchmarks.import_file(path, benchmark)
        self.post_message(DataStatus(benchmarks.status()))
        if path is not None:
            self.call_from_thread(
                self.notify, f"{benchmark} imported from {path.name}.", markup=False
            )

    def on_data_status(self, message: DataStatus) -> None:
        self.data_rows = message.rows
        self._tables.clear()
        for screen in (*self.screen_stack, *self.guide.values()):
            if isinstance(screen, HomeScreen) and screen.is_mounted:
                screen.fill_data(message.rows)
            elif isinstance(screen, BenchmarkScreen) and screen.is_mounted:
                screen.fill(message.rows)

    def import_data(self, benchmark: str = "nb201") -> None:
        def chosen(choice: ImportChoice | None) -> None:
            if choice is not None:
                self.last_import = str(choice.path)
                self._data_worker(choice.path, choice.benchmark)

        self.push_screen(ImportDialog(benchmark, path=self.last_import), chosen)

    def fetch_data(self, benchmark: str) -> None:
        self.notify(
            f"Downloading {benchmark}; it is imported when the download ends.", title="Fetch"
        )
        self._fetch_worker(benchmark)

    @work(thread=True, exclusive=True, exit_on_error=False, group="fetch")
    def _fetch_worker(self, benchmark: str) -> None:
        import io
        import threading

        from rich.console import Console

        from tnao_app.benchmarks import fetch as fetch_mod

        worker = get_current_worker()
        box: dict = {"done": 0, "total": None}

        def progress(done: int, total: int | None) -> None:
            box["done"], box["total"] = done, total  # read by the loop below

        def job() -> None:
            # The download has no stop hook: it runs in a daemon thread so quitting never
            # waits for it (a partial file resumes next time). Its console goes nowhere:
            # the terminal belongs to the TUI.
            try:
                box["path"] = fetch_mod.fetch(
                    benchmark, console=Console(file=io.StringIO()), progress=progress
                )
            except BaseException as exc:  # handed to this worker below
                box["error"] = exc

        thread = threading.Thread(target=job, daemon=True, name=f"fetch-{benchmark}")
        thread.start()
        while thread.is_alive():
            if worker.is_cancelled:
                return
            self.post_message(FetchProgress(benchmark, box["done"], box["total"]))
            thread.join(0.25)
        self.post_message(FetchProgress(benchmark, -1, None))
        if "error" in box:
            raise box["error"]
        benchmarks.import_file(box["path"], benchmark)
        self.post_message(DataStatus(benchmarks.status()))
        self.call_from_thread(self.notify, f"{benchmark} downloaded and imported.")

    def on_fetch_progress(self, message: FetchProgress) -> None:
        bench = self.guide.get("benchmark")
        if isinstance(bench, BenchmarkScreen) and bench.is_mounted:
            if message.done < 0:
                bench.hide_fetch()
            else:
                bench.show_fetch(message.done, message.total)

    def _table(self, name: str) -> benchmarks.Table | None:
        if name not in self._tables:
            try:
                self._tables[name] = benchmarks.load(name)
            except TnaoError:
                return None
        return self._tables[name]

    def dataset_note(self, benchmark: str, dataset: str) -> str:
        table = self._table(benchmark) if benchmark else None
        if table is None or dataset not in table.datasets:
            return ""
        spec = table.datasets[dataset]
        text = f"search signal: {spec.signal}\nreported: {spec.report}"
        return text + (f"\n{spec.note}" if spec.note else "")

    def true_rank(self, state: RunState, test: float) -> int | None:
        """Rank of a reported accuracy among every architecture of the table (1 = best)."""
        if test is None or math.isnan(test):
            return None
        table = self._table(state.benchmark)
        if table is None or state.dataset not in table.datasets:
            return None
        return table.rank_of(test, table.datasets[state.dataset].report)[0]

    # --- history actions -----------------------------------------------------------
    def export_run(self, run_id: str) -> None:
        def chosen(choice: ExportChoice | None) -> None:
            if choice is not None:
                self._export_worker(run_id, choice, self.store)

        self.push_screen(ExportDialog(run_id, self.export_dir), chosen)

    @work(thread=True, exit_on_error=False, group="export")
    def _export_worker(self, run_id: str, choice: ExportChoice, store) -> None:
        from tnao_app.export import export_run

        top = choice.top
        if top is None and choice.fmt == "torch":
            # Top "all": every leaderboard cell (the engine's torch default is the best one)
            top = len(store.leaderboard(run_id)) or None
        if choice.path.parent == self.export_dir:
            self.export_dir.mkdir(parents=True, exist_ok=True)  # the default folder
        export_run(store, run_id, choice.fmt, top=top, out=choice.path)
        self.call_from_thread(self.notify, f"Exported run {run_id} to {choice.path}.")

    def delete_run(self, run_id: str) -> None:
        if self.state.owned and self.state.run_id == run_id:
            self.show_error(f"Run {run_id} is running; stop it before deleting it.")
            return

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.store.delete_run(run_id)
            except TnaoError as exc:
                self.show_error(str(exc))
                return
            if self.state.run_id == run_id:
                self.state = RunState()
            self._refresh_home()
            self.notify(f"Deleted run {run_id}.")

        self.push_screen(
            ConfirmDialog(f"Delete run {run_id} and its checkpoints?", yes="Delete"), answer
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tnao-tui", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="run history database (default: TNAO_HOME/history.db)")
    parser.add_argument(
        "--preset",
        choices=[p for p in PRESETS if p],
        help="guide defaults (tiny: a run of seconds)",
    )
    args = parser.parse_args(argv)
    try:
        app = TnaoApp(db=args.db, preset=args.preset)
    except TnaoError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    app.run()


if __name__ == "__main__":
    main()
