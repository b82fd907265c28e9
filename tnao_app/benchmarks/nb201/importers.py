"""NB201 importers: CSV tables here, the official files (``official``) on demand."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import DataError, UnknownArchError
from .. import csvtable
from .space import SPACE, Cell
from .table import METRICS, save_cache

# Column names of the table layout in ../shared/data/nb201.csv.gz (one accepted layout).
CSV_ALIASES = {
    "cifar10_valid_train_acc_200": "cifar10-valid/train@200",
    "cifar10_valid_valid_acc_200": "cifar10-valid/x-valid@200",
    "cifar10_valid_test_acc_200": "cifar10-valid/ori-test@200",
    "cifar10_valid_train_time_200": "cifar10-valid/train-time@200",
    "cifar10_test_acc_200": "cifar10/ori-test@200",
    "cifar100_valid_acc_200": "cifar100/x-valid@200",
    "cifar100_test_acc_200": "cifar100/x-test@200",
    "imagenet16_valid_acc_200": "ImageNet16-120/x-valid@200",
    "imagenet16_test_acc_200": "ImageNet16-120/x-test@200",
    "cifar10_valid_valid_acc_12": "cifar10-valid/x-valid@12",
    "cifar10_test_acc_12": "cifar10/ori-test@12",
    "cifar100_valid_acc_12": "cifar100/x-valid@12",
    "cifar100_test_acc_12": "cifar100/x-test@12",
    "imagenet16_valid_acc_12": "ImageNet16-120/x-valid@12",
    "imagenet16_test_acc_12": "ImageNet16-120/x-test@12",
    "params_M_cifar10": "cifar10/params",
    "params_M_cifar100": "cifar100/params",
    "params_M_imagenet16": "ImageNet16-120/params",
    "flops_M_cifar10": "cifar10/flops",
    "flops_M_cifar100": "cifar100/flops",
    "flops_M_imagenet16": "ImageNet16-120/flops",
}


def _csv_metric(column: str) -> tuple[str, float] | None:
    """``(metric, scale)`` of a column name, ``None`` for other columns."""
    canon = CSV_ALIASES.get(column, column if column in METRICS else None)
    return None if canon is None else (canon, 1.0)


def import_csv(path: Path) -> Path:
    """Convert a CSV table (plain or gzip) into the nb201 cache.

    Needs a column ``arch_str`` (official strings) and metric columns, named either as in
    :data:`METRICS` or as in the shared layout (:data:`CSV_ALIASES`); other columns are
    ignored. An ``arch_index`` column, when present, orders the rows.
    """
    path = Path(path)
    name = path.name
    with csvtable.open_table(path, "'arch_str'") as table:
        header = table.header
        if "arch_str" not in header:
            raise DataError(f"{name} has no column 'arch_str'; expected one.")
        a_col = header.index("arch_str")
        i_col = header.index("arch_index") if "arch_index" in header else None
        metrics = table.metrics(_csv_metric)
        archs: list[Cell] = []
        order: list[int] = []
        for r, row in table.rows():
            try:
                archs.append(SPACE.from_native(row[a_col]))
            except UnknownArchError as exc:
                raise DataError(f"{name} line {r}: {exc}") from None
            metrics.read(r, row)
            if i_col is not None:
                order.append(table.integer(r, row, i_col))
    values = metrics.values
    if order:
        perm = np.argsort(np.asarray(order), kind="stable")
        archs = [archs[i] for i in perm]
        values = {k: [v[i] for i in perm] for k, v in values.items()}
    meta = dict(csvtable.source_meta(path), official_order=bool(order))
    return save_cache(archs, values, meta)


def import_file(path: Path) -> Path:
    """Convert any accepted NB201 source into the cache, detecting its format:
    a CSV table (``.csv``/``.csv.gz``), the official ``.pth`` (v1_0, v1_1), a NATS-tss
    full ``.pickle.pbz2``, or a NATS-tss ``-simple/`` folder."""
    path = Path(path)
    lower = path.name.lower()
    if lower.endswith((".csv", ".csv.gz")):
        return import_csv(path)
    # The pickle/bz2 readers are loaded only when needed.
    from .official import import_nats_full, import_nats_simple, import_pth

    if path.is_dir():
        return import_nats_simple(path)
    if lower.endswith(".pth"):
        return import_pth(path)
    if lower.endswith(".pbz2"):
        return import_nats_full(path)
    raise DataError(
        f"{path.name} is not a known NAS-Bench-201 format; expected a .csv/.csv.gz table, "
        "an official .pth, a NATS-tss .pickle.pbz2 file, or a NATS-tss -simple folder."
    )
