"""Checkpoint files: written atomically, verified by sha256, loaded without pickle risk.

A checkpoint is one ``torch.save`` of a dict (model and optimizer state, every RNG
state, the swarm ...). It is written to a temp file beside its final name, fsynced,
renamed into place and the folder fsynced; only then does the recorder point the
database at it. Loading checks the sha256 first and unpickles with
``weights_only=True`` plus an allow-list of numpy's array and scalar types (RNG states
and numpy arrays are common in a state dict); nothing else can run on load.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import os
import tempfile
from pathlib import Path


def _numpy_allow_list() -> list:
    import numpy as np
    import numpy.dtypes as np_dtypes

    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [c for _, c in inspect.getmembers(np_dtypes, inspect.isclass)]
    return [np.dtype, np.ndarray, _reconstruct, scalar, *dtype_classes]


def to_bytes(state: dict) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def from_bytes(data: bytes) -> dict:
    import torch

    with torch.serialization.safe_globals(_numpy_allow_list()):
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either absent or complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the folder entry is on disk (POSIX).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_verified(path: Path, sha256: str) -> dict | None:
    """The state in ``path`` if the file exists and matches ``sha256``, else None."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if sha256_bytes(data) != sha256:
        return None
    return from_bytes(data)
