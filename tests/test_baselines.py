"""The baseline searches (random, regularized evolution, predictor-guided) on the analog
table: budget, no repeat queries, determinism, partial tables, events, stop.

The partial tables here are synthetic (half the signal column of the real analog table
NaN-ed at random): they exercise the "only propose answerable archs" mechanics, not data.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import partial

from tnao_app.benchmarks.base import Oracle, Table
from tnao_app.config import Config
from tnao_app.errors import ConfigError, Stopped
from tnao_app.events import Generation, Queried
from tnao_app.search import predictor as P
from tnao_app.search.driver import Driver, build
from tnao_app.search.method import Hooks

METHODS = ("random", "evolution", "predictor")
# small predictor settings: the mechanics are the same, the test stays fast
FAST = {
    "predictor_init": 10,
    "predictor_batch": 5,
    "predictor_epochs": 30,
    "predictor_ensemble": 2,
    "population": 10,
    "tournament": 3,
}


@pytest.fixture(scope="module")
def table(analog_once) -> Table:
    return analog_once


def run(
    table: Table,
    method: str,
    seed: int = 0,
    budget: int = 30,
    events=None,
    should_stop=None,
    box: dict | None = None,
    **overrides,
) -> Oracle:
    cfg = Config.from_dict(
        {
            "run": {"seed": seed, "budget": budget, "method": method},
            "baselines": {**FAST, **overrides},
        }
    )
    emit = events.append if events is not None else (lambda e: None)
    hooks = Hooks(emit=emit, should_stop=should_stop or (lambda: False))
    method_, oracle = build(cfg, table, hooks=hooks)
    calls: list[int] = []
    real = oracle.query

    def counting(row: int) -> float:
        calls.append(row)
        return real(row)

    oracle.query = counting  # record every call, repeats included
    if box is not None:
        box["o"] = oracle
    Driver(method_, oracle, emit=emit).run()
    oracle.calls = calls
    return oracle


@pytest.mark.parametrize("method", sorted(METHODS))
def test_budget_exact_no_repeats_deterministic(table, method):
    a = run(table, method, seed=3, budget=30)
    assert a.n_queries == 30
    assert len(a.calls) == len(set(a.calls)) == 30  # never asked the oracle twice
    b = run(table, method, seed=3, budget=30)
    assert list(a.queried) == list(b.queried)
    c = run(table, method, seed=4, budget=30)
    assert list(a.queried) != list(c.queried)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_anytime_prefix(table, method):
    """A run at a smaller budget queries exactly the first rows of a larger one: what
    lets `tnao experiment` read every budget off one run."""
    small = run(table, method, seed=1, budget=17)
    big = run(table, method, seed=1, budget=33)
    assert list(big.queried)[:17] == list(small.queried)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_partial_table_only_answerable(table, method):
    part = partial(table)
    o = run(part, method, seed=2, budget=40)
    assert o.n_queries == 40
    sig = part.metric("baseline")
    assert not np.isnan(sig[list(o.queried)]).any()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_budget_above_answerable_rows_ends(table, method):
    part = partial(table, keep=12 / len(table), seed=5)
    n_open = int((~np.isnan(part.metric("baseline"))).sum())
    assert 0 < n_open < 25
    o = run(part, method, seed=0, budget=25, predictor_init=5)
    assert o.n_queries == n_open  # every answerable row once, then it stops


@pytest.mark.parametrize("method", sorted(METHODS))
def test_events(table, method):
    events: list = []
    o = run(table, method, budget=24, events=events)
    queried = [e for e in events if isinstance(e, Queried)]
    assert [e.n_queries for e in queried] == list(range(1, 25))
    assert all(e.budget == 24 for e in queried)
    assert [table.space.from_native(e.arch) for e in queried] == [table.arch(r) for r in o.queried]
    gens = [e for e in events if isinstance(e, Generation)]
    assert gens, "a method reports its progress"
    best = [g.best_score for g in gens]
    assert best == sorted(best)  # best signal so far never decreases
    assert best[-1] == pytest.approx(max(o.queried.values()))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_stop(table, method):
    box: dict = {}
    with pytest.raises(Stopped):
        run(table, method, seed=0, budget=40, should_stop=lambda: box["o"].n_queries >= 12, box=box)
    assert 12 <= box["o"].n_queries < 40


def test_evolution_children_are_mutants(table):
    """After the initial population, children are one-edge mutants of earlier queries
    (random search would almost never be)."""
    o = run(table, "evolution", seed=0, budget=60)
    archs = [np.array(table.arch(r)) for r in o.queried]
    mutants = sum(
        any(int((archs[i] != archs[j]).sum()) == 1 for j in range(i)) for i in range(10, 60)
    )
    assert mutants >= 45


def test_predictor_beats_random_on_analog(table):
    """A real (not synthetic) check with the default settings: with 60 queries the ranker
    finds a top-10 arch of 15,625 on the analog table; random search (same seed) does not
    reach the top 50."""
    defaults = dataclasses.asdict(Config().baselines)
    pred = run(table, "predictor", seed=0, budget=60, **defaults)
    rnd = run(table, "random", seed=0, budget=60)
    assert table.rank_of(max(pred.queried.values()), "baseline")[0] <= 10
    assert table.rank_of(max(rnd.queried.values()), "baseline")[0] > 50


def test_one_hot_and_pick_batch():
    x = P.one_hot(np.array([[0, 2], [1, 0]]), 3)
    assert x.tolist() == [[1, 0, 0, 0, 0, 1], [0, 1, 0, 1, 0, 0]]
    scores = np.array([[5.0, 4.0, 3.0, 0.0], [5.0, 0.0, 1.0, 4.0]])
    # member 0 takes 0, member 1's best (0) is taken so it adds 3, then member 0 adds 1
    assert P.pick_batch(scores, 3) == [0, 3, 1]
    assert sorted(P.pick_batch(scores, 10)) == [0, 1, 2, 3]


def test_bad_baseline_settings(table):
    with pytest.raises(ConfigError, match="population"):
        run(table, "evolution", population=0)
    with pytest.raises(ConfigError, match="predictor_init"):
        run(table, "predictor", predictor_init=1)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_resume_continues_to_the_same_run(table, method):
    """Stopped after 12+ queries, then resumed on a fresh method and oracle from the last
    checkpoint (as the pipeline does): the same trajectory as one uninterrupted run, and
    the rows restored from the checkpoint are not announced again."""
    whole = run(table, method, seed=6, budget=30)
    saved: list = []
    cfg = Config.from_dict({"run": {"seed": 6, "budget": 30, "method": method}, "baselines": FAST})
    m1, first = build(cfg, table, hooks=Hooks(should_stop=lambda: first.n_queries >= 12))
    d1 = Driver(m1, first, checkpoint=lambda stage, step, state: saved.append(state))
    with pytest.raises(Stopped):
        d1.run()
    done = len(saved[-1]["queried"])
    assert 0 < done <= first.n_queries
    events: list = []
    m2, second = build(cfg, table, hooks=Hooks(emit=events.append))
    Driver(m2, second, emit=events.append).run({"stage": "search", "step": 0, "state": saved[-1]})
    assert list(second.queried) == list(whole.queried)
    assert len([e for e in events if isinstance(e, Queried)]) == 30 - done
