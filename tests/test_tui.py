"""Pilot tests of tnao-tui: the whole guide on the embedded default with the tiny preset,
stop and resume from Home, export, the error dialog, the command palette, quitting.

Runs are real (analog benchmark, tiny config: a few seconds each); the history lives in
a temporary TNAO_HOME.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import html
import math
import re
import time
from pathlib import Path

import pytest

pytest.importorskip("textual")

from rich.cells import cell_len  # noqa: E402
from rich.text import Text  # noqa: E402
from textual import events  # noqa: E402
from textual.command import CommandPalette  # noqa: E402
from textual.widgets import DataTable, Input, Label, ProgressBar, Select, Static  # noqa: E402

from tnao_app import events as ev  # noqa: E402
from tnao_app.benchmarks.base import DatasetSpec  # noqa: E402
from tnao_app.config import Config  # noqa: E402
from tnao_app.screens import guide as guide_mod  # noqa: E402
from tnao_app.screens.app import TnaoApp  # noqa: E402
from tnao_app.screens.benchmark import BenchmarkScreen, default_choice, fetchable  # noqa: E402
from tnao_app.screens.dialogs import (  # noqa: E402
    ConfirmDialog,
    ErrorDialog,
    ExportDialog,
    ImportDialog,
)
from tnao_app.screens.home import HomeScreen, data_note  # noqa: E402
from tnao_app.screens.messages import wrap  # noqa: E402
from tnao_app.screens.results import ResultsScreen  # noqa: E402
from tnao_app.screens.sampling import SamplingScreen  # noqa: E402
from tnao_app.screens.search import SearchScreen  # noqa: E402
from tnao_app.screens.state import RunState, from_store  # noqa: E402
from tnao_app.screens.training import TrainingScreen  # noqa: E402
from tnao_app.screens.widgets import (  # noqa: E402
    ConvergenceChart,
    LossChart,
    SampleHistogram,
    TauChart,
    fill_table,
)
from tnao_app.storage import Store  # noqa: E402

SIZE = (100, 30)
# the whole model trained in the run (not a cached stage 1), for 100 epochs: long enough
# for a stop to land in the middle of training
LONG_TRAIN = {"train": {"stage1": "joint", "epochs": 100, "patience": 10_000}}
# for a test that never lets the run finish: no machine trains this to the end before the
# test has stopped it (100 epochs of the tiny model can end before a quit is confirmed)
ENDLESS_TRAIN = {"train": {"stage1": "joint", "epochs": 20_000, "patience": 100_000}}


def sync(fn):
    """Run an async test with asyncio.run (no pytest-asyncio needed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


async def until(
    pilot,
    cond,
    timeout: float = 120.0,
    step: float = 0.05,
    what=lambda: "timed out waiting for the app",
) -> None:
    """Wait for ``cond()``; fail with ``what()`` after ``timeout`` seconds. The app redraws
    and lays out on its own timers, which a loaded 2-core CI runner can delay past any
    fixed pause."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(what())
        await pilot.pause(step)


async def ready_home(app, pilot) -> None:
    await until(pilot, lambda: app.data_rows is not None)
    await pilot.pause()


async def burst(app, pilot, *keys: str) -> None:
    """Send ``keys`` as a terminal delivers a fast burst (a quick typist, tmux send-keys):
    all queued before the app handles the first. pilot.press waits for the app to go idle
    after every key, so it never shows a race between keys."""
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))
    await pilot.pause(0.3)


#: one run of text in the app's SVG screenshot (Rich's export_svg): its x, its line
SVG_TEXT = re.compile(
    r'<text [^>]*?x="([-\d.e]+)"[^>]*?clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>(.*?)</text>'
)
SVG_CHAR_WIDTH = 20 * 0.61  # export_svg's cell: char_height * font_aspect_ratio


def screen_cells(app) -> list[list[str]]:
    """What the terminal shows, cell by cell, read back from the app's screenshot (public
    API: Textual has none that gives the composed screen as text)."""
    width, height = app.size
    grid = [[" "] * width for _ in range(height)]
    for m in SVG_TEXT.finditer(app.export_screenshot()):
        col, line = round(float(m[1]) / SVG_CHAR_WIDTH), int(m[2])
        for ch in html.unescape(m[3]).replace("\xa0", " "):
            if 0 <= line < height and 0 <= col < width:
                grid[line][col] = ch
            col += max(cell_len(ch), 1)
    return grid


def screen_text(app) -> str:
    """What the terminal shows: every line of the screen (a dialog over the one below)."""
    return "\n".join("".join(row).rstrip() for row in screen_cells(app))


def region_text(app, widget) -> str:
    """What the terminal shows inside ``widget``'s content (text cut off is not there)."""
    r = widget.content_region
    rows = screen_cells(app)[r.y : r.bottom]
    return "\n".join("".join(row[r.x : r.right]).rstrip() for row in rows)


def flat(text: str) -> str:
    """``text`` with every run of whitespace as one space (wrapped lines joined)."""
    return " ".join(text.split())


@pytest.fixture
def db(tnao_home) -> Path:
    return tnao_home / "history.db"


