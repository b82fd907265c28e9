"""The run process the app starts (``tnao_app.runs.child.run_in_child``): reads the job
from stdin, records the run in the history itself, streams its events on stdout.

It lives with the front end because it opens the history (``tnao_app.storage``), which
the engine never imports.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time

from ..events import Event, Progress
from ..runs.child import PROGRESS_HZ, send

#: the pseudo-stage of the start-up Progress events (the app's screens.state.START)
START = "start"
START_STEPS = 2


def main() -> None:
    """The job arrives pickled on stdin, then 'stop' lines (or stdin closing)."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must never corrupt the event stream
    config, resume_id, db = pickle.load(sys.stdin.buffer)
    stop = threading.Event()

    def watch_stdin() -> None:
        for _line in sys.stdin.buffer:  # any line (or the parent closing it) = stop
            break
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    # SIGTERM, SIGHUP (the terminal closed), SIGINT: stop at the next step as the app's
    # own stop does, recorded as stopped (resumable), not killed in the middle
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda signum, frame: stop.set())

    def starting(step: int, what: str) -> None:
        # Seconds pass before the run exists (imports: torch, scipy; the table): the app
        # shows what is going on (the "start" pseudo-stage; no run records it).
        send(out, "event", Progress(START, step, START_STEPS, what))

    starting(1, "loading the engine (torch)")
    from ..config import Config
    from ..errors import Stopped, TnaoError
    from ..runs.pipeline import prepare
    from ..runs.session import resume_run, start_run
    from ..storage import Store  # without pandas: storage/__init__.py

    last = [0.0]

    def listener(event: Event) -> None:
        if isinstance(event, Progress) and event.done < event.total:
            now = time.perf_counter()
            if now - last[0] < 1 / PROGRESS_HZ:
                return  # nobody sees hundreds of redraws a second
            last[0] = now
        send(out, "event", event)

    try:
        if stop.is_set():
            # Stopped while starting: no run is created (it would appear as stopped).
            raise Stopped()
        starting(2, "loading the benchmark and the method")
        store = Store(db)
        if resume_id:
            result = resume_run(resume_id, store, listeners=[listener], should_stop=stop.is_set)
        else:
            cfg = Config.from_dict(config)
            # the slow part of a start (the table, the method's imports) before the run
            # is recorded, so a stop meanwhile leaves nothing behind (start_run's own
            # check of the same input is then quick)
            prepare(cfg)
            if stop.is_set():
                raise Stopped()
            result = start_run(cfg, store, listeners=[listener], should_stop=stop.is_set)
        send(out, "result", result)
    except Stopped:
        send(out, "stopped", None)
    except TnaoError as exc:
        send(out, "error", exc)
    except BaseException as exc:  # a bug: still a dialog in the UI, never a dead worker
        send(out, "error", RuntimeError(f"{type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    main()
