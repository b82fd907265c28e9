"""Where a campaign's runs run: a local process pool (the default) or Ray tasks.

An executor takes the function of one run and the tasks, and yields each run's result
as it finishes (any order: the summary does not depend on it). The driver process takes
the results and writes the history; workers never touch it.

Ray: each run is a task (one CPU); a worker that dies (killed, out of memory) has its
run retried up to ``max_retries`` times, which gives the same result since a run is
deterministic from its seed. Without ``address`` a local Ray instance of ``workers``
CPUs starts for the campaign and stops after it; with one, the campaign joins that
running cluster (whose workers must have tnao installed).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Protocol

from ..errors import ConfigError, NotReadyError, TnaoError
from .plan import init_worker

EXECUTORS = ("local", "ray")
Run = Callable[[tuple], dict]


class Executor(Protocol):
    name: str

    def map(self, fn: Run, tasks: Sequence[tuple]) -> Iterator[dict]: ...


class LocalPool:
    """Spawned worker processes on this machine (one torch thread each)."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))

    def map(self, fn: Run, tasks: Sequence[tuple]) -> Iterator[dict]:
        if not tasks:
            return
        if self.workers == 1 or len(tasks) == 1:
            init_worker()
            for t in tasks:
                yield fn(t)
            return
        # spawn, not fork: a forked copy of a process that already ran torch can hang
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(tasks)),
            mp_context=get_context("spawn"),
            initializer=init_worker,
        )
        pending: set = set()
        try:
            pending = {pool.submit(fn, t) for t in tasks}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        finally:
            if pending:
                # stopped or failed: the runs in flight are ended now (a resume runs them
                # again, to the same result); else the exit waits for every run already
                # handed to a worker, and their results would not be recorded anyway
                for proc in list((getattr(pool, "_processes", None) or {}).values()):
                    proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)


def _in_ray_worker(fn: Run, task: tuple) -> dict:
    init_worker()
    return fn(task)


class RayExecutor:
    """Ray tasks, on a local instance started here or on the cluster at ``address``."""

    name = "ray"

    def __init__(
        self, workers: int | None = None, address: str | None = None, max_retries: int = 3
    ) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.address = address or None
        self.max_retries = max_retries
        # checked here, before a campaign is recorded: not after it has started
        try:
            import ray
        except ImportError:
            raise NotReadyError(
                "--executor ray needs Ray, which is not installed; install it with "
                "pip install 'tnao[ray]' (or pip install 'ray>=2.40')."
            ) from None
        self._ray = ray
        if self.address:
            _reachable(self.address)

    def _connect(self):
        ray = self._ray
        if ray.is_initialized():  # the caller's own instance: used, left running
            return ray, False
        kwargs: dict = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if self.address:
            kwargs["address"] = self.address
        else:
            kwargs["num_cpus"] = self.workers
        # ray.init installs its own SIGTERM handler, which would replace the command's
        # (a stopped campaign is recorded as stopped and resumable): put it back
        before = signal.getsignal(signal.SIGTERM)
        try:
            ray.init(**kwargs)
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, before)
        except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
            where = f"at {self.address}" if self.address else "on this machine"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"Cannot connect to a Ray cluster {where} ({first}); expected the address "
                "of a running cluster, like 127.0.0.1:6379 (ray start --head prints it)."
            ) from None
        return ray, True

    def map(self, fn: Run, tasks: Sequence[tuple]) -> Iterator[dict]:
        if not tasks:
            return
        ray, started = self._connect()
        try:
            remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(_in_ray_worker)
            fn_ref = ray.put(fn)
            pending = {remote.remote(fn_ref, t): t for t in tasks}
            try:
                while pending:
                    done, _ = ray.wait(list(pending), num_returns=1)
                    for ref in done:
                        task = pending.pop(ref)
                        yield _ray_result(ray, ref, task, self.max_retries)
            finally:
                for ref in pending:  # stopped or failed: the rest are not run
                    ray.cancel(ref, force=True)
        finally:
            if started:
                ray.shutdown()


def _reachable(address: str) -> None:
    """A cluster's host:port answers, checked first: Ray itself retries a dead address
    for minutes before it gives up."""
    m = re.fullmatch(r"\[?([^\s\[\]]+?)\]?:(\d{1,5})", address.strip())
    if not m:
        raise ConfigError(
            f"Ray address '{address}' is not understood; expected host:port of a running "
            "cluster, like 127.0.0.1:6379 (ray start --head prints it)."
        )
    try:
        socket.create_connection((m.group(1), int(m.group(2))), timeout=5).close()
    except OSError as exc:
        raise ConfigError(
            f"No Ray cluster answers at {address} ({exc.strerror or exc}); expected the "
            "address of a running cluster (ray start --head prints it)."
        ) from None


def _ray_result(ray, ref, task: tuple, retries: int) -> dict:
    """The task's result; a worker lost more times than retried is one sentence."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, TnaoError):  # the run's own sentence, as in a pool
            raise exc.cause from None
        raise exc.as_instanceof_cause() from None
    except ray.exceptions.RayError as exc:
        m, s, b = task[2], task[3], task[4]
        raise TnaoError(
            f"The Ray worker of run {m} seed {s} budget {b} was lost {retries + 1} times "
            f"({type(exc).__name__}); resume the experiment to run it again."
        ) from None


def make(name: str, workers: int | None = None, address: str | None = None) -> Executor:
    """The executor called ``name`` (local or ray)."""
    if name == "local":
        if address:
            raise ConfigError("--address is for --executor ray; the local pool needs none.")
        return LocalPool(workers)
    if name == "ray":
        return RayExecutor(workers, address)
    raise ConfigError(f"Executor '{name}' is unknown; expected one of {', '.join(EXECUTORS)}.")
