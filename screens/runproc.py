"""Runs a search in a child process, so training never waits on the UI for the GIL.

With the run in a thread of the App's process, every repaint of Textual (pure Python)
takes the GIL away from the training loop: measured +15-30% training time on 2 cores.
The App's thread worker starts one child interpreter (``python -m
tnao_app.screens.runproc``) that runs ``storage.runner`` (which records the run in the
history database itself) and streams its events back as length-prefixed pickles on its
stdout; the worker relays them as messages. A cancel is one line on the child's stdin,
checked every batch. Errors cross back as the same one-sentence exceptions.

A plain subprocess rather than multiprocessing: under Textual, stdout/stderr are not
real files, which breaks multiprocessing's spawn ("bad value(s) in fds_to_keep").
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tnao_app import events as ev
from tnao_app.config import Config

PROGRESS_HZ = 10  # per-batch progress passed on at most this often
_HEADER = struct.Struct("<I")


def _send(out, kind: str, value) -> None:
    data = pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def _child() -> None:
    """Entry point of the child: the job arrives pickled on stdin, then 'stop' lines."""
    from tnao_app.errors import TnaoError
    from tnao_app.search.base import Stopped
    from tnao_app.storage.runner import resume_run, start_run

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must never corrupt the event stream
    config, resume_id, db = pickle.load(sys.stdin.buffer)
    stop = threading.Event()

    def watch_stdin() -> None:
        for _line in sys.stdin.buffer:  # any line (or the parent closing it) = stop
            break
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    last = [0.0]

    def listener(event: ev.Event) -> None:
        if isinstance(event, ev.Progress) and event.done < event.total:
            now = time.perf_counter()
            if now - last[0] < 1 / PROGRESS_HZ:
                return  # nobody sees hundreds of redraws a second
            last[0] = now
        _send(out, "event", event)

    try:
        if resume_id:
            result = resume_run(resume_id, db=db, listeners=[listener], should_stop=stop.is_set)
        else:
            result = start_run(
                Config.from_dict(config), db=db, listeners=[listener], should_stop=stop.is_set
            )
        _send(out, "result", result)
    except Stopped:
        _send(out, "stopped", None)
    except TnaoError as exc:
        _send(out, "error", exc)
    except BaseException as exc:  # a bug: still a dialog in the UI, never a dead worker
        _send(out, "error", RuntimeError(f"{type(exc).__name__}: {exc}"))


def _read_exact(f, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def run_in_child(
    config: Config | None,
    resume_id: str | None,
    db: Path,
    on_event: Callable[[ev.Event], None],
    is_cancelled: Callable[[], bool],
) -> dict:
    """Run (or resume) in a child process; relay its events; return its result.

    Raises ``Stopped`` when the run stopped on request, and the child's error otherwise.
    """
    from tnao_app.search.base import Stopped

    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tnao_app.screens.runproc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
        proc.stdin.write(pickle.dumps((config.to_dict() if config else None, resume_id, str(db))))
        proc.stdin.flush()
        stopped = [False]

        def watch_cancel() -> None:
            while proc.poll() is None and not stopped[0]:
                if is_cancelled():
                    try:
                        proc.stdin.write(b"stop\n")
                        proc.stdin.flush()
                    except OSError:
                        pass
                    stopped[0] = True
                time.sleep(0.05)

        threading.Thread(target=watch_cancel, daemon=True).start()
        try:
            while True:
                head = _read_exact(proc.stdout, _HEADER.size)
                if head is None:
                    proc.wait()
                    err.seek(0)
                    tail = err.read().decode(errors="replace").strip().splitlines()[-1:]
                    raise RuntimeError(
                        f"The run process ended unexpectedly (exit code {proc.returncode})"
                        + (f": {tail[0]}" if tail else ".")
                    )
                # Our own child's stream on a private pipe: trusted like our own memory.
                kind, value = pickle.loads(_read_exact(proc.stdout, _HEADER.unpack(head)[0]))
                if kind == "event":
                    try:
                        on_event(value)
                    except Exception:  # the UI has gone (quit): keep relaying
                        pass  # so the child is never blocked on a full pipe before it stops
                elif kind == "result":
                    return value
                elif kind == "stopped":
                    raise Stopped()
                else:
                    raise value
        finally:
            stopped[0] = True
            try:
                proc.stdin.close()  # the child reads this as "stop"
            except OSError:
                pass
            # Read what the child still writes, so it can reach its next batch, record the
            # stop and exit, instead of blocking on a full pipe until it is killed.
            threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    _child()
