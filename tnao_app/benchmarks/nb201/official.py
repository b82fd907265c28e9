"""Importers of the official NAS-Bench-201 / NATS-Bench (topology space) files.

Three layouts hold the same per-architecture records (see ``records``):

* NB201 ``.pth`` (v1_0, v1_1): ``torch.save`` of ``{'meta_archs', 'arch2infos',
  'evaluated_indexes'}`` with ``arch2infos[i] = {'less': 12-epoch, 'full': 200-epoch}``.
* NATS-tss full ``.pickle.pbz2``: bz2 pickle of the same dict, ``arch2infos[i]`` keyed
  ``'12'`` / ``'200'``.
* NATS-tss ``-simple/`` folder: ``meta.pickle.pbz2`` (``meta_archs``) and one
  ``{index:06d}.pickle.pbz2`` per architecture holding ``{'12': ..., '200': ...}``.

Every file is read with the restricted unpickler of ``unpickle`` (a file can run no
code), and every importer ends in :func:`table.save_cache`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

from ...errors import DataError
from .records import (
    Item,
    arch_metrics,
    build_rows,
    check_top,
    convert_records,
    drain,
    import_meta,
    parse_meta_archs,
    state_arch_str,
)
from .table import save_cache
from .unpickle import read_pbz2, read_pth

_SIMPLE_FILE = re.compile(r"^(\d{6})\.pickle\.pbz2$")
PARALLEL_MIN_FILES = 256  # a -simple folder with more files is read by a process pool
WORKERS: int | None = None  # pool size; None = CPU count, at most 8

_R = TypeVar("_R")


def _import_whole(path: Path, obj: object, sha: str, fmt: str) -> Path:
    """The cache of a file whose one pickle holds every record (``.pth``, full ``.pbz2``).

    The object is read whole; from here on every record is removed from the loaded dict
    as soon as it is converted.
    """
    name = path.name
    top = check_top(obj, name)
    del obj
    meta_archs = parse_meta_archs(top.pop("meta_archs"), name)
    infos = top.pop("arch2infos")
    del top
    archs, cols, n = build_rows(name, meta_archs, convert_records(name, drain(infos)))
    del infos
    return save_cache(archs, cols, import_meta(name, path, fmt, sha, n, len(meta_archs)))


def import_pth(path: Path) -> Path:
    """Convert an official NAS-Bench-201 ``.pth`` (v1_0 or v1_1) into the nb201 cache."""
    path = Path(path)
    return _import_whole(path, *read_pth(path), "nb201-pth")


def import_nats_full(path: Path) -> Path:
    """Convert a NATS-tss full ``.pickle.pbz2`` (all architectures in one) into the cache."""
    path = Path(path)
    return _import_whole(path, *read_pbz2(path), "nats-tss-pbz2")


def _simple_record(path: Path) -> tuple[int, str | None, dict[str, float], str, str]:
    """Read and convert one architecture file of a -simple folder (runs in a worker)."""
    rec, sha = read_pbz2(path)
    match = _SIMPLE_FILE.match(path.name)
    if match is None:  # the folder listing keeps only names that match
        raise DataError(f"{path.name} is not named like a NATS-tss record (000000.pickle.pbz2).")
    index = int(match.group(1))
    stated = state_arch_str(rec) if isinstance(rec, Mapping) else None
    metrics = arch_metrics(rec, f"{path.parent.name}/{path.name}")
    return index, stated, metrics, path.name, sha


def _map_files(fn: Callable[[Path], _R], files: list[Path]) -> Iterator[_R]:
    """``map(fn, files)`` in order, on several processes when there are many files: the
    full folder has 15,625 bz2 files of ~20 ms each to decompress and unpickle."""
    workers = WORKERS or min(os.cpu_count() or 1, 8)
    if workers < 2 or len(files) < PARALLEL_MIN_FILES:
        yield from map(fn, files)
        return
    # spawn, not fork: the parent may hold torch's threads, which fork does not copy.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield from pool.map(fn, files, chunksize=32)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def import_nats_simple(folder: Path) -> Path:
    """Convert a NATS-tss ``-simple/`` folder (meta + one file per architecture).

    A folder with only some architectures gives a partial table of just those.
    """
    folder = Path(folder)
    name = folder.name
    meta_file = folder / "meta.pickle.pbz2"
    if not meta_file.is_file():
        raise DataError(
            f"{name} has no meta.pickle.pbz2; expected a NATS-tss -simple "
            "folder (meta.pickle.pbz2 and 000000.pickle.pbz2 ...)."
        )
    files = sorted(p for p in folder.iterdir() if _SIMPLE_FILE.match(p.name))
    if not files:
        raise DataError(
            f"{name} holds no architecture files; expected "
            "000000.pickle.pbz2 ... beside meta.pickle.pbz2."
        )
    # One digest over (name, sha256) of every file read, computed while reading.
    folder_digest = hashlib.sha256()
    meta, sha = read_pbz2(meta_file)
    folder_digest.update(f"{meta_file.name}:{sha}\n".encode())
    if not isinstance(meta, dict) or "meta_archs" not in meta:
        raise DataError(
            f"{name}/meta.pickle.pbz2 has no 'meta_archs'; expected the NATS-tss meta file."
        )
    meta_archs = parse_meta_archs(meta["meta_archs"], f"{name}/meta.pickle.pbz2")
    del meta

    def items() -> Iterator[Item]:
        for index, stated, metrics, file_name, file_sha in _map_files(_simple_record, files):
            folder_digest.update(f"{file_name}:{file_sha}\n".encode())
            yield index, stated, metrics

    archs, cols, n = build_rows(name, meta_archs, items())
    meta_out = import_meta(
        name, folder, "nats-tss-simple", folder_digest.hexdigest(), n, len(meta_archs)
    )
    meta_out["source_sha256_of"] = "name:sha256 lines of the .pbz2 files read, sorted by name"
    return save_cache(archs, cols, meta_out)
