"""NAS-Bench-101: the cell space, the official module hash, and the importers.

A cell is a DAG of at most 7 vertices (input, up to 5 operations, output) with at most 9
edges, its adjacency matrix upper-triangular, every vertex on an input->output path. The
benchmark treats isomorphic cells as one: their *module hash* (``canonical_id``) is equal.
There are 423,624 distinct cells.

``Arch`` here is ``(matrix, ops)`` of a pruned cell: ``matrix`` a tuple of V row tuples of
0/1, ``ops`` a tuple of V names starting with ``input`` and ending with ``output``.
Isomorphic archs are different values with the same ``canonical_id``.

Tokens (the model's view) use the 7-vertex padded form: the 21 upper-triangular
adjacency bits (row-major, token 0 = no edge, 1 = edge) then one token per middle vertex
1..5 (2 conv3x3, 3 conv1x1, 4 maxpool, 5 absent). A pruned cell of V vertices puts its
middle vertices at slots 1..V-2 and its output at slot 6. Rows that a table knows only by
their hash have all tokens -1.

Sources: the official ``nasbench_only108.tfrecord`` / ``nasbench_full.tfrecord`` (read
here without TensorFlow, see :func:`import_tfrecord`) or a CSV table
(:func:`import_csv`). Accuracies are stored in percent (as NB201), means over the
training repeats the source holds.
"""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import hashlib
import itertools
import json
import math
import re
import struct
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import DataError, UnknownArchError
from . import cache, tfrecord
from .base import Arch, DatasetSpec, Space, Table

INPUT, OUTPUT = "input", "output"
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
LABELS = {INPUT: -1, OPS[0]: 0, OPS[1]: 1, OPS[2]: 2, OUTPUT: -2}  # official hash labels
_OP_CODE = {o: i for i, o in enumerate(OPS)}
MAX_VERTICES = 7
MAX_EDGES = 9
N_CELLS = 423_624
EPOCHS = (4, 12, 36, 108)

# Token values.
NO_EDGE, EDGE = 0, 1
OP_TOKEN0 = 2  # tokens 2, 3, 4 are OPS[0..2]
ABSENT = 5
VOCAB = 6

_HASH_RE = re.compile(r"[0-9a-f]{32}")


# --------------------------------------------------------------------------- module hash


