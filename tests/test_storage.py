"""The run-history store: schema, recorder, checkpoints, heartbeat, bad input.

Most tests feed the recorder events built here by hand (synthetic, to test the recording
mechanics); the end-to-end run tests live in test_resume.py and test_cli_history.py.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from sqlite_utils import Database

from tnao_app import events as ev
from tnao_app import paths
from tnao_app.config import Config
from tnao_app.errors import StorageError
from tnao_app.storage import SCHEMA_VERSION, Store, effective_status, recorder, rows
from tnao_app.storage.migrations import MIGRATIONS

ARCH_A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
ARCH_B = "|none~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"


@pytest.fixture
def store(tnao_home):
    return Store(tnao_home / "h.db")


@pytest.fixture(autouse=True)
def _home(tnao_home):
    """Every test here keeps TNAO_HOME (checkpoint folders) in its temp dir."""
    return tnao_home


def _cfg(**run) -> Config:
    cfg = Config()
    for k, v in run.items():
        setattr(cfg.run, k, v)
    return cfg


def _started(rid: str, cfg: Config) -> ev.RunStarted:
    return ev.RunStarted(
        rid, cfg.run.benchmark, cfg.run.dataset, cfg.run.method, cfg.run.seed, "cpu", cfg.to_dict()
    )


def _feed(rec, rid: str, cfg: Config) -> dict:
    """A whole synthetic run's events; returns the result dict it finishes with."""
    rows = (
        ev.LeaderRow(1, ARCH_A, 0.9, 91.5, 94.1, 99.9),
        ev.LeaderRow(2, ARCH_B, float("nan"), 90.0, 93.0, 97.5),
    )
    result = {
        "run_id": rid,
        "queries": 3,
        "best": {"arch": ARCH_A, "valid": 91.5, "test": 94.1, "rank": 3, "percentile": 99.9},
        "leaderboard": [vars(r) for r in rows],
        "nan_field": float("nan"),
    }
    for e in [
        _started(rid, cfg),
        ev.StageStarted("sample"),
        ev.Sampled((ARCH_A, ARCH_B), (91.5, float("nan"))),
        ev.Queried(ARCH_A, 91.5, 1, 3),
        ev.StageFinished("sample", 0.1, {"sampled": 2}),
        ev.StageStarted("train"),
        *[ev.Progress("train", i, 100) for i in range(100)],
        ev.EpochEnded(1, 2, 1.0, 0.5, 1.5, float("nan"), 0.1, 0.2, "cpu"),
        ev.EpochEnded(2, 2, 0.8, 0.4, 1.2, 0.3, 0.4, 0.2, "cpu"),
        ev.StageFinished("train", 0.5, {"epochs": 2}),
        ev.StageStarted("search"),
        ev.Generation(1, 2, 1.0, 0.5, 4),
        ev.Generation(2, 2, 1.1, 0.6, 7),
        ev.StageFinished("search", 0.3),
        ev.StageStarted("evaluate"),
        ev.Queried(ARCH_B, 90.0, 2, 3),
        ev.Queried(ARCH_A.replace("none~2", "skip_connect~2"), 89.0, 3, 3),
        ev.StageFinished("evaluate", 0.1),
        ev.Leaderboard(rows),
        ev.RunFinished(result),
    ]:
        rec(e)
    return result


def test_schema_wal_foreign_keys_and_version(store):
    db = store.db
    assert db.journal_mode == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # SCHEMA_VERSION is the number of migrations, and all of them are applied
    assert len(MIGRATIONS.applied(db)) == SCHEMA_VERSION and not MIGRATIONS.pending(db)
    assert {
        "runs",
        "stages",
        "sampled",
        "epochs",
        "generations",
        "leaderboard",
        "queries",
        "artifacts",
    } <= set(db.table_names())
    # reopening an up-to-date history changes nothing
    Store(store.path)
    assert len(MIGRATIONS.applied(db)) == SCHEMA_VERSION


def test_default_db_is_in_tnao_home(tnao_home):
    s = Store()
    assert s.path == paths.default_db() and s.path.parent == tnao_home


