"""NB101 importers: the official TFRecord files and CSV tables, into the nb101 cache.

Sources: the official ``nasbench_only108.tfrecord`` / ``nasbench_full.tfrecord`` (read
without TensorFlow, see :func:`import_tfrecord`) or a CSV table (:func:`import_csv`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from array import array
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...errors import DataError
from .. import csvtable, tfrecord
from .codec import ProtoError, final_metrics
from .hashing import HASH_RE, module_hash
from .padded import Cell
from .space import SPACE
from .table import EPOCHS, METRICS, save_cache

# Per epoch budget: sums of validation and test accuracy and of train time, repeats seen.
Sums = tuple[array, array, array, array]

# --------------------------------------------------------------------------- TFRecord


class _Accumulator:
    """Per-cell running sums over the repeats, by epoch budget: flat arrays of doubles
    (8 bytes a value), so memory grows with the cells, never with the file."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.hashes: list[str] = []
        self.tokens = bytearray()  # int8 tokens, row after row
        self.params = array("d")
        # per epoch slot, once a record of that budget is seen
        self.slots: list[Sums | None] = [None] * len(EPOCHS)

    def open_slot(self, slot: int) -> Sums:
        zeros = bytes(8 * len(self.hashes))
        sums = (array("d", zeros), array("d", zeros), array("d", zeros), array("d", zeros))
        self.slots[slot] = sums
        return sums

    def new_row(self, h: str, tokens: bytes, params: int) -> int:
        row = len(self.hashes)
        self.index[h] = row
        self.hashes.append(h)
        self.tokens += tokens
        self.params.append(float(params))
        for sl in self.slots:
            if sl is not None:
                for arr in sl:
                    arr.append(0.0)
        return row


_EPOCH_SLOT = {e: s for s, e in enumerate(EPOCHS)}
_VERIFY_FIRST = 64
_VERIFY_EVERY = 1000