def module_hash(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> str:
    """The official NAS-Bench-101 fingerprint of a (pruned) cell.

    Each vertex starts from the md5 of ``str((out_degree, in_degree, label))``; V rounds
    then hash the sorted in-neighbour hashes, the sorted out-neighbour hashes and the
    vertex's own hash; the fingerprint is the md5 of ``str(sorted(vertex hashes))``.
    Equal for isomorphic cells (a Weisfeiler-Lehman style hash).
    """
    md5 = hashlib.md5
    v = len(matrix)
    succ = [[w for w in range(v) if matrix[u][w]] for u in range(v)]
    pred = [[u for u in range(v) if matrix[u][w]] for w in range(v)]
    hashes = [
        md5(str((len(succ[i]), len(pred[i]), LABELS[ops[i]])).encode()).hexdigest()
        for i in range(v)
    ]
    rng = range(v)
    for _ in rng:
        hashes = [
            md5(
                (
                    "".join(sorted([hashes[u] for u in pred[w]]))
                    + "|"
                    + "".join(sorted([hashes[x] for x in succ[w]]))
                    + "|"
                    + hashes[w]
                ).encode()
            ).hexdigest()
            for w in rng
        ]
    return md5(str(sorted(hashes)).encode()).hexdigest()


# --------------------------------------------------------------------------- the space


class NB101Space(Space):
    """The NAS-Bench-101 cell space (``max_vertices`` / ``max_edges`` are 7 / 9 for the
    benchmark; smaller values make spaces small enough to enumerate in tests).

    Internally a cell is held in the *padded* form: an int whose bit ``k`` is the k-th
    upper-triangular pair of the ``max_vertices`` slots (row-major), plus an op code per
    slot. Pruning, repair and mutation are bit operations on that form.
    """

    name = "nb101"

    def __init__(self, max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES):
        n = max_vertices
        if n < 2:
            raise ValueError("max_vertices must be at least 2")
        self.n = n
        self.max_edges = max_edges
        self.pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        self.n_pairs = len(self.pairs)
        self.seq_len = self.n_pairs + n - 2
        self.vocab_size = VOCAB
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
        self._io = 1 | 1 << (n - 1)
        self._init_sampler()
        self._hash = lru_cache(maxsize=1 << 17)(self._hash_uncached)
        self._spec_tabs: dict[int, tuple[int, dict[int, int], dict[int, int]]] = {}
        self._adj_memo: dict[str, tuple] = {}
        self._ops_memo: dict[str, tuple] = {}

    # ---- padded form -------------------------------------------------------------------
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

    def _padded(self, arch: Arch) -> tuple[int, list[int]]:
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

    def _arch_of(self, kept: int, mask: int, codes: Sequence) -> Arch:
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

    # ---- Space interface ---------------------------------------------------------------
    def is_valid(self, arch: Arch) -> bool:
        try:
            matrix, ops = arch
            v = len(ops)
            if not 2 <= v <= self.n or len(matrix) != v:
                return False
            if ops[0] != INPUT or ops[-1] != OUTPUT or any(o not in OPS for o in ops[1:-1]):
                return False
            for a, row in enumerate(matrix):
                if len(row) != v or any(x not in (0, 1) for x in row):
                    return False
                if any(row[b] for b in range(a + 1)):
                    return False
            mask, _ = self._padded(arch)
        except (TypeError, ValueError, KeyError, IndexError):
            return False
        kept, pm = self._prune(mask)
        # Every vertex on an input->output path (nothing to prune), few enough edges.
        return kept == self._within_verts(v) and pm == mask and mask.bit_count() <= self.max_edges

    def _within_verts(self, v: int) -> int:
        return ((1 << (v - 1)) - 1) | (1 << (self.n - 1))

    def canonical_id(self, arch: Arch) -> str:
        try:
            return self._hash(arch)  # remembered: a search revisits cells
        except TypeError:  # an unhashable (list) form: compute without the memo
            return module_hash(arch[0], arch[1])

    def _hash_uncached(self, arch: Arch) -> str:
        return module_hash(arch[0], arch[1])

    def to_tokens(self, arch: Arch) -> np.ndarray:
        mask, codes = self._padded(arch)
        out = np.zeros(self.seq_len, dtype=np.int64)
        for k in range(self.n_pairs):
            if mask >> k & 1:
                out[k] = EDGE
        for s in range(1, self.n - 1):
            c = codes[s]
            out[self.n_pairs + s - 1] = ABSENT if c is None else OP_TOKEN0 + c
        return out

    def from_tokens(self, tokens: Sequence[int]) -> Arch:
        toks = [int(t) for t in tokens]
        if toks and all(t == -1 for t in toks):
            raise UnknownArchError(
                "This NAS-Bench-101 row is known only by its module hash (the source had "
                "no adjacency and operations for it), so it has no cell to show."
            )
        p = self.n_pairs
        # Too short: missing edges are absent, missing vertices too; too long: cut.
        toks = toks[: self.seq_len]
        toks += [NO_EDGE] * (p - len(toks))
        toks += [ABSENT] * (self.seq_len - len(toks))
        mask = 0
        scores = [-1.0] * p
        for k in range(p):
            if toks[k] == EDGE:
                mask |= 1 << k
                scores[k] = 1.0
        codes: list = [None] * self.n
        present = self._io
        for s in range(1, self.n - 1):
            t = toks[p + s - 1]
            if OP_TOKEN0 <= t < OP_TOKEN0 + len(OPS):
                codes[s] = t - OP_TOKEN0
                present |= 1 << s
        kept, pm = self._repair(mask, scores, present)
        return self._arch_of(kept, pm, codes)

    def decode(self, logits: np.ndarray) -> Arch:
        """The valid cell the ``(seq_len, vocab_size)`` logits point to.

        Adjacency positions choose between tokens 0/1, op positions among 2..5; an edge's
        log-odds ``logit[1] - logit[0]`` ranks which edges a repair adds or drops."""
        lg = np.asarray(logits, dtype=np.float64)
        p = self.n_pairs
        if lg.shape != (self.seq_len, self.vocab_size):
            raise ValueError(f"logits of shape {lg.shape}, expected {(self.seq_len, VOCAB)}")
        scores = (lg[:p, EDGE] - lg[:p, NO_EDGE]).tolist()
        op_part = lg[p:, OP_TOKEN0:]
        choice = op_part.argmax(axis=1).tolist()
        best_op = op_part[:, : len(OPS)].argmax(axis=1).tolist()
        mask = 0
        for k in range(p):
            if scores[k] > 0:
                mask |= 1 << k
        codes: list = [None] * self.n
        present = self._io
        for s in range(1, self.n - 1):
            if choice[s - 1] != ABSENT - OP_TOKEN0:
                codes[s] = best_op[s - 1]
                present |= 1 << s
        kept, pm = self._repair(mask, scores, present)
        return self._arch_of(kept, pm, codes)

    def to_native(self, arch: Arch) -> str:
        matrix, ops = arch
        return json.dumps({"matrix": [list(r) for r in matrix], "ops": list(ops)})

    def from_native(self, text: str) -> Arch:
        """Parse ``{"matrix": [[..]] or "0101..", "ops": [..] or "input,..,output"}``;
        the cell is pruned as the official API does."""
        expect = (
            'expected JSON {"matrix": V x V upper-triangular 0/1 rows, "ops": V names '
            f"from input, {', '.join(OPS)}, output}} with V <= {self.n}"
        )
        try:
            obj = json.loads(text)
            matrix, ops = obj["matrix"], obj["ops"]
            if isinstance(ops, str):
                ops = ops.split(",")
            ops = [str(o).strip() for o in ops]
            v = len(ops)
            if isinstance(matrix, str):
                if len(matrix) != v * v or set(matrix) - {"0", "1"}:
                    raise ValueError
                matrix = [[int(matrix[a * v + b]) for b in range(v)] for a in range(v)]
            matrix = [[int(x) for x in row] for row in matrix]
        except (ValueError, TypeError, KeyError, AttributeError):
            raise UnknownArchError(f"'{text}' is not a NAS-Bench-101 cell; {expect}.") from None
        return self._arch_from_spec(
            matrix,
            ops,
            lambda why: UnknownArchError(f"'{text}' is not a valid NAS-Bench-101 cell: {why}."),
        )

    def _arch_from_spec(
        self,
        matrix: Sequence[Sequence[int]],
        ops: Sequence[str],
        error: Callable[[str], Exception],
    ) -> Arch:
        """Validate an official (matrix, ops) spec, prune it, return the arch."""
        v = len(ops)
        if not 2 <= v <= self.n:
            raise error(f"it has {v} vertices, expected 2 to {self.n}")
        if len(matrix) != v or any(len(r) != v for r in matrix):
            raise error(f"the matrix is not {v} x {v} like the operation list")
        if ops[0] != INPUT or ops[-1] != OUTPUT:
            raise error("the operations must start with 'input' and end with 'output'")
        bad = [o for o in ops[1:-1] if o not in OPS]
        if bad:
            raise error(f"operation '{bad[0]}' is not one of {', '.join(OPS)}")
        for a in range(v):
            for b in range(v):
                x = matrix[a][b]
                if x not in (0, 1):
                    raise error(f"matrix entry [{a}][{b}] is {x}, expected 0 or 1")
                if x and b <= a:
                    raise error("the matrix is not strictly upper-triangular")
        slot = list(range(v - 1)) + [self.n - 1]
        mask = 0
        for a in range(v):
            for b in range(a + 1, v):
                if matrix[a][b]:
                    mask |= 1 << self._pair_index[slot[a]][slot[b]]
        codes: list = [None] * self.n
        for a in range(v):
            codes[slot[a]] = LABELS[ops[a]]
        kept, pm = self._prune(mask)
        if not kept:
            raise error("no path leads from the input to the output")
        if pm.bit_count() > self.max_edges:
            raise error(
                f"it has {pm.bit_count()} edges after pruning, at most {self.max_edges} allowed"
            )
        return self._arch_of(kept, pm, codes)

    def _spec_table(self, v: int) -> tuple[int, dict[int, int], dict[int, int]]:
        """For row-major V x V 0/1 text read as a binary number: the bits below the
        diagonal, and per upper bit its padded pair bit and its padded pair index."""
        tab = self._spec_tabs.get(v)
        if tab is None:
            lower, to_bit, to_k = 0, {}, {}
            slot = list(range(v - 1)) + [self.n - 1]
            for a in range(v):
                for b in range(v):
                    bit = 1 << (v * v - 1 - (a * v + b))  # first character = top bit
                    if b <= a:
                        lower |= bit
                    else:
                        k = self._pair_index[slot[a]][slot[b]]
                        to_bit[bit], to_k[bit] = 1 << k, k
            tab = self._spec_tabs[v] = (lower, to_bit, to_k)
        return tab

    def spec_tokens(self, adjacency: str, ops: str) -> bytes | None:
        """Tokens (as int8 bytes) of an official spec in text form (row-major 0/1
        adjacency, comma-separated ops) that is already a full valid cell; ``None`` for
        anything else (then use :meth:`from_spec`, which prunes or says what is wrong).

        Fast for a whole file: the few thousand distinct matrices and few hundred op
        lists are each worked out once and remembered."""
        edges = self._adj_memo.get(adjacency)
        if edges is None:
            edges = self._edge_tokens(adjacency)
            if len(self._adj_memo) < 1 << 16:  # bounded, whatever a file holds
                self._adj_memo[adjacency] = edges
        opt = self._ops_memo.get(ops)
        if opt is None:
            opt = self._op_tokens(ops)
            if len(self._ops_memo) < 1 << 12:
                self._ops_memo[ops] = opt
        if not edges or not opt or edges[0] != opt[0]:
            return None
        return edges[1] + opt[1]

    def _edge_tokens(self, adjacency: str) -> tuple[int, bytes] | tuple[()]:
        """``(V, adjacency tokens)`` of a full valid matrix text, else ``()``."""
        v = math.isqrt(len(adjacency))
        if not 2 <= v <= self.n or len(adjacency) != v * v or adjacency.strip("01"):
            return ()
        lower, to_bit, to_k = self._spec_table(v)
        x = int(adjacency, 2)
        if x & lower:
            return ()
        tok = bytearray(self.n_pairs)
        mask = 0
        while x:
            low = x & -x
            mask |= to_bit[low]
            tok[to_k[low]] = EDGE
            x ^= low
        kept, pm = self._prune(mask)
        if kept != self._within_verts(v) or pm != mask or mask.bit_count() > self.max_edges:
            return ()
        return v, bytes(tok)

    def _op_tokens(self, ops: str) -> tuple[int, bytes] | tuple[()]:
        """``(V, op tokens)`` of a valid comma-separated op list, else ``()``."""
        names = ops.split(",")
        v = len(names)
        if not 2 <= v <= self.n or names[0] != INPUT or names[-1] != OUTPUT:
            return ()
        tok = bytearray([ABSENT] * (self.n - 2))
        for s in range(1, v - 1):
            code = _OP_CODE.get(names[s])
            if code is None:
                return ()
            tok[s - 1] = OP_TOKEN0 + code
        return v, bytes(tok)

    def from_spec(self, matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> Arch:
        """The pruned arch of an official (matrix, ops) spec; ``UnknownArchError`` if
        it breaks the cell rules."""
        return self._arch_from_spec(
            matrix,
            list(ops),
            lambda why: UnknownArchError(f"Not a valid NAS-Bench-101 cell: {why}."),
        )

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A different valid cell one token change away (two or more when no single
        change gives a new valid cell, e.g. adding a vertex needs two edges).

        Absent slots get a random op first, so connecting one adds a vertex."""
        mask0, codes0 = self._padded(arch)
        me = self.canonical_id(arch)
        p = self.n_pairs
        for attempt in range(10_000):
            mask = mask0
            codes = list(codes0)
            for s in range(1, self.n - 1):
                if codes[s] is None:
                    codes[s] = int(rng.integers(len(OPS)))
            for _ in range(1 + attempt // 16):
                pos = int(rng.integers(self.seq_len))
                if pos < p:
                    mask ^= 1 << pos
                else:
                    s = pos - p + 1
                    codes[s] = (codes[s] + 1 + int(rng.integers(len(OPS) - 1))) % len(OPS)
            kept, pm = self._prune(mask)
            if not kept or pm.bit_count() > self.max_edges:
                continue
            cand = self._arch_of(kept, pm, codes)
            if cand != arch and self.canonical_id(cand) != me:
                return cand
        raise RuntimeError("no mutation found")  # unreachable for n >= 3: every cell has one

    # ---- uniform sampling ----------------------------------------------------------------
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

    def sample(self, rng: np.random.Generator) -> Arch:
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

    def _n_orders(self, arch: Arch) -> tuple[int, int]:
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
    def enumerate_cells(self) -> Iterator[Arch]:
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

    def token_relations(self) -> np.ndarray:
        """Pairs of token positions that share a vertex slot of the padded cell."""
        slots_of = [set(pair) for pair in self.pairs] + [{s} for s in range(1, self.n - 1)]
        rel = np.zeros((self.seq_len, self.seq_len), dtype=bool)
        for i in range(self.seq_len):
            for j in range(self.seq_len):
                rel[i, j] = bool(slots_of[i] & slots_of[j])
        return rel


SPACE = NB101Space()


# --------------------------------------------------------------------------- protobuf


class _ProtoError(Exception):
    """A malformed protobuf; the importer adds the record's byte offset."""


_DOUBLE = struct.Struct("<d")


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if i >= len(buf):
            raise _ProtoError("a varint runs past the end of the message")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
        if shift >= 70:
            raise _ProtoError("a varint is longer than 10 bytes")


def _skip(buf: bytes, i: int, wire: int, end: int) -> int:
    if wire == 0:
        return _varint(buf, i)[1]
    if wire == 1:
        j = i + 8
    elif wire == 5:
        j = i + 4
    elif wire == 2:
        ln, i = _varint(buf, i)
        j = i + ln
    else:
        raise _ProtoError(f"wire type {wire} is not used by ModelMetrics")
    if j > end:
        raise _ProtoError("a field runs past the end of the message")
    return j


def decode_model_metrics(buf: bytes) -> tuple[int, list[dict[int, float]]]:
    """``(trainable_parameters, evaluation_data)`` of a serialized ``ModelMetrics``.

    Each evaluation is ``{field number: value}`` for the doubles 1 current_epoch,
    2 training_time, 3 train_accuracy, 4 validation_accuracy, 5 test_accuracy.
    Raises ``_ProtoError`` on anything malformed.
    """
    params = None
    evals: list[dict[int, float]] = []
    end = len(buf)
    i = 0
    while i < end:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if field == 1:
            if wire != 2:
                raise _ProtoError("field 1 (evaluation_data) is not length-delimited")
            ln, i = _varint(buf, i)
            j = i + ln
            if j > end:
                raise _ProtoError("an evaluation_data entry runs past the end")
            evals.append(_decode_evaluation(buf, i, j))
            i = j
        elif field == 2:
            if wire != 0:
                raise _ProtoError("field 2 (trainable_parameters) is not a varint")
            params, i = _varint(buf, i)
        else:
            i = _skip(buf, i, wire, end)
    if params is None:
        raise _ProtoError("trainable_parameters (field 2) is missing")
    if not evals:
        raise _ProtoError("evaluation_data (field 1) is missing")
    return params, evals


_EVAL_PREFIX = struct.Struct("<BdBdBdBdBd")  # fields 1..5 as doubles, in order
_EVAL_TAGS = (0x09, 0x11, 0x19, 0x21, 0x29)


def final_metrics(buf: bytes) -> tuple[int, float, float, float]:
    """``(trainable_parameters, validation, test accuracy, training time)`` of the final
    (last) evaluation of a serialized ``ModelMetrics``; the earlier evaluations are only
    skipped over. Raises ``_ProtoError`` on anything malformed or missing."""
    params = None
    last = None
    end = len(buf)
    i = 0
    try:
        while i < end:
            key = buf[i]
            if key < 0x80:
                i += 1
            else:
                key, i = _varint(buf, i)
            field, wire = key >> 3, key & 7
            if field == 1:
                if wire != 2:
                    raise _ProtoError("field 1 (evaluation_data) is not length-delimited")
                ln = buf[i]
                if ln < 0x80:
                    i += 1
                else:
                    ln, i = _varint(buf, i)
                j = i + ln
                if j > end:
                    raise _ProtoError("an evaluation_data entry runs past the end")
                last = (i, j)
                i = j
            elif field == 2:
                if wire != 0:
                    raise _ProtoError("field 2 (trainable_parameters) is not a varint")
                params, i = _varint(buf, i)
            else:
                i = _skip(buf, i, wire, end)
    except IndexError:
        raise _ProtoError("a field runs past the end of the message") from None
    if params is None:
        raise _ProtoError("trainable_parameters (field 2) is missing")
    if last is None:
        raise _ProtoError("evaluation_data (field 1) is missing")
    s, e = last
    if e - s >= 45 and (buf[s], buf[s + 9], buf[s + 18], buf[s + 27], buf[s + 36]) == _EVAL_TAGS:
        # The official layout: five doubles in field order, then the checkpoint path.
        _, _, _, ttime, _, _, _, valid, _, test = _EVAL_PREFIX.unpack_from(buf, s)
        if e > s + 45 and not (e >= s + 47 and buf[s + 45] == 0x32 and s + 47 + buf[s + 46] == e):
            # Something besides a short checkpoint_path follows: decode it (a repeated
            # field's later value wins, as in protobuf).
            rest = _decode_evaluation(buf, s + 45, e)
            valid, test, ttime = rest.get(4, valid), rest.get(5, test), rest.get(2, ttime)
        return params, valid, test, ttime
    ev = _decode_evaluation(buf, s, e)
    missing = [f for f in (2, 4, 5) if f not in ev]
    if missing:
        raise _ProtoError(
            f"the final evaluation lacks field {missing[0]} (2 training_time, "
            "4 validation_accuracy, 5 test_accuracy)"
        )
    return params, ev[4], ev[5], ev[2]


def _decode_evaluation(buf: bytes, i: int, end: int) -> dict[int, float]:
    out: dict[int, float] = {}
    unpack = _DOUBLE.unpack_from
    while i < end:
        key = buf[i]
        if key < 0x80:
            i += 1
        else:
            key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if 1 <= field <= 5:
            if wire != 1:
                raise _ProtoError(f"EvaluationData field {field} is not a double")
            if i + 8 > end:
                raise _ProtoError("an EvaluationData double runs past the end")
            out[field] = unpack(buf, i)[0]
            i += 8
        else:
            i = _skip(buf, i, wire, end)
    return out


def encode_model_metrics(
    evaluations: Sequence[dict[str, float]],
    params: int,
    total_time: float,
    checkpoint_path: str = "",
) -> bytes:
    """Serialize a ``ModelMetrics`` as the official files hold it (for tests and the
    conversion benchmark). ``evaluations`` items have keys current_epoch,
    training_time, train_accuracy, validation_accuracy, test_accuracy."""

    def varint(x: int) -> bytes:
        out = bytearray()
        while True:
            b = x & 0x7F
            x >>= 7
            if x:
                out.append(b | 0x80)
            else:
                out.append(b)
                return bytes(out)

    names = (
        "current_epoch",
        "training_time",
        "train_accuracy",
        "validation_accuracy",
        "test_accuracy",
    )
    blob = bytearray()
    for ev in evaluations:
        sub = bytearray()
        for f, name in enumerate(names, start=1):
            sub += bytes([f << 3 | 1]) + _DOUBLE.pack(float(ev[name]))
        path = checkpoint_path.encode()
        sub += bytes([6 << 3 | 2]) + varint(len(path)) + path
        blob += bytes([1 << 3 | 2]) + varint(len(sub)) + sub
    blob += bytes([2 << 3 | 0]) + varint(int(params))
    blob += bytes([3 << 3 | 1]) + _DOUBLE.pack(float(total_time))
    return bytes(blob)


def encode_record(
    module_hash_: str,
    epochs: int,
    matrix: Sequence[Sequence[int]],
    ops: Sequence[str],
    metrics: bytes,
) -> bytes:
    """The JSON data of one official record (base64 with newlines, as the originals)."""
    adjacency = "".join(str(int(x)) for row in matrix for x in row)
    raw = base64.encodebytes(metrics).decode("ascii")
    return json.dumps([module_hash_, epochs, adjacency, ",".join(ops), raw]).encode("utf-8")


# --------------------------------------------------------------------------- the table


def datasets_for(
    metrics: dict[str, np.ndarray], meta: dict | None = None
) -> dict[str, DatasetSpec]:
    """cifar10: search on the 108-epoch validation accuracy, report the 108-epoch test
    accuracy (both means over the repeats); without test accuracy (the shared subset)
    the validation accuracy is reported too, and the note says so."""

    def complete(name: str) -> bool:
        return name in metrics and not np.isnan(metrics[name]).all()

    if not complete("valid@108"):
        return {}
    single = (meta or {}).get("repeats") == 1
    if complete("test@108"):
        note = "one training repeat per cell, not the 3-run mean" if single else ""
        return {"cifar10": DatasetSpec("cifar10", "valid@108", "test@108", note)}
    note = (
        "this table has no test accuracy, so the reported metric is the 108-epoch "
        "validation accuracy"
        + (" of a single training repeat (not the 3-run mean)" if single else "")
    )
    return {"cifar10": DatasetSpec("cifar10", "valid@108", "valid@108", note)}


def save_cache(
    hashes: Sequence[str],
    tokens: np.ndarray,
    metrics: dict[str, np.ndarray],
    meta: dict,
) -> Path:
    """Validate and write the nb101 cache, rows sorted by module hash."""
    n = len(hashes)
    src = meta.get("source", "The file")
    if n == 0:
        raise DataError(f"{src} holds no NAS-Bench-101 cells.")
    ids = np.asarray(hashes)
    order = np.argsort(ids, kind="stable")
    cols = {k: np.asarray(v, dtype=np.float64)[order] for k, v in metrics.items()}
    if not datasets_for(cols, meta):
        raise DataError(f"{src} has no 108-epoch validation accuracy; expected it for every cell.")
    return cache.save("nb101", np.asarray(tokens, dtype=np.int8)[order], cols, meta, ids=ids[order])


def load_table() -> Table | None:
    """The cached nb101 table, or ``None`` when nothing was imported yet."""
    got = cache.load("nb101")
    if got is None:
        return None
    tokens, metrics, meta = got
    metrics, ids = cache.split_ids(metrics)
    return Table("nb101", SPACE, tokens, metrics, datasets_for(metrics, meta), meta, ids=ids)


# --------------------------------------------------------------------------- TFRecord


class _Accumulator:
    """Per-cell running sums over the repeats, by epoch budget: flat arrays of doubles
    (8 bytes a value), so memory grows with the cells, never with the file."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.hashes: list[str] = []
        self.tokens = bytearray()  # int8 tokens, row after row
        self.params = array("d")
        # per epoch slot, once seen: sums of valid, test, train time; repeats counted
        self.slots: list[tuple[array, array, array, array] | None] = [None] * len(EPOCHS)

    def open_slot(self, slot: int) -> tuple[array, array, array, array]:
        zeros = bytes(8 * len(self.hashes))
        self.slots[slot] = tuple(array("d", zeros) for _ in range(4))
        return self.slots[slot]

    def new_row(self, h: str, tokens: bytes, params: int) -> int:
        row = len(self.hashes)
        self.index[h] = row
        self.hashes.append(h)
        self.tokens += tokens
        self.params.append(float(params))
        for sl in self.slots:
            if sl is not None:
                for arr in sl:
                    arr.append(0.0)
        return row


_EPOCH_SLOT = {e: s for s, e in enumerate(EPOCHS)}
_VERIFY_FIRST = 64
_VERIFY_EVERY = 1000


def import_tfrecord(path: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Convert an official ``nasbench_*.tfrecord`` into the nb101 cache, streaming.

    Each record is JSON ``[module_hash, epochs, adjacency, operations, base64 metrics]``;
    the final evaluation (the last ``evaluation_data`` entry) gives the validation and
    test accuracy and the training time, averaged over the repeats of each epoch budget.
    The stored hash is trusted, except that a sample of cells is re-hashed from its
    spec to catch a file that is not what it claims. ``progress(bytes_done, total)``
    is called once per chunk read.
    """
    path = Path(path)
    name = path.name
    total = path.stat().st_size
    sha = hashlib.sha256()
    done = 0

    def on_chunk(block: bytes) -> None:
        nonlocal done
        sha.update(block)
        done += len(block)
        if progress is not None:
            progress(done, total)

    acc = _Accumulator()
    index = acc.index
    loads = json.loads
    b64 = base64.b64decode
    final = final_metrics
    n_records = 0
    slots = acc.slots
    for offset, data in tfrecord.read_file(path, on_chunk=on_chunk):
        try:
            rec = loads(data.decode())  # str: skips json's encoding detection
        except (ValueError, UnicodeDecodeError):
            raise _err(
                name,
                offset,
                "is not valid JSON; expected "
                "[module_hash, epochs, adjacency, operations, metrics].",
            ) from None
        if type(rec) is not list or len(rec) != 5:
            raise _err(
                name,
                offset,
                "is not a 5-item JSON list; expected "
                "[module_hash, epochs, adjacency, operations, metrics].",
            )
        h, epochs, adj, ops, raw = rec
        slot = _EPOCH_SLOT.get(epochs) if type(epochs) is int else None
        if slot is None:
            raise _err(name, offset, f"has epochs {epochs!r}; expected one of 4, 12, 36, 108.")
        if type(raw) is not str:
            raise _err(name, offset, "has no base64 metrics text as its 5th item.")
        try:
            blob = b64(raw.replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            raise _err(name, offset, "has metrics that are not valid base64.") from None
        try:
            params, valid, test, ttime = final(blob)
        except _ProtoError as exc:
            raise _err(name, offset, f"has a malformed ModelMetrics protobuf ({exc}).") from None
        row = index.get(h) if type(h) is str else None
        if row is None:
            row = _new_cell(acc, h, adj, ops, params, _at(name, offset))
        sl = slots[slot] or acc.open_slot(slot)
        sl[0][row] += valid
        sl[1][row] += test
        sl[2][row] += ttime
        sl[3][row] += 1.0
        n_records += 1
    if n_records == 0:
        raise DataError(f"{name} holds no records; expected an NAS-Bench-101 TFRecord file.")
    n = len(acc.hashes)
    metrics: dict[str, np.ndarray] = {"params": np.frombuffer(acc.params, dtype=np.float64)}
    budgets = [e for e, sl in zip(EPOCHS, slots, strict=True) if sl is not None]
    for e in budgets:
        sv, st, stt, sc = (np.frombuffer(a, dtype=np.float64) for a in slots[_EPOCH_SLOT[e]])
        with np.errstate(invalid="ignore", divide="ignore"):
            # Accuracies in percent, as every table here; NaN where a cell lacks a budget.
            metrics[f"valid@{e}"] = 100.0 * sv / sc
            metrics[f"test@{e}"] = 100.0 * st / sc
            metrics[f"train-time@{e}"] = stt / sc
    # The usual number of repeats (3 in the official files), from the longest budget.
    counts = np.frombuffer(slots[_EPOCH_SLOT[budgets[-1]]][3], dtype=np.float64)
    repeats = int(np.bincount(counts.astype(np.int64)).argmax())
    meta = {
        "source": name,
        "source_path": str(path.resolve()),
        "source_sha256": sha.hexdigest(),
        "format": "tfrecord",
        "records": n_records,
        "epochs": budgets,
        "repeats": repeats,
    }
    tokens = np.frombuffer(acc.tokens, dtype=np.int8).reshape(n, SPACE.seq_len)
    return save_cache(acc.hashes, tokens, metrics, meta)


def _at(name: str, offset: int) -> str:
    return f"{name}: the record at byte offset {offset}"


def _err(name: str, offset: int, what: str) -> DataError:
    return DataError(f"{_at(name, offset)} {what}")


def _new_cell(acc: _Accumulator, h, adj, ops, params: int, where: str) -> int:
    """Register the cell of a record whose hash is new: check and tokenize its spec."""
    if type(h) is not str or not _HASH_RE.fullmatch(h):
        raise DataError(f"{where} has module hash {h!r}; expected 32 lowercase hex digits.")
    if type(adj) is not str or type(ops) is not str:
        raise DataError(f"{where} has no adjacency/operations text as items 3 and 4.")
    op_list = ops.split(",")
    row = len(acc.hashes)
    verify = row < _VERIFY_FIRST or row % _VERIFY_EVERY == 0
    tokens = None if verify else SPACE.spec_tokens(adj, ops)
    if tokens is None:  # a sampled row, or a spec that needs pruning or an error message
        v = len(op_list)
        if len(adj) != v * v or set(adj) - {"0", "1"}:
            raise DataError(
                f"{where} has adjacency '{adj[:60]}'; expected {v * v} characters 0/1 "
                f"({v} operations)."
            )
        matrix = [[1 if adj[a * v + b] == "1" else 0 for b in range(v)] for a in range(v)]
        arch = SPACE._arch_from_spec(
            matrix, op_list, lambda why: DataError(f"{where} has an invalid cell: {why}.")
        )
        if verify:
            mine = module_hash(*arch)
            if mine != h:
                raise DataError(
                    f"{where} has module hash {h} but its cell hashes to {mine}; expected "
                    "them equal (not an NAS-Bench-101 file, or a corrupt one)."
                )
        tokens = SPACE.to_tokens(arch).astype(np.int8).tobytes()
    return acc.new_row(h, tokens, params)


# --------------------------------------------------------------------------- CSV

# Column names of the shared subset's layout (fractions) -> metric names (percent).
CSV_ALIASES = {
    **{f"val_acc_{e}": f"valid@{e}" for e in EPOCHS},
    **{f"test_acc_{e}": f"test@{e}" for e in EPOCHS},
    "train_time_108_s": "train-time@108",
    "trainable_parameters": "params",
}
_FRACTION_COLUMNS = {f"val_acc_{e}" for e in EPOCHS} | {f"test_acc_{e}" for e in EPOCHS}
METRICS = tuple([f"{k}@{e}" for e in EPOCHS for k in ("valid", "test", "train-time")] + ["params"])


def import_csv(path: Path) -> Path:
    """Convert a CSV table (plain or gzip) into the nb101 cache.

    Each row needs ``module_hash`` or a spec (``adjacency_rowmajor``/``adjacency`` as a
    row-major 0/1 string plus ``operations``/``ops`` comma-separated), or both (then
    they must agree). Metric columns are named as in :data:`METRICS` (accuracies in
    percent) or as in the shared subset (:data:`CSV_ALIASES`, accuracies as fractions).
    A row with a hash only has tokens -1: it can be looked up, not decoded.
    """
    path = Path(path)
    name = path.name
    try:
        with cache.open_text(path) as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise DataError(f"{name} is empty; expected a CSV header with 'module_hash'.")
            header = [h.strip() for h in header]
            col = {h: j for j, h in enumerate(header)}
            h_col = col.get("module_hash")
            a_col = col.get("adjacency_rowmajor", col.get("adjacency"))
            o_col = col.get("operations", col.get("ops"))
            if h_col is None and (a_col is None or o_col is None):
                raise DataError(
                    f"{name} has neither a 'module_hash' column nor 'adjacency_rowmajor' "
                    "and 'operations' columns; expected one of them."
                )
            m_cols: dict[int, tuple[str, float]] = {}
            for j, h in enumerate(header):
                if h in CSV_ALIASES:
                    m_cols[j] = (CSV_ALIASES[h], 100.0 if h in _FRACTION_COLUMNS else 1.0)
                elif h in METRICS:
                    m_cols[j] = (h, 1.0)
            hashes: list[str] = []
            tokens: list[np.ndarray] = []
            values: dict[str, list[float]] = {c: [] for c, _ in m_cols.values()}
            seen: dict[str, int] = {}
            unknown = np.full(SPACE.seq_len, -1, dtype=np.int8)
            for r, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{name} line {r} has {len(row)} fields, expected {len(header)}."
                    )
                h = row[h_col].strip() if h_col is not None else ""
                adj = row[a_col].strip() if a_col is not None else ""
                ops = row[o_col].strip() if o_col is not None else ""
                if h and not _HASH_RE.fullmatch(h):
                    raise DataError(
                        f"{name} line {r} has module_hash '{h}'; expected 32 lowercase hex digits."
                    )
                if adj or ops:
                    arch = _csv_arch(name, r, adj, ops)
                    mine = module_hash(*arch)
                    if h and mine != h:
                        raise DataError(
                            f"{name} line {r} has module_hash {h} but its cell hashes to "
                            f"{mine}; expected them equal."
                        )
                    h = mine
                    tokens.append(SPACE.to_tokens(arch).astype(np.int8))
                elif h:
                    tokens.append(unknown)
                else:
                    raise DataError(f"{name} line {r} has neither a module_hash nor a cell.")
                if h in seen:
                    raise DataError(f"{name} repeats cell {h} (lines {seen[h]} and {r}).")
                seen[h] = r
                hashes.append(h)
                for j, (canon, scale) in m_cols.items():
                    cell = row[j].strip()
                    try:
                        values[canon].append(scale * float(cell) if cell else float("nan"))
                    except ValueError:
                        raise DataError(
                            f"{name} line {r} column '{header[j]}' is '{cell}', expected a number."
                        ) from None
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{name} could not be read as a CSV table ({exc}).") from None
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    for k, v in cols.items():
        if k.startswith(("valid@", "test@")) and ((v < 0) | (v > 100)).any():
            raise DataError(
                f"{name} column for '{k}' has values outside 0..100 % (fractions expected "
                "in the val_acc_*/test_acc_* columns, percent in the valid@/test@ ones)."
            )
    single = "source_file" in col  # the shared subset: one repeat per cell (PROVENANCE.md)
    meta = {
        "source": name,
        "source_path": str(path.resolve()),
        "source_sha256": cache.sha256_of(path),
        "format": "csv",
        "with_spec": int(sum(1 for t in tokens if t[0] != -1)),
    }
    if single:
        meta["repeats"] = 1
    tok = np.stack(tokens) if tokens else np.zeros((0, SPACE.seq_len), np.int8)
    return save_cache(hashes, tok, cols, meta)


def _csv_arch(name: str, r: int, adj: str, ops: str) -> Arch:
    op_list = [o.strip() for o in ops.split(",")]
    v = len(op_list)
    if len(adj) != v * v or set(adj) - {"0", "1"}:
        raise DataError(
            f"{name} line {r} has adjacency '{adj}'; expected {v * v} characters 0/1 "
            f"(row-major, {v} operations)."
        )
    matrix = [[int(adj[a * v + b]) for b in range(v)] for a in range(v)]
    return SPACE._arch_from_spec(
        matrix, op_list, lambda why: DataError(f"{name} line {r} has an invalid cell: {why}.")
    )


# --------------------------------------------------------------------------- entry point


def import_file(path: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Convert an NB101 source into the cache, detecting its format: a CSV table
    (``.csv``/``.csv.gz``, or gzip content) or an official TFRecord file."""
    path = Path(path)
    lower = path.name.lower()
    if path.is_dir():
        raise DataError(f"{path.name} is a folder; expected a .tfrecord file or a CSV table.")
    if lower.endswith((".csv", ".csv.gz")):
        return import_csv(path)
    if lower.endswith(".tfrecord") or tfrecord.looks_like_tfrecord(path):
        return import_tfrecord(path, progress=progress)
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    if gz:
        return import_csv(path)
    raise DataError(
        f"{path.name} is not a known NAS-Bench-101 format; expected an official .tfrecord "
        "file (nasbench_only108 or nasbench_full) or a .csv/.csv.gz table."
    )
