"""User-facing errors.

Every error the user can cause (a bad file, a bad value, an unknown architecture) is one of
these, carrying one clear sentence that names the thing and what was expected. The CLI
prints the sentence and exits non-zero; the TUI shows it in a dialog. Anything else is a bug.
"""


class TnaoError(Exception):
    """Base class: ``str(err)`` is the sentence shown to the user."""

    exit_code = 1


class DataError(TnaoError):
    """A benchmark file or cache is missing, corrupt, or not in the expected format."""


class ConfigError(TnaoError):
    """A configuration value or command-line option is invalid."""

    exit_code = 2


class UnknownArchError(TnaoError):
    """An architecture string or encoding is not part of the search space."""


class NotReadyError(TnaoError):
    """A benchmark has no local data yet."""


class StorageError(TnaoError):
    """The run history database cannot be read or written."""


class FolderError(StorageError):
    """A file or folder of TNAO's (TNAO_HOME, a cache, the history, a checkpoint) cannot be
    written: a read-only file system, no permission, a full disk. The sentence names the
    folder and what to do."""


class Stopped(Exception):
    """The user asked the run to stop; raised at the next batch, generation or query.

    Not a ``TnaoError``: nothing is wrong, and the run is resumable from its last
    checkpoint."""
