"""The app's Experiments screen and Home's run comparison, driven with Pilot: a stored
campaign shown (progress, table, curves, seeds) and exported; a campaign started from
the form in its own process, watched to its end; bad form input; two runs marked on
Home and their curves overlaid. Real runs on the analog table, tiny budgets."""

from __future__ import annotations

import asyncio

import pytest

from tnao_app import experiment as ex
from tnao_app.campaign.summary import anytime_curve
from tnao_app.config import Config
from tnao_app.runs.session import start_run
from tnao_app.screens.app import TnaoApp
from tnao_app.screens.experiments import CompareScreen, CurvesChart, ExperimentsScreen
from tnao_app.storage import Store


def record_campaign(store: Store, methods, seeds, budgets, seconds: float | None = None) -> str:
    """A finished campaign in ``store``, of real runs (``seconds`` pins their timings,
    for a picture that does not move)."""
    spec = ex.Spec("analog", "cifar10", list(methods), list(seeds), list(budgets)).check()
    table = ex.load_table("analog")
    report = table.metric(table.dataset("cifar10").report)
    eid = store.create_experiment(spec.to_dict(), len(spec.tasks()), "local")
    for task in spec.tasks():
        res = ex.run_one(task)
        if seconds is not None:
            res["seconds"] = seconds
        store.record_experiment_run(eid, res, anytime_curve(res["rows"], res["signal"], report))
    store.end_experiment(eid, "finished")
    return eid


async def until(pilot, cond, timeout: float = 120.0) -> None:
    """Pause until ``cond()`` holds (a real process or worker is behind it)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "timed out waiting for the app"
        await pilot.pause(0.1)


async def _home(pilot) -> None:
    await until(pilot, lambda: pilot.app.data_rows is not None)


async def _start_from_the_form(pilot, values: dict[str, str]) -> ExperimentsScreen:
    """Home, then Experiments; the form's fields set to ``values``; ctrl+r."""
    app = pilot.app
    await _home(pilot)
    app.open_experiments()
    await pilot.pause()
    scr = app.screen
    assert isinstance(scr, ExperimentsScreen)
    for key, value in values.items():
        scr.query_one(f"#form-{key}").value = value
    await pilot.press("ctrl+r")
    return scr


def test_a_stored_campaign_is_shown_compared_and_exported(analog_table, tnao_home, tmp_path):
    store = Store(tnao_home / "history.db")
    eid = record_campaign(store, ["random", "ls"], [0, 1, 2], [5, 10])
    app = TnaoApp(db=store.path)
    app.export_dir = tmp_path / "exports"

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await _home(pilot)
            await pilot.press("x")
            scr = app.screen
            assert isinstance(scr, ExperimentsScreen)
            await until(pilot, lambda: scr.exp is not None)
            progress = str(scr.query_one("#exp-progress").render())
            assert f"{eid}" in progress and "finished" in progress and "runs 6/6" in progress
            table = scr.query_one("#exp-table")
            assert table.row_count == 4  # 2 methods x 2 budgets
            assert str(table.get_row_at(0)[0]) == "random"
            assert scr.query_one("#exp-seeds").row_count == 6  # one per (method, seed)
            assert scr.query_one(CurvesChart).drawn == ("random", "ls")  # a curve each
            await pilot.press("e")
            await until(pilot, lambda: len(list(app.export_dir.glob(f"experiment-{eid}.*"))) == 6)
            got = {p.suffix for p in app.export_dir.iterdir()}
            assert got == {".csv", ".json", ".md", ".tex", ".png", ".svg"}
            assert (app.export_dir / f"experiment-{eid}.md").read_text().startswith("| method")
            await pilot.press("escape")
            assert app.screen.id == "home"

    asyncio.run(go())


