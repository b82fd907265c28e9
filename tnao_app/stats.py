"""Small interval statistics for experiment tables (numpy only).

- :func:`wilson`: the Wilson score interval of a proportion (found / seeds).
- :func:`bootstrap_mean_ci`: a percentile bootstrap interval of a mean over seeds.
- :func:`bootstrap_mean_band`: the same, per column of a (seeds x queries) array, with the
  same resamples for every column (so the band at a query equals the interval of that
  query's column).

The bootstrap draws from a fixed seed: the same values give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal
RESAMPLES = 2000
SEED = 20240601


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes out of ``n`` (NaNs when n = 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= k <= n:
        raise ValueError(f"wilson: k={k} is not within 0..n={n}")
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # 0/n and n/n give exactly 0 and 1 on paper; keep the rounding from showing
    lo = 0.0 if k == 0 else max(0.0, center - half)
    hi = 1.0 if k == n else min(1.0, center + half)
    return (lo, hi)


def bootstrap_mean_band(
    values: np.ndarray | Sequence[Sequence[float]],
    level: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean over rows, for each column.

    ``values`` is (n, q); returns (lo, hi), each of length q. NaNs when n = 0; with one
    row, both are that row. The interval is clamped to each column's min and max (where
    the exact interval lies), so a constant column gives that constant exactly.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 2:
        raise ValueError("bootstrap_mean_band: expected a 2-D array (rows x columns)")
    n, q = x.shape
    if n == 0:
        return (np.full(q, math.nan), np.full(q, math.nan))
    if n == 1:
        return (x[0].copy(), x[0].copy())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    counts = np.zeros((resamples, n))  # how often each row is drawn in each resample
    np.add.at(counts, (np.arange(resamples)[:, None], idx), 1.0)
    means = counts @ x / n  # (resamples, q), without a (resamples, n, q) copy
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
    lo_x, hi_x = x.min(axis=0), x.max(axis=0)
    return (np.clip(lo, lo_x, hi_x), np.clip(hi, lo_x, hi_x))


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray,
    level: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (NaNs when empty)."""
    x = np.asarray(values, dtype=float).reshape(-1, 1)
    lo, hi = bootstrap_mean_band(x, level, resamples, seed)
    return (float(lo[0]), float(hi[0]))


def cut(x: float, digits: int) -> float:
    """``x`` cut (not rounded) to ``digits`` decimals: a percentile of 99.9967 (the
    second-best of 30,001 cells) shows as 99.99, so only the table's best reads 100."""
    scale = 10**digits
    return math.floor(x * scale + 1e-9) / scale
