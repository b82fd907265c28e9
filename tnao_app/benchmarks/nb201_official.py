"""Readers of the official NAS-Bench-201 / NATS-Bench (topology space) files.

Three layouts hold the same per-architecture records (``ArchResults`` state dicts whose
``all_results[(dataset, seed)]`` are ``ResultsCount`` state dicts):

* NB201 ``.pth`` (v1_0, v1_1): ``torch.save`` of ``{'meta_archs', 'arch2infos',
  'evaluated_indexes'}`` with ``arch2infos[i] = {'less': 12-epoch, 'full': 200-epoch}``.
* NATS-tss full ``.pickle.pbz2``: bz2 pickle of the same dict, ``arch2infos[i]`` keyed
  ``'12'`` / ``'200'``.
* NATS-tss ``-simple/`` folder: ``meta.pickle.pbz2`` (``meta_archs``) and one
  ``{index:06d}.pickle.pbz2`` per architecture holding ``{'12': ..., '200': ...}``.

Every reader ends in :func:`nb201.save_cache` with the canonical metric names of
:data:`nb201.METRICS`, each the mean over the seeds present of the final-epoch value
(``eval_acc1es['<set>@<epochs-1>']``), as the official API's ``get_more_info`` does.

Safety: these files are pickles, which could run code. Nothing is ever loaded with a
plain unpickler or ``torch.load``: our own restricted unpickler (the C ``pickle.Unpickler``
with an allow-list) accepts plain data plus numpy's scalar reconstructor and dtypes only,
and any other type is refused with a ``DataError`` naming it. For ``.pth`` files it also
accepts the few torch names a saved tensor is spelled with, mapped to inert stand-ins
(:class:`TensorStub`): no tensor is built and no storage byte is ever read (the records
need none: ``net_state_dict`` is dropped). PyTorch is not needed to read any format.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import math
import multiprocessing
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import DataError, UnknownArchError
from . import cache, nb201
from .base import Arch

# Container key of a schedule -> its number of epochs (.pth: 'less'/'full'; NATS: '12'/'200').
_HP = {"less": 12, "full": 200, "12": 12, "200": 200}
_CIFAR10_VALID, _CIFAR10 = "cifar10-valid", "cifar10"
_SPLIT_SETS = ("cifar100", "ImageNet16-120")  # datasets with x-valid / x-test halves
_SIMPLE_FILE = re.compile(r"^(\d{6})\.pickle\.pbz2$")
PARALLEL_MIN_FILES = 256  # a -simple folder with more files is read by a process pool
WORKERS: int | None = None  # pool size; None = CPU count, at most 8


# --------------------------------------------------------------------------- allow-list


def _numpy_scalar():
    core = getattr(np, "_core", None) or np.core  # numpy 2 renamed numpy.core -> _core
    return core.multiarray.scalar


def _numpy_dtype_classes() -> list[type]:
    """The concrete dtype classes (numpy >= 1.25), needed by torch to rebuild dtypes."""
    dtypes = getattr(np, "dtypes", None)
    if dtypes is None:
        return []
    names = (
        "Float16DType",
        "Float32DType",
        "Float64DType",
        "Int8DType",
        "Int16DType",
        "Int32DType",
        "Int64DType",
        "UInt8DType",
        "UInt16DType",
        "UInt32DType",
        "UInt64DType",
        "BoolDType",
    )
    return [getattr(dtypes, n) for n in names if hasattr(dtypes, n)]


def _pickle_allowed() -> dict[tuple[str, str], object]:
    scalar = _numpy_scalar()
    allowed: dict[tuple[str, str], object] = {
        # Files written under numpy 1 name numpy.core, under numpy 2 numpy._core.
        ("numpy.core.multiarray", "scalar"): scalar,
        ("numpy._core.multiarray", "scalar"): scalar,
        ("numpy", "dtype"): np.dtype,
        ("collections", "OrderedDict"): OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        # Protocol < 3 pickles spell builtins the Python 2 way.
        ("__builtin__", "set"): set,
        ("__builtin__", "frozenset"): frozenset,
        # Protocol-2 pickles spell bytes as _codecs.encode(str, 'latin1'): pure data.
        ("_codecs", "encode"): __import__("codecs").encode,
    }
    for cls in _numpy_dtype_classes():  # calling one only makes a dtype
        allowed[("numpy.dtypes", cls.__name__)] = cls
    return allowed


# --------------------------------------------------------------------------- torch stand-ins


class TensorStub:
    """Inert stand-in for a tensor met in a ``.pth``: its shape only, never its values."""

    __slots__ = ("shape",)

    def __init__(self, shape: tuple = ()) -> None:
        self.shape = shape

    def __repr__(self) -> str:
        return f"TensorStub(shape={self.shape!r})"


class _StorageStub:
    """What a persistent storage id unpickles to: a name, never the storage's bytes."""

    __slots__ = ("kind",)

    def __init__(self, kind: object) -> None:
        self.kind = kind


