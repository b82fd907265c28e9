"""The run-history database: open it safely, read and write runs.

One SQLite file (WAL journal, foreign keys on) holds every run: its resolved config,
status and heartbeat, stage timeline, sampled architectures, epochs, CSO generations,
queries, leaderboard and checkpoint files. A ``Store`` gives each thread its own
connection (sqlite3 connections must not cross threads), so the TUI's worker, the
recorder's heartbeat thread and the UI can share one ``Store``.

Like Optuna's RDB storage, a live run refreshes a heartbeat; a run whose process died
(the pid is gone, or no heartbeat for ``STALE_S`` seconds) reads as ``interrupted``.
Every failure a user can cause (not SQLite, locked, newer schema, unknown run id) is a
``StorageError`` with one sentence.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

from tnao_app import __version__, paths
from tnao_app import events as ev
from tnao_app.config import Config
from tnao_app.errors import StorageError

from . import rows
from .base import LIVE, effective_status, resolve_id, translate
from .experiments import ExperimentsMixin
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .recorder import Recorder

STATUSES = ("created", "running", "finished", "failed", "stopped", "interrupted")
_ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: ids are read aloud


def _guarded(fn):
    """Turn any sqlite3 error inside a Store method into one StorageError sentence."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise translate(self.path, exc) from None

    return wrapper


