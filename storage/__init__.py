"""Run history in SQLite (installed as tnao_app.storage).

``Store`` opens the history (default ``paths.default_db()``); ``Store.recorder(run_id)``
gives the listener that records a run's events and checkpoints (``tnao_app.runs.session``
drives a run with it attached); ``Store.replay(run_id)`` reads a run back as its events.
``rows`` is the one map of event fields to stored columns.
"""

from tnao_app.errors import StorageError

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
