"""Runs a search in a child process, so training never waits on the UI for the GIL.

With the run in a thread of the App's process, every repaint of Textual (pure Python)
takes the GIL away from the training loop: measured +15-30% training time on 2 cores.
The App's thread worker starts one child interpreter (``python -m tnao_app.cli.child``,
the front end that opens the history) that runs ``runs.session`` (recording the run in
the history database itself) and streams its events back as length-prefixed pickles on
its stdout (``send`` here); ``run_in_child`` relays them to a callback. A cancel is one
line on the child's stdin, checked every batch. Errors cross back as the same
one-sentence exceptions.

A plain subprocess rather than multiprocessing: under Textual, stdout/stderr are not
real files, which breaks multiprocessing's spawn ("bad value(s) in fds_to_keep").
"""

from __future__ import annotations

import pickle
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..errors import Stopped
from ..events import Event

PROGRESS_HZ = 10  # per-batch progress passed on at most this often
_HEADER = struct.Struct("<I")
#: the child's entry point; a module path (not an import): the front end owns the history
CHILD_MODULE = "tnao_app.cli.child"


def send(out, kind: str, value) -> None:
    """One message of the stream: a length header, then the pickle."""
    data = pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


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
    on_event: Callable[[Event], None],
    is_cancelled: Callable[[], bool],
) -> dict:
    """Run (or resume) in a child process; relay its events; return its result.

    Raises ``Stopped`` when the run stopped on request, and the child's error otherwise.
    """
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", CHILD_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
        assert proc.stdin is not None and proc.stdout is not None  # both are pipes
        stdin, stdout = proc.stdin, proc.stdout
        stdin.write(pickle.dumps((config.to_dict() if config else None, resume_id, str(db))))
        stdin.flush()
        stopped = [False]

        def watch_cancel() -> None:
            while proc.poll() is None and not stopped[0]:
                if is_cancelled():
                    try:
                        stdin.write(b"stop\n")
                        stdin.flush()
                    except OSError:
                        pass
                    stopped[0] = True
                time.sleep(0.05)

        threading.Thread(target=watch_cancel, daemon=True).start()
        try:
            while True:
                head = _read_exact(stdout, _HEADER.size)
                if head is None:
                    proc.wait()
                    err.seek(0)
                    tail = err.read().decode(errors="replace").strip().splitlines()[-1:]
                    raise RuntimeError(
                        f"The run process ended unexpectedly (exit code {proc.returncode})"
                        + (f": {tail[0]}" if tail else ".")
                    )
                # Our own child's stream on a private pipe: trusted like our own memory.
                body = _read_exact(stdout, _HEADER.unpack(head)[0])
                if body is None:
                    continue  # cut mid-message: the next read sees the end and reports it
                kind, value = pickle.loads(body)
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
                stdin.close()  # the child reads this as "stop"
            except OSError:
                pass
            # Read what the child still writes, so it can reach its next batch, record the
            # stop and exit, instead of blocking on a full pipe until it is killed.
            threading.Thread(target=lambda: stdout.read(), daemon=True).start()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