@sync
async def test_whole_guide_tiny_run(db):
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("n")
        await pilot.pause()
        bench = app.screen
        assert isinstance(bench, BenchmarkScreen)
        assert (bench.benchmark, bench.dataset) == ("analog", "cifar10")  # embedded default
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, SamplingScreen)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.state.status == "finished")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        # The guide followed the run through every stage to the results: each step was
        # shown (a shown step redraws at once; polling app.screen can miss a tiny run's
        # search, which lasts a few milliseconds).
        assert all(app.guide[step].ticks for step in ("training", "search", "results"))
        assert isinstance(app.screen, ResultsScreen)
        st = app.state
        # every epoch the run announced (StageStarted.steps), every generation
        assert len(st.epochs) == st.round_epochs(0)[1] >= 3
        assert len(st.generations) == 3 and st.sampled
        best = st.best()
        assert best["rank"] >= 1 and best["test"] > 50
        assert app.screen.query_one("#results-table", DataTable).row_count >= 1
        # Back to the search step: the leaderboard is there.
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_one("#leaderboard", DataTable).row_count == len(st.leaderboard)
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert isinstance(app.screen, TrainingScreen)
        await pilot.press("ctrl+g")
        await pilot.pause(0.3)
        assert isinstance(app.screen, HomeScreen)
        runs = app.screen.query_one("#runs", DataTable)
        assert runs.row_count == 1
    # Recorded in the history store.
    run = Store(db).get_run(st.run_id)
    assert run["status"] == "finished" and run["best_test"] == pytest.approx(best["test"])


@sync
async def test_stop_then_resume_from_home(db):
    # Many short epochs, no early stop: the stop lands mid-training on any machine.
    app = TnaoApp(db=db, preset="tiny", overrides=LONG_TRAIN)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n", "ctrl+r")
        await until(pilot, lambda: len(app.state.epochs) >= 1)
        await pilot.press("ctrl+t")  # stop
        await until(pilot, lambda: app.state.status == "stopped", timeout=30)
        run_id = app.state.run_id
        await until(pilot, lambda: Store(db).get_run(run_id)["status"] == "stopped", 30)
        await pilot.press("ctrl+g")
        await pilot.pause(0.3)
        home = app.screen
        assert isinstance(home, HomeScreen)
        home.refresh_runs()
        await pilot.pause()
        assert home.selected_id() == run_id
        await pilot.press("r")  # resume
        await until(pilot, lambda: app.state.status == "finished")
        await app.workers.wait_for_complete()
        # The resumed run kept the epochs recorded before the stop.
        epochs = app.state.round_epochs(0)[1]  # as the run announced them
        assert sorted(e for _, e in app.state.epochs) == list(range(1, epochs + 1))
    run = Store(db).get_run(run_id)
    assert run["status"] == "finished" and run["resumes"] == 1


@pytest.fixture(scope="module")
def finished_db(tmp_path_factory) -> tuple[Path, str]:
    """One finished tiny run (headless), shared by the tests that only read it."""
    from tnao_app.config import Config
    from tnao_app.runs.session import start_run
    from tnao_app.screens.app import PRESETS

    home = tmp_path_factory.mktemp("tui_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TNAO_HOME", str(home))
    try:
        res = start_run(Config.from_dict(PRESETS["tiny"]), Store(home / "history.db"))
    finally:
        mp.undo()
    return home, res["run_id"]


@sync
async def test_open_finished_run_shows_its_charts(finished_db, monkeypatch):
    home, run_id = finished_db
    monkeypatch.setenv("TNAO_HOME", str(home))
    app = TnaoApp(db=home / "history.db")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("o")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ResultsScreen)
        assert app.state.run_id == run_id and app.state.status == "finished"
        # a past run's Results name what it ran on
        head = plain(app.screen.query_one("#best-summary")).splitlines()[0]
        assert head == f"Run {run_id}  analog / cifar10  method tnao  seed 0"
        assert len(app.state.epochs) == app.state.round_epochs(0)[1] >= 3
        assert len(app.state.generations) == 3
        await pilot.press("escape")
        await pilot.pause(0.3)
        board = app.screen.query_one("#leaderboard", DataTable)
        assert board.row_count == len(app.state.leaderboard) > 0


@sync
async def test_export_dialog_writes_csv(finished_db, monkeypatch, tmp_path):
    home, run_id = finished_db
    monkeypatch.setenv("TNAO_HOME", str(home))
    out = tmp_path / "board.csv"
    app = TnaoApp(db=home / "history.db")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one("#fmt", Select).value = "csv"
        await pilot.pause()
        assert dialog.query_one("#path", Input).value.endswith(f"tnao_{run_id}.csv")
        dialog.query_one("#path", Input).value = str(out)
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
    lines = out.read_text().splitlines()
    assert "arch" in lines[0] and len(lines) >= 2


@sync
async def test_export_to_missing_folder_is_an_error_dialog(finished_db, monkeypatch, tmp_path):
    home, run_id = finished_db
    monkeypatch.setenv("TNAO_HOME", str(home))
    app = TnaoApp(db=home / "history.db")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#path", Input).value = str(tmp_path / "nope" / "x.json")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        assert "does not exist" in app.screen.message


@sync
async def test_corrupt_import_shows_error_dialog(db, tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_text("this,is\nnot,a benchmark\n")
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, ImportDialog)
        app.screen.query_one("#path", Input).value = str(bad)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ErrorDialog)
        assert "broken.csv" in dialog.message and "Traceback" not in dialog.message
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)  # the app is still alive
        assert app.is_running


@sync
async def test_bad_setting_is_an_error_dialog_not_a_run(db):
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n")
        await pilot.pause()
        app.screen.query_one("#f-budget", Input).value = "5"  # below the sample size
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        assert "budget" in app.screen.message
        assert app.state.status == "idle"
    assert Store(db).list_runs() == []


@sync
async def test_command_palette_offers_new_run(db):
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"new run")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, BenchmarkScreen)