def test_create_get_list(store):
    a = store.create_run(_cfg(seed=1, name="first"))
    b = store.create_run(_cfg(seed=2, benchmark="nb201"))
    assert len(a) == 6 and a != b
    run = store.get_run(a)
    assert run["name"] == "first" and run["seed"] == 1 and run["status"] == "created"
    assert Config.from_dict(run["config"]).to_dict() == _cfg(seed=1, name="first").to_dict()
    assert run["tnao_version"]
    assert [r["id"] for r in store.list_runs()] == [b, a]  # newest first
    assert [r["id"] for r in store.list_runs(benchmark="nb201")] == [b]
    assert store.list_runs(status="finished") == []
    assert store.get_run(a[:4])["id"] == a or len({a[:4], b[:4]}) == 1  # unique prefix


def test_recorder_records_every_event(store, monkeypatch):
    cfg = _cfg(seed=7)
    rid = store.create_run(cfg)
    beats = []
    real = store.heartbeat
    monkeypatch.setattr(store, "heartbeat", lambda r: (beats.append(r), real(r)))
    with store.recorder(rid) as rec:
        result = _feed(rec, rid, cfg)
    run = store.get_run(rid)
    assert run["status"] == "finished" and run["finished_at"] >= run["started_at"]
    assert run["best_arch"] == ARCH_A and run["best_test"] == 94.1 and run["n_queries"] == 3
    assert run["result"]["best"] == result["best"] and run["result"]["nan_field"] is None
    assert run["resolved"] == cfg.to_dict() and run["device"] == "cpu"
    # 100 Progress events cost at most one heartbeat write, not one write each
    assert len(beats) <= 2
    assert [s["stage"] for s in store.stages(rid)] == ["sample", "train", "search", "evaluate"]
    assert all(s["status"] == "finished" for s in store.stages(rid))
    assert store.stages(rid)[0]["summary"] == {"sampled": 2}
    assert store.sampled(rid) == [
        {"idx": 0, "arch": ARCH_A, "signal": 91.5},
        {"idx": 1, "arch": ARCH_B, "signal": None},
    ]
    assert [q["n"] for q in store.queries(rid)] == [1, 2, 3]
    ep = store.epochs(rid)
    assert [e["epoch"] for e in ep] == [1, 2] and ep[0]["val_tau"] is None
    assert ep[1]["loss_rec"] == 0.8 and ep[1]["val_tau"] == 0.3
    assert [(g["gen"], g["distinct_archs"]) for g in store.generations(rid)] == [(1, 4), (2, 7)]
    board = store.leaderboard(rid)
    assert board[0] == {
        "rank": 1,
        "arch": ARCH_A,
        "predicted": 0.9,
        "valid": 91.5,
        "test": 94.1,
        "percentile": 99.9,
    }
    assert board[1]["predicted"] is None


def test_replayed_events_overwrite_not_duplicate(store):
    """A resumed run re-emits what came after its checkpoint: same keys, no duplicates."""
    cfg = _cfg()
    rid = store.create_run(cfg)
    rec = store.recorder(rid)
    _feed(rec, rid, cfg)
    _feed(rec, rid, cfg)
    assert len(store.epochs(rid)) == 2 and len(store.generations(rid)) == 2
    assert len(store.queries(rid)) == 3 and len(store.sampled(rid)) == 2
    assert len(store.leaderboard(rid)) == 2 and len(store.stages(rid)) == 4
    rec.close()


