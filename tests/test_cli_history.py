"""``tnao history / show / export / delete`` and their bad-input sentences.

``test_every_run_appears_in_history`` runs real (tiny) searches on the embedded analog
benchmark through ``tnao run``; the other tests record synthetic events (made-up scores)
to check the commands' mechanics quickly.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tnao_app import events as ev
from tnao_app.cli import main
from tnao_app.config import Config
from tnao_app.storage import SCHEMA_VERSION, Store

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
TINY = {
    "run": {"benchmark": "analog", "budget": 24, "device": "cpu", "threads": 1},
    "sample": {"n_labelled": 16, "n_unlabelled": 300},
    "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_latent": 4},
    "train": {"epochs": 2, "finetune_epochs": 1},
    "search": {"particles": 8, "generations": 3, "rounds": 1},
}


@pytest.fixture(autouse=True)
def _home(tnao_home):
    """Every test here keeps TNAO_HOME (checkpoint folders) in its temp dir."""
    return tnao_home


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``tnao ARGS`` in-process: (exit code, stdout, stderr)."""
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def fails_with(capsys, phrase: str, *args: str) -> str:
    code, out, err = cli(capsys, *args)
    assert code != 0, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    flat = " ".join(err.split())  # rich wraps long lines at the console width
    assert phrase in flat, err
    assert flat.count("Error:") == 1 and flat.endswith("."), err  # one sentence
    return flat


def _synthetic(db, benchmark="nb201", status="finished") -> str:
    store = Store(db)
    cfg = Config()
    cfg.run.benchmark = benchmark
    rid = store.create_run(cfg)
    with store.recorder(rid) as rec:
        rec(ev.RunStarted(rid, benchmark, "cifar10", "tnao", 0, "cpu", cfg.to_dict()))
        rec(ev.StageStarted("sample"))
        rec(ev.StageFinished("sample", 0.1, {"sampled": 2}))
        rec(ev.Leaderboard((ev.LeaderRow(1, ARCH, 0.5, 91.0, 94.0, 99.0),)))
        if status == "finished":
            rec(ev.RunFinished({"queries": 2, "best": {"arch": ARCH, "valid": 91.0, "test": 94.0}}))
        elif status == "stopped":
            rec(ev.RunStopped("sample"))
    return rid


def test_every_run_appears_in_history(capsys, tnao_home, tmp_path):
    db = tmp_path / "runs.db"
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    ids = []
    for seed in (0, 1):
        code, out, err = cli(
            capsys, "run", "--config", str(cfg), "--seed", str(seed), "--db", str(db), "--json"
        )
        assert code == 0, err
        ids.append(json.loads(out)["run_id"])
    code, out, _ = cli(capsys, "history", "--db", str(db), "--json")
    runs = json.loads(out)
    assert code == 0 and {r["id"] for r in runs} == set(ids)
    assert all(r["status"] == "finished" and r["best_arch"] for r in runs)
    code, out, _ = cli(capsys, "history", "--db", str(db))
    assert code == 0 and all(i in out for i in ids) and "finished" in out
    code, out, _ = cli(capsys, "show", ids[0], "--db", str(db))
    assert code == 0
    for word in ("Config", "Stages", "sample", "train", "search", "evaluate", "Leaderboard"):
        assert word in out
    store = Store(db)
    assert (
        store.leaderboard(ids[0])[0]["arch"] in out.replace("\n", "").replace(" ", "")
        or store.leaderboard(ids[0])[0]["arch"][:20] in out
    )
    assert len(store.epochs(ids[0])) >= 2 and len(store.generations(ids[0])) >= 3