@sync
async def test_fast_typing_in_the_run_form_keeps_every_key(db):
    # The walk-through's keys, sent at once: characters used to overtake the bound keys
    # (End, BSpace, Tab), which ran later against whatever field had focus by then; the
    # second field came out empty. ctrl+r right after must start with the typed values.
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SamplingScreen)
        form.query_one("#f-particles", Input).focus()
        await pilot.pause()
        await burst(
            app,
            pilot,
            "end",
            "backspace",
            "backspace",
            "3",
            "2",
            "tab",
            "end",
            "backspace",
            "backspace",
            "1",
            "0",
            "ctrl+r",
        )
        assert form.query_one("#f-particles", Input).value == "32"
        assert form.query_one("#f-generations", Input).value == "10"
        assert form.query_one("#f-budget", Input).value == "30"  # untouched
        assert not isinstance(app.screen, ErrorDialog)
        await until(pilot, lambda: app.state.run_id != "")
        run_id = app.state.run_id
        search = app.state.config["search"]
        assert (search["particles"], search["generations"]) == (32, 10)
        await until(pilot, lambda: app.state.status == "finished")
        await app.workers.wait_for_complete()
        assert len(app.state.generations) == 10
    recorded = Store(db).get_run(run_id)["config"]["search"]
    assert (recorded["particles"], recorded["generations"]) == (32, 10)


@sync
async def test_fast_typing_in_a_dialog_then_its_key(finished_db, monkeypatch, tmp_path):
    home, run_id = finished_db
    monkeypatch.setenv("TNAO_HOME", str(home))
    app = TnaoApp(db=home / "history.db")
    app.export_dir = tmp_path
    async with app.run_test(size=(80, 24)) as pilot:
        await ready_home(app, pilot)
        await pilot.press("e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one("#path", Input).focus()
        await pilot.pause()
        # Rename the file (.json -> x.json), top 2, export: all in one burst.
        await burst(
            app, pilot, "end", "left", "left", "left", "left", "left", "x", "tab", "2", "ctrl+s"
        )
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
    out = tmp_path / f"tnao_{run_id}x.json"
    assert out.exists() and '"leaderboard"' in out.read_text()


@sync
async def test_80x24_shows_every_key_and_hint(finished_db, monkeypatch):
    home, run_id = finished_db
    monkeypatch.setenv("TNAO_HOME", str(home))
    app = TnaoApp(db=home / "history.db", preset="tiny")
    app.export_dir = Path("/exports")  # a path that fits its field (a long one scrolls)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready_home(app, pilot)

        def footer() -> str:
            return screen_text(app).splitlines()[-1]

        async def footer_has(*keys: str) -> None:
            # The footer recomposes for a new screen a moment after it opens.
            await until(
                pilot,
                lambda: all(k in footer() for k in keys),
                timeout=10,
                what=lambda: f"footer lacks {keys}: {footer()!r}",
            )

        # Home: every key and Quit, Help and the palette (Delete is in the palette and
        # the help); the data table's last column wraps instead of cutting a dataset list
        # or a hint at the right edge.
        await footer_has(
            "n New",
            "o Open",
            "r Resume",
            "e Export",
            "i Import",
            "g Refresh",
            "^q Quit",
            "? Help",
            "^p palette",
        )
        shown = flat(screen_text(app))
        for row in app.data_rows:
            assert flat(data_note(row, fetchable())) in shown
        # Benchmark: the nb101 row's hint, whole, and its keys.
        await pilot.press("n")
        await pilot.pause()
        bench = app.screen
        assert isinstance(bench, BenchmarkScreen)
        names = [r["benchmark"] for r in app.data_rows]
        bench.query_one("#benchmarks", DataTable).move_cursor(row=names.index("nb101"))
        await pilot.pause(0.3)
        assert bench.benchmark == "nb101"
        hint = next(r for r in app.data_rows if r["benchmark"] == "nb101")["hint"]
        shown = flat(region_text(app, bench.query_one("#bench-hint")))
        assert flat(hint) in shown and "press i to import a file, f to fetch it" in shown
        await footer_has(
            "esc Back", "^n Next", "^g Home", "i Import", "f Fetch", "^q Quit", "^p palette"
        )
        # Sampling: the whole form and its keys.
        bench.query_one("#benchmarks", DataTable).move_cursor(row=names.index("analog"))
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, SamplingScreen)
        shown = screen_text(app)
        for label in (
            "Sample size",
            "Budget",
            "Seed",
            "Epochs",
            "Particles",
            "Generations",
            "Press ctrl+r to start the run.",
        ):
            assert label in shown
        await footer_has("esc Back", "^n Next", "^r Start run", "^q Quit", "^p palette")
        # The dialogs: their text, buttons and keys.
        long = (
            "broken.csv has no column 'arch_str'; expected one with the architecture "
            "string of every row, as in the official NATS-Bench tables."
        )
        app.show_error(long)
        await pilot.pause(0.3)
        dialog = app.screen
        assert flat(region_text(app, dialog.query_one("#message"))) == flat(long)
        assert "OK" in region_text(app, dialog.query_one("#ok"))
        await footer_has("esc Close")
        await pilot.press("escape")
        app.export_run(run_id)
        await pilot.pause(0.3)
        shown = screen_text(app)
        assert f"/exports/tnao_{run_id}.json" in shown
        for text in (f"Export run {run_id}", "Format", "Path", "Top", "Export", "Cancel"):
            assert text in shown
        await footer_has("esc Cancel", "^s Export")
        await pilot.press("escape")
        app.import_data()
        await pilot.pause(0.3)
        shown = screen_text(app)
        for text in ("Import benchmark data", "Benchmark", "Path", "Import", "Cancel"):
            assert text in shown
        await footer_has("esc Cancel")
        await pilot.press("escape")
        app.delete_run(run_id)
        await pilot.pause(0.3)
        shown = screen_text(app)
        assert f"Delete run {run_id} and its checkpoints?" in shown
        assert "Delete (y)" in shown and "No (n)" in shown
        await footer_has("esc No", "y Yes")
        await pilot.press("n")


