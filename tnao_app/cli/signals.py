"""SIGINT, SIGTERM and SIGHUP stop a run cleanly: ``tnao run`` and ``tnao resume`` hold
``StopOnSignals`` around the run.

The first signal sets the stop flag the run checks every batch, generation and query:
the run ends at that point as ``stopped`` (resumable from its last checkpoint, to the
result an uninterrupted run gives), and the command exits 128 + the signal's number
(130 for ^C, 143 for SIGTERM, 129 for SIGHUP). A second ^C aborts at once (the run is
still recorded as stopped). Typer catches KeyboardInterrupt around a command, so the
handlers are installed inside the command, where the run is.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

from rich.console import Console

#: the signals that stop a run, where the platform has them
SIGNALS = tuple(
    s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None
)


def _main_thread() -> bool:
    """Handlers can only be installed from the main thread (a test may call in from another)."""
    return threading.current_thread() is threading.main_thread()


class Interrupted(BaseException):
    """A signal ended a command that runs no run (``interruptible``): a BaseException,
    so that cleanup code (temp files of an atomic write) runs and Click does not take it
    for a ^C of its own."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def message(self) -> str:
        if self.signum == signal.SIGINT:
            return "Interrupted."
        return f"Interrupted by {signal.Signals(self.signum).name}."

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` at once (a command with a
    run holds ``StopOnSignals`` inside this, which stops the run at its next step)."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextmanager
def default_signals() -> Iterator[None]:
    """Within: Python's own handling of the signals (the terminal app handles its keys
    and its end itself, as when it is started as tnao-tui)."""
    if not _main_thread():
        yield
        return
    defaults: dict[int, Any] = {s: signal.SIG_DFL for s in SIGNALS}
    defaults[signal.SIGINT] = signal.default_int_handler
    previous = {s: signal.signal(s, h) for s, h in defaults.items()}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


class StopOnSignals:
    """Within the ``with`` block, the signals of :data:`SIGNALS` ask the run to stop."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def should_stop(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process the signal ended."""
        return 128 + int(self.signum or signal.SIGINT)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            if signum == signal.SIGINT:  # ^C again: stop now, not at the next step
                raise KeyboardInterrupt
            return
        self.signum = signum
        if signum == signal.SIGINT:  # someone at the terminal: say it was heard
            self.say("Stopping after the current step (^C again to abort) ...")

    def say(self, text: str) -> None:
        """One line on the console; a closed terminal (SIGHUP) is no error."""
        try:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        except OSError:
            pass

    def __enter__(self) -> StopOnSignals:
        if _main_thread():
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for s, previous in self._previous.items():
            signal.signal(s, previous)  # type: ignore[arg-type]  # what signal() returned
        self._previous.clear()
