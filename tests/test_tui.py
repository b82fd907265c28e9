"""Pilot tests of tnao-tui: the whole guide on the embedded default with the tiny preset,
stop and resume from Home, export, the error dialog, the command palette, quitting.

Runs are real (analog benchmark, tiny config: a few seconds each); the history lives in
a temporary TNAO_HOME.
"""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path

import pytest

pytest.importorskip("textual")

from textual.widgets import DataTable, Input, Select  # noqa: E402

from tnao_app.screens.app import TnaoApp  # noqa: E402
from tnao_app.screens.benchmark import BenchmarkScreen, default_choice  # noqa: E402
from tnao_app.screens.dialogs import ErrorDialog, ExportDialog, ImportDialog  # noqa: E402
from tnao_app.screens.home import HomeScreen  # noqa: E402
from tnao_app.screens.results import ResultsScreen  # noqa: E402
from tnao_app.screens.sampling import SamplingScreen  # noqa: E402
from tnao_app.screens.search import SearchScreen  # noqa: E402
from tnao_app.screens.training import TrainingScreen  # noqa: E402
from tnao_app.storage import Store  # noqa: E402

SIZE = (100, 30)
LONG_TRAIN = {"train": {"epochs": 100, "patience": 10_000}}


def sync(fn):
    """Run an async test with asyncio.run (no pytest-asyncio needed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


async def until(pilot, cond, timeout: float = 120.0, step: float = 0.05) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(step)


async def ready_home(app, pilot) -> None:
    await until(pilot, lambda: app.data_rows is not None)
    await pilot.pause()


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
        seen = set()
        await until(pilot, lambda: seen.add(type(app.screen)) or app.state.status == "finished")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        # The guide followed the run through every stage to the results.
        assert {TrainingScreen, SearchScreen, ResultsScreen} <= seen
        assert isinstance(app.screen, ResultsScreen)
        st = app.state
        assert len(st.epochs) == 3 and len(st.generations) == 3 and st.sampled
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
        epochs = LONG_TRAIN["train"]["epochs"]
        assert sorted(e for _, e in app.state.epochs) == list(range(1, epochs + 1))
    run = Store(db).get_run(run_id)
    assert run["status"] == "finished" and run["resumes"] == 1


@pytest.fixture(scope="module")
def finished_db(tmp_path_factory) -> tuple[Path, str]:
    """One finished tiny run (headless), shared by the tests that only read it."""
    from tnao_app.config import Config
    from tnao_app.screens.app import PRESETS
    from tnao_app.storage.runner import start_run

    home = tmp_path_factory.mktemp("tui_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TNAO_HOME", str(home))
    try:
        res = start_run(Config.from_dict(PRESETS["tiny"]), db=home / "history.db")
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
        assert len(app.state.epochs) == 3 and len(app.state.generations) == 3
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
        assert dialog.query_one("#path", Input).value.endswith(f"tnao-{run_id}.csv")
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
async def test_quit_during_training_stops_the_worker(db):
    app = TnaoApp(db=db, preset="tiny", overrides=LONG_TRAIN)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n", "ctrl+r")
        await until(pilot, lambda: len(app.state.epochs) >= 1)
        run_id = app.state.run_id
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    # The worker thread saw the cancellation at its next batch and recorded the stop.
    t0 = time.monotonic()
    while Store(db).get_run(run_id)["status"] != "stopped":
        assert time.monotonic() - t0 < 60, "the run thread did not stop"
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