def _tensor_stub(*args) -> TensorStub:
    """Stands for torch._utils._rebuild_tensor(_v2) and _rebuild_parameter(_with_state):
    (storage, offset, size, stride, ...) or (tensor, requires_grad, hooks[, state])."""
    if args and isinstance(args[0], TensorStub):
        return args[0]
    size = args[2] if len(args) > 2 and isinstance(args[2], tuple) else ()
    return TensorStub(size)


def _inert(name: str):
    def stand_in(*_args) -> str:
        return name

    return stand_in


_STORAGE_TYPES = (
    "Double",
    "Float",
    "Half",
    "BFloat16",
    "Long",
    "Int",
    "Short",
    "Char",
    "Byte",
    "Bool",
    "ComplexDouble",
    "ComplexFloat",
    "QUInt8",
    "QInt8",
    "QInt32",
    "QUInt4x2",
    "QUInt2x4",
)
_TORCH_DTYPES = (
    "float64",
    "float32",
    "float16",
    "bfloat16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
    "complex64",
    "complex128",
)


def _torch_allowed() -> dict[tuple[str, str], object]:
    """The names torch.save spells tensors with, each mapped to an inert stand-in."""
    allowed = _pickle_allowed()
    for fn in (
        "_rebuild_tensor",
        "_rebuild_tensor_v2",
        "_rebuild_parameter",
        "_rebuild_parameter_with_state",
    ):
        allowed[("torch._utils", fn)] = _tensor_stub
    # Storage classes only appear as the type inside a persistent id: a name suffices.
    for module in ("torch", "torch.cuda"):  # a file saved from a GPU names torch.cuda
        for t in _STORAGE_TYPES:
            allowed[(module, f"{t}Storage")] = f"{module}.{t}Storage"
    allowed[("torch", "UntypedStorage")] = "torch.UntypedStorage"
    allowed[("torch", "Size")] = tuple
    allowed[("torch", "device")] = _inert("torch.device")
    for d in _TORCH_DTYPES:
        allowed[("torch", d)] = f"torch.{d}"
    return allowed


def _refused(source: str, type_name: str) -> DataError:
    return DataError(
        f"{source} holds a value of type {type_name}, which a benchmark file must not "
        "contain (only plain data and numpy numbers are read, so a file can run no code); "
        "expected the official NAS-Bench-201 / NATS-Bench format."
    )


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy scalars; any other global is refused."""

    def __init__(self, file, source: str, allowed: dict | None = None) -> None:
        super().__init__(file)
        self._source = source
        self._allowed = _pickle_allowed() if allowed is None else allowed

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _refused(self._source, f"{module}.{name}") from None


def safe_unpickle(file, source: str):
    """Unpickle ``file`` (a binary file object) with the allow-list; errors are DataError."""
    try:
        return _RestrictedUnpickler(file, source).load()
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"{source} does not fit in memory while being read.") from None
    except Exception as exc:  # truncated / corrupt data raises many kinds of error
        raise DataError(
            f"{source} could not be read as a bz2-compressed pickle ({_reason(exc)}); "
            "it may be truncated or corrupt, download it again."
        ) from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text[:160]
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


class _TorchUnpickler(_RestrictedUnpickler):
    """The allow-list plus torch's tensor names (inert) and persistent storage ids."""

    def persistent_load(self, pid):
        # torch.save writes ('storage', type, key, location, numel[, view]) for every
        # storage; anything else (a legacy 'module' record carries source code) is refused.
        if isinstance(pid, tuple) and pid and pid[0] == "storage":
            return _StorageStub(pid[1] if len(pid) > 1 else None)
        kind = pid[0] if isinstance(pid, tuple) and pid else type(pid).__name__
        raise _refused(self._source, f"torch persistent record {str(kind)[:40]!r}")


_TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy (pre-zip) torch file
_TORCH_PROTOCOL = 1001
_ZIP_MAGIC = b"PK\x03\x04"
_BUFFER = 1 << 20


def _not_pth(name: str, why: str) -> DataError:
    return DataError(
        f"{name} could not be read as a PyTorch file ({why}); it may be truncated or "
        "corrupt, download it again."
    )


def _pth_zip_main(path: Path, name: str, allowed: dict):
    """torch >= 1.6 files are a zip: ``<archive>/data.pkl`` is the object, with storages
    in ``<archive>/data/<key>`` (never opened here)."""
    with zipfile.ZipFile(path) as zf:
        pkl = [n for n in zf.namelist() if re.fullmatch(r"[^/]+/data\.pkl", n)]
        if len(pkl) != 1:
            raise _not_pth(name, "a zip without exactly one <archive>/data.pkl")
        with zf.open(pkl[0]) as member:
            # Large reads and peek() keep the C unpickler off the per-opcode slow path.
            return _TorchUnpickler(io.BufferedReader(member, _BUFFER), name, allowed).load()


def _pth_legacy_main(f, name: str, allowed: dict):
    """torch < 1.6 files are pickles back to back: magic number, protocol version, sys
    info, the object, then storage keys and raw storages (never read here)."""
    if _TorchUnpickler(f, name, allowed).load() != _TORCH_MAGIC:
        raise _not_pth(name, "no torch magic number at its start")
    protocol = _TorchUnpickler(f, name, allowed).load()
    if protocol != _TORCH_PROTOCOL:
        raise _not_pth(name, f"serialization protocol {protocol!r}, expected 1001")
    if not isinstance(_TorchUnpickler(f, name, allowed).load(), dict):
        raise _not_pth(name, "no system-info record after the protocol version")
    return _TorchUnpickler(f, name, allowed).load()


def read_pth(path: Path) -> tuple[object, str]:
    """The object a ``torch.save`` file holds, read safely and without torch, with tensors
    as :class:`TensorStub`; returns ``(object, sha256 of the file)``."""
    path = Path(path)
    name = path.name
    allowed = _torch_allowed()
    try:
        with open(path, "rb") as raw:
            if raw.read(4) == _ZIP_MAGIC:
                obj = _pth_zip_main(path, name, allowed)
                sha = cache.sha256_of(path)
            else:
                # Legacy files are read front to back: hash them on the way through.
                raw.seek(0)
                reader = _HashingReader(raw)
                obj = _pth_legacy_main(io.BufferedReader(reader, _BUFFER), name, allowed)
                sha = reader.finish()
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"{name} does not fit in memory while being read.") from None
    except OSError as exc:
        raise DataError(f"{name} could not be read ({_reason(exc)}).") from None
    except Exception as exc:  # truncated / corrupt data raises many kinds of error
        raise _not_pth(name, _reason(exc)) from None
    return obj, sha


class _HashingReader(io.RawIOBase):
    """Read-through wrapper that hashes what passes, so a file is read only once."""

    def __init__(self, raw) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._raw.readinto(b)
        if n:
            self.digest.update(memoryview(b)[:n])
        return n

    def finish(self) -> str:
        while block := self._raw.read(1 << 20):
            self.digest.update(block)
        return self.digest.hexdigest()


# --------------------------------------------------------------------------- records


def _mean(values: Iterable[float | None]) -> float:
    got = [v for v in values if v is not None and not math.isnan(v)]
    return float(sum(got) / len(got)) if got else float("nan")