def _precise(db) -> str:
    """A finished run whose numbers have the long tails of real benchmark means."""
    store = Store(db)
    cfg = Config()
    rid = store.create_run(cfg)
    with store.recorder(rid) as rec:
        rec(ev.RunStarted(rid, "nb201", "cifar10", "tnao", 0, "cpu", cfg.to_dict()))
        rec(ev.StageStarted("train"))
        rec(ev.EpochEnded(1, 1, 0.5, 0.25, 0.75, float("nan"), float("nan"), 0.1, "cpu"))
        rec(
            ev.StageFinished(
                "train",
                1.25,
                {"loss": 0.0009013304145135466, "val_tau": None, "best_signal": 91.57040000000002},
            )
        )
        rec(
            ev.Leaderboard(
                (
                    ev.LeaderRow(
                        1,
                        ARCH,
                        0.123456789,
                        91.60666666666667,
                        94.37333333333333,
                        99.98720000000001,
                    ),
                    ev.LeaderRow(
                        2, ARCH.replace("none~2", "skip_connect~2"), 0.1, 90.5, 93.125, 98.7654321
                    ),
                )
            )
        )
        rec(
            ev.RunFinished(
                {
                    "queries": 2,
                    "best": {
                        "arch": ARCH,
                        "valid": 91.60666666666667,
                        "test": 94.37333333333333,
                        "rank": 3,
                        "percentile": 99.98720000000001,
                    },
                    "leaderboard": [{"rank": 1, "arch": ARCH}],
                }
            )
        )
    return rid


def test_show_formats_numbers_like_run(capsys, tmp_path):
    db = str(tmp_path / "h.db")
    rid = _precise(db)
    code, out, _ = cli(capsys, "show", rid, "--db", db)
    assert code == 0
    for raw in ("94.37333", "91.60666", "99.9872", "0.123456", "0.00090133", "91.5704000"):
        assert raw not in out, raw
    # accuracies with 2 decimals, percentiles as percent cut to 2 (only the best reads
    # 100.00%), predictor scores with 3
    for shown in (
        "94.37",
        "91.61",
        "99.98%",
        "0.123",
        "93.12",
        "98.76%",
        "loss=0.0009013",
        "best_signal=91.57",
        "val_tau=-",
    ):
        assert shown in out, shown
    assert "val tau" not in out  # no validation split: nothing to show, not a blank
    assert "best: test 94.37; rank 3 in the table (percentile 99.98%); 2 queries" in out
    code, out, _ = cli(capsys, "history", "--db", db)
    assert "94.37" in out and "94.373" not in out


