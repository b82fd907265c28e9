"""What a new user met in tnao-tui (issue #19): each test here failed before its fix.

Most feed made-up events to the App as a run's worker posts them (fast); a few start real
tiny runs (the embedded analog benchmark) where the run process itself is the point: the
method choice, a stop while the run starts, a resume.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

pytest.importorskip("textual")

from test_tui import (  # noqa: E402
    LONG_TRAIN,
    ROUNDS_CFG,
    SIZE,
    feed,
    generations,
    plain,
    ready_home,
    run_started,
    sample_stage,
    screen_text,
    sync,
    train_round,
    until,
)
from textual.widgets import DataTable, Input, Select  # noqa: E402

from tnao_app import catalogue  # noqa: E402
from tnao_app import events as ev  # noqa: E402
from tnao_app.config import Config  # noqa: E402
from tnao_app.screens.app import PRESETS, TnaoApp  # noqa: E402
from tnao_app.screens.dialogs import (  # noqa: E402
    ArchDialog,
    ConfirmDialog,
    ErrorDialog,
    ImportDialog,
)
from tnao_app.screens.help import HelpScreen  # noqa: E402
from tnao_app.screens.home import HomeScreen  # noqa: E402
from tnao_app.screens.messages import wrap  # noqa: E402
from tnao_app.screens.results import ResultsScreen  # noqa: E402
from tnao_app.screens.sampling import SamplingScreen  # noqa: E402
from tnao_app.screens.search import SearchScreen  # noqa: E402
from tnao_app.screens.state import RunState, from_store  # noqa: E402
from tnao_app.screens.training import TrainingScreen  # noqa: E402
from tnao_app.screens.widgets import AnytimeChart, StageBar, epoch_x  # noqa: E402
from tnao_app.storage import Store  # noqa: E402

ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|"
    "nor_conv_3x3~2|",
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|"
    "skip_connect~2|",
    "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "nor_conv_1x1~2|",
]


@pytest.fixture
def db(tnao_home) -> Path:
    return tnao_home / "history.db"


def queried(n0: int, n1: int, budget: int = 60) -> list[ev.Event]:
    """Queries n0..n1 with signals that climb now and then."""
    return [ev.Queried(f"a{n}", 85.0 + (n * 37 % 11) * 0.5, n, budget) for n in range(n0, n1 + 1)]


def finished_run(store: Store) -> str:
    """A recorded finished run on analog with three leaderboard rows (made-up numbers)."""
    cfg = Config.from_dict(PRESETS["tiny"])
    rid = store.create_run(cfg)
    rec = store.recorder(rid)
    plan = ev.RunPlan(budget=30, stages=ev.STAGES, rounds=1, sample=20, round_queries=5)
    rec(ev.RunStarted(rid, "analog", "cifar10", "tnao", 0, "cpu", cfg.to_dict(), plan=plan))
    for e in queried(1, 25, 30):
        rec(e)
    rows = tuple(
        ev.LeaderRow(i + 1, a, 0.5 - 0.1 * i, 91.5 - i, 93.4 - i, 99.5 - i)
        for i, a in enumerate(ARCHS)
    )
    rec(ev.Leaderboard(rows))
    best = {"arch": ARCHS[0], "valid": 91.5, "test": 93.4, "rank": 66, "percentile": 99.5}
    rec(ev.RunFinished({"run_id": rid, "queries": 25, "budget": 30, "best": best}))
    rec.close()
    return rid


def status(app) -> str:
    return plain(app.screen.query_one("#statusline"))


# --- missing view 1: the method on the run form ------------------------------------------


@sync
async def test_the_form_offers_every_method_of_the_catalogue(db, monkeypatch):
    # A method added to the catalogue shows without a change to the screens.
    extra = dataclasses.replace(catalogue.CATALOGUE["random"], name="newbie", summary="new one")
    monkeypatch.setitem(catalogue.CATALOGUE, "newbie", extra)
    monkeypatch.setattr(catalogue, "METHODS", tuple(catalogue.CATALOGUE))
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "sampling")
        await pilot.pause()
        form = app.screen
        method = form.query_one("#f-method", Select)
        # every method of the catalogue can be chosen (a value not offered would raise)
        assert "newbie" in catalogue.METHODS
        for name in catalogue.METHODS:
            method.value = name
            assert method.value == name
        method.value = "random"
        await pilot.pause(0.3)
        # no model: its sizes do not apply; the guide skips Training
        for key in ("n_labelled", "epochs", "particles", "generations"):
            assert form.query_one(f"#f-{key}", Input).disabled
        assert not form.query_one("#f-budget", Input).disabled
        assert app.state.guide_steps() == ("benchmark", "sampling", "search", "results")
        assert "– Training" in plain(form.query_one(StageBar))
        assert "random search" in plain(form.query_one("#field-hint"))
        assert form.read_config().run.method == "random"
        await pilot.press("ctrl+n")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SamplingScreen)  # not started: it says so
        app.state.status = "running"  # (as a started run: next goes past Training)
        await pilot.press("ctrl+n")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SamplingScreen)
        app.state.status = "idle"


@sync
async def test_a_method_without_rounds_runs_from_the_form_past_training(db):
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n")
        await pilot.pause()
        app.screen.query_one("#f-method", Select).value = "evolution"
        await pilot.pause()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.state.status == "finished")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert app.state.method == "evolution" and "train" not in app.state.plan.stages
        assert isinstance(app.screen, ResultsScreen)
        assert app.guide["search"].ticks and not app.guide["training"].ticks
    assert Store(db).list_runs()[0]["method"] == "evolution"


# --- missing view 2: the anytime curve ---------------------------------------------------


def test_the_anytime_curve_is_best_so_far_over_every_query():
    st = RunState()
    for e in run_started() + queried(1, 20) + [ev.Queried("b", math.nan, 21, 60)]:
        st.apply(e)
    curve = st.best_curve()
    assert [n for n, _ in curve] == list(range(1, 22))
    best = [b for _, b in curve]
    assert best == sorted(best) and best[-1] == max(
        85.0 + (n * 37 % 11) * 0.5 for n in range(1, 21)
    )


@sync
async def test_search_and_results_show_the_anytime_curve(db):
    store = Store(db)
    rid = finished_run(store)
    app = TnaoApp(db=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "search")
        await pilot.pause()
        await feed(app, pilot, run_started() + sample_stage() + queried(1, 20))
        chart = app.screen.query_one(AnytimeChart)
        await until(pilot, lambda: ", 20 queries" in plain(chart), timeout=10)
        assert "anytime: best 90.00, 20 queries" in plain(chart)
        await feed(app, pilot, [ev.RunStopped("sample")])
        app.open_run(rid)
        await pilot.pause(0.5)
        assert isinstance(app.screen, ResultsScreen)
        chart = app.screen.query_one(AnytimeChart)
        assert "anytime: best 90.00, 25 queries" in plain(chart)


# --- missing view 5: whole-run progress and ETA; feedback while the run starts -----------


@sync
async def test_the_status_line_gives_the_whole_run_and_its_eta(db):
    t = [100.0]
    app = TnaoApp(db=db, clock=lambda: t[0])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(status="running", started=100.0), "training")
        await pilot.pause()
        # before RunStarted: what the run process is doing, and for how long
        t[0] = 103.0
        await feed(app, pilot, [ev.Progress("start", 1, 2, "loading the engine (torch)")])
        line = status(app)
        assert line.startswith("Starting the run 00:03: loading the engine (torch)..."), line
        assert "ctrl+t cancels" in line
        events = run_started() + sample_stage() + queried(1, 20) + train_round(0)
        events += [ev.StageStarted("search", 0, steps=10), *generations(0, range(1, 11))]
        events += [ev.StageFinished("search", 0.3, {}, 0), ev.StageStarted("evaluate", 0)]
        events += queried(21, 30) + [ev.StageFinished("evaluate", 0.1, {}, 0)]
        for e in events:  # each at its own time
            t[0] += 0.5
            app.post_message(wrap(e, app.run_tag))
            await pilot.pause()
        # one round of four done (of its stages: train 0.3 s, search 0.3 s): a quarter
        assert app.state.run_fraction() == pytest.approx(0.25)
        await feed(app, pilot, train_round(1)[:2])
        line = status(app)
        # and a third of round 2's training (a sixth of the round): 29%
        assert "total 29% ETA" in line and "ETA --:--" not in line.split("total")[1], line
        assert "queries 30/60" in line
        assert len(line) <= 78  # it fits 80 columns


# --- the help screen -----------------------------------------------------------------------


@sync
async def test_help_screen_gives_the_keys_and_a_glossary(db):
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready_home(app, pilot)
        assert "? Help" in screen_text(app).splitlines()[-1]
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(screen_text(app).split())
        assert "Every run recorded in the history" in text and "New" in text
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("n", "ctrl+n")
        await pilot.pause(0.3)
        # F1 works in a field too ("?" would be typed)
        app.screen.query_one("#f-seed").focus()
        await pilot.press("f1")
        await pilot.pause(0.3)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        glossary = " ".join(plain(w) for w in help_screen.query("#help-glossary Static"))
        for term in ("rec", "Kendall tau", "predicted", "distinct", "pct", "true rank"):
            assert term in glossary
        for term in ("round", "fine-tune", "cifar10-ptq", "cifar10-qat", "cifar10-noisy"):
            assert term in glossary
        assert "cifar10-analog" in glossary and "x-valid" in glossary
        assert "Start run" in plain(help_screen.query_one("#help-keys"))
        await pilot.press("escape")
        await pilot.pause()
        # a one-line hint per field, for the focused one
        app.screen.query_one("#f-budget").focus()
        await pilot.pause()
        assert "Distinct benchmark queries" in plain(app.screen.query_one("#field-hint"))


# --- missing view 4: copy an architecture, a row in full ---------------------------------


@sync
async def test_results_copy_the_architecture_and_show_a_row_in_full(db):
    rid = finished_run(Store(db))
    app = TnaoApp(db=db)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready_home(app, pilot)
        app.open_run(rid)
        await pilot.pause(0.5)
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        screen.query_one("#results-table").focus()
        await pilot.press("c")
        assert app.clipboard == ARCHS[0]
        await pilot.press("down", "enter")
        await pilot.pause(0.3)
        dialog = app.screen
        assert isinstance(dialog, ArchDialog) and dialog.arch == ARCHS[1]
        # the whole string, cut between its tokens only
        shown = plain(dialog.query_one("#arch-full"))
        assert shown.replace("\n", "") == ARCHS[1]
        assert all(line.endswith(("|", "+")) for line in shown.splitlines())
        await pilot.press("c")
        assert app.clipboard == ARCHS[1]
        await pilot.press("escape")
        await pilot.pause()
        # the best architecture in the summary: never cut inside a token at 80 columns
        summary = plain(screen.query_one("#best-summary"))
        lines = [x for x in summary.splitlines() if "~" in x]
        assert "".join(lines) == ARCHS[0] and all(x.endswith(("|", "+")) for x in lines)


# --- missing view 6: Home's columns, sorting, refresh; a name on the form ----------------


@sync
async def test_home_has_budget_seed_queries_time_columns_sorts_and_refreshes(db):
    store = Store(db)
    first = finished_run(store)
    app = TnaoApp(db=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready_home(app, pilot)
        home = app.screen
        table = home.query_one("#runs", DataTable)
        # the columns are as wide as their cells at once (they showed cut for seconds)
        widths = {str(c.key.value): c.width for c in table.ordered_columns}
        assert widths["run"] >= 6 and widths["status"] >= len("finished")
        assert not any(c.auto_width for c in table.ordered_columns)
        row = dict(zip(widths, (plain_cell(x) for x in table.get_row(first)), strict=True))
        assert (row["budget"], row["seed"], row["queries"], row["best test"]) == (
            "30",
            "0",
            "25",
            "93.40",
        )
        assert "g Refresh" in screen_text(app).splitlines()[-1]
        # a run made elsewhere (tnao run) appears without a key
        cfg = Config.from_dict({"run": {"budget": 77, "seed": 5, "name": "from the CLI"}})
        other = store.create_run(cfg)
        await until(pilot, lambda: table.row_count == 2, timeout=10)
        assert "name" in widths or "from the CLI" in screen_text(app)
        # sorted by a header: budget, largest first; again: smallest first
        await pilot.click("#runs", offset=(column_x(table, "budget"), 0))
        await pilot.pause(0.3)
        assert [str(k.value) for k in table.rows] == [other, first]
        await pilot.click("#runs", offset=(column_x(table, "budget"), 0))
        await pilot.pause(0.3)
        assert [str(k.value) for k in table.rows] == [first, other]


def plain_cell(cell) -> str:
    return cell.plain if hasattr(cell, "plain") else str(cell)


def column_x(table: DataTable, key: str) -> int:
    x = 0
    for c in table.ordered_columns:
        if c.key.value == key:
            return x + 2
        x += c.get_render_width(table)
    raise KeyError(key)


@sync
async def test_the_run_name_and_device_come_from_the_form(db, tmp_path):
    conf = tmp_path / "run.json"
    conf.write_text('{"run": {"budget": 40, "seed": 7}, "search": {"particles": 16}}')
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "sampling")
        await pilot.pause()
        form = app.screen
        form.query_one("#f-name", Input).value = "first try"
        form.query_one("#f-device", Select).value = "cpu"
        box = form.query_one("#f-config", Input)
        box.value = str(conf)
        box.focus()
        await pilot.press("enter")
        await pilot.pause(0.3)
        # the file fills the form; the form is what runs
        assert form.query_one("#f-budget", Input).value == "40"
        assert form.query_one("#f-particles", Input).value == "16"
        cfg = form.read_config()
        assert (cfg.run.name, cfg.run.device, cfg.run.seed, cfg.run.budget) == (
            "first try",
            "cpu",
            7,
            40,
        )
        box.value = str(tmp_path / "nope.json")
        with pytest.raises(Exception, match="does not exist"):
            form.read_config()


# --- missing view 7: import ----------------------------------------------------------------


@sync
async def test_import_completes_paths_and_keeps_the_path_after_an_error(db, tmp_path):
    (tmp_path / "NATS-tss-v1_0-3ffb9-simple").mkdir()
    bad = tmp_path / "broken.csv"
    bad.write_text("this,is\nnot,a benchmark\n")
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("i")
        await pilot.pause()
        box = app.screen.query_one("#path", Input)
        box.value = str(tmp_path / "NATS")
        await pilot.pause(0.3)
        await pilot.press("end", "right")  # accept the suggestion
        await pilot.pause(0.2)
        assert box.value == str(tmp_path / "NATS-tss-v1_0-3ffb9-simple") + "/"
        # a path that does not exist: said in the dialog, the path kept to correct it
        box.value = str(tmp_path / "missing.pth")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ImportDialog)
        assert "does not exist" in plain(app.screen.query_one("#problem"))
        assert box.value == str(tmp_path / "missing.pth")
        # a file that does not import: the error, then the dialog opens with it again
        box.value = str(bad)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert isinstance(app.screen, ErrorDialog)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("i")
        await pilot.pause()
        assert app.screen.query_one("#path", Input).value == str(bad)


# --- missing view 8: the theme lasts, the screenshot goes where it can -------------------


@sync
async def test_theme_persists_and_the_screenshot_goes_to_the_data_folder(
    db, tnao_home, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))  # no ~/Downloads
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.theme = "nord"
        await pilot.pause()
        app.deliver_screenshot()
        await until(pilot, lambda: list((tnao_home / "screenshots").glob("*.svg")), timeout=10)
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        assert app.theme == "nord"


# --- bug 2: a run another process drives is followed, never locks the app -----------------


@sync
async def test_a_run_driven_elsewhere_is_followed_read_only(db):
    store = Store(db)
    rid = store.create_run(Config.from_dict(ROUNDS_CFG))
    rec = store.recorder(rid)  # as `tnao run` records it, in another process
    for e in [dataclasses.replace(run_started()[0], run_id=rid)] + sample_stage():
        rec(e)
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_run(rid)
        await pilot.pause(0.3)
        st = app.state
        assert st.live and st.followed and st.run_id == rid
        assert "read-only: driven by pid" in status(app)
        assert "^t Stop run" not in screen_text(app).splitlines()[-1]
        # the run goes on: the app follows it from the history
        for e in train_round(0):
            rec(e)
        await until(pilot, lambda: len(app.state.epochs) == 3, timeout=10)
        # and never holds the run slot: a new run opens its guide
        app.new_run()
        await pilot.pause(0.3)
        assert app.screen.STEP == "benchmark" and app.state.status == "idle"
        app.open_run(rid)
        await pilot.pause(0.3)
        rec(ev.RunFinished({"run_id": rid, "queries": 20, "budget": 60}))
        rec.close()
        await until(pilot, lambda: app.state.status == "finished", timeout=10)
        assert not app.state.followed
        # and its results come up, as for a run the app drove (the app is left settled:
        # quit while the results screen mounted, it lost its table mid-mount)
        await until(pilot, lambda: getattr(app.screen, "STEP", "") == "results", timeout=10)
        await pilot.pause(0.3)
        assert f"run {rid} finished" in screen_text(app)


# --- bug 3: a resumed run's queries, elapsed time and ETA --------------------------------


@sync
async def test_a_resumed_run_keeps_its_queries_clock_and_speed(db):
    app = TnaoApp(db=db, preset="tiny", overrides=LONG_TRAIN)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n", "ctrl+r")
        await until(pilot, lambda: len(app.state.epochs) >= 3)
        await pilot.press("ctrl+t")
        await until(pilot, lambda: app.state.status == "stopped", timeout=60)
        rid, made = app.state.run_id, app.state.queries
        assert made >= 20
        await until(pilot, lambda: Store(db).get_run(rid)["status"] == "stopped", 30)
        done = from_store(Store(db), rid)
        app.resume_run(rid)
        await until(pilot, lambda: app.state.stage == "train" and app.state.stage_mark, 120)
        st = app.state
        # the queries made before the stop are there, the clock goes on from them
        assert st.queries == made and f"queries {made}/" in status(app)
        assert st.elapsed(app.clock) >= done.seconds_done
        # the speed is this session's: from its first step, not the epochs done before
        await until(pilot, lambda: st.eta(app.clock) is not None, timeout=60)
        t0, f0 = st.stage_mark
        assert f0 >= len(done.epochs) / st.round_epochs(0)[1] - 1e-9
        await pilot.press("ctrl+t")
        await until(pilot, lambda: not app.state.live, timeout=60)


# --- bug 4: the sample size stays "automatic" once the run starts --------------------------


@sync
async def test_the_automatic_sample_size_does_not_read_0(db):
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "sampling")
        await pilot.pause()
        started = run_started(cfg={**ROUNDS_CFG, "sample": {"n_labelled": 0}})
        # the run's config as it announced it, the sample size left automatic
        cfg = dict(started[0].config, sample={**started[0].config["sample"], "n_labelled": 0})
        await feed(app, pilot, [dataclasses.replace(started[0], config=cfg)])
        box = app.screen.query_one("#f-n_labelled", Input)
        assert box.value == "" and box.placeholder == "auto (20)"


# --- bug 5: a stop while the run starts ----------------------------------------------------


@sync
async def test_a_stop_while_the_run_starts_gives_the_form_back(db):
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n", "ctrl+r")
        await pilot.pause(0.2)
        assert status(app).startswith("Starting the run")
        await pilot.press("ctrl+t")
        await pilot.pause(0.3)
        assert app.state.status == "idle" and "Starting the run" not in status(app)
        assert "^r Start run" in screen_text(app).splitlines()[-1]
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert app.state.status == "idle"
    assert Store(db).list_runs() == []  # the run process saw the stop before creating it


# --- bugs 6, 7, 8: export -------------------------------------------------------------------


@sync
async def test_export_all_as_torch_asks_before_overwriting_and_follows_the_format(
    db, tnao_home, tmp_path
):
    rid = finished_run(Store(db))
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.export_run(rid)
        await pilot.pause()
        dialog = app.screen
        path = dialog.query_one("#path", Input)
        # the data folder, a name Python can import
        assert path.value == str(tnao_home / "exports" / f"tnao_{rid}.json")
        path.value = str(tmp_path / "best.json")
        dialog.query_one("#fmt", Select).value = "torch"
        await pilot.pause()
        assert path.value == str(tmp_path / "best.py")  # the extension follows the format
        (tmp_path / "best.py").write_text("mine\n")
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ConfirmDialog) and "Overwrite" in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is dialog and (tmp_path / "best.py").read_text() == "mine\n"
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
    text = (tmp_path / "best.py").read_text()
    assert all(repr(a) in text for a in ARCHS)  # Top "all": every cell, not the best only


# --- bugs 9, 10, 11: the form refuses what it cannot run, and says where -------------------


@sync
async def test_the_form_refuses_bad_numbers_and_puts_the_cursor_there(db):
    app = TnaoApp(db=db, preset="tiny")
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        await pilot.press("n", "ctrl+n")
        await pilot.pause()
        form = app.screen
        for key, typed, phrase in (
            ("seed", "1a2", "Seed must be a whole number, got '1a2'"),
            ("particles", "-3", "particles"),
            ("budget", "20000", "more than the 15,625 architectures of analog"),
        ):
            box = form.query_one(f"#f-{key}", Input)
            old = box.value
            box.focus()
            box.value = ""
            await pilot.press(*typed)
            assert box.value == typed  # nothing dropped as it is typed
            form.query_one("#f-generations").focus()  # the last field typed in
            await pilot.press("ctrl+r")
            await pilot.pause(0.3)
            assert isinstance(app.screen, ErrorDialog), key
            assert phrase in app.screen.message
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen.focused is box, key  # back in the bad field
            box.value = old
        assert app.state.status == "idle"
    assert Store(db).list_runs() == []


@sync
async def test_a_plan_that_cannot_spend_the_budget_is_said(db):
    app = TnaoApp(db=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(status="running"), "sampling")
        await pilot.pause()
        plan = ev.RunPlan(budget=5000, stages=ev.STAGES, rounds=100, sample=20, round_queries=10)
        await feed(app, pilot, run_started(plan=plan))
        note = plain(app.screen.query_one("#sample-summary"))
        assert "needs 498 rounds of 10, but the run plans 100: search.rounds caps it" in note


# --- bug 12: rounds do not tick the stage bar, nor pull the user along ---------------------


@sync
async def test_later_rounds_keep_the_user_on_training_and_the_steps_unticked(db):
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "training")
        await pilot.pause()
        events = run_started() + sample_stage() + train_round(0)
        events += [ev.StageStarted("search", 0, steps=10), *generations(0, range(1, 11))]
        events += [ev.StageFinished("search", 0.1, {}, 0), ev.StageStarted("evaluate", 0)]
        events += [ev.StageFinished("evaluate", 0.1, {}, 0)]
        await feed(app, pilot, events)
        assert isinstance(app.screen, SearchScreen)  # round 1 leads the user on
        app.show_step("training")
        await feed(app, pilot, train_round(1) + [ev.StageStarted("search", 1, steps=10)])
        assert isinstance(app.screen, TrainingScreen)  # round 2 does not pull
        bar = plain(app.screen.query_one(StageBar))
        assert "✓ Sampling" in bar and "✓ Training" not in bar and "✓ Search" not in bar
        assert "Training 2/4" in bar


# --- bug 13: the tau chart's points go left to right ---------------------------------------


def test_train_tau_points_of_restarted_rounds_go_left_to_right():
    from test_tui import restart_run

    st = RunState()
    for e in restart_run():
        st.apply(e)
    xs = epoch_x(st.epoch_list())
    ends = {e.round: x for x, e in zip(xs, st.epoch_list(), strict=True)}
    assert [ends[r] for r in sorted(st.train_tau)] == [12, 15, 27]  # not 12, 15, 12


# --- bug 14: the search ETA counts from the first generation -------------------------------


def test_search_eta_leaves_the_set_up_out():
    t = [0.0]
    st = RunState()
    for e in run_started() + sample_stage() + train_round(0):
        st.apply(e, lambda: t[0])
    st.apply(ev.StageStarted("search", 0, steps=30), lambda: t[0])
    t[0] = 3.7  # the swarm's first scoring took most of a 5 s round
    st.apply(generations(0, range(1, 2), 30)[0], lambda: t[0])
    assert st.eta(lambda: t[0]) is None  # one step: no speed yet (it read 01:51)
    t[0] = 3.75
    st.apply(generations(0, range(2, 3), 30)[0], lambda: t[0])
    assert st.eta(lambda: t[0]) == pytest.approx(0.05 * 28)


def test_elapsed_does_not_jump_back_when_the_run_process_is_up():
    st = RunState(status="running", started=10.0)
    st.apply(run_started()[0], lambda: 18.0)  # 8 s of start-up
    assert st.elapsed(lambda: 20.0) == pytest.approx(10.0)


@sync
async def test_epochs_on_the_form_are_the_ones_the_run_trains(db):
    # On the pretrained body (train.stage1 "cached", the default) the first model trains
    # train.head_epochs: the form showed train.epochs (12) and the run trained 8.
    app = TnaoApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready_home(app, pilot)
        app.open_guide(RunState(), "sampling")
        await pilot.pause()
        d = Config()
        box = app.screen.query_one("#f-epochs", Input)
        assert d.train.stage1 == "cached" and box.value == str(d.train.head_epochs)
        box.value = "5"
        cfg = app.screen.read_config()
        assert (cfg.train.head_epochs, cfg.train.epochs) == (5, d.train.epochs)