def _num(x) -> float | None:
    if x is None:
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _final_index(rc: Mapping, curve: Mapping | None, setname: str | None) -> int | None:
    ep = rc.get("epochs")
    if isinstance(ep, (int, np.integer)) and ep > 0:
        return int(ep) - 1
    # No epoch count: take the last epoch the curve has.
    if not curve:
        return None
    if setname is None:
        keys = [k for k in curve if isinstance(k, (int, np.integer))]
    else:
        keys = [
            int(k.split("@", 1)[1])
            for k in curve
            if isinstance(k, str) and k.startswith(setname + "@") and k.split("@", 1)[1].isdigit()
        ]
    return max(keys) if keys else None


def _final_eval(rc: Mapping, setname: str) -> float | None:
    accs = rc.get("eval_acc1es")
    if not isinstance(accs, Mapping):
        return None
    i = _final_index(rc, accs, setname)
    return None if i is None else _num(accs.get(f"{setname}@{i}"))


def _final_train(rc: Mapping) -> tuple[float | None, float | None]:
    """Final train accuracy and total train time (sum of per-epoch times, as the API)."""
    accs = rc.get("train_acc1es")
    i = _final_index(rc, accs if isinstance(accs, Mapping) else None, None)
    acc = _num(accs.get(i)) if isinstance(accs, Mapping) and i is not None else None
    times = rc.get("train_times")
    total = None
    if isinstance(times, Mapping) and i is not None:
        parts = [_num(times.get(e)) for e in range(i + 1)]
        if all(p is not None for p in parts):
            total = float(sum(parts))
    return acc, total


def _runs(state: Mapping, dataset: str) -> list[Mapping]:
    results = state.get("all_results")
    if not isinstance(results, Mapping):
        return []
    seeds = (state.get("dataset_seed") or {}).get(dataset)
    if seeds is None:
        seeds = sorted(s for (d, s) in results if d == dataset)
    return [results[(dataset, s)] for s in seeds if isinstance(results.get((dataset, s)), Mapping)]


def _split_pair(rc: Mapping) -> tuple[float | None, float | None]:
    """x-valid and x-test of one run; either can be rebuilt from the other and ori-test,
    since ori-test is their mean (equal-size halves of the original test set)."""
    xv, xt, ot = (_final_eval(rc, s) for s in ("x-valid", "x-test", "ori-test"))
    if xv is None and xt is not None and ot is not None:
        xv = 2 * ot - xt
    if xt is None and xv is not None and ot is not None:
        xt = 2 * ot - xv
    return xv, xt


def _schedule_metrics(state: Mapping, epochs: int) -> dict[str, float]:
    out: dict[str, float] = {}
    e = epochs
    runs = _runs(state, _CIFAR10_VALID)
    out[f"cifar10-valid/x-valid@{e}"] = _mean(_final_eval(r, "x-valid") for r in runs)
    if e == 200:
        out["cifar10-valid/ori-test@200"] = _mean(_final_eval(r, "ori-test") for r in runs)
        trains = [_final_train(r) for r in runs]
        out["cifar10-valid/train@200"] = _mean(t[0] for t in trains)
        out["cifar10-valid/train-time@200"] = _mean(t[1] for t in trains)
    out[f"cifar10/ori-test@{e}"] = _mean(_final_eval(r, "ori-test") for r in _runs(state, _CIFAR10))
    for ds in _SPLIT_SETS:
        pairs = [_split_pair(r) for r in _runs(state, ds)]
        out[f"{ds}/x-valid@{e}"] = _mean(p[0] for p in pairs)
        out[f"{ds}/x-test@{e}"] = _mean(p[1] for p in pairs)
    return out


def _costs(state: Mapping) -> dict[str, float]:
    out: dict[str, float] = {}
    for ds in (_CIFAR10, *_SPLIT_SETS):
        runs = _runs(state, ds) or (_runs(state, _CIFAR10_VALID) if ds == _CIFAR10 else [])
        out[f"{ds}/params"] = _mean(_num(r.get("params")) for r in runs)
        out[f"{ds}/flops"] = _mean(_num(r.get("flop")) for r in runs)
    return out


