"""The recorder: a pipeline listener that writes every event of one run into the history.

``rec(event)`` records an event; ``rec.checkpoint(stage, step, state)`` is the
pipeline's checkpoint hook; ``rec.latest_checkpoint()`` is what a resume starts from.
While a run is live a daemon thread refreshes its heartbeat every ``HEARTBEAT_S``
seconds, so a stage that emits nothing for minutes still reads as running, and a killed
process reads as interrupted. Progress events (per batch) never cause a write of their
own: at most one heartbeat per interval.

Resuming re-emits the events after the checkpoint; every table is keyed so a repeated
event overwrites its earlier row (same epoch, same generation, same n-th query) and the
leaderboard and the sample are replaced whole.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tnao_app import events as ev
from tnao_app import paths
from tnao_app.errors import StorageError, TnaoError

from . import checkpoints
from .db import HEARTBEAT_S, LIVE, Store, clean, sql_errors

#: checkpoint files kept per run: the latest, and one before it in case the latest is
#: damaged (a resume falls back to it)
KEEP_CHECKPOINTS = 2


def _json(value) -> str:
    def default(o):
        if hasattr(o, "item"):  # numpy scalar
            return o.item()
        if hasattr(o, "tolist"):
            return o.tolist()
        return str(o)

    return json.dumps(value, default=default, allow_nan=False) if value is not None else None


def _jsonable(value):
    """Replace NaN/inf by None deep inside a result dict (JSON has no NaN)."""
    if isinstance(value, float):
        return clean(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not hasattr(value, "__len__"):
        return _jsonable(value.item())
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return value


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
        """Stop the heartbeat thread."""
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
    def __call__(self, event: ev.Event) -> None:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            with sql_errors(self.store.path):
                handler(event)

    def _update_run(self, db, **values) -> None:
        db["runs"].update(self.run_id, values)

    def _on_RunStarted(self, e: ev.RunStarted) -> None:
        import os
        import socket

        now = time.time()
        with self.store.write() as db:
            row = db["runs"].get(self.run_id)
            self._update_run(
                db,
                status="running",
                started_at=row["started_at"] or now,
                heartbeat_at=now,
                device=e.device,
                resolved=_json(_jsonable(e.config)),
                pid=os.getpid(),
                host=socket.gethostname(),
                message="",
                finished_at=None,
            )
        self._last_beat = time.monotonic()
        self.start()

    def _on_StageStarted(self, e: ev.StageStarted) -> None:
        with self.store.write() as db:
            db["stages"].upsert(
                {
                    "run_id": self.run_id,
                    "round": e.round,
                    "stage": e.stage,
                    "status": "running",
                    "started_at": time.time(),
                    "finished_at": None,
                    "seconds": None,
                    "summary": None,
                },
                pk=("run_id", "round", "stage"),
            )
            self._update_run(db, heartbeat_at=time.time())

    def _on_StageFinished(self, e: ev.StageFinished) -> None:
        now = time.time()
        with self.store.write() as db:
            started = db.execute(
                "SELECT started_at FROM stages WHERE run_id = ? AND round = ? AND stage = ?",
                [self.run_id, e.round, e.stage],
            ).fetchone()
            db["stages"].upsert(
                {
                    "run_id": self.run_id,
                    "round": e.round,
                    "stage": e.stage,
                    "status": "finished",
                    "started_at": started[0] if started else now - e.seconds,
                    "finished_at": now,
                    "seconds": e.seconds,
                    "summary": _json(_jsonable(e.summary)),
                },
                pk=("run_id", "round", "stage"),
            )
            self._update_run(db, heartbeat_at=now)

    def _on_Progress(self, e: ev.Progress) -> None:
        self._beat()

    def _on_Sampled(self, e: ev.Sampled) -> None:
        rows = [
            {"run_id": self.run_id, "idx": i, "arch": a, "signal": clean(float(s))}
            for i, (a, s) in enumerate(zip(e.archs, e.signal, strict=True))
        ]
        with self.store.write() as db:
            db.execute("DELETE FROM sampled WHERE run_id = ?", [self.run_id])
            db["sampled"].insert_all(rows, batch_size=500)

    def _on_Queried(self, e: ev.Queried) -> None:
        with self.store.write() as db:
            db["queries"].upsert(
                {
                    "run_id": self.run_id,
                    "n": e.n_queries,
                    "arch": e.arch,
                    "signal": clean(float(e.signal)),
                    "budget": e.budget,
                    "at": time.time(),
                },
                pk=("run_id", "n"),
            )
        self._beat()

    def _on_EpochEnded(self, e: ev.EpochEnded) -> None:
        with self.store.write() as db:
            db["epochs"].upsert(
                {
                    "run_id": self.run_id,
                    "round": e.round,
                    "epoch": e.epoch,
                    "epochs": e.epochs,
                    "loss_rec": clean(e.loss_rec),
                    "loss_rank": clean(e.loss_rank),
                    "loss_total": clean(e.loss_total),
                    "val_tau": clean(e.val_tau),
                    "val_spearman": clean(e.val_spearman),
                    "seconds": e.seconds,
                    "device": e.device,
                },
                pk=("run_id", "round", "epoch"),
            )
            self._update_run(db, heartbeat_at=time.time())

    def _on_Generation(self, e: ev.Generation) -> None:
        with self.store.write() as db:
            db["generations"].upsert(
                {
                    "run_id": self.run_id,
                    "round": e.round,
                    "gen": e.gen,
                    "generations": e.generations,
                    "best_score": clean(e.best_score),
                    "mean_score": clean(e.mean_score),
                    "distinct_archs": e.distinct,
                },
                pk=("run_id", "round", "gen"),
            )
            self._update_run(db, heartbeat_at=time.time())

    def _write_leaderboard(self, db, rows: list[dict]) -> None:
        db.execute("DELETE FROM leaderboard WHERE run_id = ?", [self.run_id])
        db["leaderboard"].insert_all(
            [
                {
                    "run_id": self.run_id,
                    "rank": int(r["rank"]),
                    "arch": r["arch"],
                    **{
                        k: clean(None if r.get(k) is None else float(r[k]))
                        for k in ("predicted", "valid", "test", "percentile")
                    },
                }
                for r in rows
            ],
            batch_size=500,
        )

    def _on_Leaderboard(self, e: ev.Leaderboard) -> None:
        with self.store.write() as db:
            self._write_leaderboard(db, [vars(r) for r in e.rows])

    def _on_RunFinished(self, e: ev.RunFinished) -> None:
        self.finish(e.result)

    def _on_RunStopped(self, e: ev.RunStopped) -> None:
        self._end("stopped", f"stopped during {e.stage}")

    def _on_RunFailed(self, e: ev.RunFailed) -> None:
        self._end("failed", e.message)

    # -- ends --------------------------------------------------------------------------
    def finish(self, result: dict) -> None:
        """Mark the run finished with ``result`` (the pipeline's dict)."""
        with sql_errors(self.store.path):
            self._finish(result)

    def _finish(self, result: dict) -> None:
        result = _jsonable(result or {})
        best = result.get("best") or {}
        now = time.time()
        with self.store.write() as db:
            have_board = db.execute(
                "SELECT 1 FROM leaderboard WHERE run_id = ? LIMIT 1", [self.run_id]
            ).fetchone()
            board = result.get("leaderboard")
            if not have_board and isinstance(board, list) and board and isinstance(board[0], dict):
                self._write_leaderboard(db, board)
            self._update_run(
                db,
                status="finished",
                finished_at=now,
                heartbeat_at=now,
                message="",
                result=_json(result),
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
        data = checkpoints.to_bytes(state)
        digest = checkpoints.sha256_bytes(data)
        path = self.folder / f"{stage}-{int(step):06d}-{time.time_ns():x}.pt"
        try:
            checkpoints.atomic_write_bytes(path, data)
        except OSError as exc:
            raise StorageError(
                f"The checkpoint {path} could not be written ({exc.strerror or exc})."
            ) from None
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
        """``{"stage", "step", "state"}`` of the newest checkpoint whose file matches its
        sha256 (an older one if the newest is damaged), or None."""
        for row in reversed(self.store.artifacts(self.run_id)):
            if row["kind"] != "checkpoint":
                continue
            state = checkpoints.read_verified(Path(row["path"]), row["sha256"])
            if state is not None:
                return {"stage": row["stage"], "step": row["step"], "state": state}
        return None
