"""The nb201 table: its metric names, its datasets, and its local cache.

Every importer (CSV here, the official files in ``official``) ends in :func:`save_cache`
with the canonical metric names of :data:`METRICS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ...errors import DataError
from .. import cache
from ..base import DatasetSpec, Table
from .space import EDGES, SPACE, Cell

# Metric names follow the official API: "<dataset>/<split>@<epochs>".
DATASET_NAMES = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16": "ImageNet16-120"}
METRICS = (
    "cifar10-valid/train@200",
    "cifar10-valid/x-valid@200",
    "cifar10-valid/ori-test@200",
    "cifar10-valid/train-time@200",
    "cifar10/ori-test@200",
    "cifar100/x-valid@200",
    "cifar100/x-test@200",
    "ImageNet16-120/x-valid@200",
    "ImageNet16-120/x-test@200",
    "cifar10-valid/x-valid@12",
    "cifar10/ori-test@12",
    "cifar100/x-valid@12",
    "cifar100/x-test@12",
    "ImageNet16-120/x-valid@12",
    "ImageNet16-120/x-test@12",
    "cifar10/params",
    "cifar100/params",
    "ImageNet16-120/params",
    "cifar10/flops",
    "cifar100/flops",
    "ImageNet16-120/flops",
)


def datasets_for(metrics: dict[str, np.ndarray]) -> dict[str, DatasetSpec]:
    """The datasets a table supports, with search signal and reported metric.

    cifar10 follows the official API (search on cifar10-valid x-valid, report cifar10
    ori-test, both at 200 epochs). cifar100 and ImageNet16-120 search on x-valid at 200
    epochs when the table has it, else on the 12-epoch x-valid (NATS-Bench's protocol for
    search algorithms), and report x-test at 200 epochs.
    """

    def complete(name: str) -> bool:
        return name in metrics and not np.isnan(metrics[name]).all()

    out: dict[str, DatasetSpec] = {}
    if complete("cifar10-valid/x-valid@200") and complete("cifar10/ori-test@200"):
        out["cifar10"] = DatasetSpec("cifar10", "cifar10-valid/x-valid@200", "cifar10/ori-test@200")
    for short in ("cifar100", "imagenet16"):
        ds = DATASET_NAMES[short]
        report = f"{ds}/x-test@200"
        if not complete(report):
            continue
        full = f"{ds}/x-valid@200"
        if complete(full) and not np.isnan(metrics[full]).any():
            out[short] = DatasetSpec(short, full, report)
        elif complete(f"{ds}/x-valid@12"):
            out[short] = DatasetSpec(
                short,
                f"{ds}/x-valid@12",
                report,
                note="search signal is the 12-epoch validation accuracy (NATS-Bench "
                "protocol): this table has no complete 200-epoch x-valid column",
                proxy=True,
            )
    return out


def save_cache(archs: Sequence[Cell], metrics: Mapping[str, Sequence[float]], meta: dict) -> Path:
    """Validate and write the nb201 cache (every importer ends here)."""
    n = len(archs)
    if n == 0:
        raise DataError(f"{meta.get('source', 'The file')} holds no architectures.")
    seen: dict[Cell, int] = {}
    for i, a in enumerate(archs):
        if a in seen:
            raise DataError(
                f"{meta.get('source', 'The file')} repeats architecture "
                f"{SPACE.to_native(a)} (rows {seen[a] + 1} and {i + 1})."
            )
        seen[a] = i
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
    bad = cache.first_bad_value(cols)
    if bad is not None:
        name, i, value, expected = bad
        raise DataError(
            f"{meta.get('source', 'The file')} has {value:g} as '{name}' of architecture "
            f"{SPACE.to_native(archs[i])}; expected {expected}."
        )
    if not datasets_for(cols):
        raise DataError(
            f"{meta.get('source', 'The file')} has no complete dataset: expected at least "
            "'cifar10-valid/x-valid@200' and 'cifar10/ori-test@200' (or the cifar100 / "
            "ImageNet16-120 validation and test columns)."
        )
    tokens = np.asarray(archs, dtype=np.int8).reshape(n, len(EDGES))
    return cache.save("nb201", tokens, cols, meta)


def load_table() -> Table | None:
    """The cached nb201 table, or ``None`` when nothing was imported yet."""
    got = cache.load("nb201")
    if got is None:
        return None
    tokens, metrics, meta = got
    return Table("nb201", SPACE, tokens, metrics, datasets_for(metrics), meta)
