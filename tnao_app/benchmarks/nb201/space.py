"""The NAS-Bench-201 search space.

A cell has 4 nodes and 6 edges, each edge one of 5 operations; all 5**6 = 15,625 cells
are distinct architectures of the benchmark. An ``Arch`` is a 6-tuple of op codes in the
order of the official string: node1<-0, node2<-0, node2<-1, node3<-0, node3<-1,
node3<-2. Codes follow the official op list: 0 none, 1 skip_connect, 2 nor_conv_1x1,
3 nor_conv_3x3, 4 avg_pool_3x3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...errors import UnknownArchError
from ..base import Space

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from), string order
N_ARCHS = len(OPS) ** len(EDGES)

Cell = tuple[int, ...]  # an op code per edge, in EDGES order
# "op~src" of each op on each edge: a cell's string is six lookups (a search names
# every cell it decodes, and a table's index names all 15,625)
_EDGE_OP = tuple(tuple(f"{op}~{src}" for op in OPS) for _, src in EDGES)


class NB201Space(Space[Cell]):
    name = "nb201"
    seq_len = len(EDGES)
    vocab_size = len(OPS)
    cells = len(OPS) ** len(EDGES)

    def sample(self, rng: np.random.Generator) -> Cell:
        return tuple(int(x) for x in rng.integers(0, len(OPS), size=len(EDGES)))

    def is_valid(self, arch: Cell) -> bool:
        return (
            isinstance(arch, tuple)
            and len(arch) == len(EDGES)
            and all(isinstance(o, (int, np.integer)) and 0 <= o < len(OPS) for o in arch)
        )

    def canonical_id(self, arch: Cell) -> str:
        return self.to_native(arch)

    def code(self, arch: Cell) -> int:
        """Base-5 number of the op tuple: a dense id in 0..15624 (not the official index)."""
        c = 0
        for o in arch:
            c = c * len(OPS) + int(o)
        return c

    def to_tokens(self, arch: Cell) -> np.ndarray:
        return np.asarray(arch, dtype=np.int64)

    def from_tokens(self, tokens: Sequence[int]) -> Cell:
        # Every 6-tuple of codes is a valid cell, so repair only clips out-of-range codes.
        toks = [int(t) for t in tokens][: len(EDGES)]
        if len(toks) == len(EDGES) and min(toks) >= 0 and max(toks) < len(OPS):
            return tuple(toks)  # the usual case (every decode, every table row): no repair
        toks += [0] * (len(EDGES) - len(toks))
        return tuple(min(max(t, 0), len(OPS) - 1) for t in toks)

    def to_native(self, arch: Cell) -> str:
        e = _EDGE_OP
        a, b, c, d = e[0][arch[0]], e[1][arch[1]], e[2][arch[2]], e[3][arch[3]]
        return f"|{a}|+|{b}|{c}|+|{d}|{e[4][arch[4]]}|{e[5][arch[5]]}|"

    def from_native(self, text: str) -> Cell:
        s = text.strip()
        nodes = s.split("+")
        ops: list[int] = []
        ok = len(nodes) == 3
        for node, chunk in enumerate(nodes, start=1):
            if not ok:
                break
            if not (chunk.startswith("|") and chunk.endswith("|")):
                ok = False
                break
            parts = chunk[1:-1].split("|")
            if len(parts) != node:
                ok = False
                break
            for src, part in enumerate(parts):
                op, _, idx = part.partition("~")
                if op not in OPS or idx != str(src):
                    ok = False
                    break
                ops.append(OPS.index(op))
        if not ok or len(ops) != len(EDGES):
            raise UnknownArchError(
                f"'{text}' is not a NAS-Bench-201 architecture string; expected "
                f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with op one of {', '.join(OPS)}."
            )
        return tuple(ops)

    def mutate(self, arch: Cell, rng: np.random.Generator) -> Cell:
        out = list(arch)
        e = int(rng.integers(len(EDGES)))
        out[e] = (out[e] + 1 + int(rng.integers(len(OPS) - 1))) % len(OPS)
        return tuple(out)

    def enumerate(self) -> list[Cell]:
        """All 15,625 cells in base-5 order."""
        return [tuple(row) for row in self.enumerate_tokens().tolist()]

    def enumerate_tokens(self) -> np.ndarray:
        """The tokens of ``enumerate()``'s cells, (15,625, 6), built at once."""
        return np.indices((len(OPS),) * len(EDGES)).reshape(len(EDGES), -1).T.astype(np.int64)

    def token_relations(self) -> np.ndarray:
        rel = np.zeros((len(EDGES), len(EDGES)), dtype=bool)
        for i, a in enumerate(EDGES):
            for j, b in enumerate(EDGES):
                rel[i, j] = bool(set(a) & set(b))
        return rel


SPACE = NB201Space()
