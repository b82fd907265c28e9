"""The Pareto module (pure): fronts against brute force, hypervolumes against hand
computation and against counting the unit cells a set of integer points dominates."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tnao_app import pareto


def brute_front(p: np.ndarray) -> np.ndarray:
    n = len(p)
    return np.array(
        [not any(pareto.dominates(p[j], p[i]) for j in range(n) if j != i) for i in range(n)],
        dtype=bool,
    )


def grid_volume(p: np.ndarray, ref: np.ndarray) -> int:
    """Unit cells above ``ref`` (integers) that some point dominates, counted one by one."""
    top = p.max(axis=0).astype(int)
    ranges = [range(int(r), int(t)) for r, t in zip(ref, top, strict=True)]
    return sum(
        1 for cell in itertools.product(*ranges) if np.any(np.all(p >= np.array(cell) + 1, axis=1))
    )


def test_hypervolume_of_a_staircase_by_hand():
    # boxes 3x1, 2x2, 1x3 from the origin: 3 + 2 + 1 (the union is a staircase of 6)
    assert pareto.hypervolume([[1, 3], [2, 2], [3, 1]], [0, 0]) == pytest.approx(6.0)
    # a dominated point and one below the reference add nothing
    assert pareto.hypervolume([[1, 3], [2, 2], [3, 1], [1, 1], [5, -1]], [0, 0]) == 6.0
    # a shifted reference point: (1-0.5)*(3-0.5) + (2-1)*(2-0.5)... by strips
    assert pareto.hypervolume([[1, 3], [3, 1]], [0.5, 0.5]) == pytest.approx(2.5 * 0.5 + 0.5 * 2.0)
    assert pareto.hypervolume(np.zeros((0, 2)), [0, 0]) == 0.0


def test_hypervolume_3d_by_hand():
    assert pareto.hypervolume([[1, 2, 3]], [0, 0, 0]) == pytest.approx(6.0)
    # two unit-overlapping boxes 2x1x1 and 1x2x1: 2 + 2 - 1
    assert pareto.hypervolume([[2, 1, 1], [1, 2, 1]], [0, 0, 0]) == pytest.approx(3.0)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_hypervolume_equals_counted_cells(k):
    rng = np.random.default_rng(k)
    for _ in range(15):
        p = rng.integers(1, 6, size=(int(rng.integers(1, 9)), k)).astype(float)
        ref = np.zeros(k)
        assert pareto.hypervolume(p, ref) == pytest.approx(grid_volume(p, ref))


def test_non_dominated_equals_brute_force():
    rng = np.random.default_rng(0)
    for k in (2, 3):
        for _ in range(20):
            p = rng.integers(0, 5, size=(int(rng.integers(1, 30)), k)).astype(float)
            assert (pareto.non_dominated(p) == brute_front(p)).all()


def test_sort_fronts_are_layers():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(60, 2))
    fronts = pareto.sort_fronts(p)
    assert sorted(np.concatenate(fronts).tolist()) == list(range(60))
    for a, b in zip(fronts, fronts[1:], strict=False):
        assert all(any(pareto.dominates(p[i], p[j]) for i in a) for j in b)
        assert not any(pareto.dominates(p[j], p[i]) for i in a for j in b)