class Store(ExperimentsMixin):
    """The run history at ``path`` (default: ``paths.default_db()``).

    ``create=False`` refuses a missing file instead of creating an empty history.
    ``timeout`` is how long a write waits for another writer (env ``TNAO_DB_TIMEOUT``,
    default 10 s) before failing with "locked".
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        create: bool = True,
        timeout: float | None = None,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else paths.default_db()
        if timeout is None:
            timeout = float(os.environ.get("TNAO_DB_TIMEOUT", "10"))
        self.timeout = timeout
        self._local = threading.local()
        self._check_file(create)
        self.db  # noqa: B018 - open now so a bad file fails here, not at first use

    # -- connection --------------------------------------------------------------------
    def _check_file(self, create: bool) -> None:
        p = self.path
        if p.is_dir():
            raise StorageError(f"{p} is a folder; expected a TNAO run-history database file.")
        if p.exists():
            # Never open() the file ourselves: closing any descriptor of a SQLite file drops
            # every POSIX lock this process holds on it (also other connections' locks), and
            # another process may then reset the WAL under them. SQLite itself reports a
            # file that is not a database on the first read (see _open).
            return
        if not create:
            raise StorageError(
                f"There is no run history at {p}; runs are recorded there by 'tnao run'."
            )
        paths.ensure(p.parent)  # FolderError: one sentence naming the folder

    @property
    def db(self) -> Database:
        """This thread's connection (opened, checked and migrated on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._open()
            self._local.db = db
        return db

    def _open(self) -> Database:
        try:
            conn = sqlite3.connect(str(self.path), timeout=self.timeout)
        except sqlite3.Error as exc:
            raise translate(self.path, exc) from None
        try:
            db = Database(conn, execute_plugins=False)
            db.execute("PRAGMA foreign_keys = ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path} was written by a newer TNAO (history schema {version}; "
                    f"this version reads up to {SCHEMA_VERSION}); upgrade tnao to open it."
                )
            tables = set(db.table_names())
            if version == 0 and tables and MIGRATIONS.migrations_table not in tables:
                raise StorageError(
                    f"{self.path} is a SQLite database but not a TNAO run history "
                    f"(it holds tables {', '.join(sorted(tables)[:3])})."
                )
            if db.journal_mode != "wal":
                db.enable_wal()
            if version < SCHEMA_VERSION:
                self._migrate(db)
            db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable at checkpoints
        except StorageError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise translate(self.path, exc) from None
        return db

    def _migrate(self, db: Database) -> None:
        try:
            MIGRATIONS.apply(db)
        except sqlite3.OperationalError as exc:
            # Another process migrated at the same moment: fine if it is done now.
            done = "already exists" in str(exc) or "duplicate column" in str(exc)
            if not done or MIGRATIONS.pending(db):
                raise
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so a lock shows here."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate(self.path, exc) from None
        try:
            yield db
        except BaseException:
            db.conn.rollback()
            raise
        else:
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                db.conn.rollback()
                raise translate(self.path, exc) from None

    # -- runs --------------------------------------------------------------------------
    @_guarded
    def create_run(self, config: Config) -> str:
        """Record a new run (status ``created``) and return its short id."""
        config.validate()
        r = config.run
        now = time.time()
        with self.write() as db:
            while True:
                run_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))
                if not db.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone():
                    break
            db["runs"].insert(
                {
                    "id": run_id,
                    "name": r.name or "",
                    "benchmark": r.benchmark,
                    "dataset": r.dataset,
                    "method": r.method,
                    "seed": r.seed,
                    "config": json.dumps(config.to_dict()),
                    "status": "created",
                    "device": r.device,
                    "tnao_version": __version__,
                    "created_at": now,
                    "heartbeat_at": now,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                }
            )
        return run_id

    @_guarded
    def resolve(self, run_id: str) -> str:
        """The full id of ``run_id`` (exact, or a unique prefix)."""
        return resolve_id(self.db, self.path, "runs", run_id, "Run", "'tnao history' lists them")

    @staticmethod
    def _run_dict(row: dict, now: float) -> dict:
        out = dict(row)
        out["recorded_status"] = row["status"]
        out["status"] = effective_status(row, now)
        for key in ("config", "resolved", "result", "plan"):
            out[key] = json.loads(row[key]) if row.get(key) else None
        return out

    @_guarded
    def get_run(self, run_id: str) -> dict:
        """The run's row: config/resolved/result parsed, status with ``interrupted``."""
        rid = self.resolve(run_id)
        row = next(self.db.query("SELECT * FROM runs WHERE id = ?", [rid]))
        return self._run_dict(row, time.time())

    @_guarded
    def list_runs(self, benchmark: str | None = None, status: str | None = None) -> list[dict]:
        """Runs, newest first, optionally only one benchmark and/or one status."""
        sql, params = "SELECT * FROM runs", []
        if benchmark:
            sql += " WHERE benchmark = ?"
            params.append(benchmark)
        sql += " ORDER BY created_at DESC, rowid DESC"
        now = time.time()
        runs = [self._run_dict(r, now) for r in self.db.query(sql, params)]
        if status:
            runs = [r for r in runs if r["status"] == status]
        return runs

    def _rows(self, sql: str, run_id: str) -> list[dict]:
        rid = self.resolve(run_id)
        return list(self.db.query(sql, [rid]))

    @_guarded
    def leaderboard(self, run_id: str) -> list[dict]:
        return self._rows(
            "SELECT rank, arch, predicted, valid, test, percentile FROM leaderboard "
            "WHERE run_id = ? ORDER BY rank",
            run_id,
        )

    @_guarded
    def epochs(self, run_id: str) -> list[dict]:
        return self._rows(
            "SELECT round, epoch, epochs, step, loss_rec, loss_rank, loss_total, val_tau, "
            "val_spearman, seconds, device FROM epochs WHERE run_id = ? ORDER BY round, epoch",
            run_id,
        )

    @_guarded
    def generations(self, run_id: str) -> list[dict]:
        return self._rows(
            "SELECT round, gen, generations, best_score, mean_score, distinct_archs "
            "FROM generations WHERE run_id = ? ORDER BY round, gen",
            run_id,
        )

    @_guarded
    def stages(self, run_id: str) -> list[dict]:
        rows = self._rows(
            "SELECT round, stage, status, started_at, finished_at, seconds, summary, steps, "
            "rounds, restarted FROM stages WHERE run_id = ? ORDER BY started_at, rowid",
            run_id,
        )
        for r in rows:
            r["summary"] = json.loads(r["summary"]) if r["summary"] else {}
        return rows

    @_guarded
    def sampled(self, run_id: str) -> list[dict]:
        return self._rows(
            "SELECT idx, arch, signal FROM sampled WHERE run_id = ? ORDER BY idx", run_id
        )

    @_guarded
    def queries(self, run_id: str) -> list[dict]:
        return self._rows(
            "SELECT n, arch, signal, budget, at FROM queries WHERE run_id = ? ORDER BY n",
            run_id,
        )

    @_guarded
    def artifacts(self, run_id: str) -> list[dict]:
        return self._rows(
            "SELECT id, kind, stage, step, path, sha256, bytes, created_at FROM artifacts "
            "WHERE run_id = ? ORDER BY id",
            run_id,
        )

    @_guarded
    def replay(self, run_id: str) -> list[ev.Event]:
        """The recorded events of a run, in an order that, folded, gives what its live
        events gave: RunStarted; each stage as it started, with its epochs (train) or
        generations (search) or sample, then its end; the queries; the checkpoints; the
        leaderboard; how the run ended. Progress is not recorded; a repeated event
        (resumes) is there once."""
        run = self.get_run(run_id)
        rid = run["id"]
        maps = rows.MAPS
        if run.get("resolved") is None:
            run["resolved"] = run["config"]  # never started: its config as created
        out: list[ev.Event] = [maps[ev.RunStarted].event(run)]
        epochs = [maps[ev.EpochEnded].event(r) for r in self.epochs(rid)]
        gens = [maps[ev.Generation].event(r) for r in self.generations(rid)]
        sampled = self.sampled(rid)
        for st in self.stages(rid):
            rnd, stage = int(st["round"] or 0), st["stage"]
            out.append(maps[ev.StageStarted].event(st))
            if stage == "sample" and sampled:
                out.append(maps[ev.Sampled].event_of_rows(sampled))
                sampled = []
            elif stage == "train":
                out += [e for e in epochs if e.round == rnd]
                epochs = [e for e in epochs if e.round != rnd]
            elif stage == "search":
                out += [g for g in gens if g.round == rnd]
                gens = [g for g in gens if g.round != rnd]
            if st["status"] == "finished":
                # (a stage the run's end closed has no seconds: NaN, not known)
                out.append(maps[ev.StageFinished].event(st))
        if sampled:
            out.append(maps[ev.Sampled].event_of_rows(sampled))
        out += epochs + gens  # any whose stage row is missing: kept, not dropped
        out += [maps[ev.Queried].event(r) for r in self.queries(rid)]
        out += [
            maps[ev.CheckpointSaved].event(a)
            for a in self.artifacts(rid)
            if a["kind"] == "checkpoint"
        ]
        board = self.leaderboard(rid)
        if board:
            out.append(maps[ev.Leaderboard].event_of_rows(board))
        status = run["recorded_status"]
        end = {"finished": ev.RunFinished, "failed": ev.RunFailed, "stopped": ev.RunStopped}
        if status in end:
            out.append(maps[end[status]].event(run))
        return out

    @_guarded
    def heartbeat(self, run_id: str) -> None:
        self.db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", [time.time(), run_id])

    @_guarded
    def claim(self, run_id: str) -> dict:
        """Mark a stopped/failed/interrupted run as ours again, before resuming it.

        Refuses a finished run and one whose process is still alive, so two processes
        never drive one run.
        """
        rid = self.resolve(run_id)
        with self.write() as db:
            row = next(db.query("SELECT * FROM runs WHERE id = ?", [rid]))
            status = effective_status(row)
            if status == "finished":
                raise StorageError(f"Run {rid} has already finished; there is nothing to resume.")
            if status in LIVE:
                raise StorageError(
                    f"Run {rid} is still {status} (pid {row['pid']} on {row['host']}); "
                    "stop it before resuming."
                )
            now = time.time()
            db.execute(
                "UPDATE runs SET status = 'running', message = '', finished_at = NULL, "
                "heartbeat_at = ?, pid = ?, host = ?, resumes = resumes + 1 WHERE id = ?",
                [now, os.getpid(), socket.gethostname(), rid],
            )
        return self.get_run(rid)

    @_guarded
    def delete_run(self, run_id: str) -> str:
        """Delete a run, its rows and its checkpoint files; refuse a live one."""
        rid = self.resolve(run_id)
        row = next(self.db.query("SELECT * FROM runs WHERE id = ?", [rid]))
        if effective_status(row) in LIVE:
            raise StorageError(
                f"Run {rid} is still running (pid {row['pid']} on {row['host']}); "
                "stop it before deleting it."
            )
        files = [Path(a["path"]) for a in self.artifacts(rid)]
        # Rows first, files after: the history never points to a missing file.
        with self.write() as db:
            db.execute("DELETE FROM runs WHERE id = ?", [rid])
        for f in files:
            with contextlib.suppress(OSError):
                f.unlink()
        folder = paths.runs_dir() / rid
        if folder.is_dir():
            for f in folder.iterdir():
                with contextlib.suppress(OSError):
                    f.unlink()
            with contextlib.suppress(OSError):
                folder.rmdir()
        return rid

    def recorder(self, run_id: str, notify=()) -> Recorder:
        """A ``Recorder`` writing the events of ``run_id`` into this history."""
        return Recorder(self, self.resolve(run_id), notify=notify)
