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

The package, one module per concern (each imports only those above it):

* ``hashing``: the op vocabulary and the official module hash;
* ``padded``: the padded form and its bit operations (prune, repair);
* ``sampling``: uniform sampling and enumeration of the distinct cells;
* ``space``: :class:`NB101Space` and ``SPACE``;
* ``codec``: the ``ModelMetrics`` protobuf of the official records;
* ``table``: metric names, datasets and the nb101 cache;
* ``importers``: the official TFRecord files and CSV tables into the cache.

Accuracies are stored in percent (as NB201), means over the training repeats the source
holds.
"""

from __future__ import annotations

from .codec import (
    ProtoError,
    decode_model_metrics,
    encode_model_metrics,
    encode_record,
    final_metrics,
)
from .hashing import HASH_RE, INPUT, LABELS, OPS, OUTPUT, module_hash
from .importers import CSV_ALIASES, import_csv, import_file, import_tfrecord
from .padded import MAX_EDGES, MAX_VERTICES, Cell
from .space import ABSENT, EDGE, N_CELLS, NO_EDGE, OP_TOKEN0, SPACE, VOCAB, NB101Space
from .table import EPOCHS, METRICS, datasets_for, load_table, save_cache

__all__ = [
    "ABSENT",
    "CSV_ALIASES",
    "EDGE",
    "EPOCHS",
    "HASH_RE",
    "INPUT",
    "LABELS",
    "MAX_EDGES",
    "MAX_VERTICES",
    "METRICS",
    "N_CELLS",
    "NO_EDGE",
    "OPS",
    "OP_TOKEN0",
    "OUTPUT",
    "SPACE",
    "VOCAB",
    "Cell",
    "NB101Space",
    "ProtoError",
    "datasets_for",
    "decode_model_metrics",
    "encode_model_metrics",
    "encode_record",
    "final_metrics",
    "import_csv",
    "import_file",
    "import_tfrecord",
    "load_table",
    "module_hash",
    "save_cache",
]
