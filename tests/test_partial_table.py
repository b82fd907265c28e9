"""A partial table: the real NAS-Bench-101 subset (30,001 of 423,624 cells). TNAO's pool
is the table's cells and a decoded cell the table cannot answer is scored as the nearest
answerable one, so every candidate the search keeps is a cell a query can answer."""

from __future__ import annotations

import pytest
from conftest import SHARED, need

from tnao_app.config import Config
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


def test_tnao_on_a_partial_table_visits_only_answerable_cells(nb101_home, monkeypatch):
    monkeypatch.setenv("TNAO_HOME", str(nb101_home))
    cfg = Config.from_dict(
        {
            "run": {"benchmark": "nb101", "budget": 40, "seed": 0, "device": "cpu"},
            "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_latent": 8},
            "train": {"epochs": 1, "head_epochs": 2, "head_batches": 5, "finetune_epochs": 1},
            "search": {"particles": 8, "generations": 4},
        }
    )
    queried: list[Queried] = []
    res = run_pipeline(
        cfg, listeners=[lambda e: queried.append(e) if isinstance(e, Queried) else None]
    )
    assert res["queries"] == 40 and len(queried) == 40
    summary = res["summary"]
    # the swarm's visits were all answerable; only the first sample's uniform draws
    # over the whole space miss the table
    assert summary["filled_from_pool"] == 0
    assert summary["rounds"] >= 2