def test_show_json_keeps_precision_and_names_both_ranks(capsys, tmp_path):
    db = str(tmp_path / "h.db")
    rid = _precise(db)
    code, out, _ = cli(capsys, "show", rid, "--db", db, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["leaderboard"][0]["test"] == 94.37333333333333
    assert [r["position"] for r in doc["leaderboard"]] == [1, 2]
    assert all("rank" not in r for r in doc["leaderboard"])
    best = doc["run"]["result"]["best"]
    assert best["table_rank"] == 3 and best["rank"] == 3
    assert doc["run"]["result"]["leaderboard"][0]["position"] == 1


def test_history_filters_and_default_db(capsys, tnao_home):
    code, out, _ = cli(capsys, "history")
    assert code == 0 and "No runs recorded yet" in out  # default db in TNAO_HOME, empty
    a = _synthetic(None, "nb201")
    b = _synthetic(None, "analog", status="stopped")
    code, out, _ = cli(capsys, "history", "--json", "--benchmark", "analog")
    assert [r["id"] for r in json.loads(out)] == [b]
    code, out, _ = cli(capsys, "history", "--json", "--status", "finished")
    assert [r["id"] for r in json.loads(out)] == [a]
    code, out, _ = cli(capsys, "history", "--status", "interrupted")
    assert code == 0 and "No run matches" in out
    fails_with(capsys, "Status 'done' is unknown", "history", "--status", "done")
    fails_with(capsys, "Unknown benchmark 'nb999'", "history", "--benchmark", "nb999")


def test_export_and_delete(capsys, tnao_home, tmp_path):
    db = str(tmp_path / "h.db")
    rid = _synthetic(db)
    code, out, _ = cli(capsys, "export", rid, "--db", db, "--format", "arch")
    assert code == 0 and out == ARCH + "\n"
    target = tmp_path / "lb.csv"
    code, _, err = cli(capsys, "export", rid[:5], "--db", db, "-f", "csv", "-o", str(target))
    assert code == 0 and target.read_text().splitlines()[1].startswith(f"1,{ARCH},0.5,91.0")
    assert f"run {rid} to" in " ".join(err.split())  # the full id, not the prefix typed
    code, _, _ = cli(
        capsys, "export", rid, "--db", db, "-f", "torch", "-o", str(tmp_path / "net.py")
    )
    assert code == 0 and "class Network(nn.Module)" in (tmp_path / "net.py").read_text()
    code, out, _ = cli(capsys, "delete", rid, "--db", db)
    assert code == 0 and rid in out
    assert Store(db).list_runs() == []
    fails_with(capsys, f"no run '{rid}'", "show", rid, "--db", db)


# -- bad input: one sentence, non-zero exit, nothing lost -------------------------------------
def test_not_sqlite(capsys, tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello\n")
    for cmd in (
        ["history"],
        ["show", "abc"],
        ["delete", "abc"],
        ["export", "abc"],
        ["resume", "abc"],
    ):
        fails_with(capsys, "is not a SQLite database", *cmd, "--db", str(p))
    assert p.read_text() == "hello\n"


def test_missing_db_file(capsys, tmp_path):
    fails_with(capsys, "no run history", "history", "--db", str(tmp_path / "nope.db"))
    assert not (tmp_path / "nope.db").exists()


def test_newer_schema(capsys, tmp_path):
    db = tmp_path / "h.db"
    rid = _synthetic(db)
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    con.close()
    fails_with(capsys, "newer TNAO", "history", "--db", str(db))
    fails_with(capsys, "newer TNAO", "delete", rid, "--db", str(db))
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM leaderboard").fetchone()[0] == 1
    con.close()


def test_locked_by_another_writer(capsys, tmp_path, monkeypatch):
    db = tmp_path / "h.db"
    rid = _synthetic(db)
    monkeypatch.setenv("TNAO_DB_TIMEOUT", "0.1")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        fails_with(capsys, "locked by another writer", "delete", rid, "--db", str(db))
        code, out, _ = cli(capsys, "history", "--db", str(db), "--json")  # reads still work
        assert code == 0 and json.loads(out)[0]["id"] == rid
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert Store(db).get_run(rid)["status"] == "finished"  # nothing lost


def test_unknown_run_id(capsys, tmp_path):
    db = str(tmp_path / "h.db")
    _synthetic(db)
    for cmd in ("show", "delete", "export", "resume"):
        fails_with(capsys, "no run 'zz99zz'", cmd, "zz99zz", "--db", db)


def test_export_path_cannot_be_written(capsys, tmp_path):
    db = str(tmp_path / "h.db")
    rid = _synthetic(db)
    fails_with(
        capsys,
        "Cannot write the export",
        "export",
        rid,
        "--db",
        db,
        "-o",
        str(tmp_path / "no" / "such" / "dir.json"),
    )
    fails_with(capsys, "Cannot write the export", "export", rid, "--db", db, "-o", str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.db", "h.db-shm", "h.db-wal"] or sorted(
        p.name for p in tmp_path.iterdir()
    ) == ["h.db"]


def test_resume_refuses_finished_and_live_runs(capsys, tmp_path):
    db = str(tmp_path / "h.db")
    done = _synthetic(db)
    fails_with(capsys, "already finished", "resume", done, "--db", db)
    store = Store(db)
    live = store.create_run(Config())  # created by this (live) process
    fails_with(capsys, "still created", "resume", live, "--db", db)


@pytest.mark.parametrize("fmt", ["xml"])
def test_bad_export_format(capsys, tmp_path, fmt):
    db = str(tmp_path / "h.db")
    rid = _synthetic(db)
    fails_with(capsys, "format 'xml' is unknown", "export", rid, "--db", db, "-f", fmt)


def test_history_from_before_the_plan_fields_opens_and_shows(capsys, tmp_path):
    """A history of schema 1 (before RunPlan / steps): `tnao history` and `tnao show`
    migrate it in place and show its runs, rows intact."""
    from sqlite_utils import Database

    from tnao_app.storage.migrations import MIGRATIONS

    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    MIGRATIONS.apply(Database(con), stop_before="0002_plan_steps")
    cfg = json.dumps(Config().to_dict())
    con.execute(
        "INSERT INTO runs (id, benchmark, dataset, method, seed, config, resolved, status, "
        "device, tnao_version, created_at, n_queries, best_arch, best_test, result) VALUES "
        "('old001', 'nb201', 'cifar10', 'tnao', 0, ?, ?, 'finished', 'cpu', '0.1', 1.0, 2, "
        "?, 94.0, ?)",
        [cfg, cfg, ARCH, json.dumps({"queries": 2, "best": {"arch": ARCH, "test": 94.0}})],
    )
    con.execute("INSERT INTO stages VALUES ('old001', 0, 'train', 'finished', 1.0, 2.0, 1.0, '{}')")
    con.execute(
        "INSERT INTO epochs VALUES ('old001', 0, 1, 1, 1.0, 0.5, 1.5, NULL, NULL, 0.1, 'cpu')"
    )
    con.execute("INSERT INTO leaderboard VALUES ('old001', 1, ?, 0.5, 91.0, 94.0, 99.0)", [ARCH])
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    code, out, err = cli(capsys, "history", "--db", str(db), "--json")
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)] == ["old001"]
    code, out, err = cli(capsys, "show", "old001", "--db", str(db))
    assert code == 0 and "train" in out and "94.00" in out, err
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("SELECT step FROM epochs").fetchall() == [(0,)]  # not known
    con.close()


