"""Pareto fronts and hypervolume of points that are *maximised* in every coordinate.

Pure numpy, no benchmark: ``tnao_app.objectives`` turns a table's objectives into such
points (a minimised metric enters negated) and normalises them; the search methods, the
results and the benchmark script read fronts and hypervolumes from here.

* ``non_dominated(points)``: which points no other point dominates (equal points keep
  each other: neither dominates);
* ``sort_fronts(points)``: the non-dominated sort (NSGA-II's ranks), front by front;
* ``hypervolume(points, ref)``: the volume dominated by the points and bounded below by
  ``ref``; exact, by a sweep in 2-D and by slicing (HSO) in more dimensions, which is
  exponential in the dimension but exact and quick for the few objectives a run has.
"""

from __future__ import annotations

import numpy as np

#: most objectives the k-D hypervolume accepts (slicing is exponential in k)
MAX_DIMS = 6
#: points checked against the front at once (then one by one, the few left)
CHUNK = 512


def _points(points: np.ndarray | list) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 1:
        p = p.reshape(0, 0) if p.size == 0 else p[None, :]
    if p.ndim != 2:
        raise ValueError(f"points must be a (n, k) array, got shape {p.shape}")
    return p


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` is at least as good as ``b`` everywhere and better somewhere."""
    return bool(np.all(a >= b) and np.any(a > b))


def non_dominated(points: np.ndarray | list) -> np.ndarray:
    """Boolean mask of the points that no other point dominates.

    Points are visited best sum first, so a point can only be dominated by a point seen
    before it (a dominating point has the larger sum); each is checked against the front
    so far (small for real fronts), which keeps a 15,625-cell table to milliseconds
    instead of an n x n comparison.
    """
    p = _points(points)
    n = len(p)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    # best sum first; equal sums (rounding) by coordinates, so a dominating point still
    # comes first
    order = np.lexsort(tuple(-p[:, j] for j in reversed(range(p.shape[1]))) + (-p.sum(1),))
    front = np.empty((0, p.shape[1]))
    for start in range(0, n, CHUNK):
        idx = order[start : start + CHUNK]
        if len(front):  # most of a chunk falls to the front so far, all at once
            x = p[idx][:, None, :]
            beaten = (np.all(front >= x, axis=2) & np.any(front > x, axis=2)).any(axis=1)
            idx = idx[~beaten]
        for i in idx:
            x = p[i]
            if len(front) and np.any(np.all(front >= x, axis=1) & np.any(front > x, axis=1)):
                continue
            mask[i] = True
            front = np.vstack([front, x])
    return mask


def sort_fronts(points: np.ndarray | list) -> list[np.ndarray]:
    """Indices of the points front by front: the non-dominated ones first, then those
    only they dominate, and so on (every index appears once)."""
    p = _points(points)
    left = np.arange(len(p))
    fronts = []
    while left.size:
        m = non_dominated(p[left])
        fronts.append(left[m])
        left = left[~m]
    return fronts


def hypervolume(points: np.ndarray | list, ref: np.ndarray | list) -> float:
    """The volume dominated by ``points`` above ``ref`` (points not above ``ref`` in
    every coordinate add nothing)."""
    p = _points(points)
    r = np.asarray(ref, dtype=np.float64).reshape(-1)
    if p.size == 0:
        return 0.0
    if p.shape[1] != r.size:
        raise ValueError(f"points have {p.shape[1]} coordinates, the reference point {r.size}")
    if p.shape[1] > MAX_DIMS:
        raise ValueError(f"hypervolume of {p.shape[1]} objectives: at most {MAX_DIMS}")
    p = p[np.all(p > r, axis=1)]
    if len(p) == 0:
        return 0.0
    p = np.unique(p[non_dominated(p)], axis=0)
    return _hv(p, r)


def _hv(p: np.ndarray, r: np.ndarray) -> float:
    """Exact hypervolume of mutually non-dominated points, all above ``r``."""
    k = p.shape[1]
    if k == 1:
        return float(p[:, 0].max() - r[0])
    if k == 2:
        # sweep by the first coordinate, best first: each point adds the strip between
        # its second coordinate and the highest one seen so far
        hv, top = 0.0, r[1]
        for x, y in p[np.argsort(-p[:, 0], kind="stable")]:
            if y > top:
                hv += (x - r[0]) * (y - top)
                top = y
        return float(hv)
    # slice along the last coordinate: between consecutive levels, the points at or above
    # the level span a (k-1)-dimensional hypervolume
    order = np.argsort(-p[:, -1], kind="stable")
    p = p[order]
    hv = 0.0
    for i in range(len(p)):
        low = p[i + 1, -1] if i + 1 < len(p) else r[-1]
        depth = p[i, -1] - low
        if depth <= 0:
            continue
        head = p[: i + 1, :-1]
        head = head[non_dominated(head)]
        hv += depth * _hv(head, r[:-1])
    return float(hv)