def test_generations_and_leaderboards_are_batched_but_never_lost_or_reordered(store, monkeypatch):
    """A swarm's generations and leaderboards are written together, at most every
    FLUSH_S seconds, and before anything else: a checkpoint, a query, the run's end or an
    exception leaves every one of them in the history, the latest leaderboard last."""
    monkeypatch.setattr(recorder, "FLUSH_S", 3600.0)  # nothing is due by time
    cfg = _cfg()
    rid = store.create_run(cfg)
    rec = store.recorder(rid)
    rec(_started(rid, cfg))
    rec(ev.StageStarted("search"))
    writes = []
    real = store.write
    monkeypatch.setattr(store, "write", lambda: (writes.append(1), real())[1])
    for g in range(1, 41):
        rec(ev.Generation(g, 40, 1.0 + g, 0.5, g))
        rec(ev.Leaderboard((ev.LeaderRow(1, ARCH_A if g < 40 else ARCH_B, g, 90.0, 93.0, 99.0),)))
    assert not writes and store.generations(rid) == []  # batched so far
    rec.checkpoint("search", 40, {"x": 1})
    assert [g["gen"] for g in store.generations(rid)] == list(range(1, 41))
    assert [r["arch"] for r in store.leaderboard(rid)] == [ARCH_B]  # the latest one
    rec(ev.Generation(41, 50, 2.0, 1.0, 3))
    rec(ev.Queried(ARCH_A, 91.0, 1, 10))  # any other event writes the batch first
    assert len(store.generations(rid)) == 41
    monkeypatch.setattr(recorder, "FLUSH_S", 0.0)  # due at once: written as it comes
    rec(ev.Generation(42, 50, 2.0, 1.0, 3))
    assert len(store.generations(rid)) == 42
    monkeypatch.setattr(recorder, "FLUSH_S", 3600.0)
    rec(ev.Generation(43, 50, 2.0, 1.0, 3))
    rec.end_with_exception(RuntimeError("boom"))  # an exception mid-search keeps it too
    assert len(store.generations(rid)) == 43 and store.get_run(rid)["status"] == "failed"


def test_stopped_and_failed(store):
    cfg = _cfg()
    a, b = store.create_run(cfg), store.create_run(cfg)
    ra, rb = store.recorder(a), store.recorder(b)
    for rec, rid in ((ra, a), (rb, b)):
        rec(_started(rid, cfg))
        rec(ev.StageStarted("train"))
    ra(ev.RunStopped("train"))
    rb(ev.RunFailed("Benchmark 'x' broke."))
    assert store.get_run(a)["status"] == "stopped" and "train" in store.get_run(a)["message"]
    assert store.stages(a)[0]["status"] == "stopped"
    assert store.get_run(b)["status"] == "failed"
    assert store.get_run(b)["message"] == "Benchmark 'x' broke."


def test_interrupted_when_process_died_or_heartbeat_stale(store):
    rid = store.create_run(_cfg())
    rec = store.recorder(rid)
    rec(_started(rid, _cfg()))
    rec.close()  # no heartbeat thread: this test sets the heartbeat itself
    assert store.get_run(rid)["status"] == "running"  # our own pid, fresh heartbeat
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.db.execute("UPDATE runs SET pid = ? WHERE id = ?", [dead.pid, rid])
    assert store.get_run(rid)["status"] == "interrupted"
    assert [r["id"] for r in store.list_runs(status="interrupted")] == [rid]
    # another host's run: only the heartbeat tells
    store.db.execute(
        "UPDATE runs SET host = 'elsewhere', heartbeat_at = ? WHERE id = ?", [time.time(), rid]
    )
    assert store.get_run(rid)["status"] == "running"
    store.db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", [time.time() - 3600, rid])
    assert store.get_run(rid)["status"] == "interrupted"
    row = {"status": "finished", "pid": dead.pid, "host": socket.gethostname(), "heartbeat_at": 0.0}
    assert effective_status(row) == "finished"  # only live-looking runs can be interrupted


def test_heartbeat_thread_keeps_a_silent_run_alive(store, monkeypatch):
    monkeypatch.setattr(recorder, "HEARTBEAT_S", 0.05)
    rid = store.create_run(_cfg())
    rec = store.recorder(rid)
    rec(_started(rid, _cfg()))  # starts the heartbeat thread
    store.db.execute("UPDATE runs SET heartbeat_at = 0 WHERE id = ?", [rid])
    deadline = time.time() + 5
    while store.get_run(rid)["heartbeat_at"] == 0 and time.time() < deadline:
        time.sleep(0.02)
    assert store.get_run(rid)["heartbeat_at"] > time.time() - 5
    rec.close()
    assert not any(t.name == f"tnao-heartbeat-{rid}" for t in threading.enumerate())


