"""Competitive swarm and remap scoring. The CSO mechanics test uses a synthetic objective
(a quadratic); the scorer runs on the real NB201 table with an untrained model."""

from __future__ import annotations

import numpy as np
import torch

from tnao_app.benchmarks.base import Oracle
from tnao_app.model import ModelShape, TNAOModel
from tnao_app.search.cso import CSO, RemapScorer


def test_cso_climbs_a_quadratic_and_winners_stay():
    target = np.array([0.3, -0.2, 0.5])

    def score(x):
        return -((x - target) ** 2).sum(axis=1), x.copy()

    rng = np.random.default_rng(0)
    lo, hi = -np.ones(3), np.ones(3)
    cso = CSO(score, lo, hi, rng, phi=0.1, remap=False)
    cso.start(rng.uniform(-1, 1, (20, 3)))
    first = cso.best_f
    for _ in range(60):
        before = cso.x.copy()
        cso.step()
        moved = (cso.x != before).any(axis=1).sum()
        assert moved <= 10  # only losers (half the swarm) move
        assert (cso.x >= lo).all() and (cso.x <= hi).all()
    assert cso.best_f > first and cso.best_f > -1e-3


def test_cso_state_round_trip_continues_identically():
    def score(x):
        return -(x**2).sum(axis=1), x.copy()

    a = CSO(score, -np.ones(2), np.ones(2), np.random.default_rng(1), remap=False)
    a.start(np.random.default_rng(2).uniform(-1, 1, (8, 2)))
    for _ in range(3):
        a.step()
    st, rng_state = a.state_dict(), a.rng.bit_generator.state
    for _ in range(3):
        a.step()
    b = CSO(score, -np.ones(2), np.ones(2), np.random.default_rng(99), remap=False)
    b.rng.bit_generator.state = rng_state
    b.load_state_dict(st)
    for _ in range(3):
        b.step()
    np.testing.assert_array_equal(a.x, b.x)
    assert a.best_f == b.best_f


def test_remap_scorer_dedupes_and_marks_unanswerable(nb201_table):
    torch.manual_seed(0)
    m = TNAOModel(ModelShape(6, 5, d_model=16, n_heads=2, d_latent=8), None)
    oracle = Oracle(nb201_table, "cifar10", 10)
    scorer = RemapScorer(m, nb201_table.space, nb201_table, oracle)
    z = np.random.default_rng(0).normal(size=(50, 8))
    s, zz = scorer(z)
    assert s.shape == (50,) and zz.shape == (50, 8)
    assert len(scorer.visits) <= 50
    # one architecture, one score: points that decode alike score alike, and a repeat
    # scores from the cache without new visits
    archs = scorer.decode(z)
    ids = [nb201_table.space.canonical_id(a) for a in archs]
    for i in range(50):
        for j in range(50):
            if ids[i] == ids[j]:
                assert s[i] == s[j]
    n = len(scorer.visits)
    s2, _ = scorer(z)
    np.testing.assert_array_equal(s, s2)
    assert len(scorer.visits) == n
    assert all(v.answerable and v.row is not None for v in scorer.visits.values())
    # a table that lacks an arch: the scorer says so and it is never answerable
    oracle.signal_col = oracle.signal_col.copy()
    v0 = next(iter(scorer.visits.values()))
    oracle.signal_col[v0.row] = np.nan
    fresh = RemapScorer(m, nb201_table.space, nb201_table, oracle)
    fresh.add([v0.arch])
    assert not fresh.visits[nb201_table.space.canonical_id(v0.arch)].answerable
