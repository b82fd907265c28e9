"""A partial table: the real NAS-Bench-101 subset (30,001 of 423,624 cells). TNAO's pool
is the table's cells and a decoded cell the table cannot answer is scored as the nearest
answerable one, so every candidate the search keeps is a cell a query can answer."""

from __future__ import annotations

import copy

import pytest
from conftest import SHARED, need

from tnao_app.config import Config
from tnao_app.errors import Stopped
from tnao_app.events import Queried
from tnao_app.runs.pipeline import run_pipeline

SPECS_CSV = SHARED / "nb101_subset_specs.csv.gz"


@pytest.fixture(scope="module")
def nb101_home(tmp_path_factory):
    from tnao_app.benchmarks import nb101

    csv = need(SPECS_CSV)
    home = tmp_path_factory.mktemp("nb101_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TNAO_HOME", str(home))
    nb101.import_file(csv)
    yield home
    mp.undo()


def tiny(picks: str = "swarm") -> Config:
    """Tiny settings; the swarm's picks (not the partial table's default, the pool's)
    unless told, so the snapping of decodes is exercised."""
    return Config.from_dict(
        {
            "run": {"benchmark": "nb101", "budget": 40, "seed": 0, "device": "cpu"},
            "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_latent": 8},
            "train": {"epochs": 1, "head_epochs": 2, "head_batches": 5, "finetune_epochs": 1},
            "search": {"particles": 16, "generations": 4, "picks": picks},
        }
    )


def test_tnao_on_a_partial_table_visits_only_answerable_cells(nb101_home, monkeypatch):
    monkeypatch.setenv("TNAO_HOME", str(nb101_home))
    cfg = tiny()
    queried: list[Queried] = []
    res = run_pipeline(
        cfg, listeners=[lambda e: queried.append(e) if isinstance(e, Queried) else None]
    )
    assert res["queries"] == 40 and len(queried) == 40
    summary = res["summary"]
    # the first sample is drawn from the table's cells and the swarm's decodes the
    # table cannot answer are scored as answerable ones: nothing skipped, nothing filled
    assert summary["skipped_unanswerable"] == 0 and summary["filled_from_pool"] == 0
    assert summary["table_cells"] == 30_001 and summary["snapped_to_table"] > 0
    assert summary["rounds"] >= 2


def test_a_partial_table_defaults_to_the_pools_picks(nb101_home, monkeypatch, capsys):
    """The pool is the table's answerable cells, so TNAO scores them directly (no swarm
    whose decodes mostly miss the table), its heads taking turns; the saved config says
    so, and every query is an answerable cell."""
    from tnao_app import benchmarks
    from tnao_app.events import StageFinished

    monkeypatch.setenv("TNAO_HOME", str(nb101_home))
    assert benchmarks.load("nb101").partial and not benchmarks.load("analog").partial
    seen: list = []
    res = run_pipeline(tiny("auto"), listeners=[seen.append])
    searches = [e.summary for e in seen if isinstance(e, StageFinished) and e.stage == "search"]
    assert searches and all(s == {"picks": "turns"} for s in searches)
    assert res["queries"] == 40 and res["summary"]["skipped_unanswerable"] == 0
    assert "snapped_to_table" not in res["summary"]
    # the result says how much of the space a query could reach, and the CLI prints it
    assert res["coverage"] == {"answerable": 30_001, "space": 423_624}
    from tnao_app.cli.run import print_result

    print_result(res)
    out = " ".join(capsys.readouterr().out.split())
    assert "the table answers 30,001 of the space's 423,624 cells (7.08%)" in out


