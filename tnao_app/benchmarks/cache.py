"""The compact local cache every benchmark source is converted into once.

One uncompressed ``.npz`` per benchmark under ``paths.cache_dir()``: ``tokens`` (int8,
one row per architecture), one float64 array per metric (``m:<name>``) and a JSON
``meta`` (source file, its sha256, format, when). numpy maps it in well under a second,
where the official APIs take minutes. Writes go to a temp file that is renamed into
place, so a failed import never leaves a partial cache behind.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import paths
from ..errors import DataError

FORMAT_VERSION = 1


def metric_bounds(name: str) -> tuple[float, float, str]:
    """``(low, high, expected)`` for the values of metric ``name``: accuracies (every
    metric but times, parameter counts and FLOPs) in percent from 0 to 100, the others
    finite and >= 0. NaN is a missing value, never out of bounds."""
    base = name.split("@", 1)[0]
    if "time" in base or base.endswith(("params", "flops")):
        return 0.0, math.inf, "a finite number >= 0"
    return 0.0, 100.0, "an accuracy from 0 to 100 (percent)"


def first_bad_value(metrics: Mapping[str, object]) -> tuple[str, int, float, str] | None:
    """``(metric, row, value, expected)`` of the first value out of its bounds (an
    infinity, a negative count, an accuracy above 100 %), or None when all are fine."""
    for name, values in metrics.items():
        col = np.asarray(values, dtype=np.float64)
        lo, hi, expected = metric_bounds(name)
        with np.errstate(invalid="ignore"):
            bad = np.isinf(col) | (col < lo) | (col > hi)
        if bad.any():
            i = int(np.argmax(bad))
            return name, i, float(col[i]), expected
    return None


def cache_path(benchmark: str) -> Path:
    """Where the cache of ``benchmark`` is (nothing is created: reading needs no folder)."""
    return paths.cache_dir(create=False) / f"{benchmark}.npz"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write(path: Path, write) -> None:
    """Call ``write(fileobj)`` on a temp file beside ``path``, fsync, rename into place.

    The temp file is created with mode 0666 and the kernel applies the umask, so the result
    has the mode of any new user file (``tempfile.mkstemp`` would leave 0600, and reading
    the umask back with ``os.umask`` is not thread-safe).
    """
    paths.ensure(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save(
    benchmark: str,
    tokens: np.ndarray,
    metrics: dict[str, np.ndarray],
    meta: dict,
    ids: np.ndarray | None = None,
) -> Path:
    """Write the cache of ``benchmark`` atomically and return its path.

    ``ids`` (optional, one string per row) stores canonical ids such as NB101 module
    hashes, so loading never recomputes them.
    """
    n = tokens.shape[0]
    for name, col in metrics.items():
        if col.shape != (n,):
            raise ValueError(f"metric {name} has shape {col.shape}, expected ({n},)")
    meta = dict(meta, format_version=FORMAT_VERSION, n_archs=int(n), created=time.time())
    arrays = {"tokens": tokens.astype(np.int8), "meta": np.array(json.dumps(meta))}
    if ids is not None:
        # ASCII bytes: a third of the size of numpy's 4-byte-per-char unicode.
        arrays["ids"] = np.char.encode(np.asarray(ids, dtype=str), "ascii")
    arrays.update({f"m:{k}": np.asarray(v, dtype=np.float64) for k, v in metrics.items()})
    path = cache_path(benchmark)
    try:
        # numpy's stub lets **kwds fill savez's allow_pickle: bool, so str -> array looks wrong.
        atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
    except OSError as exc:  # read-only, full, no permission: no partial file is left
        raise paths.write_error(path, exc, "The cache") from None
    return path


def load(benchmark: str) -> tuple[np.ndarray, dict[str, np.ndarray], dict] | None:
    """``(tokens, metrics, meta)`` of the cache, or ``None`` when there is none.

    When the cache holds ids they are in ``metrics`` under the key ``"ids"``; use
    :func:`split_ids` to take them out.
    """
    path = cache_path(benchmark)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            tokens = z["tokens"]
            metrics = {k[2:]: z[k] for k in z.files if k.startswith("m:")}
            if "ids" in z.files:
                metrics["ids"] = z["ids"]
    except Exception as exc:  # any unreadable cache is the same problem for the user
        raise DataError(
            f"The cache {path} is unreadable ({exc.__class__.__name__}); "
            f"delete it and import the benchmark again."
        ) from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"The cache {path} has format {meta.get('format_version')}, expected "
            f"{FORMAT_VERSION}; import the benchmark again."
        )
    return tokens, metrics, meta


def remove(benchmark: str) -> bool:
    path = cache_path(benchmark)
    if path.exists():
        path.unlink()
        return True
    return False


def split_ids(metrics: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Separate the ``ids`` array that :func:`load` puts among the metrics."""
    metrics = dict(metrics)
    return metrics, metrics.pop("ids", None)
