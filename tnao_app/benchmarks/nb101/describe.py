"""A compact, one-line, readable form of a NAS-Bench-101 cell, and its parser.

The form is ``OPS | EDGES``:

* ``OPS``: the interior vertices in order, ``1:c3 2:mp 3:c1 ...``, numbered as in the
  matrix (vertex 0 is the input, vertex V-1 the output); ``c3`` = conv3x3-bn-relu,
  ``c1`` = conv1x1-bn-relu, ``mp`` = maxpool3x3. A cell with no interior vertex writes
  ``-``.
* ``EDGES``: the edges grouped by their source, in matrix order: ``SRC>DST,DST,...``,
  where ``in`` is vertex 0 and ``out`` is vertex V-1. ``in>1,4 2>3,out`` are the edges
  0->1, 0->4, 2->3 and 2->(V-1).

Example, a 7-vertex cell with 9 edges (61 characters)::

    1:c3 2:mp 3:c3 4:c3 5:c1 | in>1,4,5 1>2 2>3,out 3>4 4>5 5>out

The number of ops fixes V (= ops + 2), so the text names the cell exactly: the same
matrix and ops come back from :func:`parse_described`. A 7-vertex cell with 9 edges is
at most 69 characters. Isomorphic cells can read differently (the vertex order is the
matrix's); the module hash is what says two cells are one.
"""

from __future__ import annotations

from collections.abc import Sequence

from .hashing import INPUT, OPS, OUTPUT

#: short names of the interior ops, in ``OPS`` order
OP_SHORT = {OPS[0]: "c3", OPS[1]: "c1", OPS[2]: "mp"}
_OP_LONG = {v: k for k, v in OP_SHORT.items()}

#: one line that explains the form (for a legend under a table)
LEGEND = (
    "ops: c3 conv3x3-bn-relu, c1 conv1x1-bn-relu, mp maxpool3x3; "
    "edges: a>b,c = a->b and a->c (in = input, out = output)"
)


def describe_cell(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> str:
    """The compact form of the cell ``(matrix, ops)`` (see the module docstring)."""
    v = len(ops)
    if v < 2 or len(matrix) != v:
        raise ValueError(f"a cell needs at least 2 vertices and a {v} x {v} matrix")

    def name(i: int) -> str:
        return "in" if i == 0 else "out" if i == v - 1 else str(i)

    inner = " ".join(f"{i}:{OP_SHORT[ops[i]]}" for i in range(1, v - 1)) or "-"
    groups = []
    for a in range(v):
        dsts = [name(b) for b in range(a + 1, v) if matrix[a][b]]
        if dsts:
            groups.append(f"{name(a)}>{','.join(dsts)}")
    return f"{inner} | {' '.join(groups)}"


def parse_described(text: str) -> tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]:
    """``(matrix, ops)`` of a compact form written by :func:`describe_cell`;
    ``ValueError`` naming what is wrong otherwise."""
    head, sep, tail = text.strip().partition(" | ")
    if not sep:
        raise ValueError(f"'{text}' has no ' | ' between the ops and the edges")
    names = [] if head.strip() == "-" else head.split()
    ops = [INPUT]
    for i, part in enumerate(names, start=1):
        num, colon, short = part.partition(":")
        if not colon or num != str(i) or short not in _OP_LONG:
            raise ValueError(f"'{part}' is not vertex {i}'s op as {i}:c3, {i}:c1 or {i}:mp")
        ops.append(_OP_LONG[short])
    ops.append(OUTPUT)
    v = len(ops)
    index = {"in": 0, "out": v - 1, **{str(i): i for i in range(1, v - 1)}}
    matrix = [[0] * v for _ in range(v)]
    for group in tail.split():
        src, arrow, dsts = group.partition(">")
        if not arrow or src not in index or not dsts:
            raise ValueError(f"'{group}' is not a group of edges SRC>DST,DST,...")
        for dst in dsts.split(","):
            a, b = index[src], index.get(dst, -1)
            if b <= a:
                raise ValueError(f"'{src}>{dst}' is not an edge to a later vertex")
            matrix[a][b] = 1
    return tuple(tuple(row) for row in matrix), tuple(ops)
