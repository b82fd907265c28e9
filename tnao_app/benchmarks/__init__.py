"""Benchmarks: one module per benchmark, and the registry the CLI and the TUI use."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import ConfigError, NotReadyError, UnknownArchError
from . import cache
from .base import Arch, DatasetSpec, Oracle, Space, Table

NAMES = ("analog", "nb201", "nb101")

HOW_TO_GET = {
    "nb201": "run 'tnao data fetch nb201' (NATS-Bench archive from Google Drive), or "
    "import a file with 'tnao data import PATH --benchmark nb201' (see the README)",
    "nb101": "run 'tnao data fetch nb101', or import a file with "
    "'tnao data import PATH --benchmark nb101'",
    "analog": "reinstall the package 'analog-nasbench'",
}

__all__ = [
    "Arch",
    "DatasetSpec",
    "Oracle",
    "Space",
    "Table",
    "NAMES",
    "describe",
    "legend",
    "load",
    "module",
    "status",
]


def module(name: str):
    """The module of benchmark ``name`` (each has ``SPACE`` and ``load_table()``)."""
    if name not in NAMES:
        raise ConfigError(f"Unknown benchmark '{name}'; expected one of: {', '.join(NAMES)}.")
    return importlib.import_module(f"{__name__}.{name}")


def legend(benchmark: str) -> str:
    """How to read the form ``describe`` gives (NB101's compact cells); empty elsewhere."""
    if benchmark != "nb101":
        return ""
    from .nb101.describe import LEGEND

    return LEGEND


def describe(benchmark: str, native: str) -> str:
    """The form of an architecture a person reads, for tables and printed results.

    NB101: the compact one-line form of ``nb101.describe`` (ops, then edges grouped by
    source: ``1:c3 2:mp 3:c1 | in>1,2 1>3 2>3 3>out``); NB201 and analog: the official
    string unchanged. Anything else (an unknown benchmark, a string that is not a cell)
    comes back unchanged. The JSON form of NB101 stays in ``--json`` and the exports.
    """
    if benchmark != "nb101" or not native.startswith("{"):
        return native
    from .nb101 import SPACE
    from .nb101.describe import describe_cell

    try:
        matrix, ops = SPACE.from_native(native)
        return describe_cell(matrix, ops)
    except (UnknownArchError, ValueError, KeyError):
        return native


def load(name: str) -> Table:
    """The table of benchmark ``name``; ``NotReadyError`` says how to get it."""
    table = module(name).load_table()
    if table is None:
        raise NotReadyError(f"Benchmark '{name}' has no data yet: {HOW_TO_GET[name]}.")
    return table


def status() -> list[dict]:
    """One row per benchmark: ready, source, cache path and size, number of archs."""
    rows = []
    for name in NAMES:
        path = cache.cache_path(name)
        row = {
            "benchmark": name,
            "ready": False,
            "source": "",
            "cache": str(path),
            "size_mb": 0.0,
            "archs": 0,
            "datasets": [],
            "hint": HOW_TO_GET[name],
        }
        try:
            table = module(name).load_table()
        except Exception as exc:  # status must show every row, whatever one is broken
            row["error"] = str(exc)
            rows.append(row)
            continue
        if table is not None:
            row.update(
                ready=True,
                source=table.source.get("source", ""),
                size_mb=path.stat().st_size / 1e6 if path.exists() else 0.0,
                archs=len(table),
                datasets=sorted(table.datasets),
            )
        rows.append(row)
    return rows


def import_file(path: Path, benchmark: str) -> Path:
    """Convert ``path`` into the cache of ``benchmark``, detecting the format."""
    path = Path(path)
    mod = module(benchmark)
    if not hasattr(mod, "import_file"):  # the embedded table: nothing to import
        raise ConfigError(
            f"Benchmark '{benchmark}' is embedded (the installed package ships it); "
            "expected nb201 or nb101 for a file to import."
        )
    if not path.exists():
        raise ConfigError(f"{path} does not exist; expected a benchmark file or folder.")
    return mod.import_file(path)
