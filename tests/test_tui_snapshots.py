"""Snapshot tests of every tnao-tui screen at 100x30, and of a multi-round run's live
screens at 80x24 (pytest-textual-snapshot).

The pictures must not move between machines or runs, so everything that varies is pinned:
the monotonic clock (elapsed time and ETA), the time zone and the run dates, the data
status rows, and the run's events. The events here are synthetic (made up for a stable
picture of the screens' mechanics); the real runs are in test_tui.py.
Update after a deliberate change with: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("pytest_textual_snapshot")

from tnao_app import benchmarks  # noqa: E402
from tnao_app import events as ev  # noqa: E402
from tnao_app.benchmarks.base import DatasetSpec  # noqa: E402
from tnao_app.config import Config  # noqa: E402
from tnao_app.screens.app import PRESETS, TnaoApp  # noqa: E402
from tnao_app.screens.state import RunState  # noqa: E402
from tnao_app.storage import Store  # noqa: E402

SIZE = (100, 30)
NOW = 100.0  # the frozen monotonic clock; the synthetic run started at 40.0
STATUS_ROWS = [
    {
        "benchmark": "analog",
        "ready": True,
        "source": "analog-nasbench (installed package)",
        "cache": "/cache/analog.npz",
        "size_mb": 0.7,
        "archs": 15625,
        "datasets": ["cifar10", "cifar10-analog", "cifar10-noisy", "cifar10-ptq", "cifar10-qat"],
        "hint": "",
    },
    {
        "benchmark": "nb201",
        "ready": False,
        "source": "",
        "cache": "",
        "size_mb": 0.0,
        "archs": 0,
        "datasets": [],
        "hint": "import the official file or a CSV table",
    },
    {
        "benchmark": "nb101",
        "ready": False,
        "source": "",
        "cache": "",
        "size_mb": 0.0,
        "archs": 0,
        "datasets": [],
        "hint": "run 'tnao data fetch nb101'",
    },
]
ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|"
    "nor_conv_3x3~2|",
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|"
    "skip_connect~2|",
    "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "nor_conv_1x1~2|",
    "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|nor_conv_1x1~1|nor_conv_3x3~2|",
]


@pytest.fixture
def pinned(tnao_home, monkeypatch):
    monkeypatch.setattr(benchmarks, "status", lambda: [dict(r) for r in STATUS_ROWS])
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield tnao_home
    monkeypatch.undo()
    time.tzset()


def make_app(home: Path) -> TnaoApp:
    app = TnaoApp(db=home / "history.db", preset="tiny", clock=lambda: NOW)
    app.export_dir = Path("/exports")
    return app


def config() -> dict:
    return Config.from_dict(PRESETS["tiny"]).to_dict()


def synthetic_events(upto: str) -> list[ev.Event]:
    """A made-up tiny run, cut after stage ``upto`` (sample/train/search/done), with the
    plan and the steps of each stage as the engine announces them."""
    plan = ev.RunPlan(budget=30, stages=ev.STAGES, rounds=1, sample=20, round_queries=5)
    out: list[ev.Event] = [
        ev.RunStarted("k3x9pq", "analog", "cifar10", "tnao", 0, "cpu", config(), plan=plan),
        ev.StageStarted("sample", steps=20),
        ev.Sampled(
            tuple(f"a{i}" for i in range(20)),
            tuple(80.0 + (i * 7919 % 23) * 0.6 for i in range(20)),
        ),
        ev.Queried("a19", 90.0, 20, 30),
        ev.StageFinished("sample", 0.2),
    ]
    if upto == "sample":
        return out
    out.append(ev.StageStarted("train", steps=3))
    for e in range(1, 3 if upto == "train" else 4):
        out.append(
            ev.EpochEnded(
                e,
                3,
                1.6 - 0.1 * e,
                0.7 - 0.08 * e,
                2.3 - 0.18 * e,
                0.4 + 0.15 * e,
                0.5 + 0.12 * e,
                1.5,
                "cpu",
                step=e,
            )
        )
    out.append(ev.Progress("train", 2, 4, "loss 2.0"))
    if upto == "train":
        return out
    out.append(ev.StageFinished("train", 4.5))
    out.append(ev.StageStarted("search", steps=3))
    for g in range(1, 4):
        out.append(ev.Generation(g, 3, 0.3 + 0.05 * g, 0.1 + 0.04 * g, 5 + 3 * g))
    out.append(
        ev.Leaderboard(
            tuple(
                ev.LeaderRow(i + 1, a, 0.5 - 0.1 * i, 93.5 - i, 93.4 - i, 99.5 - i)
                for i, a in enumerate(ARCHS)
            )
        )
    )
    if upto == "search":
        return out
    out.append(ev.StageFinished("search", 1.0))
    out.append(ev.StageStarted("evaluate", steps=5))
    out.append(ev.StageFinished("evaluate", 0.2))
    out.append(
        ev.RunFinished(
            {
                "run_id": "k3x9pq",
                "queries": 25,
                "budget": 30,
                "best": {
                    "arch": ARCHS[1],
                    "valid": 93.57,
                    "test": 93.57,
                    "rank": 66,
                    "percentile": 99.58,
                },
                "optimum": {"arch": ARCHS[0], "test": 94.07},
            }
        )
    )
    return out


def multi_round_events() -> list[ev.Event]:
    """A made-up 4-round run (budget 60, top_k 10, no validation split: the defaults),
    cut in round 2's training, one epoch in, after round 1 searched and queried."""
    cfg = Config.from_dict(
        {
            "run": {"budget": 60, "device": "cpu"},
            "train": {"epochs": 3},
            "search": {"particles": 32, "generations": 10},
        }
    )
    # as a run announces it: automatic sizes resolved (analog's cifar10 spec)
    cfg = cfg.resolve(DatasetSpec("cifar10", "baseline", "baseline")).to_dict()
    plan = ev.RunPlan(budget=60, stages=ev.STAGES, rounds=4, sample=20, round_queries=10)
    out: list[ev.Event] = [
        ev.RunStarted("m4r0nd", "analog", "cifar10", "tnao", 0, "cpu", cfg, plan=plan),
        ev.StageStarted("sample", steps=20),
        ev.Sampled(
            tuple(f"a{i}" for i in range(20)),
            tuple(80.0 + (i * 7919 % 23) * 0.6 for i in range(20)),
        ),
        ev.Queried("a19", 90.0, 20, 60),
        ev.StageFinished("sample", 0.2),
        ev.StageStarted("train", 0, steps=3),
    ]
    for e in range(1, 4):
        out.append(
            ev.EpochEnded(
                e,
                3,
                1.6 - 0.1 * e,
                0.7 - 0.08 * e,
                2.3 - 0.18 * e,
                float("nan"),
                float("nan"),
                1.5,
                "cpu",
                0,
                e,
            )
        )
    out += [
        ev.StageFinished("train", 4.5, {"train_tau": 0.884}, 0),
        ev.StageStarted("search", 0, steps=10),
    ]
    for g in range(1, 11):
        out.append(ev.Generation(g, 10, 2.5 + 0.04 * min(g, 6), 2.0 + 0.05 * g, 10 + 2 * g, 0))
    out.append(
        ev.Leaderboard(
            tuple(
                ev.LeaderRow(i + 1, a, 2.7 - 0.1 * i, 93.5 - i, 93.4 - i, 99.5 - i)
                for i, a in enumerate(ARCHS)
            )
        )
    )
    out += [
        ev.StageFinished("search", 1.0, {}, 0),
        ev.StageStarted("evaluate", 0, steps=10),
        ev.Queried("a30", 93.0, 30, 60),
        ev.StageFinished("evaluate", 0.2, {}, 0),
        ev.StageStarted("train", 1, steps=3),
        ev.EpochEnded(4, 6, 1.1, 0.3, 1.4, float("nan"), float("nan"), 1.5, "cpu", 1, 1),
        ev.Progress("train", 3, 8, "loss 1.3"),
    ]
    return out