@pytest.mark.slow
def test_a_campaign_started_in_the_app_runs_to_its_table(analog_table, tnao_home):
    store = Store(tnao_home / "history.db")
    app = TnaoApp(db=store.path)
    form = {"methods": "random,ls", "seeds": "0-2", "budgets": "5,10", "workers": "1"}

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            scr = await _start_from_the_form(pilot, form)
            # its own process records it; the screen shows it as it goes, to the end
            await until(pilot, lambda: bool(scr.listed) and scr.listed[0]["status"] == "finished")
            await until(pilot, lambda: scr.exp is not None and scr.exp.done == 6)
            assert scr.query_one("#exp-table").row_count == 4

    asyncio.run(go())
    (row,) = store.list_experiments()
    assert row["status"] == "finished" and row["spec"]["seeds"] == [0, 1, 2]
    # the table it shows is the one the same campaign gives anywhere
    whole = ex.run_experiment("analog", "cifar10", ["random", "ls"], [0, 1, 2], [5, 10], workers=1)
    from tnao_app.campaign import stored

    _, back = stored.load(store, row["id"])
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds_mean"} for r in rows]  # noqa: E731
    assert strip(back.rows) == strip(whole.rows)


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("methods", "random,bogus", "Method 'bogus' is unknown"),
        ("seeds", "9-2", "runs backwards"),
        ("executor", "dask", "Executor 'dask' is unknown"),
        ("workers", "two", "Workers 'two' is not a number"),
        ("dataset", "mnist", "no dataset 'mnist'"),
    ],
)
def test_bad_form_input_is_one_sentence_and_starts_nothing(
    analog_table, tnao_home, key, value, words
):
    store = Store(tnao_home / "history.db")
    app = TnaoApp(db=store.path)

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            scr = await _start_from_the_form(pilot, {key: value})
            await pilot.pause(0.3)
            shown = " ".join(str(w.render()) for w in app.screen.query("Static"))
            assert words in shown.replace("\n", " ")
            assert not scr._procs

    asyncio.run(go())
    assert not store.list_experiments()


def test_home_marks_two_runs_and_overlays_their_curves(analog_table, tnao_home):
    store = Store(tnao_home / "history.db")
    ids = []
    for seed in (0, 1):
        cfg = Config.from_dict(
            {"run": {"method": "random", "budget": 12, "seed": seed, "device": "cpu"}}
        )
        ids.append(start_run(cfg, store)["run_id"])
    app = TnaoApp(db=store.path)

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await _home(pilot)
            home = app.screen
            await pilot.press("c")  # nothing marked: nothing to compare
            assert app.screen is home
            await pilot.press("space")
            await pilot.press("down")
            await pilot.press("space")
            assert home.marked == set(ids)
            await pilot.press("c")
            await pilot.pause(0.2)
            scr = app.screen
            assert isinstance(scr, CompareScreen)
            assert sorted(scr.curves) == sorted(ids)
            for rid in ids:
                curve = scr.curves[rid]
                signals = [q["signal"] for q in store.queries(rid)]
                assert len(curve) == 12 and curve[-1] == max(signals)
                assert curve == sorted(curve)  # a best-so-far never falls
            await pilot.press("escape")
            assert app.screen is home

    asyncio.run(go())


def test_r_resumes_a_stopped_campaign_from_the_screen(analog_table, tnao_home):
    store = Store(tnao_home / "history.db")
    spec = ex.Spec("analog", "cifar10", ["random", "ls"], [0, 1, 2], [5, 10], {}).check()
    started = {**spec.to_dict(), "executor_options": {"workers": 1, "address": None}}
    eid = store.create_experiment(started, len(spec.tasks()), "local")
    table = ex.load_table("analog")
    report = table.metric(table.dataset("cifar10").report)
    for task in spec.tasks()[:2]:  # two runs in, then it stopped
        res = ex.run_one(task)
        store.record_experiment_run(eid, res, anytime_curve(res["rows"], res["signal"], report))
    store.end_experiment(eid, "stopped")
    app = TnaoApp(db=store.path)

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await _home(pilot)
            app.open_experiments()
            scr = app.screen
            await until(pilot, lambda: scr.row is not None and scr.row["status"] == "stopped")
            assert "runs 2/6" in str(scr.query_one("#exp-progress").render())
            await pilot.press("r")
            args = list(scr._procs[-1].args)
            assert args[args.index("-w") + 1] == "1"  # the workers it was started with
            await until(pilot, lambda: scr.row is not None and scr.row["status"] == "finished")
            assert scr.exp is not None and scr.exp.done == 6

    asyncio.run(go())
    row = store.get_experiment(eid)
    assert row["resumes"] == 1 and row["done"] == 6