async def palette(app, pilot, query: str) -> None:
    """Run the command palette's best match for ``query``."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*query)
    await pilot.pause(0.5)
    for _ in range(2):  # the first enter may only highlight the best match
        if not isinstance(app.screen, CommandPalette):
            break
        await pilot.press("enter")
        await pilot.pause(0.3)
    assert not isinstance(app.screen, CommandPalette)


@sync
async def test_command_palette_offers_the_main_actions(finished_db, monkeypatch):
    home, run_id = finished_db
    monkeypatch.setenv("TNAO_HOME", str(home))
    app = TnaoApp(db=home / "history.db")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in (
            "New run",
            "Open run",
            "Resume run",
            "Export run",
            "Delete run",
            "Import benchmark data",
            "Fetch nb201",
            "Fetch nb101",
        ):
            assert title in titles
        # From Home, on its selected run.
        assert app.screen.selected_id() == run_id
        await palette(app, pilot, "delete run")
        assert isinstance(app.screen, ConfirmDialog) and run_id in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        await palette(app, pilot, "export run")
        assert isinstance(app.screen, ExportDialog) and app.screen.run_id == run_id
        await pilot.press("escape")
        await pilot.pause()
        await palette(app, pilot, "import benchmark data")
        assert isinstance(app.screen, ImportDialog)
        await pilot.press("escape")
        await pilot.pause()
        await palette(app, pilot, "resume run")  # the only run is finished
        assert isinstance(app.screen, HomeScreen) and app.state.status == "idle"
        await palette(app, pilot, "open run")
        assert isinstance(app.screen, ResultsScreen) and app.state.run_id == run_id
    assert Store(home / "history.db").get_run(run_id)["status"] == "finished"


@sync
async def test_quit_during_training_stops_the_worker(db):
    app = TnaoApp(db=db, preset="tiny", overrides=ENDLESS_TRAIN)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n", "ctrl+r")
        await until(pilot, lambda: len(app.state.epochs) >= 1)
        run_id = app.state.run_id
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), timeout=10)
        await pilot.press("y")
        await pilot.pause()
    # The worker thread saw the cancellation at its next batch and recorded the stop.
    t0 = time.monotonic()
    while (status := Store(db).get_run(run_id)["status"]) != "stopped":
        assert time.monotonic() - t0 < 60, f"the run did not stop: its status is {status}"
        time.sleep(0.1)


def test_default_choice_prefers_imported_data():
    rows = [{"benchmark": "analog", "ready": True}, {"benchmark": "nb201", "ready": False}]
    assert default_choice(rows) == "analog"
    rows[1]["ready"] = True
    assert default_choice(rows) == "nb201"


@sync
async def test_app_at_80x24_fits_the_guide(db):
    """Keyboard-first at 80x24: the guide's footer, stage bar and form are visible."""
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n")
        for _ in range(2):
            await pilot.pause()
            for w in app.screen.query("Footer, #stagebar, #statusline"):
                assert w.region.height >= 1 and w.region.bottom <= 24
            await pilot.press("ctrl+n")
        form = app.screen.query_one("#f-generations", Input)
        assert form.region.height == 1 and form.region.bottom <= 22


# --- live views, fed the events a run's worker posts ---------------------------------
# The events are made up (a 4-round run: budget 60, 20 sampled, top_k 10) and posted as
# the run worker posts them, so the App's own path (fold, follow, redraw) is what runs.
# The run's plan and each stage's steps are what the engine announces; ``told=False``
# makes the events of an engine (or a recorded run) from before those fields.

ROUNDS_CFG = {
    "run": {"budget": 60, "device": "cpu"},
    "train": {"epochs": 3},
    "search": {"particles": 32, "generations": 10},
}
PLAN = ev.RunPlan(budget=60, stages=ev.STAGES, rounds=4, sample=20, round_queries=10)


def run_started(
    cfg: dict = ROUNDS_CFG, method: str = "tnao", plan: ev.RunPlan | None = PLAN
) -> list[ev.Event]:
    config = Config.from_dict({**cfg, "run": {**cfg["run"], "method": method}})
    # as a run announces it: automatic sizes resolved (analog's cifar10 spec)
    config = config.resolve(DatasetSpec("cifar10", "baseline", "baseline")).to_dict()
    return [ev.RunStarted("r0und5", "analog", "cifar10", method, 0, "cpu", config, plan=plan)]


def sample_stage(told: bool = True) -> list[ev.Event]:
    return [
        ev.StageStarted("sample", steps=20 if told else 0),
        ev.Sampled(tuple(f"a{i}" for i in range(20)), tuple(85.0 + 0.3 * i for i in range(20))),
        ev.StageFinished("sample", 0.1),
    ]