def state_after(upto: str) -> RunState:
    st = RunState()
    for e in multi_round_events() if upto == "rounds" else synthetic_events(upto):
        st.apply(e, lambda: 40.0)
    return st


async def ready(app, pilot) -> None:
    while app.data_rows is None:
        await pilot.pause(0.05)
    await pilot.pause()


def guide_at(step: str, upto: str | None):
    async def run_before(pilot) -> None:
        app = pilot.app
        await ready(app, pilot)
        app.open_guide(state_after(upto) if upto else RunState(), step)
        await pilot.pause(0.3)

    return run_before


def two_runs(pinned, monkeypatch) -> None:
    """A finished run and one whose process died, in the pinned history."""
    import itertools

    from tnao_app.storage import db as db_module

    # Run ids are random: pin them for the picture (aaaaaa, then bbbbbb).
    letters = itertools.chain("a" * 6, "b" * 6)
    monkeypatch.setattr(db_module.secrets, "choice", lambda _alphabet: next(letters))
    store = Store(pinned / "history.db")
    cfg = Config.from_dict(PRESETS["tiny"])
    done = store.create_run(cfg)
    rec = store.recorder(done)
    for e in synthetic_events("done"):
        rec(e)
    rec.close()
    cut = store.create_run(cfg)
    # A run whose process died: pid gone, no heartbeat.
    store.db.execute(
        "UPDATE runs SET status='running', pid=999999999, heartbeat_at=0 WHERE id=?", [cut]
    )
    store.db.execute("UPDATE runs SET created_at=1700000000 WHERE id=?", [done])
    store.db.execute("UPDATE runs SET created_at=1700003600 WHERE id=?", [cut])
    store.db.conn.commit()


