"""Exports: json / csv / arch round-trip exactly; torch files import and run a forward pass.

The leaderboards here are recorded from synthetic events (real architecture strings of
the spaces, made-up scores): these tests check the export mechanics, not a search.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat

import numpy as np
import pytest
import torch

from tnao_app import events as ev
from tnao_app.benchmarks.nb201 import SPACE as NB201
from tnao_app.config import Config
from tnao_app.errors import ConfigError, StorageError, UnknownArchError
from tnao_app.export import (
    export_front,
    export_run,
    nb101_parts,
    num_classes,
    parse_arch,
    parse_csv,
    parse_json,
    public_rows,
)
from tnao_app.storage import Store

# Two NB101 cells (matrix + ops): a 7-vertex one whose vertex 5 has no input (pruned), and
# a 5-vertex one with an isolated vertex 3 whose input also feeds the output directly.
NB101_A = {
    "matrix": [
        [0, 1, 1, 1, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ],
    "ops": [
        "input",
        "conv1x1-bn-relu",
        "conv3x3-bn-relu",
        "conv3x3-bn-relu",
        "conv3x3-bn-relu",
        "maxpool3x3",
        "output",
    ],
}
NB101_B = {
    "matrix": [[0, 1, 0, 0, 1], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
    "ops": ["input", "maxpool3x3", "conv3x3-bn-relu", "conv1x1-bn-relu", "output"],
}


def _record(store: Store, benchmark: str, dataset: str, archs: list[str]) -> str:
    cfg = Config()
    cfg.run.benchmark, cfg.run.dataset = benchmark, dataset
    rid = store.create_run(cfg)
    rng = np.random.default_rng(0)
    rows = tuple(
        ev.LeaderRow(
            k + 1,
            a,
            float(rng.normal()) if k else float("nan"),
            float(95 - k * 0.37),
            float(94 - k / 3),
            float(100 - k * 1e-3),
        )
        for k, a in enumerate(archs)
    )
    with store.recorder(rid) as rec:
        rec(ev.RunStarted(rid, benchmark, dataset, "tnao", 0, "cpu", cfg.to_dict()))
        rec(ev.Leaderboard(rows))
        rec(ev.RunFinished({"queries": len(rows), "best": {"arch": archs[0]}}))
    return rid


@pytest.fixture
def store(tnao_home):
    return Store(tnao_home / "h.db")


@pytest.fixture
def nb201_run(store):
    rng = np.random.default_rng(1)
    archs = list(dict.fromkeys(NB201.to_native(NB201.sample(rng)) for _ in range(12)))
    return _record(store, "nb201", "cifar100", archs)


@pytest.mark.parametrize("top", [None, 3])
def test_json_round_trip(store, nb201_run, tmp_path, top):
    out = tmp_path / "lb.json"
    text = export_run(store, nb201_run, "json", top=top, out=out)
    assert out.read_text() == text
    want = public_rows(store.leaderboard(nb201_run)[:top])
    assert parse_json(out.read_text()) == want
    doc = json.loads(text)
    assert doc["version"] == 2
    assert doc["run"]["id"] == nb201_run and doc["run"]["config"]["run"]["dataset"] == "cifar100"
    assert doc["leaderboard"][0]["predicted"] is None  # NaN -> null
    assert [r["position"] for r in doc["leaderboard"]] == list(range(1, len(want) + 1))


def test_csv_round_trip(store, nb201_run, tmp_path):
    out = tmp_path / "lb.csv"
    export_run(store, nb201_run, "csv", out=out)
    got = parse_csv(out.read_text())
    assert got == public_rows(store.leaderboard(nb201_run))  # floats exactly, missing as None
    assert out.read_text().splitlines()[0] == "position,arch,predicted,valid,test,percentile"


def _keys(obj) -> set[str]:
    """Every key of every dict nested in ``obj``."""
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


def test_the_two_ranks_have_distinct_names(store, tmp_path):
    # A result as the pipeline stores it: best.rank is the rank in the whole table (7),
    # leaderboard rank the position in the run's leaderboard (1, 2).
    archs = [NB201.to_native((1,) * 6), NB201.to_native((2,) * 6)]
    cfg = Config()
    rid = store.create_run(cfg)
    board = [
        {
            "rank": k + 1,
            "arch": a,
            "predicted": 0.5,
            "valid": 90.0,
            "test": 91.0,
            "percentile": 99.5,
        }
        for k, a in enumerate(archs)
    ]
    with store.recorder(rid) as rec:
        rec(ev.RunStarted(rid, "nb201", "cifar10", "tnao", 0, "cpu", cfg.to_dict()))
        rec(ev.Leaderboard(tuple(ev.LeaderRow(**r) for r in board)))
        rec(
            ev.RunFinished(
                {
                    "queries": 2,
                    "leaderboard": board,
                    "best": {
                        "arch": archs[0],
                        "valid": 90.0,
                        "test": 91.0,
                        "rank": 7,
                        "percentile": 99.5,
                    },
                }
            )
        )
    doc = json.loads(export_run(store, rid, "json"))
    # the only "rank" left is the best's documented one, equal to its table_rank
    assert "rank" not in _keys(doc["leaderboard"])
    assert doc["run"]["result"]["best"]["table_rank"] == doc["run"]["result"]["best"]["rank"] == 7
    assert [r["position"] for r in doc["run"]["result"]["leaderboard"]] == [1, 2]
    assert [r["position"] for r in doc["leaderboard"]] == [1, 2]
    assert export_run(store, rid, "csv").startswith("position,arch,")


def test_version_1_exports_still_read():
    arch = NB201.to_native((3,) * 6)
    v1_json = json.dumps(
        {
            "format": "tnao-run",
            "version": 1,
            "run": {},
            "leaderboard": [
                {
                    "rank": 1,
                    "arch": arch,
                    "predicted": None,
                    "valid": 90.5,
                    "test": 91.25,
                    "percentile": 99.0,
                }
            ],
        }
    )
    v1_csv = f"rank,arch,predicted,valid,test,percentile\n1,{arch},,90.5,91.25,99.0\n"
    want = [
        {
            "position": 1,
            "arch": arch,
            "predicted": None,
            "valid": 90.5,
            "test": 91.25,
            "percentile": 99.0,
        }
    ]
    assert parse_json(v1_json) == want and parse_csv(v1_csv) == want


@pytest.mark.parametrize(
    "fmt, umask, mode", [("json", 0o022, 0o644), ("csv", 0o077, 0o600), ("torch", 0o002, 0o664)]
)
def test_export_file_mode_follows_the_umask(store, nb201_run, tmp_path, fmt, umask, mode):
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / f"export.{fmt}"
    old = os.umask(umask)
    try:
        export_run(store, nb201_run, fmt, out=out)
        export_run(store, nb201_run, fmt, out=out)  # overwriting too: still atomic
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert [p.name for p in folder.iterdir()] == [out.name]  # no temp file left


def test_arch_round_trip_nb201(store, nb201_run, tmp_path):
    out = tmp_path / "archs.txt"
    export_run(store, nb201_run, "arch", top=5, out=out)
    lines = parse_arch(out.read_text(), "nb201")
    want = [r["arch"] for r in store.leaderboard(nb201_run)[:5]]
    assert lines == want
    assert [NB201.to_native(NB201.from_native(s)) for s in lines] == want  # native strings


def test_arch_round_trip_nb101(store, tmp_path):
    archs = [json.dumps(NB101_A), json.dumps(NB101_B)]
    rid = _record(store, "nb101", "cifar10", archs)
    out = tmp_path / "archs.json"
    export_run(store, rid, "arch", out=out)
    doc = json.loads(out.read_text())
    assert [d["position"] for d in doc] == [1, 2]
    assert [{"matrix": d["matrix"], "ops": d["ops"]} for d in doc] == [NB101_A, NB101_B]
    assert [nb101_parts(a) for a in parse_arch(out.read_text(), "nb101")] == [
        nb101_parts(a) for a in archs
    ]
    lines = out.read_text().splitlines()  # a cell a line, between the brackets
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 2 + len(archs)


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _only_torch_imports(text: str) -> None:
    imports = [ln.split()[1] for ln in text.splitlines() if ln.startswith(("import ", "from "))]
    assert imports and all(m.split(".")[0] == "torch" for m in imports), imports


def test_torch_nb201_module(store, nb201_run, tmp_path):
    out = tmp_path / "net201.py"
    text = export_run(store, nb201_run, "torch", top=2, out=out)
    _only_torch_imports(text)
    mod = _import(out, "tnao_export_net201")
    best = store.leaderboard(nb201_run)[0]["arch"]
    assert mod.ARCHS[0] == best and len(mod.ARCHS) == 2 and mod.NUM_CLASSES == 100
    torch.manual_seed(0)
    net = mod.build().eval()
    with torch.no_grad():
        y = net(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 100) and torch.isfinite(y).all()
    # the skeleton: 3 stages x 5 cells, reductions to 32 and 64 channels, C=16 stem
    assert sum(type(m).__name__ == "Cell" for m in net.modules()) == 15
    assert net.classifier.in_features == 64 and net.features[0].out_channels == 16
    # each cell carries exactly the ops of the found architecture, edge by edge
    cell = next(m for m in net.modules() if type(m).__name__ == "Cell")
    kinds = {
        "none": "Zero",
        "skip_connect": "Identity",
        "nor_conv_1x1": "ReLUConvBN",
        "nor_conv_3x3": "ReLUConvBN",
        "avg_pool_3x3": "AvgPool2d",
    }
    ops = [part.split("~")[0] for part in best.replace("+", "|").split("|") if part]
    assert [type(m).__name__ for m in cell.ops] == [kinds[o] for o in ops]


def test_torch_export_refuses_a_weights_file_name(store, nb201_run, tmp_path):
    """``-o net.pt`` would hold Python source where torch.load expects weights."""
    for name in ("net.pt", "net.PTH"):
        with pytest.raises(ConfigError, match=f"expected a .py file name, got {name}"):
            export_run(store, nb201_run, "torch", out=tmp_path / name)
        with pytest.raises(ConfigError, match=f"expected a .py file name, got {name}"):
            export_front(store, nb201_run, "torch", out=tmp_path / name)
        assert not (tmp_path / name).exists()


def test_torch_nb201_default_is_the_best_only(store, tnao_home, tmp_path):
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
    rid = _record(store, "analog", "cifar10", [arch, NB201.to_native((1,) * 6)])
    text = export_run(store, rid, "torch")
    out = tmp_path / "net_analog.py"
    out.write_text(text)
    mod = _import(out, "tnao_export_analog")
    assert mod.ARCHS == [arch] and mod.NUM_CLASSES == 10
    with torch.no_grad():
        assert mod.Network().eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_torch_nb101_module(store, tmp_path):
    rid = _record(store, "nb101", "cifar10", [json.dumps(NB101_A), json.dumps(NB101_B)])
    out = tmp_path / "net101.py"
    text = export_run(store, rid, "torch", top=2, out=out)
    _only_torch_imports(text)
    mod = _import(out, "tnao_export_net101")
    assert mod.NUM_CLASSES == 10 and len(mod.ARCHS) == 2
    # the official channel split: 128 output channels over the 3 vertices feeding it
    matrix, ops = mod.prune(NB101_A["matrix"], NB101_A["ops"])
    assert "maxpool3x3" not in ops and len(matrix) == 6  # vertex 5 has no input: pruned
    assert mod.vertex_channels(128, 128, matrix) == [128, 43, 43, 42, 42, 128]
    assert mod.vertex_channels(128, 256, matrix) == [128, 86, 85, 85, 85, 256]
    torch.manual_seed(0)
    for rank in (1, 2):
        net = mod.build(rank).eval()
        with torch.no_grad():
            y = net(torch.randn(2, 3, 32, 32))
        assert y.shape == (2, 10) and torch.isfinite(y).all()
    net = mod.build(1)
    assert sum(type(m).__name__ == "Cell" for m in net.modules()) == 9
    assert net.classifier.in_features == 512  # 128 -> 256 -> 512
    assert len(mod.prune(NB101_B["matrix"], NB101_B["ops"])[1]) == 4  # isolated vertex 3


# -- bad input -----------------------------------------------------------------------------
def test_unwritable_export_path(store, nb201_run, tmp_path):
    with pytest.raises(StorageError, match="does not exist") as e:
        export_run(store, nb201_run, "json", out=tmp_path / "missing" / "x.json")
    assert "\n" not in str(e.value)
    with pytest.raises(StorageError, match="folder"):
        export_run(store, nb201_run, "csv", out=tmp_path)
    with pytest.raises(StorageError, match="run history itself"):
        export_run(store, nb201_run, "csv", out=store.path)
    assert store.leaderboard(nb201_run)  # the history is intact
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        # as root a read-only folder is still writable: /proc never is
        target = ro / "x.csv" if not os.access(ro, os.W_OK) else "/proc/tnao-export.csv"
        if target != ro / "x.csv" and not os.path.isdir("/proc"):
            pytest.skip("no unwritable folder available to this user")
        with pytest.raises(StorageError, match="Cannot write") as e:
            export_run(store, nb201_run, "csv", out=target)
        assert "\n" not in str(e.value)
        assert list(ro.iterdir()) == []  # nothing half-written
    finally:
        ro.chmod(0o700)


def test_bad_format_top_and_empty_leaderboard(store, nb201_run):
    with pytest.raises(ConfigError, match="format 'xml'"):
        export_run(store, nb201_run, "xml")
    with pytest.raises(ConfigError, match="--top"):
        export_run(store, nb201_run, "json", top=0)
    rid = store.create_run(Config())
    with pytest.raises(StorageError, match="no leaderboard yet"):
        export_run(store, rid, "torch")
    assert parse_json(export_run(store, rid, "json")) == []
    with pytest.raises(StorageError, match="no run"):
        export_run(store, "zzzzzz", "json")


def test_nb101_native_forms():
    from tnao_app.benchmarks.nb101 import SPACE as NB101

    flat = {
        "matrix": "".join(str(x) for row in NB101_B["matrix"] for x in row),
        "ops": ",".join(NB101_B["ops"]),
    }
    assert nb101_parts(json.dumps(flat)) == nb101_parts(json.dumps(NB101_B))
    native = NB101.to_native(NB101.from_native(json.dumps(NB101_A)))  # the space's own form
    matrix, ops = nb101_parts(native)
    assert len(matrix) == len(ops) and ops[0] == "input" and ops[-1] == "output"
    with pytest.raises(UnknownArchError):
        nb101_parts("not json")


def test_num_classes():
    assert [num_classes(d) for d in ("cifar10", "cifar100", "imagenet16", "cifar10-ptq")] == [
        10,
        100,
        120,
        10,
    ]