def _state(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rng.random(3)
    random.seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    return {
        "model": model.state_dict(),
        "optim": opt.state_dict(),
        "np": rng.bit_generator.state,
        "py": random.getstate(),
        "torch": torch.get_rng_state(),
        "arr": rng.random((5, 3)),
        "ints": np.arange(4, dtype=np.int8),
        "scalar": np.float64(2.5),
        "step": seed,
    }


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


def test_checkpoints_atomic_verified_and_pruned(store):
    rid = store.create_run(_cfg())
    rec = store.recorder(rid)
    assert rec.latest_checkpoint() is None
    states = [_state(s) for s in range(5)]
    for i, st in enumerate(states):
        info = rec.checkpoint("train", i + 1, st)
        assert os.path.exists(info["path"]) and info["path"].startswith(str(paths.runs_dir() / rid))
    arts = store.artifacts(rid)
    assert len(arts) == 2  # the latest two only
    files = sorted(p.name for p in (paths.runs_dir() / rid).iterdir())
    assert files == sorted(os.path.basename(a["path"]) for a in arts)  # no temp, no orphan
    latest = rec.latest_checkpoint()
    assert latest["stage"] == "train" and latest["step"] == 5
    assert _same(latest["state"], states[4])
    # a damaged latest file is never used: the one before it is
    with open(arts[-1]["path"], "r+b") as f:
        f.seek(20)
        f.write(b"\x00garbage")
    assert rec.latest_checkpoint()["step"] == 4
    os.unlink(arts[-2]["path"])
    assert rec.latest_checkpoint() is None


def test_failed_checkpoint_leaves_nothing(store, monkeypatch):
    rid = store.create_run(_cfg())
    rec = store.recorder(rid)
    rec.checkpoint("search", 1, {"x": 1})
    before = store.artifacts(rid)

    def broken_replace(*_a, **_k):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", broken_replace)
        with pytest.raises(StorageError, match="could not be written"):
            rec.checkpoint("search", 2, {"x": 2})
    assert store.artifacts(rid) == before
    assert [p.name for p in (paths.runs_dir() / rid).iterdir()] == [
        os.path.basename(before[0]["path"])
    ]
    with pytest.raises(Exception):  # noqa: B017 - not picklable: fails before any write
        rec.checkpoint("search", 3, {"f": lambda: 0})
    assert store.artifacts(rid) == before


def test_store_per_thread(store):
    rid = store.create_run(_cfg())
    out = {}

    def work():
        with store.recorder(rid) as rec:
            rec(_started(rid, _cfg()))
            rec(ev.EpochEnded(1, 1, 1.0, 1.0, 2.0, 0.1, 0.1, 0.1, "cpu"))
        out["runs"] = len(store.list_runs())
        store.close()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out["runs"] == 1 and len(store.epochs(rid)) == 1


def test_delete_run_cascades_and_removes_files(store):
    cfg = _cfg()
    rid, other = store.create_run(cfg), store.create_run(cfg)
    rec = store.recorder(rid)
    _feed(rec, rid, cfg)
    rec.checkpoint("train", 1, {"a": 1})
    folder = paths.runs_dir() / rid
    assert folder.is_dir()
    store.delete_run(rid)
    assert not folder.exists()
    for table in (
        "stages",
        "sampled",
        "epochs",
        "generations",
        "leaderboard",
        "queries",
        "artifacts",
    ):
        assert store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    assert [r["id"] for r in store.list_runs()] == [other]
    with pytest.raises(StorageError, match="no run"):
        store.get_run(rid)


def test_live_run_cannot_be_deleted_or_claimed(store):
    rid = store.create_run(_cfg())
    with store.recorder(rid) as rec:
        rec(_started(rid, _cfg()))
    with pytest.raises(StorageError, match="still running"):
        store.delete_run(rid)
    with pytest.raises(StorageError, match="still running"):
        store.claim(rid)
    store.recorder(rid).finish({"queries": 1})
    with pytest.raises(StorageError, match="already finished"):
        store.claim(rid)


# -- bad input: one sentence, nothing lost ---------------------------------------------------
def _one_sentence(err: Exception) -> str:
    text = str(err)
    assert "\n" not in text and text.endswith(".") and "Traceback" not in text
    return text


def test_not_sqlite(tmp_path):
    p = tmp_path / "notes.db"
    p.write_text("these are my notes, not a database\n")
    with pytest.raises(StorageError) as e:
        Store(p)
    assert "not a SQLite database" in _one_sentence(e.value) and str(p) in str(e.value)
    assert p.read_text() == "these are my notes, not a database\n"


def test_other_sqlite_database_is_left_alone(tmp_path):
    p = tmp_path / "other.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE accounts (id INTEGER)")
    con.commit()
    con.close()
    before = p.read_bytes()
    with pytest.raises(StorageError) as e:
        Store(p)
    assert "not a TNAO run history" in _one_sentence(e.value)
    assert p.read_bytes() == before


