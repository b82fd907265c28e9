"""Start or resume a recorded run: the one entry point the CLI, the app and the child
process call.

``start_run`` records a new run in a history (``tnao_app.storage.Store`` is the one we
ship; anything with the same four methods will do, so the engine never imports storage)
and drives the pipeline with the history's recorder as a listener and as the checkpoint
sink. ``resume_run`` reloads the config saved with a stopped, failed or interrupted run
and hands the pipeline its latest verified checkpoint; the result then equals an
uninterrupted run's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..config import Config
from ..errors import StorageError
from ..events import Event
from ..stored_config import stored
from .pipeline import prepare, run_pipeline


class Recorder(Protocol):
    def __call__(self, event: Event) -> None: ...
    def start(self) -> None: ...
    def checkpoint(self, stage: str, step: int, state: dict) -> None: ...
    def latest_checkpoint(self) -> dict | None: ...
    def rewind(self, resume: dict | None) -> None: ...
    def end_with_result(self, result: dict) -> None: ...
    def end_with_exception(self, exc: BaseException) -> None: ...
    def close(self) -> None: ...


class History(Protocol):
    def create_run(self, config: Config) -> str: ...
    def get_run(self, run_id: str) -> Any: ...
    def claim(self, run_id: str) -> None: ...
    def recorder(self, run_id: str, notify: Iterable[Callable] = ...) -> Recorder: ...


def _never() -> bool:
    return False


def _drive(
    history: History,
    run_id: str,
    config: Config,
    listeners: Iterable[Callable],
    should_stop: Callable[[], bool],
    resume: dict | None,
) -> dict:
    listeners = list(listeners)
    rec = history.recorder(run_id, notify=listeners)
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
    history: History | Callable[[], History],
    listeners: Iterable[Callable] = (),
    should_stop: Callable[[], bool] = _never,
) -> dict:
    """Record and run ``config``; returns the pipeline's result (with its ``run_id``).

    Bad input (config, benchmark without data, unknown dataset) raises its one-sentence
    error before anything is recorded (``history`` may be a function that opens it, so
    that bad input does not even create the database). A stop request raises
    ``errors.Stopped`` after the run is recorded as ``stopped`` (resumable).
    """
    prepare(config)  # the pipeline's own input checks, before the run exists
    opened: History = history if hasattr(history, "create_run") else history()  # type: ignore[assignment]
    run_id = opened.create_run(config)
    return _drive(opened, run_id, config, listeners, should_stop, resume=None)


def resume_run(
    run_id: str,
    history: History,
    listeners: Iterable[Callable] = (),
    should_stop: Callable[[], bool] = _never,
) -> dict:
    """Continue a stopped, failed or interrupted run from its latest checkpoint."""
    run = history.get_run(run_id)
    rid = run["id"]
    try:
        config = Config.from_dict(stored(run["config"])).validate()
    except Exception as exc:
        raise StorageError(f"Run {rid} has a saved config this TNAO cannot read ({exc}).") from None
    history.claim(rid)  # refuses finished and still-live runs
    rec = history.recorder(rid)
    resume = rec.latest_checkpoint()
    rec.rewind(resume)  # what came after the checkpoint is done again
    return _drive(history, rid, config, listeners, should_stop, resume=resume)
