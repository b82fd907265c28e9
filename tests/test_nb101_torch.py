"""The ``torch`` export of NAS-Bench-101 cells is the benchmark's network: on real rows of
the shared table its parameter count equals the row's ``trainable_parameters``, and it
runs a forward pass.

The rows come from ``../shared/data/nb101_subset_specs.csv.gz`` (real NB101 cells with
their spec and parameter count); the tests skip when it is absent.
"""

from __future__ import annotations

import ast
import csv
import gzip
import importlib.util
import json
from functools import cache
from pathlib import Path

import pytest
import torch
from conftest import SHARED, need

from tnao_app.torch_export import nb101_module

SPECS_CSV = SHARED / "nb101_subset_specs.csv.gz"
RUN = {"id": "t101", "benchmark": "nb101", "dataset": "cifar10", "method": "tnao"}


@cache
def _rows() -> tuple[dict, ...]:
    with gzip.open(need(SPECS_CSV), "rt", newline="") as f:
        return tuple(csv.DictReader(f))


def _spec(row: dict) -> tuple[list[list[int]], list[str]]:
    v, adj = int(row["num_vertices"]), row["adjacency_rowmajor"]
    return [[int(adj[a * v + b]) for b in range(v)] for a in range(v)], row["operations"].split(",")


def _out_feeders(row: dict) -> int:
    matrix, _ = _spec(row)
    return sum(r[-1] for r in matrix[1:])


def _picked() -> list[dict]:
    """Five rows that exercise the channel split differently: the table's first cell
    (vertices that do not feed the output), the fewest vertices, the input feeding the
    output directly, the most vertices feeding the output, and the most parameters."""
    rows = _rows()
    seven = [r for r in rows if r["num_vertices"] == "7"]
    picks = [
        rows[0],
        min(rows, key=lambda r: int(r["num_vertices"])),
        next(r for r in seven if _spec(r)[0][0][-1]),
        max(seven, key=_out_feeders),
        max(rows, key=lambda r: int(r["trainable_parameters"])),
    ]
    assert len({r["module_hash"] for r in picks}) == 5
    return picks


def _module(tmp_path: Path, specs: list[tuple[list[list[int]], list[str]]]):
    """The generated file of ``specs`` (checked to import only torch), imported."""
    archs = [{"arch": json.dumps({"matrix": m, "ops": o})} for m, o in specs]
    text = nb101_module(RUN, archs, 10)
    imports = {
        a.name if isinstance(n, ast.Import) else n.module
        for n in ast.walk(ast.parse(text))
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    assert {str(m).split(".")[0] for m in imports} == {"torch"}, imports
    path = tmp_path / "net101.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("tnao_test_net101", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def test_parameter_counts_and_forward_on_real_rows(tmp_path):
    rows = _picked()
    mod = _module(tmp_path, [_spec(r) for r in rows])
    torch.manual_seed(0)
    got = []
    for rank, row in enumerate(rows, 1):
        net = mod.build(rank).eval()
        got.append(_count(net))
        with torch.no_grad():
            y = net(torch.randn(1, 3, 32, 32))
        assert y.shape == (1, 10) and torch.isfinite(y).all(), row["module_hash"]
    want = [int(r["trainable_parameters"]) for r in rows]
    assert got == want, [r["module_hash"] for r in rows]


def test_parameter_counts_on_a_spread_of_real_rows(tmp_path):
    """100 rows spread over the table, built on the meta device (no memory, no compute)."""
    rows = list(_rows()[::300])
    mod = _module(tmp_path, [_spec(r) for r in rows])
    bad = []
    for row, arch in zip(rows, mod.ARCHS, strict=True):
        with torch.device("meta"):
            n = _count(mod.Network(arch))
        if n != int(row["trainable_parameters"]):
            bad.append((row["module_hash"], int(row["trainable_parameters"]), n))
    assert len(rows) == 101 and not bad, bad


def test_the_official_channel_split(tmp_path):
    """128 output channels over 3 feeders: 43, 43, 42 (the first get the remainder); a
    vertex that does not feed the output takes its widest successor's channels, and its
    output is truncated for a narrower successor."""
    matrix = [
        [0, 1, 1, 0, 0, 0],
        [0, 0, 1, 1, 0, 0],  # vertex 1 feeds vertices 2 and 3, not the output
        [0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1, 1],
        [0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0],
    ]
    ops = ["input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "conv3x3-bn-relu"]
    mod = _module(tmp_path, [(matrix, [*ops, "output"])])
    assert mod.vertex_channels(128, 128, matrix) == [128, 43, 43, 43, 42, 128]
    assert mod.vertex_channels(128, 256, matrix) == [128, 86, 86, 85, 85, 256]
    with pytest.raises(ValueError, match="truncated"):
        mod.truncate(torch.zeros(1, 4, 2, 2), 5)
    net = mod.build(1).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)
