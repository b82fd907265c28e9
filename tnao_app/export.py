"""Export a recorded run: its leaderboard as JSON or CSV, the architectures in the
benchmark's own form, or a Python file defining the found network as a torch.nn.Module.

Formats (``export_run(store, run_id, fmt, top=None, out=None)``):
- ``json``: ``{"format": "tnao-run", "version": 2, "run": {...}, "leaderboard": [...]}``
  (missing values are ``null``).
- ``csv``: ``position,arch,predicted,valid,test,percentile``; an empty cell is a missing
  value; floats are written with ``repr`` so they read back exactly.
- ``arch``: NB201 / analog: one official architecture string per line, best first;
  NB101: a JSON list of ``{"position", "matrix", "ops"}`` (adjacency matrix + op labels).
- ``torch``: a self-contained Python file (it imports only torch) whose ``Network`` is the
  benchmark's macro skeleton built around the found cell; ``build(rank=1)``.

Two ranks exist and are never both called "rank": ``position`` is a row's place in the
run's leaderboard (1 = the run's best), ``table_rank`` is where an architecture's reported
metric ranks among all architectures of the benchmark table (in the run's ``result.best``).
Version 1 files and stored runs say ``rank`` for both; ``public_rows``/``public_result``
translate them and the readers accept both.

``parse_json``, ``parse_csv`` and ``parse_arch`` read the files back (used by the tests).
Every output is written atomically (an export either completes or leaves nothing) with the
mode a new file normally gets (0666 less the umask).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

from .benchmarks.cache import atomic_write
from .errors import ConfigError, StorageError, UnknownArchError

FORMATS = ("json", "csv", "arch", "torch")
FORMAT_VERSION = 2  # 2: leaderboard "rank" -> "position", result best "rank" -> "table_rank"
COLUMNS = ("position", "arch", "predicted", "valid", "test", "percentile")
NB201_LIKE = ("nb201", "analog")  # analog shares NB201's cell space


def num_classes(dataset: str) -> int:
    """Classes of the dataset a run searched for (NB101 and analog are CIFAR-10)."""
    d = dataset.lower()
    if "cifar100" in d:
        return 100
    if "imagenet" in d:
        return 120
    return 10


def public_rows(rows: list[dict]) -> list[dict]:
    """Leaderboard rows as the outputs name them: ``position`` (in the run's leaderboard),
    never ``rank``; stored rows (``rank``) and already public rows are both accepted."""
    out = []
    for r in rows:
        row = {"position": r.get("position", r.get("rank"))}
        row.update((k, v) for k, v in r.items() if k not in ("rank", "position"))
        out.append(row)
    return out


def public_result(result: dict | None) -> dict | None:
    """A run result (as ``run_pipeline`` returns and the history stores it) with its two
    ranks named apart: ``best.table_rank`` (in the whole table; ``best.rank`` too) and
    leaderboard ``position``; old stored results are translated the same way."""
    if not isinstance(result, dict):
        return result
    out = dict(result)
    best = out.get("best")
    if isinstance(best, dict) and "rank" in best:
        # ``best.rank`` stays (the documented --json field); ``table_rank`` says the same
        # under the name the leaderboard rows use
        out["best"] = {**best, "table_rank": best["rank"]}
    if isinstance(out.get("leaderboard"), list):
        out["leaderboard"] = public_rows(out["leaderboard"])
    return out


def _fnum(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))


# -- NB101 native form ---------------------------------------------------------------------
def nb101_parts(native: str) -> tuple[list[list[int]], list[str]]:
    """(matrix, ops) of an NB101 native string: JSON of ``{"matrix", "ops"}`` (also
    ``adjacency``/``operations`` keys, or a ``[matrix, ops]`` pair)."""
    try:
        obj = json.loads(native)
        if isinstance(obj, dict):
            matrix = obj.get("matrix", obj.get("adjacency"))
            ops = obj.get("ops", obj.get("operations"))
        else:
            matrix, ops = obj
        if ops is None or matrix is None:
            raise TypeError("no matrix or ops")
        if isinstance(ops, str):  # "input,conv3x3-bn-relu,...,output"
            ops = ops.split(",")
        ops = [str(o).strip() for o in ops]
        if isinstance(matrix, str):  # V*V '0'/'1' characters, row-major
            v = len(ops)
            matrix = [matrix[i * v : (i + 1) * v] for i in range(v)]
        matrix = [[int(x) for x in row] for row in matrix]
    except (ValueError, TypeError, AttributeError):
        raise UnknownArchError(
            f"'{native[:60]}' is not an NB101 architecture; expected JSON with 'matrix' and 'ops'."
        ) from None
    if len(matrix) != len(ops) or any(len(row) != len(ops) for row in matrix):
        raise UnknownArchError(
            f"'{native[:60]}' has a {len(matrix)}-row matrix but {len(ops)} ops; expected a "
            "square matrix with one op per vertex."
        )
    return matrix, ops


# -- writers -------------------------------------------------------------------------------
def _json_text(run: dict, rows: list[dict]) -> str:
    keep = (
        "id",
        "name",
        "benchmark",
        "dataset",
        "method",
        "seed",
        "status",
        "created_at",
        "started_at",
        "finished_at",
        "tnao_version",
        "device",
        "config",
        "result",
    )
    doc = {
        "format": "tnao-run",
        "version": FORMAT_VERSION,
        "run": {k: public_result(run.get(k)) if k == "result" else run.get(k) for k in keep},
        "leaderboard": [{k: r.get(k) for k in COLUMNS} for r in public_rows(rows)],
    }
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def _csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in public_rows(rows):
        w.writerow([r["position"], r["arch"], *(_fnum(r.get(k)) for k in COLUMNS[2:])])
    return buf.getvalue()


def _arch_text(benchmark: str, rows: list[dict]) -> str:
    if benchmark == "nb101":
        out = []
        for r in public_rows(rows):
            matrix, ops = nb101_parts(r["arch"])
            out.append({"position": r["position"], "matrix": matrix, "ops": ops})
        return json.dumps(out, indent=1) + "\n"
    return "".join(f"{r['arch']}\n" for r in rows)


def export_text(run: dict, rows: list[dict], fmt: str) -> str:
    """The text of ``rows`` (leaderboard dicts, best first) of ``run`` in ``fmt``."""
    if fmt == "json":
        return _json_text(run, rows)
    if fmt == "csv":
        return _csv_text(rows)
    bench = run["benchmark"]
    if not rows:
        raise StorageError(
            f"Run {run['id']} has no leaderboard yet (status {run['status']}); there is no "
            f"architecture to export as {fmt}."
        )
    if fmt == "arch":
        return _arch_text(bench, rows)
    if bench in NB201_LIKE:
        return nb201_module(run, rows, num_classes(run["dataset"]))
    if bench == "nb101":
        return nb101_module(run, rows, num_classes(run["dataset"]))
    raise ConfigError(f"Benchmark '{bench}' has no torch export; expected nb201, analog or nb101.")


def export_run(
    store, run_id: str, fmt: str, top: int | None = None, out: str | os.PathLike | None = None
) -> str:
    """Export run ``run_id`` of ``store`` in ``fmt``; write it to ``out`` when given.

    ``top``: the best K leaderboard rows (default: all; ``torch``: 1). Returns the text.
    """
    if fmt not in FORMATS:
        raise ConfigError(
            f"Export format '{fmt}' is unknown; expected one of {', '.join(FORMATS)}."
        )
    if top is not None and top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}.")
    run = store.get_run(run_id)
    rows = store.leaderboard(run["id"])
    if top is None and fmt == "torch":
        top = 1
    if top is not None:
        rows = rows[:top]
    text = export_text(run, rows, fmt)
    if out is not None:
        target = Path(out).expanduser().resolve()
        db = Path(store.path).resolve()
        if target in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            raise StorageError(
                f"Cannot write the export to {out}: it is the run history itself; "
                "give another file name."
            )
        write_text(Path(out), text)
    return text


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically; one sentence if the path cannot be written."""
    path = path.expanduser()
    if path.is_dir():
        raise StorageError(f"Cannot write the export to {path}: it is a folder; give a file name.")
    if not path.parent.is_dir():
        raise StorageError(
            f"Cannot write the export to {path}: the folder {path.parent} does not exist."
        )
    try:
        atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    except OSError as exc:
        raise StorageError(f"Cannot write the export to {path} ({exc.strerror or exc}).") from None


# -- torch modules ---------------------------------------------------------------------------
# The generated files are templates filled with the run's architectures (as Python
# literals via repr), so what a user gets is plain, readable torch code.

_NB201_TEMPLATE = '''"""NAS-Bench-201 network found by TNAO run {run_id}.

Run: benchmark {benchmark}, dataset {dataset}, method {method}.

Generated by `tnao export {run_id} --format torch`; this file imports only torch.

Macro skeleton of NAS-Bench-201: a 3x3 conv stem (C=16) with batch norm; three stages of
N=5 identical cells at 16, 32 and 64 channels, with a residual reduction block (stride 2,
channels doubled) between stages; batch norm + ReLU, global average pooling and a linear
classifier. In a cell, node j is the sum over i < j of op(node i) on the edge i -> j, and
the cell outputs node 3. Ops: none = zero, skip_connect = identity, nor_conv_kxk =
ReLU-Conv-BN, avg_pool_3x3 = 3x3 average pooling (stride 1).

ARCHS holds the exported cells, best first; build(rank) returns the network of one of them.
"""

import torch
from torch import nn

ARCHS = {archs}
NUM_CLASSES = {num_classes}
C = 16
N = 5


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.0


def make_op(name: str, channels: int) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 op {{name!r}}")


def parse_arch(arch: str) -> list[tuple[int, int, str]]:
    """Edges (to, from, op) of an arch string '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'."""
    edges = []
    for to, chunk in enumerate(arch.split("+"), start=1):
        for part in chunk.strip("|").split("|"):
            op, src = part.split("~")
            edges.append((to, int(src), op))
    return edges


class Cell(nn.Module):
    def __init__(self, arch: str, channels: int) -> None:
        super().__init__()
        self.edges = [(to, src) for to, src, _ in parse_arch(arch)]
        self.ops = nn.ModuleList(make_op(op, channels) for _, _, op in parse_arch(arch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for to in (1, 2, 3):
            nodes.append(sum(
                op(nodes[src]) for (t, src), op in zip(self.edges, self.ops) if t == to
            ))
        return nodes[3]


class ResidualReduction(nn.Module):
    """Basic residual block with stride 2 between stages (channels doubled)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class Network(nn.Module):
    def __init__(self, arch: str = ARCHS[0], num_classes: int = NUM_CLASSES, C: int = C,
                 N: int = N) -> None:
        super().__init__()
        self.arch = arch
        layers: list[nn.Module] = [
            nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)
        ]
        channels = C
        for stage in range(3):
            if stage:
                layers.append(ResidualReduction(channels, channels * 2))
                channels *= 2
            layers.extend(Cell(arch, channels) for _ in range(N))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.head(self.features(x))).flatten(1)
        return self.classifier(x)


def build(rank: int = 1) -> Network:
    """The network of the rank-th exported cell (1 = the best)."""
    if not 1 <= rank <= len(ARCHS):
        raise ValueError(f"rank must be 1..{{len(ARCHS)}}, got {{rank}}")
    return Network(ARCHS[rank - 1])
'''

_NB101_TEMPLATE = '''"""NAS-Bench-101 network found by TNAO run {run_id}.

Run: benchmark {benchmark}, dataset {dataset}, method {method}.

Generated by `tnao export {run_id} --format torch`; this file imports only torch.

Skeleton of NAS-Bench-101: a 3x3 conv-BN-ReLU stem with 128 channels; three stacks of
three cells; 2x2 max pooling (stride 2) between stacks, where the first cell of the next
stack doubles the channels; global average pooling and a linear classifier.

A cell is a DAG given by an upper-triangular adjacency matrix and one op per vertex
(vertex 0 = input, last = output). Vertices not on an input -> output path are pruned.
Channels follow the official split: the output's channels are divided evenly among the
vertices that feed it (their outputs are concatenated); a vertex that does not feed the
output takes the largest channel count among its successors. The input reaches each
interior vertex through its own 1x1 conv-BN-ReLU projection, and is projected and added
to the output when the input feeds the output directly. Simplification against the
official TensorFlow code: when a vertex's input has more channels than the vertex, the
first channels are kept; when it has fewer, it is zero-padded (the official code only
truncates). Ops: conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3 (stride 1).

ARCHS holds the exported cells (matrix, ops), best first; build(rank) returns one network.
"""

import torch
import torch.nn.functional as F
from torch import nn

ARCHS = {archs}
NUM_CLASSES = {num_classes}
STEM_CHANNELS = 128
STACKS = 3
CELLS_PER_STACK = 3


def prune(matrix: list[list[int]], ops: list[str]) -> tuple[list[list[int]], list[str]]:
    """Drop vertices that are not on a path from the input to the output."""
    n = len(ops)
    from_in, to_out = {{0}}, {{n - 1}}
    for v in range(n):
        if v in from_in:
            from_in.update(w for w in range(n) if matrix[v][w])
    for v in reversed(range(n)):
        if v in to_out:
            to_out.update(u for u in range(n) if matrix[u][v])
    keep = [v for v in range(n) if v in from_in and v in to_out]
    if 0 not in keep or n - 1 not in keep:
        raise ValueError("the cell's input is not connected to its output")
    return [[matrix[a][b] for b in keep] for a in keep], [ops[v] for v in keep]


def vertex_channels(c_in: int, c_out: int, matrix: list[list[int]]) -> list[int]:
    n = len(matrix)
    channels = [0] * n
    channels[0], channels[-1] = c_in, c_out
    if n == 2:
        return channels
    feeders = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    share, extra = divmod(c_out, max(len(feeders), 1))
    for i, v in enumerate(feeders):
        channels[v] = share + (1 if i < extra else 0)
    for v in range(n - 2, 0, -1):
        if not matrix[v][n - 1]:
            channels[v] = max(channels[w] for w in range(v + 1, n - 1) if matrix[v][w])
    return channels


def fit(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Keep the first ``channels`` channels, or zero-pad up to them."""
    have = x.shape[1]
    if have >= channels:
        return x[:, :channels]
    return F.pad(x, (0, 0, 0, 0, 0, channels - have))


class ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=False),
        )


def make_op(name: str, channels: int) -> nn.Module:
    if name == "conv3x3-bn-relu":
        return ConvBNReLU(channels, channels, 3)
    if name == "conv1x1-bn-relu":
        return ConvBNReLU(channels, channels, 1)
    if name == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise ValueError(f"unknown NAS-Bench-101 op {{name!r}}")


class Cell(nn.Module):
    def __init__(self, matrix: list[list[int]], ops: list[str], c_in: int, c_out: int) -> None:
        super().__init__()
        self.matrix, ops = prune(matrix, ops)
        n = len(ops)
        self.channels = vertex_channels(c_in, c_out, self.matrix)
        self.proj = nn.ModuleDict({{
            str(v): ConvBNReLU(c_in, self.channels[v], 1)
            for v in range(1, n) if self.matrix[0][v]
        }})
        self.ops = nn.ModuleDict({{
            str(v): make_op(ops[v], self.channels[v]) for v in range(1, n - 1)
        }})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, n = self.matrix, len(self.matrix)
        outs: list[torch.Tensor | None] = [x] + [None] * (n - 1)
        for v in range(1, n - 1):
            inputs = [fit(outs[u], self.channels[v]) for u in range(1, v) if m[u][v]]
            if m[0][v]:
                inputs.append(self.proj[str(v)](x))
            outs[v] = self.ops[str(v)](sum(inputs))
        feeders = [outs[v] for v in range(1, n - 1) if m[v][n - 1]]
        y = torch.cat(feeders, dim=1) if feeders else None
        if m[0][n - 1]:
            p = self.proj[str(n - 1)](x)
            y = p if y is None else y + p
        return y


class Network(nn.Module):
    def __init__(self, arch: tuple = ARCHS[0], num_classes: int = NUM_CLASSES,
                 stem: int = STEM_CHANNELS) -> None:
        super().__init__()
        matrix, ops = arch
        layers: list[nn.Module] = [ConvBNReLU(3, stem, 3)]
        c_in = c_out = stem
        for stack in range(STACKS):
            if stack:
                layers.append(nn.MaxPool2d(2, stride=2))
                c_out *= 2
            for _ in range(CELLS_PER_STACK):
                layers.append(Cell(matrix, ops, c_in, c_out))
                c_in = c_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_out, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


def build(rank: int = 1) -> Network:
    """The network of the rank-th exported cell (1 = the best)."""
    if not 1 <= rank <= len(ARCHS):
        raise ValueError(f"rank must be 1..{{len(ARCHS)}}, got {{rank}}")
    return Network(ARCHS[rank - 1])
'''


def _fill(template: str, run: dict, archs_literal: str, n_classes: int) -> str:
    return template.format(
        run_id=run["id"],
        benchmark=run["benchmark"],
        dataset=run["dataset"],
        method=run["method"],
        archs=archs_literal,
        num_classes=n_classes,
    )


def nb201_module(run: dict, rows: list[dict], n_classes: int) -> str:
    """Python source of the NB201 network(s) of ``rows`` (checked against the space)."""
    from .benchmarks.nb201 import SPACE

    archs = [SPACE.to_native(SPACE.from_native(r["arch"])) for r in rows]
    literal = "[\n" + "".join(f"    {a!r},\n" for a in archs) + "]"
    return _fill(_NB201_TEMPLATE, run, literal, n_classes)


def nb101_module(run: dict, rows: list[dict], n_classes: int) -> str:
    """Python source of the NB101 network(s) of ``rows``."""
    parts = [nb101_parts(r["arch"]) for r in rows]
    literal = "[\n" + "".join(f"    ({m!r}, {o!r}),\n" for m, o in parts) + "]"
    return _fill(_NB101_TEMPLATE, run, literal, n_classes)


# -- readers (round trips) -----------------------------------------------------------------
def parse_json(text: str) -> list[dict]:
    """The leaderboard rows of a ``json`` export (version 1 files too), with ``position``."""
    return public_rows(json.loads(text)["leaderboard"])


def parse_csv(text: str) -> list[dict]:
    """The leaderboard rows of a ``csv`` export (missing values as None); a version 1 file
    (a ``rank`` column) reads as ``position``."""
    rows = []
    for rec in csv.DictReader(io.StringIO(text)):
        pos = rec["position"] if "position" in rec else rec["rank"]
        row: dict = {"position": int(pos), "arch": rec["arch"]}
        for k in COLUMNS[2:]:
            row[k] = float(rec[k]) if rec[k] != "" else None
        rows.append(row)
    return rows


def parse_arch(text: str, benchmark: str) -> list[str]:
    """The native architecture strings of an ``arch`` export, best first (NB101: the
    ``{"matrix", "ops"}`` JSON of each)."""
    if benchmark == "nb101":
        return [json.dumps({"matrix": a["matrix"], "ops": a["ops"]}) for a in json.loads(text)]
    return [line.strip() for line in text.splitlines() if line.strip()]
