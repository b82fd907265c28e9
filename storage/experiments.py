"""Campaigns in the run history: the ``Store`` methods that record an experiment, each
of its runs as it finishes, and read them back (``tnao_app.campaign.runner`` drives them).

Only the process that drives a campaign writes it (its workers hand results back), one
committed row per finished run; a driver that died reads as ``interrupted``, as a run
does (its pid is gone, or no heartbeat for ``STALE_S`` seconds).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from typing import TYPE_CHECKING

from tnao_app import __version__
from tnao_app.errors import StorageError

from .base import LIVE, effective_status, resolve_id, sql_errors

if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    from sqlite_utils import Database

_ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # as run ids: read aloud without doubt
ENDS = ("finished", "failed", "stopped")


class ExperimentsMixin:
    """The campaign methods of ``Store`` (which supplies ``path``, ``db`` and ``write``)."""

    path: Path

    if TYPE_CHECKING:

        @property
        def db(self) -> Database: ...
        def write(self) -> AbstractContextManager[Database]: ...

    def create_experiment(self, spec: dict, total: int, executor: str) -> str:
        """Record a new campaign (status ``running``, this process drives it); its id."""
        now = time.time()
        with sql_errors(self.path), self.write() as db:
            while True:
                exp_id = "x" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(5))
                if not db.execute("SELECT 1 FROM experiments WHERE id = ?", [exp_id]).fetchone():
                    break
            db["experiments"].insert(
                {
                    "id": exp_id,
                    "benchmark": spec["benchmark"],
                    "dataset": spec["dataset"],
                    "spec": json.dumps(spec),
                    "total": int(total),
                    "executor": executor,
                    "status": "running",
                    "tnao_version": __version__,
                    "created_at": now,
                    "heartbeat_at": now,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                }
            )
        return exp_id

    def resolve_experiment(self, experiment_id: str) -> str:
        """The full id of ``experiment_id`` (exact, or a unique prefix)."""
        with sql_errors(self.path):
            return resolve_id(
                self.db,
                self.path,
                "experiments",
                experiment_id,
                "Experiment",
                "'tnao experiments' lists them",
            )

    @staticmethod
    def _experiment_dict(row: dict, done: int, now: float) -> dict:
        out = dict(row)
        out["spec"] = json.loads(row["spec"])
        out["recorded_status"] = row["status"]
        out["status"] = effective_status(row, now)
        out["done"] = int(done)
        return out

    def _experiment_rows(self, where: str, params: list) -> Iterator[dict]:
        sql = (
            "SELECT e.*, (SELECT COUNT(*) FROM experiment_runs r WHERE r.experiment_id = e.id)"
            f" AS done FROM experiments e {where} ORDER BY e.created_at DESC, e.rowid DESC"
        )
        now = time.time()
        with sql_errors(self.path):
            for row in list(self.db.query(sql, params)):
                done = row.pop("done")
                yield self._experiment_dict(row, done, now)

    def get_experiment(self, experiment_id: str) -> dict:
        """The campaign's row: spec parsed, ``done`` runs, status with ``interrupted``."""
        eid = self.resolve_experiment(experiment_id)
        return next(self._experiment_rows("WHERE e.id = ?", [eid]))

    def list_experiments(self) -> list[dict]:
        """Every campaign, newest first."""
        return list(self._experiment_rows("", []))

    def claim_experiment(self, experiment_id: str, executor: str) -> dict:
        """Mark a campaign as driven by this process again, before resuming it; refuses
        one whose driver is still alive, so two processes never drive one campaign."""
        eid = self.resolve_experiment(experiment_id)
        with sql_errors(self.path), self.write() as db:
            row = next(db.query("SELECT * FROM experiments WHERE id = ?", [eid]))
            if effective_status(row) in LIVE:
                raise StorageError(
                    f"Experiment {eid} is still running (pid {row['pid']} on {row['host']}); "
                    "stop it before resuming."
                )
            db.execute(
                "UPDATE experiments SET status = 'running', message = '', finished_at = NULL, "
                "heartbeat_at = ?, pid = ?, host = ?, executor = ?, resumes = resumes + 1 "
                "WHERE id = ?",
                [time.time(), os.getpid(), socket.gethostname(), executor, eid],
            )
        return self.get_experiment(eid)

    def record_experiment_run(self, experiment_id: str, result: dict, curve: dict) -> None:
        """One finished run (its trajectory and anytime curve), in one transaction."""
        now = time.time()
        with sql_errors(self.path), self.write() as db:
            db["experiment_runs"].upsert(
                {
                    "experiment_id": experiment_id,
                    "method": result["method"],
                    "seed": int(result["seed"]),
                    "budget": int(result["budget"]),
                    "rows": json.dumps(result["rows"]),
                    "signal": json.dumps(result["signal"]),
                    "best_signal": json.dumps(curve["best_signal"]),
                    "best_test": json.dumps(curve["best_test"]),
                    "metrics": json.dumps(result.get("metrics") or {}),
                    "seconds": float(result["seconds"]),
                    "finished_at": now,
                },
                pk=("experiment_id", "method", "seed", "budget"),
            )
            db.execute("UPDATE experiments SET heartbeat_at = ? WHERE id = ?", [now, experiment_id])

    def experiment_results(self, experiment_id: str) -> list[dict]:
        """The campaign's finished runs, as the runs returned them (plus their curves)."""
        eid = self.resolve_experiment(experiment_id)
        with sql_errors(self.path):
            rows = list(
                self.db.query(
                    "SELECT * FROM experiment_runs WHERE experiment_id = ? "
                    "ORDER BY finished_at, rowid",
                    [eid],
                )
            )
        for r in rows:
            for key in ("rows", "signal", "best_signal", "best_test", "metrics"):
                r[key] = json.loads(r[key])
        return rows

    def end_experiment(self, experiment_id: str, status: str, message: str = "") -> None:
        if status not in ENDS:
            raise ValueError(f"status {status!r} is not one of {ENDS}")
        with sql_errors(self.path), self.write() as db:
            db.execute(
                "UPDATE experiments SET status = ?, message = ?, finished_at = ? WHERE id = ?",
                [status, message[:500], time.time(), experiment_id],
            )

    def experiment_heartbeat(self, experiment_id: str) -> None:
        with sql_errors(self.path):
            self.db.execute(
                "UPDATE experiments SET heartbeat_at = ? WHERE id = ?", [time.time(), experiment_id]
            )

    def delete_experiment(self, experiment_id: str) -> str:
        """Delete a campaign and its runs' rows; refuse a live one."""
        row = self.get_experiment(experiment_id)
        if row["status"] in LIVE:
            raise StorageError(
                f"Experiment {row['id']} is still running (pid {row['pid']} on {row['host']}); "
                "stop it before deleting it."
            )
        with sql_errors(self.path), self.write() as db:
            db.execute("DELETE FROM experiments WHERE id = ?", [row["id"]])
        return row["id"]
