"""The official NAS-Bench-101 cell vocabulary and module hash.

The benchmark names a cell by the md5 fingerprint of its labelled graph, equal for
isomorphic cells; every table row, every lookup and every import check goes through it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

INPUT, OUTPUT = "input", "output"
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
LABELS = {INPUT: -1, OPS[0]: 0, OPS[1]: 1, OPS[2]: 2, OUTPUT: -2}  # official hash labels
HASH_RE = re.compile(r"[0-9a-f]{32}")  # the text form of a module hash


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
