"""What the store (db.py) and the recorder share: the heartbeat period, the live
statuses, NaN cleaning and SQLite errors as one sentence.

Its own module so that db.py imports the recorder and the recorder imports nothing of
db.py (they used to import each other).
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from tnao_app.errors import StorageError

#: seconds between heartbeats of a live run
HEARTBEAT_S = 5.0
#: statuses of a run that may still be going (a dead process turns them interrupted)
LIVE = ("created", "running")


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