def import_tfrecord(path: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Convert an official ``nasbench_*.tfrecord`` into the nb101 cache, streaming.

    Each record is JSON ``[module_hash, epochs, adjacency, operations, base64 metrics]``;
    the final evaluation (the last ``evaluation_data`` entry) gives the validation and
    test accuracy and the training time, averaged over the repeats of each epoch budget.
    The stored hash is trusted, except that a sample of cells is re-hashed from its
    spec to catch a file that is not what it claims. ``progress(bytes_done, total)``
    is called once per chunk read.
    """
    path = Path(path)
    name = path.name
    total = path.stat().st_size
    sha = hashlib.sha256()
    done = 0

    def on_chunk(block: bytes) -> None:
        nonlocal done
        sha.update(block)
        done += len(block)
        if progress is not None:
            progress(done, total)

    acc = _Accumulator()
    index = acc.index
    loads = json.loads
    b64 = base64.b64decode
    final = final_metrics
    n_records = 0
    slots = acc.slots
    for offset, data in tfrecord.read_file(path, on_chunk=on_chunk):
        try:
            rec = loads(data.decode())  # str: skips json's encoding detection
        except (ValueError, UnicodeDecodeError):
            raise _err(
                name,
                offset,
                "is not valid JSON; expected "
                "[module_hash, epochs, adjacency, operations, metrics].",
            ) from None
        if type(rec) is not list or len(rec) != 5:
            raise _err(
                name,
                offset,
                "is not a 5-item JSON list; expected "
                "[module_hash, epochs, adjacency, operations, metrics].",
            )
        h, epochs, adj, ops, raw = rec
        slot = _EPOCH_SLOT.get(epochs) if type(epochs) is int else None
        if slot is None:
            raise _err(name, offset, f"has epochs {epochs!r}; expected one of 4, 12, 36, 108.")
        if type(raw) is not str:
            raise _err(name, offset, "has no base64 metrics text as its 5th item.")
        try:
            blob = b64(raw.replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            raise _err(name, offset, "has metrics that are not valid base64.") from None
        try:
            params, valid, test, ttime = final(blob)
        except ProtoError as exc:
            raise _err(name, offset, f"has a malformed ModelMetrics protobuf ({exc}).") from None
        if not (0.0 <= valid <= 1.0 and 0.0 <= test <= 1.0 and 0.0 <= ttime < _INF):
            raise _err(name, offset, _bad_metric(valid, test, ttime))  # NaN fails too
        row = index.get(h) if type(h) is str else None
        if row is None:
            row = _new_cell(acc, h, adj, ops, params, _at(name, offset))
        sl = slots[slot] or acc.open_slot(slot)
        sl[0][row] += valid
        sl[1][row] += test
        sl[2][row] += ttime
        sl[3][row] += 1.0
        n_records += 1
    if n_records == 0:
        raise DataError(f"{name} holds no records; expected an NAS-Bench-101 TFRecord file.")
    n = len(acc.hashes)
    metrics: dict[str, np.ndarray] = {"params": np.frombuffer(acc.params, dtype=np.float64)}
    seen = [(e, sl) for e, sl in zip(EPOCHS, slots, strict=True) if sl is not None]
    budgets = [e for e, _ in seen]
    for e, sums in seen:
        sv, st, stt, sc = (np.frombuffer(a, dtype=np.float64) for a in sums)
        with np.errstate(invalid="ignore", divide="ignore"):
            # Accuracies in percent, as every table here; NaN where a cell lacks a budget.
            metrics[f"valid@{e}"] = 100.0 * sv / sc
            metrics[f"test@{e}"] = 100.0 * st / sc
            metrics[f"train-time@{e}"] = stt / sc
    # The usual number of repeats (3 in the official files), from the longest budget.
    counts = np.frombuffer(seen[-1][1][3], dtype=np.float64)
    repeats = int(np.bincount(counts.astype(np.int64)).argmax())
    meta = {
        "source": name,
        "source_path": str(path.resolve()),
        "source_sha256": sha.hexdigest(),
        "format": "tfrecord",
        "records": n_records,
        "epochs": budgets,
        "repeats": repeats,
    }
    tokens = np.frombuffer(acc.tokens, dtype=np.int8).reshape(n, SPACE.seq_len)
    return save_cache(acc.hashes, tokens, metrics, meta)


_INF = float("inf")


def _bad_metric(valid: float, test: float, ttime: float) -> str:
    """What is wrong with a record's final metrics, for ``_err``."""
    for what, value, hi in (
        ("validation_accuracy", valid, 1.0),
        ("test_accuracy", test, 1.0),
        ("training_time", ttime, _INF),
    ):
        if not 0.0 <= value <= hi or value == _INF:
            expected = "a fraction from 0 to 1" if hi == 1.0 else "a finite number of seconds >= 0"
            return f"has final {what} {value}; expected {expected}."
    return "has final metrics out of range."  # not reached


def _at(name: str, offset: int) -> str:
    return f"{name}: the record at byte offset {offset}"


def _err(name: str, offset: int, what: str) -> DataError:
    return DataError(f"{_at(name, offset)} {what}")


def _new_cell(acc: _Accumulator, h, adj, ops, params: int, where: str) -> int:
    """Register the cell of a record whose hash is new: check and tokenize its spec."""
    if type(h) is not str or not HASH_RE.fullmatch(h):
        raise DataError(f"{where} has module hash {h!r}; expected 32 lowercase hex digits.")
    if type(adj) is not str or type(ops) is not str:
        raise DataError(f"{where} has no adjacency/operations text as items 3 and 4.")
    op_list = ops.split(",")
    row = len(acc.hashes)
    verify = row < _VERIFY_FIRST or row % _VERIFY_EVERY == 0
    tokens = None if verify else SPACE.spec_tokens(adj, ops)
    if tokens is None:  # a sampled row, or a spec that needs pruning or an error message
        v = len(op_list)
        if len(adj) != v * v or set(adj) - {"0", "1"}:
            raise DataError(
                f"{where} has adjacency '{adj[:60]}'; expected {v * v} characters 0/1 "
                f"({v} operations)."
            )
        matrix = [[1 if adj[a * v + b] == "1" else 0 for b in range(v)] for a in range(v)]
        arch = SPACE._arch_from_spec(
            matrix, op_list, lambda why: DataError(f"{where} has an invalid cell: {why}.")
        )
        if verify:
            mine = module_hash(*arch)
            if mine != h:
                raise DataError(
                    f"{where} has module hash {h} but its cell hashes to {mine}; expected "
                    "them equal (not an NAS-Bench-101 file, or a corrupt one)."
                )
        tokens = SPACE.to_tokens(arch).astype(np.int8).tobytes()
    return acc.new_row(h, tokens, params)


# --------------------------------------------------------------------------- CSV

# Column names of the shared subset's layout (fractions) -> metric names (percent).
CSV_ALIASES = {
    **{f"val_acc_{e}": f"valid@{e}" for e in EPOCHS},
    **{f"test_acc_{e}": f"test@{e}" for e in EPOCHS},
    "train_time_108_s": "train-time@108",
    "trainable_parameters": "params",
}
_FRACTION_COLUMNS = {f"val_acc_{e}" for e in EPOCHS} | {f"test_acc_{e}" for e in EPOCHS}


def _csv_metric(column: str) -> tuple[str, float] | None:
    """``(metric, scale to percent)`` of a column name, ``None`` for other columns."""
    if column in CSV_ALIASES:
        return CSV_ALIASES[column], 100.0 if column in _FRACTION_COLUMNS else 1.0
    if column in METRICS:
        return column, 1.0
    return None


def import_csv(path: Path) -> Path:
    """Convert a CSV table (plain or gzip) into the nb101 cache.

    Each row needs ``module_hash`` or a spec (``adjacency_rowmajor``/``adjacency`` as a
    row-major 0/1 string plus ``operations``/``ops`` comma-separated), or both (then
    they must agree). Metric columns are named as in :data:`METRICS` (accuracies in
    percent, ``params`` the whole count: the table reads it in millions) or as in the
    shared subset (:data:`CSV_ALIASES`, accuracies as fractions).
    A row with a hash only has tokens -1: it can be looked up, not decoded.
    """
    path = Path(path)
    name = path.name
    with csvtable.open_table(path, "'module_hash'") as table:
        h_col = table.column("module_hash")
        a_col = table.column("adjacency_rowmajor", "adjacency")
        o_col = table.column("operations", "ops")
        if h_col is None and (a_col is None or o_col is None):
            raise DataError(
                f"{name} has neither a 'module_hash' column nor 'adjacency_rowmajor' "
                "and 'operations' columns; expected one of them."
            )
        metrics = table.metrics(_csv_metric)
        hashes: list[str] = []
        tokens: list[np.ndarray] = []
        seen: dict[str, int] = {}
        unknown = np.full(SPACE.seq_len, -1, dtype=np.int8)
        for r, row in table.rows():
            h = row[h_col].strip() if h_col is not None else ""
            adj = row[a_col].strip() if a_col is not None else ""
            ops = row[o_col].strip() if o_col is not None else ""
            if h and not HASH_RE.fullmatch(h):
                raise DataError(
                    f"{name} line {r} has module_hash '{h}'; expected 32 lowercase hex digits."
                )
            if adj or ops:
                arch = _csv_arch(name, r, adj, ops)
                mine = module_hash(*arch)
                if h and mine != h:
                    raise DataError(
                        f"{name} line {r} has module_hash {h} but its cell hashes to "
                        f"{mine}; expected them equal."
                    )
                h = mine
                tokens.append(SPACE.to_tokens(arch).astype(np.int8))
            elif h:
                tokens.append(unknown)
            else:
                raise DataError(f"{name} line {r} has neither a module_hash nor a cell.")
            if h in seen:
                raise DataError(f"{name} repeats cell {h} (lines {seen[h]} and {r}).")
            seen[h] = r
            hashes.append(h)
            metrics.read(r, row)
        single = "source_file" in table.col  # the shared subset: one repeat per cell
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.values.items()}
    for k, v in cols.items():
        if k.startswith(("valid@", "test@")) and ((v < 0) | (v > 100)).any():
            raise DataError(
                f"{name} column for '{k}' has values outside 0..100 % (fractions expected "
                "in the val_acc_*/test_acc_* columns, percent in the valid@/test@ ones)."
            )
    meta = dict(csvtable.source_meta(path), with_spec=int(sum(1 for t in tokens if t[0] != -1)))
    if single:
        meta["repeats"] = 1
    tok = np.stack(tokens) if tokens else np.zeros((0, SPACE.seq_len), np.int8)
    return save_cache(hashes, tok, cols, meta)


