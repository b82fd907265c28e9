"""NAS-Bench-201: the cell space and the table, and the CSV importer.

A cell has 4 nodes and 6 edges, each edge one of 5 operations; all 5**6 = 15,625 cells
are distinct architectures of the benchmark. An ``Arch`` is a 6-tuple of op codes in the
order of the official string: node1<-0, node2<-0, node2<-1, node3<-0, node3<-1, node3<-2.
Codes follow the official op list: 0 none, 1 skip_connect, 2 nor_conv_1x1,
3 nor_conv_3x3, 4 avg_pool_3x3.

Readers of the official ``.pth`` and NATS-Bench files live in ``nb201_official.py``; they
and the CSV reader all end in :func:`save_cache`.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError, UnknownArchError
from . import cache
from .base import Arch, DatasetSpec, Space, Table

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from), string order
N_ARCHS = len(OPS) ** len(EDGES)

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


class NB201Space(Space):
    name = "nb201"
    seq_len = len(EDGES)
    vocab_size = len(OPS)

    def sample(self, rng: np.random.Generator) -> Arch:
        return tuple(int(x) for x in rng.integers(0, len(OPS), size=len(EDGES)))

    def is_valid(self, arch: Arch) -> bool:
        return (
            isinstance(arch, tuple)
            and len(arch) == len(EDGES)
            and all(isinstance(o, (int, np.integer)) and 0 <= o < len(OPS) for o in arch)
        )

    def canonical_id(self, arch: Arch) -> str:
        return self.to_native(arch)

    def code(self, arch: Arch) -> int:
        """Base-5 number of the op tuple: a dense id in 0..15624 (not the official index)."""
        c = 0
        for o in arch:
            c = c * len(OPS) + int(o)
        return c

    def to_tokens(self, arch: Arch) -> np.ndarray:
        return np.asarray(arch, dtype=np.int64)

    def from_tokens(self, tokens: Sequence[int]) -> Arch:
        # Every 6-tuple of codes is a valid cell, so repair only clips out-of-range codes.
        toks = list(tokens)[: len(EDGES)]
        toks += [0] * (len(EDGES) - len(toks))
        return tuple(min(max(int(t), 0), len(OPS) - 1) for t in toks)

    def to_native(self, arch: Arch) -> str:
        nodes = []
        k = 0
        for node in (1, 2, 3):
            parts = []
            for src in range(node):
                parts.append(f"{OPS[arch[k]]}~{src}")
                k += 1
            nodes.append("|" + "|".join(parts) + "|")
        return "+".join(nodes)

    def from_native(self, text: str) -> Arch:
        s = text.strip()
        nodes = s.split("+")
        ops: list[int] = []
        ok = len(nodes) == 3
        for node, chunk in enumerate(nodes, start=1):
            if not ok:
                break
            if not (chunk.startswith("|") and chunk.endswith("|")):
                ok = False
                break
            parts = chunk[1:-1].split("|")
            if len(parts) != node:
                ok = False
                break
            for src, part in enumerate(parts):
                op, _, idx = part.partition("~")
                if op not in OPS or idx != str(src):
                    ok = False
                    break
                ops.append(OPS.index(op))
        if not ok or len(ops) != len(EDGES):
            raise UnknownArchError(
                f"'{text}' is not a NAS-Bench-201 architecture string; expected "
                f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with op one of {', '.join(OPS)}."
            )
        return tuple(ops)

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        out = list(arch)
        e = int(rng.integers(len(EDGES)))
        out[e] = (out[e] + 1 + int(rng.integers(len(OPS) - 1))) % len(OPS)
        return tuple(out)

    def enumerate(self) -> list[Arch]:
        """All 15,625 cells in base-5 order."""
        grid = np.indices((len(OPS),) * len(EDGES)).reshape(len(EDGES), -1).T
        return [tuple(int(x) for x in row) for row in grid]

    def token_relations(self) -> np.ndarray:
        rel = np.zeros((len(EDGES), len(EDGES)), dtype=bool)
        for i, a in enumerate(EDGES):
            for j, b in enumerate(EDGES):
                rel[i, j] = bool(set(a) & set(b))
        return rel


SPACE = NB201Space()


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


def save_cache(archs: Sequence[Arch], metrics: dict[str, Sequence[float]], meta: dict) -> Path:
    """Validate and write the nb201 cache (every importer ends here)."""
    n = len(archs)
    if n == 0:
        raise DataError(f"{meta.get('source', 'The file')} holds no architectures.")
    seen: dict[Arch, int] = {}
    for i, a in enumerate(archs):
        if a in seen:
            raise DataError(
                f"{meta.get('source', 'The file')} repeats architecture "
                f"{SPACE.to_native(a)} (rows {seen[a] + 1} and {i + 1})."
            )
        seen[a] = i
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
    if not datasets_for(cols):
        raise DataError(
            f"{meta.get('source', 'The file')} has no complete dataset: expected at least "
            "'cifar10-valid/x-valid@200' and 'cifar10/ori-test@200' (or the cifar100 / "
            "ImageNet16-120 validation and test columns)."
        )
    tokens = np.asarray(archs, dtype=np.int8).reshape(n, len(EDGES))
    return cache.save("nb201", tokens, cols, meta)


def import_csv(path: Path) -> Path:
    """Convert a CSV table (plain or gzip) into the nb201 cache.

    Needs a column ``arch_str`` (official strings) and metric columns, named either as in
    :data:`METRICS` or as in the shared layout (:data:`CSV_ALIASES`); other columns are
    ignored. An ``arch_index`` column, when present, orders the rows.
    """
    path = Path(path)
    name = path.name
    try:
        with cache.open_text(path) as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise DataError(f"{name} is empty; expected a CSV header with 'arch_str'.")
            header = [h.strip() for h in header]
            if "arch_str" not in header:
                raise DataError(f"{name} has no column 'arch_str'; expected one.")
            a_col = header.index("arch_str")
            i_col = header.index("arch_index") if "arch_index" in header else None
            m_cols = {}
            for j, h in enumerate(header):
                canon = CSV_ALIASES.get(h, h if h in METRICS else None)
                if canon is not None:
                    m_cols[j] = canon
            archs: list[Arch] = []
            order: list[int] = []
            values: dict[str, list[float]] = {c: [] for c in m_cols.values()}
            for r, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{name} line {r} has {len(row)} fields, expected {len(header)}."
                    )
                try:
                    archs.append(SPACE.from_native(row[a_col]))
                except UnknownArchError as exc:
                    raise DataError(f"{name} line {r}: {exc}") from None
                for j, canon in m_cols.items():
                    cell = row[j].strip()
                    try:
                        values[canon].append(float(cell) if cell else float("nan"))
                    except ValueError:
                        raise DataError(
                            f"{name} line {r} column '{header[j]}' is '{cell}', expected a number."
                        ) from None
                if i_col is not None:
                    try:
                        order.append(int(row[i_col]))
                    except ValueError:
                        raise DataError(
                            f"{name} line {r} column 'arch_index' is '{row[i_col]}', "
                            "expected an integer."
                        ) from None
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{name} could not be read as a CSV table ({exc}).") from None
    if order:
        perm = np.argsort(np.asarray(order), kind="stable")
        archs = [archs[i] for i in perm]
        values = {k: [v[i] for i in perm] for k, v in values.items()}
    meta = {
        "source": name,
        "source_path": str(path.resolve()),
        "source_sha256": cache.sha256_of(path),
        "format": "csv",
        "official_order": bool(order),
    }
    return save_cache(archs, values, meta)


def load_table() -> Table | None:
    """The cached nb201 table, or ``None`` when nothing was imported yet."""
    got = cache.load("nb201")
    if got is None:
        return None
    tokens, metrics, meta = got
    return Table("nb201", SPACE, tokens, metrics, datasets_for(metrics), meta)


def import_file(path: Path) -> Path:
    """Convert any accepted NB201 source into the cache, detecting its format:
    a CSV table (``.csv``/``.csv.gz``), the official ``.pth`` (v1_0, v1_1), a NATS-tss
    full ``.pickle.pbz2``, or a NATS-tss ``-simple/`` folder."""
    path = Path(path)
    lower = path.name.lower()
    if lower.endswith((".csv", ".csv.gz")):
        return import_csv(path)
    from . import nb201_official  # pickle/bz2 readers: loaded only when needed

    if path.is_dir():
        return nb201_official.import_nats_simple(path)
    if lower.endswith(".pth"):
        return nb201_official.import_pth(path)
    if lower.endswith(".pbz2"):
        return nb201_official.import_nats_full(path)
    raise DataError(
        f"{path.name} is not a known NAS-Bench-201 format; expected a .csv/.csv.gz table, "
        "an official .pth, a NATS-tss .pickle.pbz2 file, or a NATS-tss -simple folder."
    )
