"""The padded form of an NB101 cell, and the bit operations the space is built from.

A cell of V vertices sits in ``max_vertices`` slots: its input at slot 0, its middle
vertices at 1..V-2, its output at the last slot. Its edges are an int whose bit ``k`` is
the k-th upper-triangular pair of slots (row-major), its ops one code per slot. Pruning,
repair, sampling and mutation are then a few shifts and masks instead of graph walks.
"""

from __future__ import annotations

from collections.abc import Sequence

from .hashing import INPUT, LABELS, OPS, OUTPUT

MAX_VERTICES = 7
MAX_EDGES = 9

# A pruned cell: V rows of V 0/1 entries, and V op names from input to output.
Matrix = tuple[tuple[int, ...], ...]
Cell = tuple[Matrix, tuple[str, ...]]


class PaddedCells:
    """Cells of at most ``max_vertices`` vertices and ``max_edges`` edges, in padded form."""

    def __init__(self, max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES):
        n = max_vertices
        if n < 2:
            raise ValueError("max_vertices must be at least 2")
        self.n = n
        self.max_edges = max_edges
        self.pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        self.n_pairs = len(self.pairs)
        self._pair_index = [[-1] * n for _ in range(n)]
        for k, (i, j) in enumerate(self.pairs):
            self._pair_index[i][j] = k
        # Row i's pairs are contiguous bits: (i, i+1) .. (i, n-1).
        self._row_start = [self._pair_index[i][i + 1] if i < n - 1 else 0 for i in range(n)]
        self._row_mask = [(1 << (n - 1 - i)) - 1 for i in range(n)]
        # Edges with both ends inside a vertex subset, for all 2**n subsets.
        self._within = [0] * (1 << n)
        for vs in range(1 << n):
            m = 0
            for k, (i, j) in enumerate(self.pairs):
                if vs >> i & 1 and vs >> j & 1:
                    m |= 1 << k
            self._within[vs] = m
        self._io = 1 | 1 << (n - 1)  # the input and output slots

    def _prune(self, mask: int) -> tuple[int, int]:
        """``(kept vertices, kept edges)`` of the padded ``mask``; ``(0, 0)`` when the
        input does not reach the output."""
        n = self.n
        rs, rm = self._row_start, self._row_mask
        succ = [((mask >> rs[i]) & rm[i]) << (i + 1) for i in range(n - 1)]
        fwd = 1
        for i in range(n - 1):
            if fwd >> i & 1:
                fwd |= succ[i]
        if not fwd >> (n - 1) & 1:
            return 0, 0
        bwd = 1 << (n - 1)
        for i in range(n - 2, -1, -1):
            if succ[i] & bwd:
                bwd |= 1 << i
        kept = fwd & bwd
        return kept, mask & self._within[kept]

    def _padded(self, arch: Cell) -> tuple[int, list[int]]:
        """Padded mask and per-slot op codes (-1 input, -2 output, 0..2 ops, None absent)."""
        matrix, ops = arch
        v = len(ops)
        slot = list(range(v - 1)) + [self.n - 1]
        pi = self._pair_index
        mask = 0
        for a in range(v):
            row = matrix[a]
            for b in range(a + 1, v):
                if row[b]:
                    mask |= 1 << pi[slot[a]][slot[b]]
        codes: list = [None] * self.n
        for a in range(v):
            codes[slot[a]] = LABELS[ops[a]]
        return mask, codes

    def _arch_of(self, kept: int, mask: int, codes: Sequence) -> Cell:
        """The pruned arch of a padded cell whose kept vertices are ``kept``."""
        verts = [i for i in range(self.n) if kept >> i & 1]
        pi = self._pair_index
        matrix = tuple(
            tuple(1 if b > a and mask >> pi[a][b] & 1 else 0 for b in verts) for a in verts
        )
        ops = tuple(
            INPUT if i == 0 else OUTPUT if i == self.n - 1 else OPS[codes[i]] for i in verts
        )
        return matrix, ops

    def _repair(self, mask: int, scores: Sequence[float], present: int) -> tuple[int, int]:
        """The nearest valid cell to a padded ``mask`` restricted to ``present`` vertices.

        ``scores[k]`` says how much pair ``k`` is wanted (log-odds: > 0 chosen). Vertices
        off every input->output path are pruned. With no path, the best-scoring path over
        present vertices is added (edges already there are free; ties keep more
        vertices). Above ``max_edges``, the least-wanted edges go first, each removal
        keeping the input connected to the output.
        """
        mask &= self._within[present]
        kept, pm = self._prune(mask)
        if not kept:
            n, pi = self.n, self._pair_index
            best: list = [None] * n
            prev = [-1] * n
            best[0] = (0.0, 1)
            for j in range(1, n):
                if not present >> j & 1:
                    continue
                for i in range(j):
                    bi = best[i]
                    if bi is None:
                        continue
                    k = pi[i][j]
                    w = 0.0 if mask >> k & 1 else scores[k]
                    cand = (bi[0] + w, bi[1] + 1)
                    if best[j] is None or cand > best[j]:
                        best[j] = cand
                        prev[j] = i
            j = n - 1
            while j > 0:
                mask |= 1 << pi[prev[j]][j]
                j = prev[j]
            kept, pm = self._prune(mask)
        while pm.bit_count() > self.max_edges:
            edges = sorted((scores[k], k) for k in range(self.n_pairs) if pm >> k & 1)
            for _, k in edges:
                k2, p2 = self._prune(pm & ~(1 << k))
                if k2:
                    kept, pm = k2, p2
                    break
            else:  # only when max_edges < a path's length (not the benchmark's space)
                raise ValueError(f"no cell of this space has at most {self.max_edges} edges")
        return kept, pm

    def _within_verts(self, v: int) -> int:
        return ((1 << (v - 1)) - 1) | (1 << (self.n - 1))
