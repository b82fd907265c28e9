"""Benchmarks: one module per benchmark, and the registry the CLI and the TUI use."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import ConfigError, NotReadyError
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
    "load",
    "module",
    "status",
]


def module(name: str):
    """The module of benchmark ``name`` (each has ``SPACE`` and ``load_table()``)."""
    if name not in NAMES:
        raise ConfigError(f"Unknown benchmark '{name}'; expected one of: {', '.join(NAMES)}.")
    return importlib.import_module(f"{__name__}.{name}")


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
    if not path.exists():
        raise ConfigError(f"{path} does not exist; expected a benchmark file or folder.")
    return module(benchmark).import_file(path)
