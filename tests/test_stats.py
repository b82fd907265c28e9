"""tnao_app.stats: Wilson score intervals and the percentile bootstrap of a mean."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tnao_app.stats import bootstrap_mean_band, bootstrap_mean_ci, wilson


def test_wilson_known_values():
    assert wilson(27, 30) == pytest.approx((0.7438, 0.9654), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    # the edges are exact: no interval reaches past 0 or 1
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(0, 10)[0] == 0.0
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson(10, 10)[1] == 1.0
    # symmetric about a half
    lo, hi = wilson(3, 10)
    lo2, hi2 = wilson(7, 10)
    assert lo == pytest.approx(1 - hi2) and hi == pytest.approx(1 - lo2)
    assert all(math.isnan(v) for v in wilson(0, 0))
    with pytest.raises(ValueError):
        wilson(4, 3)


def test_bootstrap_mean_ci():
    assert bootstrap_mean_ci([94.34] * 7) == (94.34, 94.34)  # a constant is that constant
    assert bootstrap_mean_ci([3.0]) == (3.0, 3.0)
    assert all(math.isnan(v) for v in bootstrap_mean_ci([]))
    x = np.random.default_rng(0).normal(90.0, 2.0, size=200)
    lo, hi = bootstrap_mean_ci(x)
    assert lo < x.mean() < hi
    se = x.std(ddof=1) / math.sqrt(len(x))  # large n: close to mean +- 1.96 SE
    assert lo == pytest.approx(x.mean() - 1.96 * se, abs=0.25 * se)
    assert hi == pytest.approx(x.mean() + 1.96 * se, abs=0.25 * se)
    assert bootstrap_mean_ci(x) == (lo, hi)  # a fixed seed: reproducible
    small = [1.0, 2.0, 3.0, 4.0, 5.0]
    lo, hi = bootstrap_mean_ci(small)
    assert 1.0 <= lo < 3.0 < hi <= 5.0


def test_bootstrap_band_matches_the_ci_of_each_column():
    rng = np.random.default_rng(1)
    m = np.cumsum(rng.random((6, 12)), axis=1)
    lo, hi = bootstrap_mean_band(m)
    assert lo.shape == hi.shape == (12,)
    assert (lo <= m.mean(axis=0)).all() and (m.mean(axis=0) <= hi).all()
    for j in (0, 5, 11):
        assert (lo[j], hi[j]) == pytest.approx(bootstrap_mean_ci(m[:, j]))
