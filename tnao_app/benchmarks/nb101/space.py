"""The NAS-Bench-101 search space: validity, ids, tokens, native text and mutation."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from ...errors import UnknownArchError
from ..base import Space
from .hashing import INPUT, LABELS, OPS, OUTPUT, module_hash
from .padded import MAX_EDGES, MAX_VERTICES, Cell
from .sampling import CellSampler

N_CELLS = 423_624

# Token values.
NO_EDGE, EDGE = 0, 1
OP_TOKEN0 = 2  # tokens 2, 3, 4 are OPS[0..2]
ABSENT = 5
VOCAB = 6

_OP_CODE = {o: i for i, o in enumerate(OPS)}


class NB101Space(CellSampler, Space[Cell]):
    """The NAS-Bench-101 cell space (``max_vertices`` / ``max_edges`` are 7 / 9 for the
    benchmark; smaller values make spaces small enough to enumerate in tests).

    Internally a cell is held in the *padded* form: an int whose bit ``k`` is the k-th
    upper-triangular pair of the ``max_vertices`` slots (row-major), plus an op code per
    slot. Pruning, repair and mutation are bit operations on that form.
    """

    name = "nb101"
    cells = N_CELLS

    def __init__(self, max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES):
        super().__init__(max_vertices, max_edges)
        self.seq_len = self.n_pairs + self.n - 2
        self.vocab_size = VOCAB
        self._hash = lru_cache(maxsize=1 << 17)(self._hash_uncached)
        self._spec_tabs: dict[int, tuple[int, dict[int, int], dict[int, int]]] = {}
        self._adj_memo: dict[str, tuple] = {}
        self._ops_memo: dict[str, tuple] = {}

    def is_valid(self, arch: Cell) -> bool:
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

    def canonical_id(self, arch: Cell) -> str:
        try:
            return self._hash(arch)  # remembered: a search revisits cells
        except TypeError:  # an unhashable (list) form: compute without the memo
            return module_hash(arch[0], arch[1])

    def _hash_uncached(self, arch: Cell) -> str:
        return module_hash(arch[0], arch[1])

    def to_tokens(self, arch: Cell) -> np.ndarray:
        mask, codes = self._padded(arch)
        out = np.zeros(self.seq_len, dtype=np.int64)
        for k in range(self.n_pairs):
            if mask >> k & 1:
                out[k] = EDGE
        for s in range(1, self.n - 1):
            c = codes[s]
            out[self.n_pairs + s - 1] = ABSENT if c is None else OP_TOKEN0 + c
        return out

    def from_tokens(self, tokens: Sequence[int]) -> Cell:
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

    def decode(self, logits: np.ndarray) -> Cell:
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

    def to_native(self, arch: Cell) -> str:
        matrix, ops = arch
        return json.dumps({"matrix": [list(r) for r in matrix], "ops": list(ops)})

    def from_native(self, text: str) -> Cell:
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
    ) -> Cell:
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

    def from_spec(self, matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> Cell:
        """The pruned arch of an official (matrix, ops) spec; ``UnknownArchError`` if
        it breaks the cell rules."""
        return self._arch_from_spec(
            matrix,
            list(ops),
            lambda why: UnknownArchError(f"Not a valid NAS-Bench-101 cell: {why}."),
        )

    def mutate(self, arch: Cell, rng: np.random.Generator) -> Cell:
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

    def token_relations(self) -> np.ndarray:
        """Pairs of token positions that share a vertex slot of the padded cell."""
        slots_of = [set(pair) for pair in self.pairs] + [{s} for s in range(1, self.n - 1)]
        rel = np.zeros((self.seq_len, self.seq_len), dtype=bool)
        for i in range(self.seq_len):
            for j in range(self.seq_len):
                rel[i, j] = bool(slots_of[i] & slots_of[j])
        return rel


SPACE = NB101Space()