def arch_metrics(hp_states: Mapping, where: str) -> dict[str, float]:
    """Canonical metrics of one architecture from its ``{schedule: ArchResults state}``."""
    if not isinstance(hp_states, Mapping):
        raise DataError(
            f"{where} is a {type(hp_states).__name__}; expected a dict of "
            "ArchResults states keyed '12'/'200' (or 'less'/'full')."
        )
    out: dict[str, float] = {}
    by_epochs: dict[int, Mapping] = {}
    for key, state in hp_states.items():
        epochs = _HP.get(str(key))
        if epochs is None:
            continue  # another schedule (none exists in the topology space): not ours
        if not isinstance(state, Mapping) or not isinstance(state.get("all_results"), Mapping):
            raise DataError(
                f"{where} schedule '{key}' is not an ArchResults state dict "
                "(expected a dict with 'all_results')."
            )
        by_epochs[epochs] = state
        out.update(_schedule_metrics(state, epochs))
    if not by_epochs:
        raise DataError(
            f"{where} has no 12- or 200-epoch results; expected keys '12'/'200' or 'less'/'full'."
        )
    costs = _costs(by_epochs.get(200) or by_epochs[12])
    if 200 in by_epochs and 12 in by_epochs:  # fill a missing cost from the other schedule
        for k, v in _costs(by_epochs[12]).items():
            if math.isnan(costs[k]):
                costs[k] = v
    out.update(costs)
    return out


def _state_arch_str(hp_states: Mapping) -> str | None:
    for state in hp_states.values():
        if isinstance(state, Mapping) and isinstance(state.get("arch_str"), str):
            return state["arch_str"]
    return None


def _parse_meta_archs(meta_archs, source: str) -> list[str]:
    if not isinstance(meta_archs, (list, tuple)) or not meta_archs:
        raise DataError(f"{source} has no 'meta_archs' list of architecture strings.")
    if not all(isinstance(s, str) for s in meta_archs):
        raise DataError(f"{source} 'meta_archs' holds a non-string entry; expected strings.")
    return list(meta_archs)


Item = tuple[object, "str | None", dict[str, float]]  # (index, arch_str in record, metrics)


def _build(
    source: str, meta_archs: list[str], items: Iterable[Item]
) -> tuple[list[Arch], dict[str, list[float]], int]:
    """Turn converted records into rows ordered by official index."""
    rows: dict[int, tuple[Arch, dict[str, float]]] = {}
    for key, stated, metrics in items:
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise DataError(
                f"{source} has an architecture keyed {key!r}; expected an integer index."
            ) from None
        if not 0 <= index < len(meta_archs):
            raise DataError(
                f"{source} has architecture index {index}; expected 0.."
                f"{len(meta_archs) - 1} (the length of 'meta_archs')."
            )
        where = f"{source} architecture {index}"
        arch_str = meta_archs[index]
        if stated is not None and stated != arch_str:
            raise DataError(
                f"{where} is '{stated}' in its record but '{arch_str}' in "
                "'meta_archs'; the file is inconsistent."
            )
        try:
            arch = nb201.SPACE.from_native(arch_str)
        except UnknownArchError as exc:
            raise DataError(f"{where}: {exc}") from None
        rows[index] = (arch, metrics)
    order = sorted(rows)
    archs = [rows[i][0] for i in order]
    cols = {m: [rows[i][1].get(m, float("nan")) for i in order] for m in nb201.METRICS}
    cols = {m: v for m, v in cols.items() if not all(math.isnan(x) for x in v)}
    return archs, cols, len(order)


def _convert(source: str, records: Iterator[tuple[object, Mapping]]) -> Iterator[Item]:
    for key, hp_states in records:
        stated = _state_arch_str(hp_states) if isinstance(hp_states, Mapping) else None
        yield key, stated, arch_metrics(hp_states, f"{source} architecture {key}")
        del hp_states  # drop the record before the next one is taken


def _drain(d: dict) -> Iterator[tuple[object, Mapping]]:
    """Yield and remove the entries of ``d``, so memory is freed as they are converted."""
    while d:
        yield d.popitem()


def _meta(source: str, path: Path, fmt: str, sha: str, n: int, n_meta: int) -> dict:
    return {
        "source": source,
        "source_path": str(path.resolve()),
        "source_sha256": sha,
        "format": fmt,
        "official_order": True,
        "partial": n < n_meta,
        "n_in_source": n_meta,
    }