def train_round(
    rnd: int,
    epochs: int = 3,
    tune: int = 3,
    *,
    start: int | None = None,
    restarted: bool = False,
    told: bool = True,
) -> list[ev.Event]:
    """Round ``rnd``'s training: ``epochs`` in round 0, ``tune`` more in each later one,
    the model's epoch numbers going on from ``start`` (a restarted round: from 0, a new
    model, ``epochs`` of them)."""
    if start is None:
        start = 0 if rnd == 0 or restarted else epochs + (rnd - 1) * tune
    steps = epochs if rnd == 0 or restarted else tune
    out: list[ev.Event] = [
        ev.StageStarted("train", rnd, steps=steps if told else 0, restarted=restarted and told)
    ]
    for i in range(1, steps + 1):
        e = start + i
        # No validation split (the default): val_tau is NaN every epoch.
        out.append(
            ev.EpochEnded(
                e,
                start + steps,
                1.5 - 0.1 * e,
                0.6 - 0.05 * e,
                2.1 - 0.15 * e,
                math.nan,
                math.nan,
                0.1,
                "cpu",
                rnd,
                i if told else 0,
            )
        )
    out.append(ev.StageFinished("train", 0.3, {"train_tau": 0.8 + 0.02 * rnd}, rnd))
    return out


def generations(rnd: int, gens: range, total: int = 10) -> list[ev.Event]:
    return [
        ev.Generation(g, total, 2.0 + rnd + 0.1 * g, 1.5 + rnd + 0.1 * g, 10 + g, rnd) for g in gens
    ]


async def feed(app, pilot, events: list[ev.Event], pause: float = 0.3) -> None:
    """Post ``events`` as a live run's worker does, then wait until the screen has redrawn
    after handling them (it redraws on a timer; a fixed pause alone was sometimes too
    short on a loaded 2-core CI runner)."""
    for e in events:
        app.post_message(wrap(e, app.run_tag))
    await pilot.pause(pause)
    screen = app.screen
    seen, t0 = getattr(screen, "ticks", None), time.monotonic()
    # (a screen under a dialog does not redraw: go on after a while, the test decides)
    while seen is not None and screen.ticks < seen + 2 and time.monotonic() - t0 < 5:
        await pilot.pause(0.05)


def plain(widget) -> str:
    """The text a widget shows (a Static's content, a chart's rendered plot)."""
    if isinstance(widget, Static):
        return widget.visual.plain
    return widget.render().plain


def fits(widget) -> bool:
    """A one-line label's text fits its width (nothing clipped at the right)."""
    return cell_len(plain(widget)) <= widget.content_size.width


async def assert_fit(pilot, widgets, what: str) -> None:
    """Every widget's text fits its width, once layout has caught up with the last update
    (a really clipped label still fails, with its text)."""
    await until(
        pilot,
        lambda: all(fits(w) for w in widgets),
        timeout=10,
        what=lambda: f"{what}: clipped {[plain(w) for w in widgets if not fits(w)]!r}",
    )


@sync
async def test_live_search_chart_draws_generations_as_they_come(db, monkeypatch):
    # A chart redraws at most once per CHART_MIN_S while a run is live. The Search step
    # opens (and draws its chart empty) when the search starts; that empty draw used to
    # hold the first generations back, so a search shorter than the limit (CSO, 32
    # particles, 10 generations) ran to its end with a blank chart. A long limit makes
    # the old behaviour certain here.
    monkeypatch.setattr(guide_mod, "CHART_MIN_S", 60.0)
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "training")
        await pilot.pause()
        await feed(app, pilot, run_started() + sample_stage() + train_round(0))
        await feed(app, pilot, [ev.StageStarted("search", 0)])
        screen = app.screen
        assert isinstance(screen, SearchScreen)  # the guide followed the run
        chart = screen.query_one(ConvergenceChart)
        assert "best" not in plain(chart)  # nothing to plot yet
        await feed(app, pilot, generations(0, range(1, 4)))
        assert "best" in plain(chart) and "mean" in plain(chart)
        assert "round 1/4" in plain(chart)
        assert plain(screen.query_one("#gen-label")).startswith("round 1/4  gen 3/10")
        # Round 2 trains while the user stays on Search: it says so, and gives no ETA of
        # a stage it does not show (it read as a stale training ETA).
        await feed(
            app,
            pilot,
            [
                ev.StageFinished("search", 0.1, {}, 0),
                ev.StageStarted("evaluate", 0),
                ev.StageFinished("evaluate", 0.1, {}, 0),
                *train_round(1)[:2],
            ],
        )
        assert app.state.stage == "train" and app.state.round == 1
        label = plain(screen.query_one("#gen-label"))
        assert label.startswith("round 1/4  gen 3/10") and "round 2/4 training" in label
        status = plain(screen.query_one("#statusline"))
        assert "now: train" in status and "train ETA" not in status
        # Round 2 searches: its first generation shows at once, alone (another
        # predictor's scores do not share an axis with round 1's).
        await feed(
            app,
            pilot,
            [*train_round(1)[2:], ev.StageStarted("search", 1), *generations(1, range(1, 2))],
        )
        assert "round 2/4" in plain(chart)
        assert plain(screen.query_one("#gen-label")).startswith("round 2/4  gen 1/10")
        assert "search ETA" in plain(screen.query_one("#statusline"))


@sync
async def test_training_without_validation_split_draws_no_flat_zero(db):
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "training")
        await pilot.pause()
        events = run_started() + sample_stage() + train_round(0)
        await feed(app, pilot, events[:-1])  # three epochs in, training not finished
        screen = app.screen
        tau = screen.query_one(TauChart)
        text = plain(tau)
        assert "no validation split" in text and "val tau" not in text
        assert "0.00┤▄▄▄" not in text  # no series at all (it was a flat line at 0)
        line = plain(screen.query_one("#epoch-line"))
        assert "no validation split" in line and "tau -" not in line
        await feed(app, pilot, events[-1:])  # training ends: its train tau is known
        assert "train tau" in plain(tau)
        assert "train tau 0.800" in plain(screen.query_one("#epoch-line"))


