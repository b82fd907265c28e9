"""Where TNAO keeps its files: caches and the run history.

``TNAO_HOME`` overrides the per-user data folder chosen by platformdirs, so tests and
CI can point everything at a temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def home() -> Path:
    """The TNAO data folder (created on first use)."""
    env = os.environ.get("TNAO_HOME")
    root = Path(env).expanduser() if env else Path(platformdirs.user_data_dir("tnao", "tnao"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir() -> Path:
    """Folder of the converted benchmark caches."""
    d = home() / "cache"
    d.mkdir(parents=True, exist_ok=True)
    return d


def downloads_dir() -> Path:
    """Folder where ``tnao data fetch`` puts official files."""
    d = home() / "downloads"
    d.mkdir(parents=True, exist_ok=True)
    return d


def runs_dir() -> Path:
    """Folder of run checkpoints."""
    d = home() / "runs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def default_db() -> Path:
    """The default run-history database."""
    return home() / "history.db"
