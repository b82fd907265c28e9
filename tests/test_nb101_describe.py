"""The readable one-line form of NAS-Bench-101 cells (``benchmarks.describe``): it names
the cell exactly (it parses back to the same matrix and ops, on real rows of the shared
specs table), and it is what ``tnao show`` / ``tnao run`` / the app print, while
``--json`` keeps the JSON form.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json

import pytest
from conftest import SHARED, need

from tnao_app import events as ev
from tnao_app.benchmarks import describe
from tnao_app.benchmarks.nb101 import SPACE
from tnao_app.benchmarks.nb101.describe import describe_cell, parse_described
from tnao_app.cli import history, main
from tnao_app.cli.run import print_result
from tnao_app.config import Config
from tnao_app.storage import Store

SPECS_CSV = SHARED / "nb101_subset_specs.csv.gz"
# The table's first cell (7 vertices, 9 edges): its spec, and its compact form.
FIRST = {
    "matrix": [
        [0, 1, 0, 0, 1, 1, 0],
        [0, 0, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ],
    "ops": [
        "input",
        "conv3x3-bn-relu",
        "maxpool3x3",
        "conv3x3-bn-relu",
        "conv3x3-bn-relu",
        "conv1x1-bn-relu",
        "output",
    ],
}
FIRST_TEXT = "1:c3 2:mp 3:c3 4:c3 5:c1 | in>1,4,5 1>2 2>3,out 3>5 4>5 5>out"
NB201_ARCH = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
)


def _real_rows(n: int) -> list[dict]:
    with gzip.open(need(SPECS_CSV), "rt", newline="") as f:
        return list(itertools.islice(csv.DictReader(f), n))


def _native(row: dict) -> str:
    spec = {"matrix": row["adjacency_rowmajor"], "ops": row["operations"]}  # flat forms
    return SPACE.to_native(SPACE.from_native(json.dumps(spec)))


def test_real_rows_round_trip():
    rows = _real_rows(500)
    assert rows[0]["module_hash"] == "00005c142e6f48ac74fdcf73e3439874"
    for row in rows:
        native = _native(row)
        text = describe("nb101", native)
        assert "\n" not in text and len(text) <= 69, text
        cell = parse_described(text)
        assert cell == SPACE.from_native(native), (row["module_hash"], text)
        assert SPACE.canonical_id(cell) == row["module_hash"]
    assert describe("nb101", _native(rows[0])) == FIRST_TEXT


def test_the_form():
    assert describe_cell(FIRST["matrix"], FIRST["ops"]) == FIRST_TEXT
    small = {"matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]], "ops": ["input", "maxpool3x3", "output"]}
    assert describe("nb101", json.dumps(small)) == "1:mp | in>1,out 1>out"
    two = {"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"]}
    assert describe("nb101", json.dumps(two)) == "- | in>out"
    assert parse_described("- | in>out") == (((0, 1), (0, 0)), ("input", "output"))
    # pruned as the official API does: vertex 2 has no input, so it goes
    loose = {
        "matrix": [[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
        "ops": ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "output"],
    }
    assert describe("nb101", json.dumps(loose)) == "1:c1 | in>1 1>out"


def test_other_benchmarks_and_bad_text_unchanged():
    assert describe("nb201", NB201_ARCH) == NB201_ARCH
    assert describe("analog", NB201_ARCH) == NB201_ARCH
    assert describe("nb101", "not a cell") == "not a cell"
    bad = json.dumps({"matrix": [[0, 1], [0, 0]], "ops": ["input", "conv9x9", "output"]})
    assert describe("nb101", bad) == bad
    assert describe("other", json.dumps(FIRST)) == json.dumps(FIRST)


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("1:c3 in>1 1>out", "no ' | '"),
        ("1:c5 | in>1 1>out", "'1:c5' is not vertex 1's op"),
        ("2:c3 | in>1 1>out", "'2:c3' is not vertex 1's op"),
        ("1:c3 | in>1 1>in", "'1>in' is not an edge to a later vertex"),
        ("1:c3 | in>1 1>7", "'1>7' is not an edge"),
        ("1:c3 | in>1 1out", "'1out' is not a group of edges"),
    ],
)
def test_parse_errors(text, phrase):
    with pytest.raises(ValueError, match=phrase):
        parse_described(text)


def _nb101_run(db) -> tuple[str, list[str]]:
    archs = [json.dumps(FIRST), _native(_real_rows(2)[1])]
    store = Store(db)
    cfg = Config()
    cfg.run.benchmark = "nb101"
    rid = store.create_run(cfg)
    rows = tuple(ev.LeaderRow(k + 1, a, 0.5, 91.0 - k, 94.0 - k, 99.0) for k, a in enumerate(archs))
    with store.recorder(rid) as rec:
        rec(ev.RunStarted(rid, "nb101", "cifar10", "tnao", 0, "cpu", cfg.to_dict()))
        rec(ev.Leaderboard(rows))
        rec(ev.RunFinished({"queries": 2, "best": {"arch": archs[0], "valid": 91.0}}))
    return rid, archs


def _cli(capsys, *args: str) -> tuple[int, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, capsys.readouterr().out


def test_show_prints_the_compact_form_and_json_keeps_json(capsys, tnao_home, monkeypatch):
    monkeypatch.setattr(history.console, "_width", 200)  # no folding of the arch column
    db = str(tnao_home / "h.db")
    rid, archs = _nb101_run(db)
    code, out = _cli(capsys, "show", rid, "--db", db)
    assert code == 0
    assert FIRST_TEXT in out and describe("nb101", archs[1]) in out
    assert '"matrix"' not in out and '"conv3x3-bn-relu"' not in out  # no JSON form
    assert "c3 conv3x3-bn-relu" in " ".join(out.split())  # the key to the compact form
    code, out = _cli(capsys, "show", rid, "--db", db, "--json")
    doc = json.loads(out)
    assert [r["arch"] for r in doc["leaderboard"]] == archs
    assert doc["run"]["result"]["best"]["arch"] == archs[0]


def test_run_result_and_app_tables_print_the_compact_form(capsys):
    res = {
        "benchmark": "nb101",
        "signal": "valid",
        "report": "test",
        "best": {
            "arch": json.dumps(FIRST),
            "valid": 91.0,
            "test": 90.0,
            "percentile": 99.0,
            "table_rank": 7,
        },
        "optimum": {"test": 94.3},
        "queries": 20,
        "budget": 20,
        "seconds": 1.0,
        "device": "cpu",
    }
    print_result(res)
    out = capsys.readouterr().out
    assert f"Found {FIRST_TEXT}" in out and '"matrix"' not in out
    assert "c3 conv3x3-bn-relu" in " ".join(out.split())  # the key to the compact form
    from tnao_app.screens.widgets import short_arch

    assert short_arch(json.dumps(FIRST)) == FIRST_TEXT
    assert short_arch(NB201_ARCH) == "c3 | c3 sk | sk c3 --"  # NB201 as before
