"""NAS-Bench-201: the cell space, the table, and the importers.

The package, one module per concern (each imports only those above it):

* ``space``: the op list, the edges, :class:`NB201Space` and ``SPACE``;
* ``table``: metric names, datasets and the nb201 cache (every importer ends in
  :func:`save_cache`);
* ``records``: the per-architecture records of the official files, as rows;
* ``unpickle``: the restricted unpickler those files are read with;
* ``official``: the official ``.pth`` and NATS-Bench importers;
* ``importers``: CSV tables, and :func:`import_file`, which detects the format (it
  imports ``official`` only for an official file, so a CSV import loads no pickle code).
"""

from __future__ import annotations

from .importers import CSV_ALIASES, import_csv, import_file
from .space import EDGES, N_ARCHS, OPS, SPACE, Cell, NB201Space
from .table import DATASET_NAMES, METRICS, datasets_for, load_table, save_cache

__all__ = [
    "CSV_ALIASES",
    "DATASET_NAMES",
    "EDGES",
    "METRICS",
    "N_ARCHS",
    "OPS",
    "SPACE",
    "Cell",
    "NB201Space",
    "datasets_for",
    "import_csv",
    "import_file",
    "load_table",
    "save_cache",
]
