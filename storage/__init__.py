"""Run history in SQLite (installed as tnao_app.storage).

``Store`` opens the history (default ``paths.default_db()``); ``Store.recorder(run_id)``
gives the listener that records a run's events and checkpoints (``tnao_app.runs.session``
drives a run with it attached); ``Store.replay(run_id)`` reads a run back as its events.
``rows`` is the one map of event fields to stored columns.
"""

import sys

from tnao_app.errors import StorageError

# sqlite-utils imports pandas whenever it is installed (analog-nasbench brings it in),
# only to map DataFrame types this history never stores: a fifth of a second of every
# command. While sqlite-utils loads (at import, before any thread of ours runs), a None
# entry makes that import fail (its fallback); pandas imports as usual afterwards.
if "sqlite_utils" not in sys.modules and "pandas" not in sys.modules:
    sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["pandas"]

from .base import HEARTBEAT_S, STALE_S
from .db import STATUSES, Store, effective_status
from .migrations import SCHEMA_VERSION
from .recorder import KEEP_CHECKPOINTS, Recorder

__all__ = [
    "HEARTBEAT_S",
    "KEEP_CHECKPOINTS",
    "SCHEMA_VERSION",
    "STALE_S",
    "STATUSES",
    "Recorder",
    "Store",
    "StorageError",
    "effective_status",
]
