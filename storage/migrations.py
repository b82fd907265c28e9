"""Schema of the run history, as sqlite-utils migrations (one function per upgrade).

The applied migrations are recorded by sqlite-utils in ``_sqlite_migrations``; the
schema version is also kept in ``PRAGMA user_version`` (as oterm does) so an older TNAO
can tell, without reading any table, that a database was written by a newer one.
Never edit a migration that has shipped: add a new one at the end.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("tnao")


def _run(db: Database, *statements: str) -> None:
    # executescript() would commit the transaction Migrations.apply() wraps us in.
    for sql in statements:
        db.execute(sql)


@MIGRATIONS(name="0001_initial")
def initial(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            benchmark TEXT NOT NULL,
            dataset TEXT NOT NULL,
            method TEXT NOT NULL,
            seed INTEGER NOT NULL,
            config TEXT NOT NULL,          -- Config.to_dict(): every field; resume reads it
            resolved TEXT,                 -- RunStarted.config: as the pipeline resolved it
            status TEXT NOT NULL,          -- created|running|finished|failed|stopped
            message TEXT NOT NULL DEFAULT '',
            device TEXT NOT NULL DEFAULT '',
            tnao_version TEXT NOT NULL,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            heartbeat_at REAL,
            pid INTEGER,
            host TEXT,
            resumes INTEGER NOT NULL DEFAULT 0,
            n_queries INTEGER,
            best_arch TEXT,
            best_valid REAL,
            best_test REAL,
            result TEXT                    -- RunFinished.result as JSON
        )""",
        "CREATE INDEX runs_created ON runs(created_at)",
        """CREATE TABLE stages (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            round INTEGER NOT NULL,
            stage TEXT NOT NULL,
            status TEXT NOT NULL,          -- running|finished|stopped|failed
            started_at REAL NOT NULL,
            finished_at REAL,
            seconds REAL,
            summary TEXT,
            PRIMARY KEY (run_id, round, stage)
        )""",
        """CREATE TABLE sampled (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            arch TEXT NOT NULL,
            signal REAL,                   -- NULL: sampled unlabelled, never queried
            PRIMARY KEY (run_id, idx)
        )""",
        """CREATE TABLE epochs (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            round INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            epochs INTEGER NOT NULL,
            loss_rec REAL, loss_rank REAL, loss_total REAL,
            val_tau REAL, val_spearman REAL,
            seconds REAL, device TEXT,
            PRIMARY KEY (run_id, round, epoch)
        )""",
        """CREATE TABLE generations (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            round INTEGER NOT NULL,
            gen INTEGER NOT NULL,
            generations INTEGER NOT NULL,
            best_score REAL, mean_score REAL,
            distinct_archs INTEGER,
            PRIMARY KEY (run_id, round, gen)
        )""",
        """CREATE TABLE leaderboard (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            rank INTEGER NOT NULL,
            arch TEXT NOT NULL,
            predicted REAL, valid REAL, test REAL, percentile REAL,
            PRIMARY KEY (run_id, rank)
        )""",
        """CREATE TABLE queries (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            n INTEGER NOT NULL,            -- 1-based: the n-th unique query of the run
            arch TEXT NOT NULL,
            signal REAL,
            budget INTEGER,
            at REAL NOT NULL,
            PRIMARY KEY (run_id, n)
        )""",
        """CREATE TABLE artifacts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,            -- checkpoint
            stage TEXT NOT NULL,
            step INTEGER NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX artifacts_run ON artifacts(run_id, id)",
    )


@MIGRATIONS(name="0002_plan_steps")
def plan_steps(db: Database) -> None:
    # What the events carry so the app shows the run's own schedule: RunStarted.plan,
    # StageStarted.steps/rounds/restarted, EpochEnded.step. Older rows read 0 / NULL:
    # not known (the app then shows no total rather than a guessed one).
    _run(
        db,
        "ALTER TABLE runs ADD COLUMN plan TEXT",  # RunStarted.plan as JSON; NULL: none
        "ALTER TABLE stages ADD COLUMN steps INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE stages ADD COLUMN rounds INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE stages ADD COLUMN restarted INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE epochs ADD COLUMN step INTEGER NOT NULL DEFAULT 0",
    )


@MIGRATIONS(name="0003_experiments")
def experiments(db: Database) -> None:
    # Campaigns (tnao experiment): the spec they run and each run as it finished, so a
    # killed campaign resumes with what it had. A run's trajectory and curve are JSON
    # lists (one value per query; floats round-trip exactly through JSON).
    _run(
        db,
        """CREATE TABLE experiments (
            id TEXT PRIMARY KEY,
            benchmark TEXT NOT NULL,
            dataset TEXT NOT NULL,
            spec TEXT NOT NULL,            -- campaign.plan.Spec.to_dict(): the plan's inputs
            total INTEGER NOT NULL,        -- runs in the plan
            executor TEXT NOT NULL,        -- local|ray: the last one that drove it
            status TEXT NOT NULL,          -- running|finished|failed|stopped
            message TEXT NOT NULL DEFAULT '',
            tnao_version TEXT NOT NULL,
            created_at REAL NOT NULL,
            finished_at REAL,
            heartbeat_at REAL,
            pid INTEGER,
            host TEXT,
            resumes INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX experiments_created ON experiments(created_at)",
        """CREATE TABLE experiment_runs (
            experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            method TEXT NOT NULL,
            seed INTEGER NOT NULL,
            budget INTEGER NOT NULL,
            rows TEXT NOT NULL,            -- table rows queried, in order
            signal TEXT NOT NULL,          -- their search signal
            best_signal TEXT NOT NULL,     -- anytime curve: best signal after each query
            best_test TEXT NOT NULL,       -- and the reported metric of the cell holding it
            metrics TEXT NOT NULL DEFAULT '{}',  -- campaign.plan.RUN_METRICS per query
            seconds REAL NOT NULL,
            finished_at REAL NOT NULL,
            PRIMARY KEY (experiment_id, method, seed, budget)
        )""",
    )


#: the schema version this TNAO writes (PRAGMA user_version): the number of migrations
#: above (a test checks they agree)
SCHEMA_VERSION = 3
