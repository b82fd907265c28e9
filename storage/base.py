"""What the store (db.py) and the recorder share: the heartbeat period, the live
statuses, NaN cleaning and SQLite errors as one sentence.

Its own module so that db.py imports the recorder and the recorder imports nothing of
db.py (they used to import each other).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from tnao_app.errors import StorageError

#: seconds between heartbeats of a live run
HEARTBEAT_S = 5.0
#: statuses of a run that may still be going (a dead process turns them interrupted)
LIVE = ("created", "running")
#: a live-looking run with no heartbeat for this long is shown as interrupted
STALE_S = 30.0


def clean(value):
    """NaN -> None (SQLite has no NaN; JSON neither)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def translate(path: Path, exc: sqlite3.Error) -> StorageError:
    """The one sentence a user reads for a SQLite error on the history at ``path``."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StorageError(
            f"The run history {path} is locked by another writer; try again when it is done."
        )
    if "not a database" in text or "malformed" in text or "file is encrypted" in text:
        return StorageError(f"{path} is not a SQLite database; expected a TNAO run history.")
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return StorageError(
            f"The run history {path} cannot be opened for writing ({exc}); make its folder "
            "writable or set TNAO_HOME (or --db) to a folder you can write to."
        )
    if "disk is full" in text:
        return StorageError(
            f"The run history {path} could not be written ({exc}); free some space there "
            "or set TNAO_HOME (or --db) to a folder on another disk."
        )
    return StorageError(f"The run history {path} could not be used ({exc}).")


@contextlib.contextmanager
def sql_errors(path: Path) -> Iterator[None]:
    """Inside: any sqlite3 error becomes one StorageError sentence about ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(path, exc) from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


def effective_status(row: dict, now: float | None = None) -> str:
    """The recorded status, or ``interrupted`` for a live-looking run whose process died."""
    status = row["status"]
    if status not in LIVE:
        return status
    now = time.time() if now is None else now
    if row.get("host") == socket.gethostname() and row.get("pid"):
        if row["pid"] != os.getpid() and not _pid_alive(int(row["pid"])):
            return "interrupted"
    beat = row.get("heartbeat_at")
    if beat is None or now - beat > STALE_S:
        return "interrupted"
    return status


def resolve_id(db, path: Path, table: str, key: str, what: str, hint: str) -> str:
    """The full id in ``table`` of ``key``: exact, or a unique prefix; ``what`` ('Run',
    'Experiment') and ``hint`` (where they are listed) make the sentence otherwise."""
    key = (key or "").strip()
    if key and db.execute(f"SELECT 1 FROM {table} WHERE id = ?", [key]).fetchone():
        return key
    hits = []
    if key:  # substr, not LIKE: an id's characters are never wildcards
        sql = f"SELECT id FROM {table} WHERE substr(id, 1, ?) = ? ORDER BY id"
        hits = [row[0] for row in db.execute(sql, [len(key), key])]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise StorageError(
            f"{what} id '{key}' is ambiguous: it starts {', '.join(hits[:5])}; "
            "give more characters."
        )
    raise StorageError(f"There is no {what.lower()} '{key}' in {path}; {hint}.")
