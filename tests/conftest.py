"""Shared fixtures.

Real benchmark data lives in ../shared/data (never copied into the project); tests that
need it skip with a clear reason when it is absent (a user's fresh clone). Caches and
databases always go to a temporary TNAO_HOME, never the user's folder: CI's shared/ is
read-only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
NB201_CSV = SHARED / "nb201.csv.gz"
NB101_CSV = SHARED / "nb101_subset.csv.gz"
NATS_SIMPLE = SHARED / "raw" / "D-X-Y_NATS-Bench" / "NATS-tss-v1_0-3ffb9-simple"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real benchmark data {path} is absent (it ships only beside CI, in ../shared)")
    return path


@pytest.fixture
def tnao_home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty TNAO_HOME for this test."""
    home = tmp_path / "tnao_home"
    monkeypatch.setenv("TNAO_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def nb201_home(tmp_path_factory) -> Path:
    """A TNAO_HOME holding the nb201 cache of the full shared table (imported once)."""
    from tnao_app.benchmarks import nb201

    csv = need(NB201_CSV)
    home = tmp_path_factory.mktemp("nb201_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TNAO_HOME", str(home))
    nb201.import_csv(csv)
    mp.undo()
    return home


@pytest.fixture
def nb201_table(nb201_home, monkeypatch):
    """The full NB201 table from the shared data (TNAO_HOME pointed at its cache)."""
    from tnao_app import benchmarks

    monkeypatch.setenv("TNAO_HOME", str(nb201_home))
    return benchmarks.load("nb201")


@pytest.fixture
def analog_table(tnao_home):
    """The embedded default table (converted from the installed package)."""
    from tnao_app import benchmarks

    return benchmarks.load("analog")


@pytest.fixture(scope="session")
def analog_once(tmp_path_factory):
    """The embedded analog table, loaded once for the session (its cache in a temporary
    TNAO_HOME)."""
    from tnao_app import benchmarks

    mp = pytest.MonkeyPatch()
    mp.setenv("TNAO_HOME", str(tmp_path_factory.mktemp("analog_home")))
    try:
        return benchmarks.load("analog")
    finally:
        mp.undo()


def partial(table, keep: float = 0.5, seed: int = 0):
    """A copy of ``table`` whose signal is NaN on a random ``1 - keep`` of the rows:
    synthetic partial tables, for the mechanics of proposing only answerable rows."""
    import dataclasses

    import numpy as np

    rng = np.random.default_rng(seed)
    metrics = dict(table.metrics)
    name = table.dataset("cifar10").signal
    col = metrics[name].copy()
    col[rng.random(len(col)) >= keep] = np.nan
    metrics[name] = col
    return dataclasses.replace(table, metrics=metrics, _index=None)