async def home_ready(pilot) -> None:
    await ready(pilot.app, pilot)


def test_snapshot_home(pinned, snap_compare, monkeypatch):
    two_runs(pinned, monkeypatch)
    assert snap_compare(make_app(pinned), terminal_size=SIZE, run_before=home_ready)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_home_columns(pinned, snap_compare, monkeypatch, size):
    # budget, seed, queries and time; sortable headers; Refresh and Help in the footer
    two_runs(pinned, monkeypatch)
    assert snap_compare(make_app(pinned), terminal_size=size, run_before=home_ready)


def test_snapshot_benchmark(pinned, snap_compare):
    assert snap_compare(
        make_app(pinned), terminal_size=SIZE, run_before=guide_at("benchmark", None)
    )


def test_snapshot_sampling(pinned, snap_compare):
    assert snap_compare(
        make_app(pinned), terminal_size=SIZE, run_before=guide_at("sampling", "sample")
    )


def test_snapshot_training(pinned, snap_compare):
    assert snap_compare(
        make_app(pinned), terminal_size=SIZE, run_before=guide_at("training", "train")
    )


def test_snapshot_search(pinned, snap_compare):
    assert snap_compare(
        make_app(pinned), terminal_size=SIZE, run_before=guide_at("search", "search")
    )


def test_snapshot_results(pinned, snap_compare):
    assert snap_compare(
        make_app(pinned), terminal_size=SIZE, run_before=guide_at("results", "done")
    )


def test_snapshot_export_dialog(pinned, snap_compare):
    async def run_before(pilot) -> None:
        await guide_at("results", "done")(pilot)
        await pilot.press("e")
        await pilot.pause(0.3)

    assert snap_compare(make_app(pinned), terminal_size=SIZE, run_before=run_before)


def test_snapshot_error_dialog(pinned, snap_compare):
    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        pilot.app.show_error("broken.csv has no column 'arch_str'; expected one.")
        await pilot.pause(0.3)

    assert snap_compare(make_app(pinned), terminal_size=SIZE, run_before=run_before)


def test_snapshot_training_rounds_80x24(pinned, snap_compare):
    # Round 2 of 4 fine-tuning, no validation split: no flat-0 tau line, the round named.
    assert snap_compare(
        make_app(pinned), terminal_size=(80, 24), run_before=guide_at("training", "rounds")
    )


def test_snapshot_search_rounds_80x24(pinned, snap_compare):
    # Round 1's search while round 2 trains: its chart, and no training ETA here.
    assert snap_compare(
        make_app(pinned), terminal_size=(80, 24), run_before=guide_at("search", "rounds")
    )


# --- the views a new user missed (#19), each at 120x40 and 80x24 --------------------------
SIZES = pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])


def with_queries(events: list[ev.Event], budget: int = 30) -> list[ev.Event]:
    """``events`` with a query for every architecture the run has looked up so far (the
    anytime curve's points): 25 of them, climbing now and then."""
    out = [e for e in events if not isinstance(e, ev.Queried)]
    qs = [ev.Queried(f"a{n}", 80.0 + (n * 7919 % 23) * 0.6, n, budget) for n in range(1, 26)]
    at = next(i for i, e in enumerate(out) if isinstance(e, ev.StageFinished))
    return out[:at] + qs[:20] + out[at:-1] + qs[20:] + out[-1:]


def opened(step: str, events: list[ev.Event], then=None):
    async def run_before(pilot) -> None:
        app = pilot.app
        await ready(app, pilot)
        st = RunState()
        for e in events:
            st.apply(e, lambda: 40.0)
        app.open_guide(st, step)
        await pilot.pause(0.3)
        if then is not None:
            await then(pilot)
            await pilot.pause(0.3)

    return run_before


