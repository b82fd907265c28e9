"""Where TNAO keeps its files: caches and the run history.

``TNAO_HOME`` overrides the per-user data folder chosen by platformdirs, so tests and
CI can point everything at a temporary directory.

A folder that cannot be created or written (a read-only file system, no permission, a
full disk) is one ``FolderError`` sentence naming it and what to do (``write_error``),
never an ``OSError`` traceback. Reading needs no folder: ``create=False`` only says
where a folder would be.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import platformdirs

from .errors import FolderError

_WHY = {
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
}


#: the errors of a file system that cannot take a write (what ``write_error`` words)
WRITE_ERRNOS = tuple(_WHY)


def root() -> Path:
    """The TNAO data folder, whether or not it exists yet."""
    env = os.environ.get("TNAO_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("tnao", "tnao"))


def _named(folder: Path) -> str:
    """``folder`` as a sentence names it (the data folder says where it comes from)."""
    if folder == root():
        return (
            f"the TNAO_HOME folder {folder}"
            if os.environ.get("TNAO_HOME")
            else f"TNAO's data folder {folder}"
        )
    return f"the folder {folder}"


def _advice(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some space there or set TNAO_HOME to a folder on another disk"
    return "make it writable or set TNAO_HOME to a folder you can write to"


def write_error(
    target: Path, exc: OSError, what: str = "", verb: str = "could not be written"
) -> FolderError:
    """The sentence for ``exc`` raised while writing ``target`` (a file or a folder):
    ``what`` names the file ("The cache"); without it the folder is the subject."""
    why = _WHY.get(exc.errno or 0, exc.strerror or str(exc))
    name = f"{what} {target}" if what else _named(target)
    return FolderError(f"{name[0].upper()}{name[1:]} {verb}: {why}; {_advice(exc)}.")


def ensure(folder: Path) -> Path:
    """Create ``folder`` (and its parents) if need be; ``FolderError`` if it cannot be."""
    if folder.exists() and not folder.is_dir():
        name = _named(folder)
        raise FolderError(
            f"{name[0].upper()}{name[1:]} is a file; expected a folder (set TNAO_HOME to "
            "a folder you can write to)."
        )
    if folder.is_dir():
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(folder, exc, verb="cannot be created") from None
    return folder


def home(create: bool = True) -> Path:
    """The TNAO data folder (created on first use unless ``create`` is False)."""
    return ensure(root()) if create else root()


def _sub(name: str, create: bool) -> Path:
    d = root() / name
    return ensure(d) if create else d


def cache_dir(create: bool = True) -> Path:
    """Folder of the converted benchmark caches."""
    return _sub("cache", create)


def downloads_dir(create: bool = True) -> Path:
    """Folder where ``tnao data fetch`` puts official files."""
    return _sub("downloads", create)


def runs_dir(create: bool = True) -> Path:
    """Folder of run checkpoints."""
    return _sub("runs", create)


def default_db() -> Path:
    """The default run-history database (its folder created)."""
    return home() / "history.db"