def test_round_progress_and_eta_follow_the_round():
    t = [0.0]
    st = RunState()
    for e in (
        run_started()
        + sample_stage()
        + train_round(0)
        + [
            ev.StageStarted("search", 0, steps=10),
            *generations(0, range(1, 11)),
            ev.StageStarted("evaluate", 0),
        ]
        + train_round(1)[:2]
    ):
        t[0] += 1.0
        st.apply(e, lambda: t[0])
    assert st.rounds_total() == 4  # the plan's
    assert st.round == 1 and st.stage == "train"
    # Round 2 fine-tunes epochs 4..6: one of its three done (not one of six).
    assert st.round_epochs(1) == (1, 3) and st.train_kind(1) == "fine-tune"
    assert st.stage_fraction() == pytest.approx(1 / 3)
    # The rate counts from the stage's first step (its set-up is no measure of its
    # speed): one step seen, no ETA yet.
    assert st.eta(lambda: t[0] + 2.0) is None
    t[0] += 2.0  # 2 s after its first epoch, half of the next: 1/6 of the stage in 2 s
    st.apply(ev.Progress("train", 4, 8, "loss 1.0"), lambda: t[0])
    assert st.stage_fraction() == pytest.approx(0.5)
    assert st.eta(lambda: t[0]) == pytest.approx(6.0)
    assert st.search_round() == 0 and st.train_round() == 1
    assert st.round_label(1) == "round 2/4"
    # The run tells of fewer rounds (its budget goes faster): the label follows.
    st.apply(ev.StageStarted("search", 1, steps=10, rounds=3))
    assert st.rounds_total() == 3 and st.round_label(1) == "round 2/3"
    one = RunState()
    one.apply(run_started(plan=ev.RunPlan(budget=30, stages=ev.STAGES, rounds=1))[0])
    assert one.rounds_total() == 1 and one.round_label(0) == ""
    # Not told (an engine from before the plan): no total, rather than a guessed one.
    old = RunState()
    for e in run_started(plan=None) + sample_stage(False) + train_round(0, told=False)[:2]:
        old.apply(e)
    assert old.rounds_total() == 0 and old.round_label(0) == ""
    assert old.round_epochs(0) == (1, 0) and old.stage_fraction() is None
    assert old.budget == 60  # from its config
    for e in train_round(0, told=False)[2:] + train_round(1, told=False)[:2]:
        old.apply(e)
    assert old.round_label(1) == "round 2"  # seen to go in rounds; how many, not told
    assert old.round_epochs(0) == (3, 3)  # over: what it did
    assert old.round_epochs(1) == (1, 0) and old.eta(lambda: 10.0) is None


def restart_run(told: bool = True) -> list[ev.Event]:
    """Round 1 trains epochs 1..12, round 2 fine-tunes 13..15, round 3 restarts a new
    model: its epochs are 1..12 again (the default after a round that found nothing)."""
    cfg = {"run": {"budget": 60, "device": "cpu"}, "train": {"epochs": 12}}
    plan = ev.RunPlan(budget=60, stages=ev.STAGES, rounds=3, sample=20, round_queries=10)
    out = run_started(cfg, plan=plan if told else None) + sample_stage(told)
    for rnd in range(3):
        out += train_round(rnd, 12, 3, restarted=rnd == 2, told=told)
        out += [ev.StageStarted("search", rnd, steps=10 if told else 0)]
        out += generations(rnd, range(1, 11))
        out += [ev.StageFinished("search", 0.1, {}, rnd), ev.StageStarted("evaluate", rnd)]
        out += [ev.StageFinished("evaluate", 0.1, {}, rnd)]
    return out


def cut_in_restart(told: bool = True, step: int = 3) -> list[ev.Event]:
    """restart_run cut ``step`` epochs into round 3's training, in its next batch."""
    events = restart_run(told)
    i = events.index(next(e for e in events if isinstance(e, ev.StageStarted) and e.round == 2))
    return events[: i + 1 + step] + [ev.Progress("train", 2, 8, "loss 1.0")]


def test_restarted_round_counts_its_own_epochs():
    # It read "fine-tune epoch -12/1", a negative bar and an ETA of 00:00: the screen
    # counted the round from where the last one ended (epoch 15), not from the new model's.
    t = [0.0]
    st = RunState()
    for e in cut_in_restart():
        t[0] += 1.0
        st.apply(e, lambda: t[0])
    assert (st.round, st.stage, st.rounds_total()) == (2, "train", 3)
    assert st.round_epochs(2) == (3, 12) and st.train_kind(2) == "retrain"
    assert st.round_epochs(1) == (3, 3) and st.train_kind(1) == "fine-tune"
    assert st.round_epochs(0) == (12, 12) and st.train_kind(0) == ""
    frac = st.stage_fraction()
    assert frac == pytest.approx((3 + 2 / 8) / 12) and 0 < frac < 1
    assert st.eta(lambda: t[0] + 1) > 0
    # Without the new fields (an older engine): the restart shows in the epoch numbers;
    # the epochs done are counted, the planned ones not guessed.
    old = RunState()
    for e in cut_in_restart(told=False):
        old.apply(e, lambda: 1.0)
    assert old.round_epochs(2) == (3, 0) and old.train_kind(2) == "retrain"
    assert old.stage_fraction() is None and old.eta(lambda: 2.0) is None
    assert old.round_label(2) == "round 3"