@SIZES
def test_snapshot_run_form_with_its_method(pinned, snap_compare, size):
    async def choose(pilot) -> None:
        pilot.app.screen.query_one("#f-method").focus()

    assert snap_compare(
        make_app(pinned), terminal_size=size, run_before=opened("sampling", [], choose)
    )


@SIZES
def test_snapshot_search_with_the_anytime_curve(pinned, snap_compare, size):
    events = with_queries(synthetic_events("search"))
    assert snap_compare(make_app(pinned), terminal_size=size, run_before=opened("search", events))


@SIZES
def test_snapshot_results_with_the_anytime_curve(pinned, snap_compare, size):
    events = with_queries(synthetic_events("done"))
    assert snap_compare(make_app(pinned), terminal_size=size, run_before=opened("results", events))


@SIZES
def test_snapshot_row_details(pinned, snap_compare, size):
    async def details(pilot) -> None:
        pilot.app.screen.query_one("#results-table").focus()
        await pilot.press("enter")

    events = with_queries(synthetic_events("done"))
    assert snap_compare(
        make_app(pinned), terminal_size=size, run_before=opened("results", events, details)
    )


@SIZES
def test_snapshot_help(pinned, snap_compare, size):
    async def run_before(pilot) -> None:
        await guide_at("training", "rounds")(pilot)
        await pilot.press("f1")
        await pilot.pause(0.3)

    assert snap_compare(make_app(pinned), terminal_size=size, run_before=run_before)


@SIZES
def test_snapshot_whole_run_progress(pinned, snap_compare, size):
    # round 2 of 4 training, and the whole run's share and ETA on the status line
    async def run_before(pilot) -> None:
        app = pilot.app
        await ready(app, pilot)
        st = RunState()
        t = iter(range(1000))
        for e in multi_round_events():
            st.apply(e, lambda: 40.0 + next(t) * 0.5)
        app.open_guide(st, "training")
        await pilot.pause(0.3)

    assert snap_compare(make_app(pinned), terminal_size=size, run_before=run_before)


@SIZES
def test_snapshot_starting_the_run(pinned, snap_compare, size):
    events = [ev.Progress("start", 1, 2, "loading the engine (torch)")]

    async def run_before(pilot) -> None:
        app = pilot.app
        await ready(app, pilot)
        st = RunState(status="running", started=NOW - 3)
        for e in events:
            st.apply(e, lambda: NOW)
        app.open_guide(st, "sampling")
        await pilot.pause(0.3)

    assert snap_compare(make_app(pinned), terminal_size=size, run_before=run_before)


@SIZES
def test_snapshot_import_dialog(pinned, snap_compare, size):
    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        await pilot.press("i")
        await pilot.pause(0.3)

    assert snap_compare(make_app(pinned), terminal_size=size, run_before=run_before)


def stored_campaign(pinned, monkeypatch) -> None:
    """A finished 3-method x 5-seed campaign of real runs, its id and timings pinned."""
    from test_campaign_tui import record_campaign

    from tnao_app.storage import experiments as exp_module

    letters = iter("kkkkk")
    monkeypatch.setattr(exp_module.secrets, "choice", lambda _alphabet: next(letters))
    store = Store(pinned / "history.db")
    record_campaign(store, ["random", "ls", "evolution"], range(5), [10, 20], seconds=0.5)


def experiments_at(tab: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await ready(app, pilot)
        app.open_experiments()
        # the campaign read (a worker) and its table filled, before the picture
        while (
            getattr(app.screen, "exp", None) is None
            or not app.screen.query_one("#exp-table").row_count
        ):
            await pilot.pause(0.05)
        app.screen.query_one("#exp-tabs").active = tab
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.3)
        await pilot.pause()

    return run_before


@SIZES
@pytest.mark.parametrize("tab", ["tab-table", "tab-curves", "tab-seeds"])
def test_snapshot_experiments(pinned, snap_compare, monkeypatch, size, tab):
    # the form, the campaigns, the chosen one's progress and its table / curves / seeds
    stored_campaign(pinned, monkeypatch)
    assert snap_compare(make_app(pinned), terminal_size=size, run_before=experiments_at(tab))


def test_snapshot_home_with_two_runs_marked(pinned, snap_compare, monkeypatch):
    two_runs(pinned, monkeypatch)

    async def run_before(pilot) -> None:
        await home_ready(pilot)
        await pilot.press("space", "down", "space")
        await pilot.pause(0.3)

    assert snap_compare(make_app(pinned), terminal_size=SIZE, run_before=run_before)