def _csv_arch(name: str, r: int, adj: str, ops: str) -> Cell:
    op_list = [o.strip() for o in ops.split(",")]
    v = len(op_list)
    if len(adj) != v * v or set(adj) - {"0", "1"}:
        raise DataError(
            f"{name} line {r} has adjacency '{adj}'; expected {v * v} characters 0/1 "
            f"(row-major, {v} operations)."
        )
    matrix = [[int(adj[a * v + b]) for b in range(v)] for a in range(v)]
    return SPACE._arch_from_spec(
        matrix, op_list, lambda why: DataError(f"{name} line {r} has an invalid cell: {why}.")
    )


# --------------------------------------------------------------------------- entry point


def import_file(path: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Convert an NB101 source into the cache, detecting its format: a CSV table
    (``.csv``/``.csv.gz``, or gzip content) or an official TFRecord file."""
    path = Path(path)
    lower = path.name.lower()
    if path.is_dir():
        raise DataError(f"{path.name} is a folder; expected a .tfrecord file or a CSV table.")
    if lower.endswith((".csv", ".csv.gz")):
        return import_csv(path)
    if lower.endswith(".tfrecord") or tfrecord.looks_like_tfrecord(path):
        return import_tfrecord(path, progress=progress)
    if csvtable.is_gzip(path):
        return import_csv(path)
    raise DataError(
        f"{path.name} is not a known NAS-Bench-101 format; expected an official .tfrecord "
        "file (nasbench_only108 or nasbench_full) or a .csv/.csv.gz table."
    )
