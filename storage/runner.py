"""Start or resume a recorded run: the one entry point the CLI and the TUI call.

``start_run`` records a new run and drives ``tnao_app.pipeline.run_pipeline`` with the
recorder attached as a listener and as the checkpoint hook. ``resume_run`` reloads the
config saved with a stopped, failed or interrupted run and hands the pipeline its latest
verified checkpoint; with the same seed and config the result equals an uninterrupted
run's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from tnao_app.config import Config
from tnao_app.errors import StorageError

from .db import Store


def _never() -> bool:
    return False


def _store(db: Store | str | os.PathLike | None) -> Store:
    return db if isinstance(db, Store) else Store(db)


def _drive(
    store: Store,
    run_id: str,
    config: Config,
    listeners: Iterable[Callable],
    should_stop: Callable[[], bool],
    resume: dict | None,
) -> dict:
    from tnao_app.pipeline import run_pipeline  # the engine; imported when a run starts

    listeners = list(listeners)
    rec = store.recorder(run_id, notify=listeners)
    rec.start()
    try:
        result = run_pipeline(
            config,
            run_id=run_id,
            listeners=[rec, *listeners],
            should_stop=should_stop,
            checkpoint=rec.checkpoint,
            resume=resume,
        )
    except BaseException as exc:
        rec.end_with_exception(exc)
        raise
    finally:
        rec.close()
    rec.end_with_result(result)
    return result


def start_run(
    config: Config,
    db: Store | str | os.PathLike | None = None,
    listeners: Iterable[Callable] = (),
    should_stop: Callable[[], bool] = _never,
) -> dict:
    """Record and run ``config``; returns the pipeline's result (with its ``run_id``).

    Bad input (config, benchmark without data, unknown dataset) raises its one-sentence
    error before anything is recorded. A stop request raises ``search.base.Stopped``
    after the run is recorded as ``stopped`` (resumable).
    """
    from tnao_app.pipeline import prepare

    prepare(config)  # the pipeline's own input checks, before the run exists
    store = _store(db)
    run_id = store.create_run(config)
    return _drive(store, run_id, config, listeners, should_stop, resume=None)


def resume_run(
    run_id: str,
    db: Store | str | os.PathLike | None = None,
    listeners: Iterable[Callable] = (),
    should_stop: Callable[[], bool] = _never,
) -> dict:
    """Continue a stopped, failed or interrupted run from its latest checkpoint."""
    store = _store(db)
    run = store.get_run(run_id)
    rid = run["id"]
    try:
        config = Config.from_dict(run["config"]).validate()
    except Exception as exc:
        raise StorageError(f"Run {rid} has a saved config this TNAO cannot read ({exc}).") from None
    store.claim(rid)  # refuses finished and still-live runs
    resume = store.recorder(rid).latest_checkpoint()
    return _drive(store, rid, config, listeners, should_stop, resume=resume)