def _check_top(obj, source: str) -> dict:
    if not isinstance(obj, dict) or "meta_archs" not in obj or "arch2infos" not in obj:
        got = sorted(map(str, obj))[:5] if isinstance(obj, dict) else type(obj).__name__
        raise DataError(
            f"{source} is not in the official layout: expected a dict with "
            f"'meta_archs' and 'arch2infos', got {got}."
        )
    if not isinstance(obj["arch2infos"], dict):
        raise DataError(f"{source} 'arch2infos' is not a dict of architectures.")
    return obj


# --------------------------------------------------------------------------- importers


def import_pth(path: Path) -> Path:
    """Convert an official NAS-Bench-201 ``.pth`` (v1_0 or v1_1) into the nb201 cache."""
    path = Path(path)
    name = path.name
    # The object is one pickle, read whole; from here on every record is removed from the
    # loaded dict as soon as it is converted.
    obj, sha = read_pth(path)
    obj = _check_top(obj, name)
    meta_archs = _parse_meta_archs(obj.pop("meta_archs"), name)
    infos = obj.pop("arch2infos")
    del obj
    archs, cols, n = _build(name, meta_archs, _convert(name, _drain(infos)))
    del infos
    return nb201.save_cache(archs, cols, _meta(name, path, "nb201-pth", sha, n, len(meta_archs)))


def _read_pbz2(path: Path):
    """Unpickle one bz2 pickle safely; returns ``(object, sha256 of the file)``."""
    try:
        with open(path, "rb") as f:
            reader = _HashingReader(f)
            with bz2.BZ2File(io.BufferedReader(reader, 1 << 20)) as z:
                obj = safe_unpickle(z, path.name)
            sha = reader.finish()
    except OSError as exc:
        raise DataError(f"{path.name} could not be read ({_reason(exc)}).") from None
    return obj, sha


def import_nats_full(path: Path) -> Path:
    """Convert a NATS-tss full ``.pickle.pbz2`` (all architectures in one) into the cache."""
    path = Path(path)
    name = path.name
    obj, sha = _read_pbz2(path)
    obj = _check_top(obj, name)
    meta_archs = _parse_meta_archs(obj.pop("meta_archs"), name)
    infos = obj.pop("arch2infos")
    del obj
    archs, cols, n = _build(name, meta_archs, _convert(name, _drain(infos)))
    del infos
    return nb201.save_cache(
        archs, cols, _meta(name, path, "nats-tss-pbz2", sha, n, len(meta_archs))
    )


def _simple_record(path: Path) -> tuple[int, str | None, dict[str, float], str, str]:
    """Read and convert one architecture file of a -simple folder (runs in a worker)."""
    rec, sha = _read_pbz2(path)
    index = int(_SIMPLE_FILE.match(path.name).group(1))
    stated = _state_arch_str(rec) if isinstance(rec, Mapping) else None
    metrics = arch_metrics(rec, f"{path.parent.name}/{path.name}")
    return index, stated, metrics, path.name, sha


def _map_files(fn, files: list[Path]) -> Iterator:
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
    meta, sha = _read_pbz2(meta_file)
    folder_digest.update(f"{meta_file.name}:{sha}\n".encode())
    if not isinstance(meta, dict) or "meta_archs" not in meta:
        raise DataError(
            f"{name}/meta.pickle.pbz2 has no 'meta_archs'; expected the NATS-tss meta file."
        )
    meta_archs = _parse_meta_archs(meta["meta_archs"], f"{name}/meta.pickle.pbz2")
    del meta

    def items() -> Iterator[Item]:
        for index, stated, metrics, file_name, file_sha in _map_files(_simple_record, files):
            folder_digest.update(f"{file_name}:{file_sha}\n".encode())
            yield index, stated, metrics

    archs, cols, n = _build(name, meta_archs, items())
    meta_out = _meta(name, folder, "nats-tss-simple", folder_digest.hexdigest(), n, len(meta_archs))
    meta_out["source_sha256_of"] = "name:sha256 lines of the .pbz2 files read, sorted by name"
    return nb201.save_cache(archs, cols, meta_out)
