"""Uniform sampling and exhaustive enumeration of the distinct NB101 cells.

Both work on isomorphism classes, not matrices: the benchmark counts a cell once however
many labelled forms it has, and a search that sampled matrices would favour large cells.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Iterator

import numpy as np

from .hashing import INPUT, LABELS, OPS, OUTPUT
from .padded import MAX_EDGES, MAX_VERTICES, Cell, PaddedCells


class CellSampler(PaddedCells):
    """Padded cells plus the relabelling tables that sampling and enumeration need."""

    def __init__(self, max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES):
        super().__init__(max_vertices, max_edges)
        self._init_sampler()

    def _init_sampler(self) -> None:
        """Relabelling tables per vertex count: every order of the middle vertices."""
        self._vs = list(range(2, self.n + 1))
        self._perms: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._full: dict[int, np.ndarray] = {}
        self._sampler: tuple[list[float], dict[int, list[int]]] | None = None
        for v in self._vs:
            mids = list(itertools.permutations(range(1, v - 1)))
            perm = np.array([(0, *m, v - 1) for m in mids], dtype=np.int64).reshape(-1, v)
            inv = np.argsort(perm, axis=1)  # inv[p, old vertex] = its new position
            local = np.full((v, v), -1, dtype=np.int64)
            for a in range(v):
                for b in range(a + 1, v):
                    local[a, b] = a * v + b
            self._perms[v] = (perm, inv, local)

    def _full_masks(self, v: int) -> np.ndarray:
        """All V-vertex matrices (bit k = k-th row-major upper-triangular pair) with at
        most ``max_edges`` edges and every vertex on an input->output path."""
        if v in self._full:
            return self._full[v]
        e = v * (v - 1) // 2
        pairs = [(a, b) for a in range(v) for b in range(a + 1, v)]
        masks = np.arange(1 << e, dtype=np.int64)
        pop8 = np.array([bin(x).count("1") for x in range(256)], dtype=np.int8)
        count = np.zeros(len(masks), dtype=np.int8)
        for shift in range(0, e, 8):
            count += pop8[(masks >> shift) & 0xFF]
        masks = masks[count <= self.max_edges]
        # Reachability in row-major pair order: a vertex's flags are final before its row.
        fwd = np.ones_like(masks)
        for k, (a, b) in enumerate(pairs):
            fwd |= (((masks >> k) & 1) & ((fwd >> a) & 1)) << b
        bwd = np.full_like(masks, 1 << (v - 1))
        for k, (a, b) in reversed(list(enumerate(pairs))):
            bwd |= (((masks >> k) & 1) & ((bwd >> b) & 1)) << a
        full = (1 << v) - 1
        self._full[v] = masks[(fwd == full) & (bwd == full)]
        return self._full[v]

    def _sampler_tables(self) -> tuple[list[float], dict[int, list[int]]]:
        """Cumulative weights of V and the padded full masks per V (built on first use,
        about a second for the benchmark's space)."""
        if self._sampler is None:
            padded: dict[int, list[int]] = {}
            weights = []
            for v in self._vs:
                local = self._full_masks(v)
                slot = list(range(v - 1)) + [self.n - 1]
                pm = np.zeros_like(local)
                k = 0
                for a in range(v):
                    for b in range(a + 1, v):
                        pm |= ((local >> k) & 1) << self._pair_index[slot[a]][slot[b]]
                        k += 1
                padded[v] = pm.tolist()
                weights.append(len(local) * 3 ** (v - 2))
            tot = float(sum(weights))
            self._sampler = (list(itertools.accumulate(w / tot for w in weights)), padded)
        return self._sampler

    def sample(self, rng: np.random.Generator) -> Cell:
        """A cell drawn uniformly from the *distinct* cells (isomorphism classes).

        Uniform over cells, not over matrices: random matrices (the official API's
        ``random_spec``) favour cells with many labelled forms and larger cells. Here,
        (1) a *labelled* full cell is drawn uniformly: V with weight ``F_V * 3**(V-2)``
        (``F_V`` = number of V-vertex full matrices, listed once by
        :meth:`_full_masks`), one of those matrices, random ops; (2) a distinct cell
        with ``r`` labelled forms is thereby drawn ``r`` times as often, so it is
        accepted with probability ``1/r = |Aut| / T`` (``T`` = topological orders of
        its middle vertices, ``|Aut|`` = those mapping matrix and ops onto themselves),
        else redrawn. About 3 draws per sample.
        """
        v_cum, padded = self._sampler_tables()
        while True:
            v = self._vs[min(bisect_right(v_cum, rng.random()), len(self._vs) - 1)]
            masks = padded[v]
            mask = masks[int(rng.integers(len(masks)))]
            codes: list = [None] * self.n
            for s in range(1, v - 1):
                codes[s] = int(rng.integers(len(OPS)))
            arch = self._arch_of(self._within_verts(v), mask, codes)
            if v <= 3:  # no two middle vertices to swap: one labelled form per class
                return arch
            t, aut = self._n_orders(arch)
            if rng.random() * t < aut:
                return arch

    def _n_orders(self, arch: Cell) -> tuple[int, int]:
        """``(T, |Aut|)``: topological orders of the middle vertices, and automorphisms."""
        matrix, ops = arch
        v = len(ops)
        perm, inv, local = self._perms[v]
        us, ws = np.nonzero(np.asarray(matrix))
        valid = (inv[:, us] < inv[:, ws]).all(axis=1)
        t = int(valid.sum())
        lab = np.array([LABELS[o] for o in ops])
        same_ops = (lab[perm] == lab).all(axis=1)
        cand = valid & same_ops
        if cand.sum() <= 1:
            return t, 1
        orig = np.sort(local[us, ws])
        img = np.sort(local[inv[cand][:, us], inv[cand][:, ws]], axis=1)
        return t, int((img == orig).all(axis=1).sum())

    # ---- enumeration ---------------------------------------------------------------------
    def enumerate_cells(self) -> Iterator[Cell]:
        """One representative of every distinct cell (for the benchmark: 423,624).

        For each V, the full matrices (every vertex on an input->output path, at most
        ``max_edges`` edges) are kept when they are the smallest of their orbit under
        topological relabellings of the middle vertices; each keeps the op labellings
        that are smallest under its automorphisms. Vectorised over matrices.
        """
        for v in self._vs:
            pairs = [(a, b) for a in range(v) for b in range(a + 1, v)]
            masks = self._full_masks(v)
            perm, inv, _ = self._perms[v]
            canon = np.ones(len(masks), dtype=bool)
            auts: list[np.ndarray] = []
            for p in range(len(perm)):
                img = np.zeros_like(masks)
                ok = np.ones(len(masks), dtype=bool)
                for b_, (a, b) in enumerate(pairs):
                    na, nb = inv[p, a], inv[p, b]
                    bit = (masks >> b_) & 1
                    if na > nb:
                        ok &= bit == 0
                    else:
                        img |= bit << pairs.index((na, nb))
                canon &= ~ok | (img >= masks)
                auts.append(ok & (img == masks))
            aut = np.stack(auts, axis=1)  # (masks, perms)
            labellings = list(itertools.product(range(len(OPS)), repeat=v - 2))
            for idx in np.nonzero(canon)[0].tolist():
                m = int(masks[idx])
                matrix = tuple(
                    tuple(1 if b > a and m >> pairs.index((a, b)) & 1 else 0 for b in range(v))
                    for a in range(v)
                )
                group = perm[aut[idx]]
                nontrivial = [g[1:-1] - 1 for g in group if (g != np.arange(v)).any()]
                for lab in labellings:
                    # Keep the labelling smallest among its images under automorphisms.
                    if any(tuple(lab[i] for i in g) < lab for g in nontrivial):
                        continue
                    yield matrix, (INPUT, *(OPS[o] for o in lab), OUTPUT)
