"""The NB201 table from the shared CSV, its CLI import, bad CSVs, and the NB201 space.

Small CSVs for the bad-input cases are cut from the real shared table and then broken
in one way each.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import NB201_CSV, need

from tnao_app.benchmarks import cache, nb201
from tnao_app.cli import main
from tnao_app.errors import UnknownArchError

SPACE = nb201.SPACE
BEST_C10 = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
    "nor_conv_1x1~2|"
)


# ------------------------------------------------------------------ the full shared table


def test_full_table_has_every_arch_once(nb201_table):
    t = nb201_table
    assert len(t) == nb201.N_ARCHS == 15_625
    natives = {t.native(i) for i in range(len(t))}
    assert len(natives) == 15_625
    assert {SPACE.code(t.arch(i)) for i in range(len(t))} == set(range(15_625))
    for name in nb201.METRICS:
        if name not in ("cifar100/x-valid@200", "ImageNet16-120/x-valid@200"):
            assert not np.isnan(t.metric(name)).any(), name


def test_optima_at_official_indexes(nb201_table):
    t = nb201_table
    c10 = t.metric("cifar10/ori-test@200")
    assert int(np.argmax(c10)) == 6111  # row order = official index
    assert c10[6111] == pytest.approx(94.3733, abs=1e-4)
    assert t.native(6111) == BEST_C10
    assert t.metric("cifar10-valid/x-valid@200")[6111] == pytest.approx(91.6067, abs=1e-4)
    assert int(np.argmax(t.metric("cifar10-valid/x-valid@200"))) == 6111
    c100 = t.metric("cifar100/x-test@200")
    assert int(np.argmax(c100)) == 9930 and c100[9930] == pytest.approx(73.5133, abs=1e-4)
    im = t.metric("ImageNet16-120/x-test@200")
    assert int(np.argmax(im)) == 857 and im[857] == pytest.approx(47.3111, abs=1e-4)
    assert t.index_of(SPACE.from_native(BEST_C10)) == 6111


def test_datasets_and_their_signals(nb201_table):
    ds = nb201_table.datasets
    assert set(ds) == {"cifar10", "cifar100", "imagenet16"}
    assert ds["cifar10"].signal == "cifar10-valid/x-valid@200"
    assert ds["cifar10"].report == "cifar10/ori-test@200" and ds["cifar10"].note == ""
    for short, full in (("cifar100", "cifar100"), ("imagenet16", "ImageNet16-120")):
        assert ds[short].signal == f"{full}/x-valid@12"
        assert ds[short].report == f"{full}/x-test@200"
        assert "12-epoch" in ds[short].note


def test_csv_op_columns_match_the_parsed_strings():
    # The CSV's op-code columns were parsed independently: they must equal from_native.
    cols = [
        "op_e0_n1_from0",
        "op_e1_n2_from0",
        "op_e2_n2_from1",
        "op_e3_n3_from0",
        "op_e4_n3_from1",
        "op_e5_n3_from2",
    ]
    with gzip.open(need(NB201_CSV), "rt", newline="") as f:
        for row in csv.DictReader(f):
            assert SPACE.from_native(row["arch_str"]) == tuple(int(row[c]) for c in cols)


def test_cli_import_then_status_json(tmp_path):
    csv_path = need(NB201_CSV)
    env = dict(os.environ, TNAO_HOME=str(tmp_path / "home"))
    cli = [sys.executable, "-c", "from tnao_app.cli import main; main()"]
    r = subprocess.run(
        cli + ["data", "import", str(csv_path), "--benchmark", "nb201"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "nb201 ready" in r.stdout
    r = subprocess.run(
        cli + ["data", "status", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    rows = {row["benchmark"]: row for row in json.loads(r.stdout)}
    assert rows["nb201"]["ready"] is True
    assert rows["nb201"]["archs"] == 15_625
    assert rows["nb201"]["source"] == "nb201.csv.gz"
    assert rows["nb201"]["datasets"] == ["cifar10", "cifar100", "imagenet16"]


# ------------------------------------------------------------------ bad CSV input


@pytest.fixture(scope="module")
def small_rows() -> tuple[list[str], list[list[str]]]:
    """Header and the first 40 rows of the shared table."""
    with gzip.open(need(NB201_CSV), "rt", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [next(reader) for _ in range(40)]
    return header, rows


def write_csv(path, header, rows) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue())


def sq(text: str) -> str:
    """Without whitespace: Rich wraps and folds long lines of the error."""
    return "".join(text.split())


def import_fails(path, capsys) -> str:
    """Run the CLI import; it must fail with one sentence and leave no cache.
    Returns the error output without whitespace (compare with sq())."""
    with pytest.raises(SystemExit) as ex:
        main(["data", "import", str(path), "--benchmark", "nb201"])
    assert ex.value.code != 0
    cap = capsys.readouterr()
    err = sq(cap.err)
    assert err.startswith("Error:") and err.count("Error:") == 1
    assert "Traceback" not in cap.err + cap.out
    assert not cache.cache_path("nb201").exists()
    assert not list(cache.cache_path("nb201").parent.glob("*.tmp"))
    return err


def test_small_real_subset_imports(tnao_home, tmp_path, small_rows, capsys):
    header, rows = small_rows
    write_csv(tmp_path / "part.csv", header, rows)
    with pytest.raises(SystemExit) as ex:
        main(["data", "import", str(tmp_path / "part.csv"), "--benchmark", "nb201"])
    assert ex.value.code == 0
    assert "40 architectures" in capsys.readouterr().out


def test_truncated_gzip(tnao_home, tmp_path, capsys):
    data = need(NB201_CSV).read_bytes()
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    err = import_fails(path, capsys)
    assert sq("cut.csv.gz could not be read as a CSV table") in err


def test_missing_arch_str(tnao_home, tmp_path, small_rows, capsys):
    header, rows = small_rows
    j = header.index("arch_str")
    write_csv(tmp_path / "t.csv", header[:j] + header[j + 1 :], [r[:j] + r[j + 1 :] for r in rows])
    assert sq("t.csv has no column 'arch_str'") in import_fails(tmp_path / "t.csv", capsys)


def test_missing_metric_columns(tnao_home, tmp_path, small_rows, capsys):
    header, rows = small_rows
    keep = [header.index(c) for c in ("arch_index", "arch_str", "cifar10_valid_valid_acc_200")]
    write_csv(tmp_path / "t.csv", [header[k] for k in keep], [[r[k] for k in keep] for r in rows])
    err = import_fails(tmp_path / "t.csv", capsys)
    assert sq("t.csv has no complete dataset") in err and sq("cifar10/ori-test@200") in err


def test_repeated_arch(tnao_home, tmp_path, small_rows, capsys):
    header, rows = small_rows
    dup = list(rows[5])
    dup[header.index("arch_index")] = "40"
    write_csv(tmp_path / "t.csv", header, rows + [dup])
    err = import_fails(tmp_path / "t.csv", capsys)
    assert sq(f"t.csv repeats architecture {rows[5][1]}") in err


def test_unknown_arch_string(tnao_home, tmp_path, small_rows, capsys):
    header, rows = small_rows
    bad = [list(r) for r in rows]
    bad[3][1] = bad[3][1].replace("~0|", "~3|", 1)
    write_csv(tmp_path / "t.csv", header, bad)
    err = import_fails(tmp_path / "t.csv", capsys)
    assert sq("t.csv line 5:") in err and sq("is not a NAS-Bench-201 architecture string") in err


def test_non_number_cell(tnao_home, tmp_path, small_rows, capsys):
    header, rows = small_rows
    bad = [list(r) for r in rows]
    bad[7][header.index("cifar10_test_acc_200")] = "n/a%"
    write_csv(tmp_path / "t.csv", header, bad)
    err = import_fails(tmp_path / "t.csv", capsys)
    assert sq("t.csv line 9 column 'cifar10_test_acc_200' is 'n/a%', expected a number.") in err


# ------------------------------------------------------------------ the NB201 space


def test_native_round_trip_for_every_cell():
    cells = SPACE.enumerate()
    assert len(cells) == 15_625 and len(set(cells)) == 15_625
    natives = set()
    for arch in cells:
        s = SPACE.to_native(arch)
        assert SPACE.from_native(s) == arch
        assert SPACE.is_valid(arch)
        assert SPACE.from_tokens(SPACE.to_tokens(arch)) == arch
        natives.add(s)
    assert len(natives) == 15_625
    assert [SPACE.code(a) for a in cells] == list(range(15_625))  # base-5 order
    tokens = SPACE.enumerate_tokens()  # the reconstruction pool, built at once
    assert tokens.dtype == np.int64
    assert np.array_equal(tokens, np.stack([SPACE.to_tokens(a) for a in cells]))
    # the official strings of a few cells, written out (op order: none, skip, 1x1, 3x3, pool)
    assert SPACE.to_native(cells[1]) == "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
    assert SPACE.to_native((3, 3, 3, 1, 3, 2)) == (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
        "nor_conv_1x1~2|"
    )
    assert SPACE.from_tokens([9, -1, 2]) == (4, 0, 2, 0, 0, 0)  # repaired: clipped, padded


def test_mutate_gives_a_valid_different_neighbour():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        a = SPACE.sample(rng)
        b = SPACE.mutate(a, rng)
        assert SPACE.is_valid(b) and b != a
        assert sum(x != y for x, y in zip(a, b, strict=True)) == 1  # one edge changed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "|nor_conv_3x3~0|",
        "|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|none~0|+|none~0|+|none~0|none~1|none~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|",
        "none~0+none~0|none~1+none~0|none~1|none~2",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2",
    ],
)
def test_from_native_rejects_bad_strings(text):
    with pytest.raises(UnknownArchError, match="is not a NAS-Bench-201 architecture string"):
        SPACE.from_native(text)


def test_from_tokens_repairs_and_relations():
    assert SPACE.from_tokens([9, -3, 2]) == (4, 0, 2, 0, 0, 0)
    rel = SPACE.token_relations()
    assert rel.shape == (6, 6) and (rel == rel.T).all() and rel.diagonal().all()
    assert not SPACE.is_valid((0, 0, 0, 0, 0, 5)) and not SPACE.is_valid((0,) * 5)
