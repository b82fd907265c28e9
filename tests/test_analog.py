"""AnalogNAS-Bench, the embedded default: ready offline from the installed package."""

from __future__ import annotations

import os
import pickle
import socket

import numpy as np
import pytest
from scipy.stats import spearmanr

from tnao_app import benchmarks
from tnao_app.benchmarks import analog, cache
from tnao_app.errors import DataError


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the analog benchmark tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_ready_offline_with_no_file(tnao_home, no_network):
    assert not cache.cache_path("analog").exists()  # fresh home: nothing imported
    rows = {r["benchmark"]: r for r in benchmarks.status()}
    assert rows["analog"]["ready"] is True and rows["analog"]["archs"] == 15_625
    assert cache.cache_path("analog").exists()  # converted once from the package


def test_table_shape(analog_table):
    t = analog_table
    assert len(t) == 15_625
    assert len({t.native(i) for i in range(len(t))}) == 15_625
    accuracies = {"baseline", "ptq", "qat", "noisy", "analog"}
    drift = {f"{m}_drift_{t}" for m in ("baseline", "analog") for t in ("1min", "1h", "1d", "1mo")}
    assert set(t.metrics) == accuracies | drift
    base = t.metric("baseline")
    assert np.isfinite(base).all() and 0 < base.min() < base.max() <= 100
    assert t.dataset("cifar10").signal == t.dataset("cifar10").report == "baseline"


def test_baseline_ranks_like_nb201_cifar10_test(nb201_table, tnao_home):
    # DESIGN.md's op/edge mapping of the package onto NB201 (measured Spearman 0.991).
    ana = benchmarks.load("analog")
    c10 = nb201_table.metric("cifar10/ori-test@200")
    rows = np.array([nb201_table.index_of(ana.arch(i)) for i in range(len(ana))])
    assert (rows >= 0).all() and len(set(rows.tolist())) == 15_625
    rho = spearmanr(ana.metric("baseline"), c10[rows]).statistic
    assert rho >= 0.95, rho


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_other_globals(tnao_home, tmp_path):
    marker = tmp_path / "code_ran"
    evil = tmp_path / "data.anb"
    evil.write_bytes(pickle.dumps({(0, 0, 0, 0, 0, 0): _RunsCode(marker)}))
    with pytest.raises(DataError, match=f"unexpected type {os.system.__module__}.system"):
        analog.convert(evil)
    assert not marker.exists()
    assert not cache.cache_path("analog").exists()


def test_truncated_data_file(tnao_home, tmp_path):
    cut = tmp_path / "data.anb"
    data = analog.data_file().read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="is not a readable AnalogNAS-Bench file"):
        analog.convert(cut)
    assert not cache.cache_path("analog").exists()