@sync
async def test_restarted_round_on_the_training_screen(db):
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "training")
        await pilot.pause()
        await feed(app, pilot, cut_in_restart())
        app.show_step("training")  # the guide followed the earlier rounds to Search
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        label = plain(screen.query_one("#epoch-label"))
        assert label.startswith("round 3/3  retrain epoch 3/12  batch 2/8"), label
        bar = screen.query_one("#epoch-progress", ProgressBar)
        assert bar.total == 12 and bar.percentage == pytest.approx((3 + 2 / 8) / 12)
        status = plain(screen.query_one("#statusline"))
        assert "train ETA" in status and "train ETA 00:00" not in status
        # the loss chart goes on to the right, 12 + 3 + 3 epochs trained so far (the new
        # model's epochs 1..3 drawn at x 1..3 ran back over round 1's line): ticks to 16
        chart = screen.query_one(LossChart)
        await until(pilot, lambda: " 16 " in plain(chart).splitlines()[-2] + " ", timeout=10)


@sync
async def test_restarted_round_of_an_older_engine_shows_no_total(db):
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "training")
        await pilot.pause()
        await feed(app, pilot, cut_in_restart(told=False))
        app.show_step("training")
        await pilot.pause(0.3)
        screen = app.screen
        label = plain(screen.query_one("#epoch-label"))
        assert label.startswith("round 3  retrain epoch 3/?  batch 2/8"), label
        assert screen.query_one("#epoch-progress", ProgressBar).total is None  # no 0 %
        assert "train ETA --:--" in plain(screen.query_one("#statusline"))


def recorded(store: Store, events: list[ev.Event], end: bool = True) -> str:
    """``events`` recorded as run ``rid`` of ``store`` (finished when ``end``)."""
    rid = store.create_run(Config.from_dict(ROUNDS_CFG))
    rec = store.recorder(rid)
    for e in events:
        rec(dataclasses.replace(e, run_id=rid) if isinstance(e, ev.RunStarted) else e)
    if end:
        rec(ev.Leaderboard((ev.LeaderRow(1, "a3", 2.7, 93.5, 93.4, 99.5),)))
        rec(ev.RunFinished({"run_id": rid, "queries": 50, "budget": 60}))
    rec.close()
    return rid


def shown(st: RunState) -> dict:
    """What the screens read of a run's state, round by round."""
    n = max(st.rounds_total(), st.round + 1)
    return {
        "rounds": st.rounds_total(),
        "plan": st.plan,
        "labels": [st.round_label(r) for r in range(n)],
        "epochs": [st.round_epochs(r) for r in range(n)],
        "kinds": [st.train_kind(r) for r in range(n)],
        "gens": [st.round_generations(r) for r in range(n)],
        "shown": (st.train_round(), st.search_round(), st.round, st.stage),
        "done": st.stages_done,
        "train_tau": st.train_tau,
        "sampled": st.sampled,
        "budget": (st.queries, st.budget),
        "config": st.config,
        "board": st.leaderboard,
        "status": (st.status, st.error),
        "what": (st.benchmark, st.dataset, st.method, st.seed, st.device),
    }


@pytest.mark.parametrize("told", [True, False], ids=["plan", "older-engine"])
def test_opened_run_reads_as_the_live_one(tnao_home, told):
    """A run opened from the history is the state its live events gave: the same rounds,
    epochs of each round, kinds of training, generations."""
    store = Store(tnao_home / "history.db")
    events = restart_run(told)
    rid = recorded(store, events)
    live = RunState()
    for e in [dataclasses.replace(events[0], run_id=rid), *events[1:]]:
        live.apply(e)
    live.apply(ev.Leaderboard((ev.LeaderRow(1, "a3", 2.7, 93.5, 93.4, 99.5),)))
    live.apply(ev.RunFinished({"run_id": rid, "queries": 50, "budget": 60}))
    opened = from_store(store, rid)
    assert shown(opened) == shown(live)
    assert shown(opened)["epochs"] == [(12, 12), (3, 3), (12, 12)]
    assert shown(opened)["kinds"] == ["", "fine-tune", "retrain"]
    assert shown(opened)["labels"] == ["round 1/3", "round 2/3", "round 3/3"]
    # A run stopped mid-round reads as it was: round 3, three epochs into its retraining.
    cut = recorded(store, cut_in_restart(told)[:-1], end=False)
    store.recorder(cut)(ev.RunStopped("train"))
    st = from_store(store, cut)
    assert (st.status, st.round, st.stage) == ("stopped", 2, "train")
    assert st.round_epochs(2) == ((3, 12) if told else (3, 0)) and st.train_kind(2) == "retrain"


@sync
async def test_open_a_restarted_run_from_the_history(db):
    store = Store(db)
    rid = recorded(store, restart_run())
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_run(rid)
        await pilot.pause(0.3)
        assert isinstance(app.screen, ResultsScreen)
        app.show_step("training")
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        assert plain(screen.query_one("#epoch-label")) == "round 3/3  retrain epoch 12/12"
        bar = screen.query_one("#epoch-progress", ProgressBar)
        assert bar.percentage == 1
        app.show_step("search")
        await pilot.pause(0.3)
        assert plain(app.screen.query_one("#gen-label")).startswith("round 3/3  gen 10/10")


