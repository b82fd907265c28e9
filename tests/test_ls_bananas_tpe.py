"""Local search, BANANAS and TPE on the analog table: budget, no repeat queries,
determinism, anytime prefixes, partial tables, resume, and each method's own mechanics.

The partial tables here are synthetic (part of the signal column of the real analog
table NaN-ed at random): they exercise the "only propose answerable rows" mechanics, not
data. The NB101 table is synthetic too: every cell of a small NB101 space (at most 5
vertices: 2,532 cells) with a random signal, for the graph-cell code paths.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import partial

from tnao_app.benchmarks.base import DatasetSpec, Oracle, Table
from tnao_app.benchmarks.nb101 import NB101Space
from tnao_app.config import Config
from tnao_app.errors import ConfigError, Stopped
from tnao_app.events import Generation, Queried
from tnao_app.search import bananas as B
from tnao_app.search.driver import Driver, build
from tnao_app.search.local import categorical, one_edit_rows
from tnao_app.search.method import Hooks

METHODS = ("ls", "bananas", "tpe")
# small settings: the mechanics are the same, the file stays fast
FAST = {
    "ls_init": 5,
    "ls_draws": 32,
    "bananas_init": 5,
    "bananas_batch": 5,
    "bananas_epochs": 30,
    "bananas_ensemble": 2,
    "bananas_parents": 5,
    "bananas_candidates": 30,
    "tpe_startup": 5,
}


@pytest.fixture(scope="module")
def table(analog_once) -> Table:
    return analog_once


@pytest.fixture(scope="module")
def nb101_table() -> Table:
    space = NB101Space(max_vertices=5, max_edges=9)
    cells = list(space.enumerate_cells())
    rng = np.random.default_rng(0)
    return Table(
        "nb101",
        space,
        np.stack([space.to_tokens(c) for c in cells]),
        {"valid": rng.random(len(cells)) * 100},
        {"cifar10": DatasetSpec("cifar10", "valid", "valid")},
        ids=np.array([space.canonical_id(c) for c in cells]),
    )


def config(method: str, seed: int, budget: int, **overrides) -> Config:
    return Config.from_dict(
        {
            "run": {"seed": seed, "budget": budget, "method": method},
            "baselines": {**FAST, **overrides},
        }
    )


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
    emit = events.append if events is not None else (lambda e: None)
    hooks = Hooks(emit=emit, should_stop=should_stop or (lambda: False))
    method_, oracle = build(config(method, seed, budget, **overrides), table, hooks=hooks)
    calls: list[int] = []
    real = oracle.query

    def counting(row: int) -> float:
        calls.append(row)
        return real(row)

    oracle.query = counting  # record every call, repeats included
    if box is not None:
        box["o"], box["m"] = oracle, method_
    Driver(method_, oracle, emit=emit).run()
    oracle.calls = calls
    oracle.method = method_
    return oracle


@pytest.mark.parametrize("method", METHODS)
def test_budget_exact_no_repeats_deterministic(table, method):
    a = run(table, method, seed=3, budget=30)
    assert a.n_queries == 30
    assert len(a.calls) == len(set(a.calls)) == 30  # never asked the oracle twice
    b = run(table, method, seed=3, budget=30)
    assert list(a.queried) == list(b.queried)
    c = run(table, method, seed=4, budget=30)
    assert list(a.queried) != list(c.queried)


@pytest.mark.parametrize("method", METHODS)
def test_anytime_prefix(table, method):
    """A run at a smaller budget queries exactly the first rows of a larger one (BANANAS:
    17 cuts a batch of 5 in the middle)."""
    small = run(table, method, seed=1, budget=17)
    big = run(table, method, seed=1, budget=33)
    assert list(big.queried)[:17] == list(small.queried)


@pytest.mark.parametrize("method", METHODS)
def test_partial_table_only_answerable(table, method):
    part = partial(table)
    o = run(part, method, seed=2, budget=40)
    assert o.n_queries == 40
    sig = part.metric(part.dataset("cifar10").signal)
    assert not np.isnan(sig[list(o.queried)]).any()


@pytest.mark.parametrize("method", METHODS)
def test_budget_above_answerable_rows_ends(table, method):
    part = partial(table, keep=12 / len(table), seed=5)
    n_open = int((~np.isnan(part.metric(part.dataset("cifar10").signal))).sum())
    assert 0 < n_open < 25
    o = run(part, method, seed=0, budget=25, ls_init=3, bananas_init=3)
    assert o.n_queries == n_open  # every answerable row once, then it stops


@pytest.mark.parametrize("method", METHODS)
def test_events(table, method):
    events: list = []
    o = run(table, method, budget=24, events=events)
    queried = [e for e in events if isinstance(e, Queried)]
    assert [e.n_queries for e in queried] == list(range(1, 25))
    assert [table.space.from_native(e.arch) for e in queried] == [table.arch(r) for r in o.queried]
    best = [g.best_score for g in events if isinstance(g, Generation)]
    assert best, "a method reports its progress"
    assert best == sorted(best)  # best signal so far never decreases
    assert best[-1] == pytest.approx(max(o.queried.values()))


@pytest.mark.parametrize("method", METHODS)
def test_stop(table, method):
    box: dict = {}
    with pytest.raises(Stopped):
        run(table, method, seed=0, budget=40, should_stop=lambda: box["o"].n_queries >= 12, box=box)
    assert 12 <= box["o"].n_queries < 40


@pytest.mark.parametrize("method", METHODS)
def test_resume_continues_to_the_same_run(table, method):
    """Stopped after 12+ queries, then resumed on a fresh method and oracle from the last
    checkpoint: the same trajectory as one uninterrupted run (TPE: its study rebuilt by
    replaying the told trials), and the restored rows are not announced again."""
    whole = run(table, method, seed=6, budget=30)
    saved: list = []
    cfg = config(method, 6, 30)
    m1, first = build(cfg, table, hooks=Hooks(should_stop=lambda: first.n_queries >= 12))
    # every batch saved, so the last checkpoint holds the whole first part
    save = lambda stage, step, state: saved.append(state)  # noqa: E731
    d1 = Driver(m1, first, checkpoint=save, checkpoint_every=0.0)
    with pytest.raises(Stopped):
        d1.run()
    done = len(saved[-1]["queried"])
    assert done == first.n_queries >= 12
    events: list = []
    m2, second = build(cfg, table, hooks=Hooks(emit=events.append))
    Driver(m2, second, emit=events.append).run({"stage": "search", "step": 0, "state": saved[-1]})
    assert list(second.queried) == list(whole.queried)
    assert len([e for e in events if isinstance(e, Queried)]) == 30 - done


def test_ls_walks_to_the_first_improving_neighbour(table):
    """Replays the run's queries against the rule: after the initial sample the current
    cell is the best of it; each later query is a one-edit neighbour of the current cell
    (the current cell moves there when it is strictly better) or, only once every
    neighbour of the current cell has been queried, a restart cell that becomes current."""
    init, budget = 5, 150
    o = run(table, "ls", seed=0, budget=budget, ls_init=init)
    rows, sig = list(o.queried), o.queried
    current = max(rows[:init], key=lambda r: sig[r])
    assert current == rows[int(np.argmax([sig[r] for r in rows[:init]]))]
    moves = restarts = 0
    for i in range(init, budget):
        q, seen = rows[i], set(rows[:i])
        near = set(one_edit_rows(table.tokens, current).tolist())
        assert len(near) == 24  # 6 edges x 4 other ops
        if q in near:
            if sig[q] > sig[current]:
                current, moves = q, moves + 1
        else:
            assert near <= seen, f"query {i} left the neighbourhood before it was walked"
            current, restarts = q, restarts + 1
    assert moves >= 3 and restarts >= 1  # the run both climbed and met a local optimum
    assert o.method.summary() == {"moves": moves, "restarts": restarts}


def test_ls_reaches_the_analog_top_with_defaults(table):
    """A real check with the default settings: 100 queries reach a top-20 cell of 15,625
    (random search with as many queries reaches about the top 1%, rank 150)."""
    defaults = dataclasses.asdict(Config().baselines)
    o = run(table, "ls", seed=0, budget=100, **defaults)
    assert table.rank_of(max(o.queried.values()), "baseline")[0] <= 20


def test_categorical_and_one_edit_rows(table, nb101_table):
    assert categorical(table)
    assert not categorical(nb101_table)  # graph cells: tokens depend on each other
    row = table.index_of((3, 3, 3, 3, 3, 3))
    near = one_edit_rows(table.tokens, row)
    diffs = (table.tokens[near] != table.tokens[row]).sum(axis=1)
    assert len(near) == 24 and (diffs == 1).all()


def test_nb201_path_encoding():
    x = B.nb201_path_encoding(np.array([[3, 3, 3, 3, 3, 3], [0, 0, 0, 1, 0, 0], [0] * 6]))
    assert x.shape == (3, 84)
    # all 3x3 convs: the paths of length 1, 2 (twice: one feature) and 3 of conv3x3 only
    assert np.flatnonzero(x[0]).tolist() == [2, 4 + 2 * 4 + 2, 20 + 2 * 16 + 2 * 4 + 2]
    assert np.flatnonzero(x[1]).tolist() == [0]  # only edge 0->3 (skip) carries a path
    assert x[2].sum() == 0  # every edge none: no path
    # a none edge cuts its paths: edge 2 (1->2) only lies on the length-3 path
    cut = B.nb201_path_encoding(np.array([[3, 3, 0, 3, 3, 3]]))
    assert np.flatnonzero(cut[0]).tolist() == [2, 14]


def test_nb101_path_encoding():
    c3, c1, mp = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
    # input -> output directly, and input -> c1 -> mp -> output
    matrix = ((0, 1, 0, 1), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0))
    enc = B.nb101_path_encoding((matrix, ("input", c1, mp, "output")))
    assert enc.shape == (364,)
    assert np.flatnonzero(enc).tolist() == [0, 4 + 1 * 3 + 2]
    assert B.nb101_path_encoding((((0, 1), (0, 0)), ("input", "output"))).sum() == 1
    matrix = ((0, 1, 0), (0, 0, 1), (0, 0, 0))
    enc = B.nb101_path_encoding((matrix, ("input", c3, "output")))
    assert np.flatnonzero(enc).tolist() == [1]  # one path of length 1: conv3x3 (code 0)


@pytest.mark.parametrize("method", ("ls", "bananas"))
def test_nb101_cells(nb101_table, method):
    """Graph cells: budget exact, no repeats, deterministic, only answerable rows."""
    part = partial(nb101_table, keep=0.6, seed=1)
    a = run(part, method, seed=0, budget=40)
    assert a.n_queries == 40 and len(a.calls) == len(set(a.calls)) == 40
    assert not np.isnan(part.metric("valid")[list(a.queried)]).any()
    assert list(run(part, method, seed=0, budget=40).queried) == list(a.queried)


def test_ls_nb101_neighbours_are_mutants(nb101_table):
    """On graph cells the neighbourhood is ``space.mutate`` draws: every query after the
    initial ones, restarts aside, is one mutation away from an earlier query."""
    init, budget = 5, 60
    o = run(nb101_table, "ls", seed=0, budget=budget)
    space, rows = nb101_table.space, list(o.queried)
    rng = np.random.default_rng(123)

    def mutants(row: int) -> set:
        arch = nb101_table.arch(row)
        return {nb101_table.index_of(space.mutate(arch, rng)) for _ in range(300)}

    reach: set = set()
    near = 0
    for i in range(init, budget):
        reach |= mutants(rows[i - 1]) if i > init else set().union(*map(mutants, rows[:init]))
        near += rows[i] in reach
    summary = o.method.summary()
    assert summary["moves"] >= 1
    assert near >= budget - init - summary["restarts"]


def test_tpe_refuses_nb101(nb101_table):
    with pytest.raises(ConfigError, match="one categorical choice per position"):
        build(config("tpe", 0, 20), nb101_table)


def test_bananas_predicts_its_queries(table):
    o = run(table, "bananas", seed=0, budget=20)
    pred = o.method.predicted
    assert pred and set(pred) <= set(o.queried)
    assert len(pred) == 20 - FAST["bananas_init"]  # every scored query, none of the random ones


@pytest.mark.parametrize(
    "field,value",
    [
        ("ls_init", 0),
        ("ls_draws", 0),
        ("bananas_init", 1),
        ("bananas_batch", 0),
        ("bananas_ensemble", 0),
        ("bananas_parents", 0),
        ("bananas_candidates", 0),
        ("bananas_hidden", 0),
        ("bananas_epochs", 0),
        ("tpe_startup", 0),
    ],
)
def test_bad_settings(field, value):
    with pytest.raises(ConfigError, match=field):
        config("ls", 0, 10, **{field: value}).validate()
