"""The recorder: a pipeline listener that writes every event of one run into the history.

``rec(event)`` records an event; ``rec.checkpoint(stage, step, state)`` is the
pipeline's checkpoint hook; ``rec.latest_checkpoint()`` is what a resume starts from.
While a run is live a daemon thread refreshes its heartbeat every ``HEARTBEAT_S``
seconds, so a stage that emits nothing for minutes still reads as running, and a killed
process reads as interrupted. Progress events (per batch) never cause a write of their
own: at most one heartbeat per interval. Generations and leaderboards (a swarm emits
both every few milliseconds) are written in batches: at most every ``FLUSH_S`` seconds,
and always before any other write, so the history keeps the events' order (a killed
process loses at most those seconds of them, after its last checkpoint: a resume redoes
them). ``rec.rewind(checkpoint)`` forgets what a resume from it does again.

Resuming re-emits the events after the checkpoint; every table is keyed so a repeated
event overwrites its earlier row (same epoch, same generation, same n-th query) and the
leaderboard and the sample are replaced whole.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from tnao_app import events as ev
from tnao_app import paths
from tnao_app.errors import StorageError, TnaoError

from . import checkpoints, rows
from .base import HEARTBEAT_S, LIVE, sql_errors

if TYPE_CHECKING:
    from .db import Store  # the store is handed in: nothing of db.py is imported here

#: checkpoint files kept per run: the latest, and one before it in case the latest is
#: damaged (a resume falls back to it)
KEEP_CHECKPOINTS = 2
#: seconds between batched writes of generations and leaderboards
FLUSH_S = 1.0


class Recorder:
    """Records the events of run ``run_id`` into ``store``.

    ``notify``: listeners that get the ``CheckpointSaved`` events this recorder emits
    (the runner passes the UI's listeners here).
    """

    def __init__(self, store: Store, run_id: str, notify: Iterable[Callable] = ()) -> None:
        self.store = store
        self.run_id = run_id
        self.notify = list(notify)
        self._last_beat = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on: dict[type, Callable] | None = None
        # the stage in flight, by name: (round, when this part began, seconds of the parts
        # before it, summary they recorded, whether it continues an earlier part)
        self._stage: dict[str, tuple[int, float, float, dict, bool]] = {}
        # generations and the latest leaderboard not yet written (see _flush)
        self._gens: list[dict] = []
        self._board: list[dict] | None = None
        self._flushed = time.monotonic()

    @property
    def folder(self) -> Path:
        """This run's checkpoint folder (paths.runs_dir() creates TNAO_HOME: only on use)."""
        return paths.runs_dir() / self.run_id

    # -- heartbeat ---------------------------------------------------------------------
    def start(self) -> Recorder:
        """Start the heartbeat thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._beat_loop, name=f"tnao-heartbeat-{self.run_id}", daemon=True
            )
            self._thread.start()
        return self

    def _beat_loop(self) -> None:
        try:
            while not self._stop.wait(HEARTBEAT_S):
                with contextlib.suppress(StorageError):  # a busy moment: next beat
                    self.store.heartbeat(self.run_id)
        finally:
            self.store.close()  # this thread's connection

    def close(self) -> None:
        """Write what is batched and stop the heartbeat thread."""
        self._flush_quietly()
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_beat >= HEARTBEAT_S:
            self._last_beat = now
            self.store.heartbeat(self.run_id)

    # -- events ------------------------------------------------------------------------
    def handlers(self) -> dict[type, Callable]:
        """The handler of each event type. By type, not by name: a renamed event fails
        here at import, and one without a handler fails tests/test_storage.py, instead of
        going unrecorded."""
        return {
            ev.RunStarted: self._run_started,
            ev.StageStarted: self._stage_started,
            ev.StageFinished: self._stage_finished,
            ev.Progress: self._progress,
            ev.Sampled: self._sampled,
            ev.Queried: self._queried,
            ev.EpochEnded: self._epoch_ended,
            ev.Generation: self._generation,
            ev.Leaderboard: self._leaderboard,
            ev.CheckpointSaved: self._checkpoint_saved,
            ev.RunFinished: self._run_finished,
            ev.RunStopped: self._run_stopped,
            ev.RunFailed: self._run_failed,
        }

    def __call__(self, event: ev.Event) -> None:
        if self._on is None:
            self._on = self.handlers()
        handler = self._on.get(type(event))
        # An event type added later is not recorded until it has a handler here (a test
        # checks every one has); a run must not fail over it.
        if handler is not None:
            with sql_errors(self.store.path):
                if isinstance(event, (ev.Generation, ev.Leaderboard)):
                    handler(event)
                    if time.monotonic() - self._flushed >= FLUSH_S:
                        self._flush()
                else:
                    if not isinstance(event, ev.Progress):  # a heartbeat at most: no write
                        self._flush()
                    handler(event)

    def _flush_quietly(self) -> None:
        """``_flush`` where a run's end is being recorded: a busy history must not keep
        the end (finished, stopped, failed) from being written after it."""
        with contextlib.suppress(StorageError), sql_errors(self.store.path):
            self._flush()

    def _flush(self) -> None:
        """Write the batched generations and leaderboard in one transaction."""
        gens, board = self._gens, self._board
        self._flushed = time.monotonic()
        if not gens and board is None:
            return
        with self.store.write() as db:
            if gens:
                db["generations"].upsert_all(gens, pk=("run_id", "round", "gen"))
            if board is not None:
                self._write_leaderboard(db, board)
            self._update_run(db, heartbeat_at=time.time())
        self._gens, self._board = [], None  # written: a failed write keeps them for the next

    def _update_run(self, db, **values) -> None:
        db["runs"].update(self.run_id, values)

    def _run_started(self, e: ev.RunStarted) -> None:
        now = time.time()
        values = rows.row(e)
        values.pop("id")  # the run's row is this recorder's, whatever the event says
        with self.store.write() as db:
            row = db["runs"].get(self.run_id)
            self._update_run(
                db,
                **values,
                status="running",
                started_at=row["started_at"] or now,
                heartbeat_at=now,
                pid=os.getpid(),
                host=socket.gethostname(),
                message="",
                finished_at=None,
            )
        self._last_beat = time.monotonic()
        self.start()

    def _stage_started(self, e: ev.StageStarted) -> None:
        now = time.time()
        with self.store.write() as db:
            # A stage this run recorded before continues (a resume): its start, the
            # seconds of its earlier parts (up to their last checkpoint: the rest is done
            # again now) and their summary stay, and this part adds to them.
            old = db.execute(
                "SELECT started_at, seconds, summary FROM stages "
                "WHERE run_id = ? AND round = ? AND stage = ?",
                [self.run_id, e.round, e.stage],
            ).fetchone()
            before = float(old[1]) if old and old[1] is not None else 0.0
            summary = rows.from_json(old[2], {}) if old else {}
            self._stage[e.stage] = (e.round, now, before, summary, old is not None)
            db["stages"].upsert(
                {
                    "run_id": self.run_id,
                    **rows.row(e),
                    "status": "running",
                    "started_at": old[0] if old and old[0] else now,
                    "finished_at": None,
                    "seconds": old[1] if old else None,
                    "summary": old[2] if old else None,
                },
                pk=("run_id", "round", "stage"),
            )
            self._update_run(db, heartbeat_at=now)

    def _stage_so_far(self, db, stage: str, now: float) -> None:
        """Record the seconds of the stage in flight up to ``now`` (a checkpoint): what a
        resume continues from, whatever ends this process."""
        got = self._stage.get(stage)
        if got is not None:
            rnd, start, before, _, _ = got
            db.execute(
                "UPDATE stages SET seconds = ? "
                "WHERE run_id = ? AND round = ? AND stage = ? AND status = 'running'",
                [before + max(0.0, now - start), self.run_id, rnd, stage],
            )

    def _finished_stage(self, db, e: ev.StageFinished) -> ev.StageFinished:
        """``e`` with the seconds and the summary of the stage's earlier parts added (a
        resumed stage: the engine counts only the part it ran)."""
        got = self._stage.pop(e.stage, None)
        if got is None or got[0] != e.round or not got[4]:
            return e
        _, _, before, summary, _ = got
        summary = {**summary, **e.summary}
        if e.stage == "train" and "loss" not in summary:
            # every epoch was done before the resume: the last one's stats are recorded
            last = db.execute(
                "SELECT loss_total, val_tau FROM epochs WHERE run_id = ? AND round = ? "
                "ORDER BY epoch DESC LIMIT 1",
                [self.run_id, e.round],
            ).fetchone()
            if last is not None:
                summary.setdefault("val_tau", last[1])
                summary["loss"] = last[0]
        return dataclasses.replace(e, seconds=before + e.seconds, summary=summary)

    def _stage_finished(self, e: ev.StageFinished) -> None:
        now = time.time()
        with self.store.write() as db:
            started = db.execute(
                "SELECT started_at FROM stages WHERE run_id = ? AND round = ? AND stage = ?",
                [self.run_id, e.round, e.stage],
            ).fetchone()
            e = self._finished_stage(db, e)
            # An upsert sets only these columns: the StageStarted ones (steps...) stay.
            db["stages"].upsert(
                {
                    "run_id": self.run_id,
                    **rows.row(e),
                    "status": "finished",
                    "started_at": started[0] if started else now - e.seconds,
                    "finished_at": now,
                },
                pk=("run_id", "round", "stage"),
            )
            self._update_run(db, heartbeat_at=now)

    def _progress(self, e: ev.Progress) -> None:
        self._beat()  # per batch: never a write of its own

    def _sampled(self, e: ev.Sampled) -> None:
        sampled = [{"run_id": self.run_id, **r} for r in rows.rows(e)]
        with self.store.write() as db:
            db.execute("DELETE FROM sampled WHERE run_id = ?", [self.run_id])
            db["sampled"].insert_all(sampled, batch_size=500)

    def _queried(self, e: ev.Queried) -> None:
        with self.store.write() as db:
            db["queries"].upsert(
                {"run_id": self.run_id, **rows.row(e), "at": time.time()},
                pk=("run_id", "n"),
            )
        self._beat()

    def _epoch_ended(self, e: ev.EpochEnded) -> None:
        with self.store.write() as db:
            db["epochs"].upsert(
                {"run_id": self.run_id, **rows.row(e)}, pk=("run_id", "round", "epoch")
            )
            self._update_run(db, heartbeat_at=time.time())

    def _generation(self, e: ev.Generation) -> None:
        self._gens.append({"run_id": self.run_id, **rows.row(e)})  # batched: _flush

    def _write_leaderboard(self, db, board: list[dict]) -> None:
        db.execute("DELETE FROM leaderboard WHERE run_id = ?", [self.run_id])
        db["leaderboard"].insert_all([{"run_id": self.run_id, **r} for r in board], batch_size=500)

    def _leaderboard(self, e: ev.Leaderboard) -> None:
        self._board = rows.rows(e)  # batched: _flush writes the latest

    def _checkpoint_saved(self, e: ev.CheckpointSaved) -> None:
        pass  # this recorder emits it: checkpoint() has written the row already

    def _run_finished(self, e: ev.RunFinished) -> None:
        self.finish(e.result)

    def _run_stopped(self, e: ev.RunStopped) -> None:
        self._end("stopped", rows.row(e)["message"])

    def _run_failed(self, e: ev.RunFailed) -> None:
        self._end("failed", e.message)

    # -- ends --------------------------------------------------------------------------
    def finish(self, result: dict) -> None:
        """Mark the run finished with ``result`` (the pipeline's dict)."""
        self._flush_quietly()
        with sql_errors(self.store.path):
            self._finish(result)

    def _finish(self, result: dict) -> None:
        result = rows.jsonable(result or {})
        best = result.get("best") or {}
        now = time.time()
        with self.store.write() as db:
            have_board = db.execute(
                "SELECT 1 FROM leaderboard WHERE run_id = ? LIMIT 1", [self.run_id]
            ).fetchone()
            board = result.get("leaderboard")
            if not have_board and isinstance(board, list) and board and isinstance(board[0], dict):
                self._write_leaderboard(db, [rows.leader_row(r) for r in board])
            self._update_run(
                db,
                status="finished",
                finished_at=now,
                heartbeat_at=now,
                message="",
                result=rows.to_json(result),
                n_queries=result.get("queries"),
                best_arch=best.get("arch"),
                best_valid=best.get("valid"),
                best_test=best.get("test"),
            )
            db.execute(
                "UPDATE stages SET status = 'finished', finished_at = ? "
                "WHERE run_id = ? AND status = 'running'",
                [now, self.run_id],
            )
        self.close()

    def _end(self, status: str, message: str) -> None:
        self._flush_quietly()
        now = time.time()
        with sql_errors(self.store.path), self.store.write() as db:
            self._update_run(db, status=status, message=message, finished_at=now, heartbeat_at=now)
            db.execute(
                "UPDATE stages SET status = ?, finished_at = ? "
                "WHERE run_id = ? AND status = 'running'",
                [status, now, self.run_id],
            )
        self.close()

    def end_with_exception(self, exc: BaseException) -> None:
        """After the pipeline raised: mark a still-live run failed (or stopped on ^C)."""
        with contextlib.suppress(StorageError):
            status = self.store.get_run(self.run_id)["recorded_status"]
            if status in LIVE:
                if isinstance(exc, KeyboardInterrupt):
                    self._end("stopped", "stopped by the user")
                else:
                    msg = (
                        str(exc) if isinstance(exc, TnaoError) else (f"{type(exc).__name__}: {exc}")
                    )
                    self._end("failed", msg)
        self.close()

    def end_with_result(self, result: dict) -> None:
        """After the pipeline returned: finish a run no terminal event closed."""
        status = self.store.get_run(self.run_id)["recorded_status"]
        if status in LIVE:
            self.finish(result)
        self.close()

    # -- checkpoints -------------------------------------------------------------------
    def checkpoint(self, stage: str, step: int, state: dict) -> dict:
        """Persist ``state`` atomically and record it; keep the latest two files.

        Order matters: the file is complete and renamed before its row exists, and a row
        is deleted before its file, so the history never points to a missing or partial
        file.
        """
        with sql_errors(self.store.path):  # what came before it is in the history with it
            self._flush()
        data = checkpoints.to_bytes(state)
        digest = checkpoints.sha256_bytes(data)
        path = self.folder / f"{stage}-{int(step):06d}-{time.time_ns():x}.pt"
        try:
            checkpoints.atomic_write_bytes(path, data)
        except OSError as exc:  # read-only, full: the run stops, resumable from the last
            raise paths.write_error(path, exc, "The checkpoint") from None
        now = time.time()
        with sql_errors(self.store.path), self.store.write() as db:
            db["artifacts"].insert(
                {
                    "run_id": self.run_id,
                    "kind": "checkpoint",
                    "stage": stage,
                    "step": int(step),
                    "path": str(path),
                    "sha256": digest,
                    "bytes": len(data),
                    "created_at": now,
                }
            )
            self._stage_so_far(db, stage, now)
            self._update_run(db, heartbeat_at=now)
        self._prune()
        saved = ev.CheckpointSaved(stage=stage, step=int(step), path=str(path), sha256=digest)
        for fn in self.notify:
            fn(saved)
        return {"path": str(path), "sha256": digest, "bytes": len(data)}

    def _prune(self) -> None:
        rows = self.store.artifacts(self.run_id)
        rows = [r for r in rows if r["kind"] == "checkpoint"]
        old = rows[:-KEEP_CHECKPOINTS] if len(rows) > KEEP_CHECKPOINTS else []
        if old:
            with sql_errors(self.store.path), self.store.write() as db:
                db.execute(
                    f"DELETE FROM artifacts WHERE id IN ({','.join('?' * len(old))})",
                    [r["id"] for r in old],
                )
        keep = {Path(r["path"]).name for r in rows[-KEEP_CHECKPOINTS:]}
        # Unreferenced files: pruned ones, and any a crash left between rename and insert.
        if self.folder.is_dir():
            for f in self.folder.iterdir():
                if f.name not in keep:
                    with contextlib.suppress(OSError):
                        f.unlink()

    def latest_checkpoint(self) -> dict | None:
        """``{"stage", "step", "state", "saved_at"}`` of the newest checkpoint whose file
        matches its sha256 (an older one if the newest is damaged), or None."""
        for row in reversed(self.store.artifacts(self.run_id)):
            if row["kind"] != "checkpoint":
                continue
            state = checkpoints.read_verified(Path(row["path"]), row["sha256"])
            if state is not None:
                return {
                    "stage": row["stage"],
                    "step": row["step"],
                    "state": state,
                    "saved_at": row["created_at"],
                }
        return None

    def rewind(self, resume: dict | None) -> None:
        """Before a resume from ``resume`` (``latest_checkpoint``; None: from the start):
        the run does again what came after that checkpoint, so the history forgets it. A
        stage begun after it goes, with its epochs or generations (recorded again as they
        are redone), and so do the queries after it; the stage in flight at it, if it
        finished since, is running again with the seconds it had at the checkpoint."""
        saved = float(resume["saved_at"]) if resume and "saved_at" in resume else -math.inf
        rid = self.run_id
        with sql_errors(self.store.path), self.store.write() as db:
            later = db.execute(
                "SELECT round, stage FROM stages WHERE run_id = ? AND started_at > ?", [rid, saved]
            ).fetchall()
            for rnd, stage in later:
                parts = {"train": "epochs", "search": "generations"}.get(stage)
                if parts:
                    db.execute(f"DELETE FROM {parts} WHERE run_id = ? AND round = ?", [rid, rnd])
            db.execute("DELETE FROM stages WHERE run_id = ? AND started_at > ?", [rid, saved])
            # a stage that finished after the checkpoint ran on from it without a break
            db.execute(
                "UPDATE stages SET seconds = MAX(0, seconds - (finished_at - ?)), "
                "status = 'running', finished_at = NULL "
                "WHERE run_id = ? AND status = 'finished' AND finished_at > ?",
                [saved, rid, saved],
            )
            db.execute("DELETE FROM queries WHERE run_id = ? AND at > ?", [rid, saved])
