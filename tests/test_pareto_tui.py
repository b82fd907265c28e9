"""The app on a run with several objectives: the live Pareto scatter and hypervolume
chart on Search (snapshot), the Pareto table on Results and its export (Pilot, a real
run recorded headless), and the run form's objective and constraint fields."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytest_textual_snapshot")

from test_tui import sync, until  # noqa: E402
from test_tui_snapshots import SIZE, make_app, opened, pinned  # noqa: E402, F401
from textual.widgets import DataTable, Input  # noqa: E402

from tnao_app import events as ev  # noqa: E402
from tnao_app.config import Config  # noqa: E402
from tnao_app.export import parse_front_csv  # noqa: E402
from tnao_app.objectives import Goal  # noqa: E402
from tnao_app.runs.session import start_run  # noqa: E402
from tnao_app.screens.app import PRESETS, TnaoApp  # noqa: E402
from tnao_app.screens.results import ResultsScreen  # noqa: E402
from tnao_app.screens.sampling import SamplingScreen  # noqa: E402
from tnao_app.screens.search import SearchScreen  # noqa: E402
from tnao_app.screens.state import from_store  # noqa: E402
from tnao_app.storage import Store  # noqa: E402

GOAL = {"objectives": "valid,analog"}  # analog: baseline accuracy and analog-hardware accuracy


def multi_events(table, n: int = 40) -> list[ev.Event]:
    """A finished random-like run on the real analog table: ``n`` seeded cells queried,
    the result as the engine computes it (``Goal.result``)."""
    cfg = Config.from_dict(
        {**PRESETS["tiny"], "run": {"method": "random", "budget": n}, "goal": GOAL}
    )
    goal = Goal(table, cfg)
    rows = np.random.default_rng(7).choice(len(table), n, replace=False).tolist()
    sig = table.metric("baseline")
    plan = ev.RunPlan(budget=n)
    out: list[ev.Event] = [
        ev.RunStarted("p4r3t0", "analog", "cifar10", "random", 0, "cpu", cfg.to_dict(), plan=plan)
    ]
    out += [ev.Queried(table.native(r), float(sig[r]), i, n) for i, r in enumerate(rows, 1)]
    best = max(rows, key=lambda r: sig[r])
    result = {
        "run_id": "p4r3t0",
        "queries": n,
        "budget": n,
        "best": {
            "arch": table.native(best),
            "valid": float(sig[best]),
            "test": float(sig[best]),
            "rank": 1,
            "percentile": 99.0,
        },
        "optimum": {"arch": table.native(best), "test": float(sig.max())},
        **goal.result(rows),
    }
    out.append(ev.RunFinished(result))
    return out


def test_snapshot_search_shows_the_pareto_front(pinned, snap_compare, analog_table):  # noqa: F811
    events = multi_events(analog_table)
    assert snap_compare(make_app(pinned), terminal_size=SIZE, run_before=opened("search", events))


def test_snapshot_results_shows_the_pareto_table(pinned, snap_compare, analog_table):  # noqa: F811
    events = multi_events(analog_table)
    assert snap_compare(
        make_app(pinned), terminal_size=(100, 40), run_before=opened("results", events)
    )


@pytest.fixture
def recorded(tnao_home):
    """A real random run with two objectives, recorded in the history."""
    cfg = Config.from_dict(
        {**PRESETS["tiny"], "run": {"method": "random", "budget": 40}, "goal": GOAL}
    )
    res = start_run(cfg, Store(tnao_home / "history.db"))
    return tnao_home, res


@sync
async def test_results_pareto_table_and_front_export(recorded, tmp_path):
    home, res = recorded
    app = TnaoApp(db=home / "history.db")
    app.export_dir = tmp_path / "exports"
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: app.data_rows is not None)
        app.open_guide(from_store(app.store, res["run_id"]), "results")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ResultsScreen)
        table = app.screen.query_one("#pareto-table", DataTable)
        assert table.display and table.row_count == len(res["front"]) > 0
        assert [a["arch"] for a in table.archs] == [e["arch"] for e in res["front"]]
        assert app.screen.query_one("#results-hypervolume").display
        await pilot.press("f")
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        csv_path = app.export_dir / f"{res['run_id']}-front.csv"
        got = parse_front_csv(csv_path.read_text())
        assert got == [
            {"arch": e["arch"], "valid": e["valid"], "analog": e["analog"]} for e in res["front"]
        ]
        assert (app.export_dir / f"{res['run_id']}-front.json").is_file()
        # Search draws the front in place of the single-signal charts
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_one("#pareto-charts").display
        assert not app.screen.query_one("#search-charts").display


@sync
async def test_run_form_takes_objectives_and_constraints(tnao_home):
    app = TnaoApp(db=tnao_home / "history.db", preset="tiny")
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: app.data_rows is not None)
        await pilot.press("n", "ctrl+n")
        await pilot.pause(0.3)
        form = app.screen
        assert isinstance(form, SamplingScreen)
        form.query_one("#f-objectives", Input).value = "valid,-noisy"
        form.query_one("#f-constraints", Input).value = "params<=0.5"
        # analog has no params column: one sentence, the cursor back in the field
        await pilot.press("ctrl+r")
        await pilot.pause(0.5)
        assert app.state.status == "idle"
        assert "has no params column" in app.screen.message
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.focused is form.query_one("#f-constraints")
        form.query_one("#f-constraints", Input).value = ""
        cfg = form.read_config()
        assert (cfg.goal.objectives, cfg.goal.constraints) == ("valid,-noisy", "")
