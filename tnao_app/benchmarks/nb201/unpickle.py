"""Safe readers of the pickles the official NAS-Bench-201 / NATS-Bench files are.

These files are pickles, which could run code. Nothing is ever loaded with a plain
unpickler or ``torch.load``: our own restricted unpickler (the C ``pickle.Unpickler``
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
import pickle
import re
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ...errors import DataError
from .. import cache

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


def read_pbz2(path: Path) -> tuple[object, str]:
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