# -- the walk-through (#19): each of these failed before its fix -----------------------
def test_history_counts_the_queries_of_stopped_and_running_runs(capsys, tmp_path):
    db = str(tmp_path / "h.db")
    store = Store(db)
    ids = []
    for end in ("stopped", "running"):
        cfg = Config()
        rid = store.create_run(cfg)
        rec = store.recorder(rid)
        rec(ev.RunStarted(rid, "analog", "cifar10", "tnao", 0, "cpu", cfg.to_dict()))
        for n in range(1, 21):
            rec(ev.Queried(f"a{n}", 80.0 + n / 10, n, 100))
        if end == "stopped":
            rec(ev.RunStopped("train"))
        rec.close()
        ids.append(rid)
    code, out, _ = cli(capsys, "history", "--json", "--db", db)
    assert code == 0
    assert {r["id"]: r["n_queries"] for r in json.loads(out)} == {ids[0]: 20, ids[1]: 20}
    code, out, _ = cli(capsys, "history", "--db", db)
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in ([ids[0]], [ids[1]])]
    assert len(rows) == 2 and all("20" in row for row in rows), out


def test_export_refuses_to_overwrite_without_force(capsys, tmp_path):
    db = str(tmp_path / "h.db")
    rid = _synthetic(db)
    target = tmp_path / "lb.csv"
    target.write_text("mine\n")
    fails_with(capsys, "add --force to overwrite it", "export", rid, "--db", db, "-o", str(target))
    assert target.read_text() == "mine\n"  # untouched
    code, _, _ = cli(capsys, "export", rid, "--db", db, "-f", "csv", "-o", str(target), "--force")
    assert code == 0 and target.read_text().startswith("position,arch")


def test_show_counts_rounds_from_1(capsys, tmp_path):
    db = str(tmp_path / "h.db")
    store = Store(db)
    cfg = Config()
    rid = store.create_run(cfg)
    with store.recorder(rid) as rec:
        rec(ev.RunStarted(rid, "analog", "cifar10", "tnao", 0, "cpu", cfg.to_dict()))
        for rnd in range(2):
            rec(ev.StageStarted("train", rnd))
            rec(ev.StageFinished("train", 0.1, {}, rnd))
    code, out, _ = cli(capsys, "show", rid, "--db", db)
    assert code == 0
    stages = [line.split("│")[1:3] for line in out.splitlines() if "│ finished" in line]
    assert [[c.strip() for c in s] for s in stages] == [["1", "train"], ["2", "train"]], out


def test_percentiles_are_cut_so_only_the_best_reads_100():
    from tnao_app.cli.run import fmt_pct
    from tnao_app.screens.state import fmt_pct as app_pct

    # the second-best of the 30,001-cell NB101 subset, and the best
    assert fmt_pct(100 * 30_000 / 30_001) == "99.99%" and fmt_pct(100.0) == "100.00%"
    assert app_pct(100 * 30_000 / 30_001, 1) == "99.9" and app_pct(100.0, 1) == "100.0"
    assert fmt_pct(0.29) == "0.29%" and fmt_pct(None, "n/a") == "n/a" and app_pct(None) == "-"