def test_partial_table_run_resumes_mid_search_to_the_same_result(nb101_home, monkeypatch):
    """The snapped decodes (which answerable cell each unanswerable one stands for) are
    part of the search's state: a run stopped in a later round's search ends as an
    uninterrupted one, its summary included."""
    monkeypatch.setenv("TNAO_HOME", str(nb101_home))
    ref = run_pipeline(tiny())
    cfg = tiny()
    cfg.run.checkpoint_every = 0.0  # every generation
    saved: list[dict] = []

    def ckpt(stage, step, state):
        saved.append({"stage": stage, "step": step, "state": copy.deepcopy(state)})

    def stop() -> bool:
        return any(c["stage"] == "search" and c["step"] > 4 for c in saved)

    with pytest.raises(Stopped):
        run_pipeline(cfg, checkpoint=ckpt, should_stop=stop)
    assert saved[-1]["stage"] == "search"
    resumed = run_pipeline(tiny(), resume=saved[-1])
    drop = ("seconds", "run_id")
    assert {k: v for k, v in resumed.items() if k not in drop} == {
        k: v for k, v in ref.items() if k not in drop
    }


def test_campaign_tables_count_the_subsets_top_002_percent(nb101_home, monkeypatch):
    """The paper's NB101 claim is a cell in the top 0.02%: on the subset that is its 7
    cells with 108-epoch validation >= 94.85%, and every campaign table counts them."""
    from tnao_app import benchmarks
    from tnao_app.campaign.summary import optima

    monkeypatch.setenv("TNAO_HOME", str(nb101_home))
    table = benchmarks.load("nb101")
    target = optima(table, "cifar10")["top_k"]
    valid = table.metric("valid@108")
    assert target["target"] == "0.02%" and target["cells"] == 7
    assert sorted(target["rows"]) == sorted(int(r) for r in (valid >= 94.85).nonzero()[0])
    assert target["value"] == pytest.approx(94.8518, abs=1e-3)


def test_max_params_means_millions_on_nb101_as_on_nb201(nb101_home, monkeypatch, capsys):
    """``--max-params 2`` is 2 M parameters on every benchmark: on the subset it keeps the
    cells whose official trainable_parameters are at most 2,000,000, and a run under it
    returns one of them."""
    import csv
    import gzip
    import json

    from tnao_app import benchmarks
    from tnao_app.cli import main
    from tnao_app.objectives import Goal

    monkeypatch.setenv("TNAO_HOME", str(nb101_home))
    with gzip.open(SPECS_CSV, "rt") as f:
        small = sum(int(r["trainable_parameters"]) <= 2_000_000 for r in csv.DictReader(f))
    cfg = Config.from_dict({"run": {"benchmark": "nb101", "method": "random", "budget": 20}})
    cfg.goal.constraints = "params<=2"
    assert 0 < int(Goal(benchmarks.load("nb101"), cfg).feasible.sum()) == small
    with pytest.raises(SystemExit) as done:
        main(
            ["run", "-b", "nb101", "-m", "random", "--budget", "20", "--max-params", "2", "--json"]
        )
    assert done.value.code == 0
    res = json.loads(capsys.readouterr().out)
    assert res["feasible_cells"] == small
    table = benchmarks.load("nb101")
    assert table.metric("params")[table.index_of(table.space.from_native(res["best"]["arch"]))] <= 2


def test_the_apps_results_say_how_much_of_the_space_the_table_answers(nb101_home, monkeypatch):
    """A finished run on the subset, opened in the app: Results names its coverage."""
    import asyncio

    from tnao_app.runs.session import start_run
    from tnao_app.screens.app import TnaoApp
    from tnao_app.screens.results import ResultsScreen
    from tnao_app.storage import Store

    monkeypatch.setenv("TNAO_HOME", str(nb101_home))
    db = nb101_home / "history.db"
    cfg = tiny("auto")
    cfg.run.budget = 30
    start_run(cfg, Store(db))

    async def check() -> str:
        app = TnaoApp(db=db)
        async with app.run_test(size=(110, 36)) as pilot:
            for _ in range(100):  # the home screen's data check, then open the run
                if app.data_rows is not None:
                    break
                await pilot.pause(0.05)
            await pilot.press("o")
            for _ in range(100):
                if isinstance(app.screen, ResultsScreen):
                    break
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            return app.screen.query_one("#best-summary").visual.plain

    text = " ".join(asyncio.run(check()).split())
    assert "the table answers 30,001 of the space's 423,624 cells" in text
