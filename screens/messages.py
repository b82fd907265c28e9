"""Textual messages that carry engine events from worker threads to the App.

The worker's listener only calls ``App.post_message`` (thread-safe); everything else
happens on the UI thread. Per-batch progress collapses: a queued ``RunProgress`` is
replaced by the next one, so a fast training loop cannot flood the UI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from tnao_app import events as ev

if TYPE_CHECKING:
    from .state import RunState


class RunEvent(Message):
    """One engine event of the run ``run_id``."""

    def __init__(self, event: ev.Event, run_id: str = "", posted: float = 0.0) -> None:
        super().__init__()
        self.event = event
        self.run_id = run_id
        self.posted = posted  # perf_counter() when posted (for the latency figure)


class RunProgress(RunEvent):
    """Per-batch progress: only the latest one matters."""

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, RunProgress)
            and message.run_id == self.run_id
            and message.event.stage == self.event.stage
        )


def wrap(event: ev.Event, run_id: str = "", posted: float = 0.0) -> RunEvent:
    cls = RunProgress if isinstance(event, ev.Progress) else RunEvent
    return cls(event, run_id, posted)


class DataStatus(Message):
    """Fresh rows of ``tnao_app.benchmarks.status()``."""

    def __init__(self, rows: list[dict]) -> None:
        super().__init__()
        self.rows = rows


class FetchProgress(Message):
    def __init__(self, benchmark: str, done: int, total: int | None) -> None:
        super().__init__()
        self.benchmark, self.done, self.total = benchmark, done, total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FetchProgress) and message.benchmark == self.benchmark


class Followed(Message):
    """A fresh read of a run that another process drives (``tag``: the follow it is of)."""

    def __init__(self, state: RunState, tag: str) -> None:
        super().__init__()
        self.state, self.tag = state, tag

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Followed) and message.tag == self.tag