@sync
async def test_multi_round_run_shows_its_rounds(db):
    # A real 3-round run (tiny preset: budget 35, 20 sampled, 5 queries a round).
    app = TnaoApp(
        db=db,
        preset="tiny",
        overrides={"run": {"budget": 35}, "search": {"rounds": 10, "top_k": 5}},
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n", "ctrl+r")
        await until(pilot, lambda: app.state.plan is not None or app.state.stage != "")
        planned = app.state.rounds_total()
        told = app.state.plan is not None
        await until(pilot, lambda: app.state.status == "finished")
        await app.workers.wait_for_complete()
        st = app.state
        ran = max(k[0] for k in st.generations) + 1
        # as the run planned it (an engine that tells no plan: not known, not guessed)
        assert ran == 3 and planned == (3 if told else 0)
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SearchScreen)
        assert plain(app.screen.query_one("#gen-label")).startswith("round 3/3  gen 3/3")
        assert "round 3/3" in plain(app.screen.query_one(ConvergenceChart))
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert isinstance(app.screen, TrainingScreen)
        label = plain(app.screen.query_one("#epoch-label"))
        assert re.match(r"round 3/3  (fine-tune|retrain) epoch (\d+)/\2$", label), label


@sync
async def test_sample_size_left_blank_is_automatic(db):
    # Without a preset the sample size is automatic (20, or 30 on a 12-epoch signal): the
    # field is blank and says so; a typed number overrides it.
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "sampling")
        await pilot.pause()
        box = app.screen.query_one("#f-n_labelled", Input)
        assert box.value == "" and box.placeholder == "auto"
        assert app.screen.read_config().sample.n_labelled == 0
        box.value = "25"
        assert app.screen.read_config().sample.n_labelled == 25


@sync
async def test_sampling_without_sampled_values_says_why(db):
    # A baseline has no sample stage: a real random-search run.
    app = TnaoApp(db=db, preset="tiny", overrides={"run": {"method": "random"}})
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n", "ctrl+r")
        await until(pilot, lambda: app.state.status == "finished")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert isinstance(app.screen, ResultsScreen)  # it went on: Search, Results
        app.show_step("sampling")
        await pilot.pause(0.3)
        hist = app.screen.query_one(SampleHistogram)
        shown = plain(hist.query_one(Label)) + plain(hist.query_one(".hist-axis"))
        assert "n=0" not in shown and "random has no sample stage" in shown
        # A run whose sample stage left no values (resumed past it, say).
        st = RunState()
        for e in run_started():
            st.apply(e)
        st.status, st.stage, st.stages_done = "finished", "evaluate", {"train": 1.0}
        app.open_guide(st, "sampling")
        await pilot.pause(0.3)
        hist = app.screen.query_one(SampleHistogram)
        assert "sample stage was skipped" in plain(hist.query_one(".hist-axis"))
        assert "n=0" not in plain(hist.query_one(Label))


@sync
async def test_live_screens_fit_80x24(db):
    """At 80x24 the one-line labels of the run's screens are not clipped, mid-round."""
    app = TnaoApp(db=db)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "sampling")
        await pilot.pause()
        hist = app.screen.query_one(SampleHistogram)
        await feed(app, pilot, run_started() + sample_stage())
        label = hist.query_one(Label)
        await until(pilot, lambda: "n=20" in plain(label), timeout=10)
        await assert_fit(pilot, [label], "sampling histogram label")
        await pilot.press("ctrl+n")
        await feed(
            app,
            pilot,
            train_round(0)
            + [ev.StageStarted("search", 0)]
            + generations(0, range(1, 11), 10)
            + [ev.StageStarted("evaluate", 0)],
        )
        checked = []

        async def check(step: str) -> None:
            app.show_step(step)
            await pilot.pause(0.3)
            widgets = [
                w
                for sel in ("#epoch-label", "#gen-label", "#statusline")
                for w in app.screen.query(sel)
            ]
            await assert_fit(pilot, widgets, step)
            checked.extend(plain(w) for w in widgets)

        await check("search")  # evaluating round 1
        await feed(app, pilot, train_round(1)[:3] + [ev.Progress("train", 7, 8, "loss 1.0")])
        for step in ("training", "search"):  # round 2 fine-tuning
            await check(step)
        assert any("round 1/4  gen 10/10  querying" in t for t in checked)
        assert any("round 2/4  fine-tune epoch 2/3  batch 7/8" in t for t in checked)
        assert any("round 1/4  gen 10/10" in t and "round 2/4 training" in t for t in checked)


@sync
async def test_a_table_drawn_before_it_measured_its_rows_shows_them_whole():
    # A DataTable sizes its columns when it next goes idle; a frame drawn before that was
    # cached with the header's widths and the cells stayed cut (a snapshot that failed
    # now and then). fill_table sizes the columns as it fills them.
    from textual.app import App

    class One(App):
        def compose(self):
            yield DataTable()

    rows = [["evolution", Text("93.06 [92.65-93.40]", justify="right")], ["ls", "1"]]
    app = One()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(DataTable)
        fill_table(table, ["method", ("CI", "ci")], rows)
        for y in range(3):
            table.render_line(y)  # a frame before the table goes idle
        await pilot.pause(0.2)
        shown = screen_text(app)
        assert "evolution" in shown and "93.06 [92.65-93.40]" in shown
        # a table refilled with narrower cells can keep its widths (no jitter per update)
        fill_table(table, ["method", ("CI", "ci")], [["ls", "1"]], keep_wider=True)
        assert [c.width for c in table.ordered_columns] == [9, 19]
        fill_table(table, ["method", ("CI", "ci")], [["ls", "1"]])
        assert [c.width for c in table.ordered_columns] == [6, 2]