def test_newer_schema(tmp_path):
    p = tmp_path / "h.db"
    s = Store(p)
    rid = s.create_run(_cfg())
    s.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    s.close()
    with pytest.raises(StorageError) as e:
        Store(p)
    assert "newer" in _one_sentence(e.value)
    con = sqlite3.connect(p)
    assert con.execute("SELECT id FROM runs").fetchall() == [(rid,)]  # nothing lost
    con.close()


def test_locked_by_another_writer(tmp_path):
    p = tmp_path / "h.db"
    s = Store(p, timeout=0.1)
    rid = s.create_run(_cfg())
    other = sqlite3.connect(p, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        assert s.get_run(rid)["id"] == rid  # reading still works under WAL
        with pytest.raises(StorageError) as e:
            s.create_run(_cfg())
        assert "locked by another writer" in _one_sentence(e.value)
        with pytest.raises(StorageError, match="locked"):
            s.recorder(rid)(_started(rid, _cfg()))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert [r["id"] for r in s.list_runs()] == [rid]  # nothing lost, nothing half-written
    assert s.get_run(rid)["status"] == "created"
    s.create_run(_cfg())  # and it works again once the other writer is done


def test_unknown_and_ambiguous_run_ids(store):
    with pytest.raises(StorageError) as e:
        store.get_run("nope42")
    assert "no run 'nope42'" in _one_sentence(e.value)
    ids = {store.create_run(_cfg()) for _ in range(40)}
    first = {}
    for i in ids:
        first.setdefault(i[0], []).append(i)
    shared = next(v for v in first.values() if len(v) > 1)  # 40 ids over 31 letters
    with pytest.raises(StorageError, match="ambiguous"):
        store.get_run(shared[0][0])
    for bad in ("%", "_", ""):
        with pytest.raises(StorageError, match="no run"):
            store.get_run(bad)


def test_missing_file_with_create_false(tmp_path):
    with pytest.raises(StorageError, match="no run history"):
        Store(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()
    with pytest.raises(StorageError, match="folder"):
        Store(tmp_path)


def test_nan_values_are_null():
    assert math.isnan(float("nan"))
    from tnao_app.storage.base import clean

    assert clean(float("nan")) is None and clean(1.5) == 1.5 and clean("x") == "x"


# -- events <-> rows: one map, every field, both ways ---------------------------------------
def _event_types() -> set[type]:
    return {
        c
        for c in vars(ev).values()
        if isinstance(c, type) and issubclass(c, ev.Event) and c is not ev.Event
    }


def test_every_event_is_handled_and_every_field_mapped(store):
    rec = store.recorder(store.create_run(_cfg()))
    # dispatch by type: a renamed or new event shows here, not as a silently lost one
    assert set(rec.handlers()) == _event_types()
    assert set(rows.MAPS) == _event_types() - {ev.Progress}  # per batch: not recorded
    for cls, m in {**rows.MAPS, ev.LeaderRow: rows.LEADER_ROW}.items():
        assert set(m.cols) == {f.name for f in dataclasses.fields(cls)}, cls.__name__


def _comparable(e):
    """An event as plain data, NaN as a marker (NaN != NaN)."""

    def fix(v):
        if isinstance(v, float) and math.isnan(v):
            return "NaN"
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [fix(x) for x in v]
        return v

    return type(e).__name__, fix(dataclasses.asdict(e))


PLAN = ev.RunPlan(budget=3, stages=ev.STAGES, rounds=2, sample=1, round_queries=1)


def _plan_run(rid: str, cfg: Config) -> list[ev.Event]:
    """Every recorded event type with every field set (the new plan fields included)."""
    nan = float("nan")
    return [
        ev.RunStarted(rid, "analog", "cifar10", "tnao", 7, "cpu", cfg.to_dict(), plan=PLAN),
        ev.StageStarted("sample", steps=2),
        ev.Sampled((ARCH_A, ARCH_B), (91.5, nan)),
        ev.Queried(ARCH_A, 91.5, 1, 3),
        ev.StageFinished("sample", 0.1, {"sampled": 2}),
        ev.StageStarted("train", 0, steps=2, rounds=2),
        ev.EpochEnded(1, 2, 1.0, 0.5, 1.5, nan, 0.1, 0.2, "cpu", 0, 1),
        ev.EpochEnded(2, 2, 0.8, 0.4, 1.2, 0.3, 0.4, 0.2, "cpu", 0, 2),
        ev.StageFinished("train", 0.5, {"train_tau": 0.75}),
        ev.StageStarted("search", 0, steps=2),
        ev.Generation(1, 2, 1.0, -math.inf, 4),
        ev.Generation(2, 2, 1.1, nan, 7),
        ev.StageFinished("search", 0.3),
        ev.StageStarted("evaluate", 0, steps=1),
        ev.Queried(ARCH_B, nan, 2, 3),
        ev.StageFinished("evaluate", 0.1),
        # round 1 restarts: a new model, its epochs count from 1 again
        ev.StageStarted("train", 1, steps=1, rounds=2, restarted=True),
        ev.EpochEnded(1, 1, 0.9, 0.45, 1.35, nan, nan, 0.2, "cpu", 1, 1),
        ev.StageFinished("train", 0.2, {}, 1),
        ev.StageStarted("search", 1, steps=1, rounds=2),
        ev.Generation(1, 1, 1.3, 1.2, 9, 1),
        ev.StageFinished("search", 0.1, {}, 1),
        ev.StageStarted("evaluate", 1, steps=1, rounds=2),
        ev.Queried(ARCH_A.replace("none~2", "skip_connect~2"), 89.0, 3, 3),
        ev.StageFinished("evaluate", 0.1, {}, 1),
        ev.Leaderboard(
            (
                ev.LeaderRow(1, ARCH_A, 0.9, 91.5, 94.1, 99.9),
                ev.LeaderRow(2, ARCH_B, nan, nan, nan, nan),
            )
        ),
    ]


def test_recorded_events_survive_write_and_read(store):
    cfg = _cfg(seed=7)
    rid = store.create_run(cfg)
    written = _plan_run(rid, cfg)
    saved = []
    rec = store.recorder(rid, notify=[saved.append])
    for e in written:
        rec(e)
    rec.checkpoint("train", 2, {"x": 1})
    result = {"run_id": rid, "queries": 3, "best": {"arch": ARCH_A, "test": 94.1}}
    rec(ev.RunFinished(result))
    written += [*saved, ev.RunFinished(result)]
    back = store.replay(rid)
    for cls in rows.MAPS:
        if cls in (ev.RunStopped, ev.RunFailed):
            continue
        mine = [_comparable(e) for e in written if type(e) is cls]
        assert mine, cls.__name__
        assert [_comparable(e) for e in back if type(e) is cls] == mine, cls.__name__
    # and in the order the run went: the stages, each with its epochs / generations
    kinds = (ev.StageStarted, ev.EpochEnded, ev.Generation, ev.StageFinished)
    assert [_comparable(e) for e in back if isinstance(e, kinds)] == [
        _comparable(e) for e in written if isinstance(e, kinds)
    ]
    # the columns older histories have keep their names
    assert store.generations(rid)[0]["distinct_archs"] == 4
    assert [q["n"] for q in store.queries(rid)] == [1, 2, 3]
    for end in (ev.RunStopped("train"), ev.RunFailed("Benchmark 'x' broke.")):
        other = store.create_run(cfg)
        r = store.recorder(other)
        r(ev.RunStarted(other, "analog", "cifar10", "tnao", 7, "cpu", cfg.to_dict()))
        r(end)
        assert _comparable(store.replay(other)[-1]) == _comparable(end)
        assert store.replay(other)[0].plan is None  # no plan recorded: none read back


def test_a_stage_the_run_end_closed_replays_as_finished(store):
    cfg = _cfg()
    rid = store.create_run(cfg)
    rec = store.recorder(rid)
    rec(_started(rid, cfg))
    rec(ev.StageStarted("evaluate"))
    rec(ev.RunFinished({"queries": 1}))  # no StageFinished: the finish closes the stage
    ends = [e for e in store.replay(rid) if isinstance(e, ev.StageFinished)]
    assert [e.stage for e in ends] == ["evaluate"] and math.isnan(ends[0].seconds)


def test_old_history_migrates_and_replays_without_the_new_fields(tmp_path):
    """A history written before the plan fields (schema 1) opens, migrates, and reads
    back with them unknown (0 / None), its rows intact."""
    p = tmp_path / "old.db"
    con = sqlite3.connect(p)
    db = Database(con)
    MIGRATIONS.apply(db, stop_before="0002_plan_steps")
    cfg = json.dumps(_cfg().to_dict())
    db.execute(
        "INSERT INTO runs (id, benchmark, dataset, method, seed, config, resolved, status, "
        "device, tnao_version, created_at, n_queries, result) "
        "VALUES ('old001', 'analog', 'cifar10', 'tnao', 0, ?, ?, 'finished', 'cpu', '0.1', "
        "1.0, 3, '{\"queries\": 3}')",
        [cfg, cfg],
    )
    db.execute("INSERT INTO stages VALUES ('old001', 0, 'train', 'finished', 1.0, 2.0, 1.0, '{}')")
    db.execute(
        "INSERT INTO epochs VALUES ('old001', 0, 1, 2, 1.0, 0.5, 1.5, NULL, NULL, 0.1, 'cpu')"
    )
    db.execute("INSERT INTO generations VALUES ('old001', 0, 1, 3, 1.0, 0.5, 4)")
    db.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    store = Store(p)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert not MIGRATIONS.pending(store.db)
    back = store.replay("old001")
    started, stage, epoch, gen = back[0], back[1], back[2], back[4]
    assert started.plan is None and started.config == _cfg().to_dict()
    assert (stage.stage, stage.steps, stage.rounds, stage.restarted) == ("train", 0, 0, False)
    assert (epoch.epoch, epoch.epochs, epoch.step) == (1, 2, 0) and math.isnan(epoch.val_tau)
    assert (gen.gen, gen.distinct) == (1, 4)
    assert isinstance(back[-1], ev.RunFinished) and back[-1].result == {"queries": 3}
    # new events go into the migrated history with their new fields
    rid = store.create_run(_cfg())
    rec = store.recorder(rid)
    rec(ev.StageStarted("train", 0, steps=5, rounds=3, restarted=True))
    row = store.stages(rid)[0]
    assert (row["steps"], row["rounds"], row["restarted"]) == (5, 3, 1)


def test_recorder_imports_nothing_of_db_at_module_level():
    """db.py imports the recorder; the recorder only gets a Store handed in (no cycle)."""
    import ast
    import inspect

    from tnao_app.storage import recorder as rec_mod

    tree = ast.parse(inspect.getsource(rec_mod))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [n.module for n in top if isinstance(n, ast.ImportFrom)]
    assert "db" not in names and not any((m or "").endswith(".db") for m in names)
    code = "import tnao_app.storage.recorder, tnao_app.storage.db; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
