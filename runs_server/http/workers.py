"""Several server processes on one listening socket: ``serve --workers N``.

One Python process answers on one core (the GIL), so ``serve`` forks N
worker processes (Linux ``fork``) after the parent has bound the socket and
prepared the store; each worker opens the SQLite file for itself (WAL mode:
readers never wait; writes take the write lock first, ``BEGIN IMMEDIATE``,
and wait up to the store's deadline for it) and accepts connections from the
shared socket, whichever is free first (as gunicorn's and uvicorn's workers
do). Every limit of ``ServerConfig`` holds per worker.

The parent only watches:

- SIGTERM or SIGINT (Ctrl-C): every worker is sent SIGTERM (uvicorn finishes
  the requests in progress), and any still alive after ``stop_s`` is killed;
- a worker that ends while nobody asked it to (a crash, a kill) is reported
  on stderr and replaced by a new one on the same socket; more than
  ``RESTARTS_ALLOWED`` replacements within ``RESTART_WINDOW_S`` mean it
  cannot stay up (a bad store file, no memory): all are stopped and the
  parent exits 1;
- a worker dies with its parent, even one killed with ``kill -9``
  (``PR_SET_PDEATHSIG``: the kernel sends it SIGKILL), so no worker keeps the
  port after the server is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import Any

# Seconds a stopping worker gets to finish its requests before SIGKILL.
WORKER_STOP_S = 8.0
# A worker replaced more than this often within the window: stop serving.
RESTARTS_ALLOWED = 5
RESTART_WINDOW_S = 60.0
# How often the parent looks at its workers between signals (seconds).
WATCH_EVERY_S = 0.5
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True) if name else None
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the parent's stop still works
        pass
    if os.getppid() != parent:  # the parent died before the call took effect
        os._exit(1)


def _worker_main(serve: Callable[[int], None], index: int, parent: int) -> None:
    # The parent's own handlers (stop flags) were copied by fork: undo them
    # before anything else; uvicorn installs its own while it serves.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _die_with_parent(parent)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reached it too
        serve(index)


def _say(message: str) -> None:
    print(f"runs_server: {message}", file=sys.stderr, flush=True)


def _how_it_ended(code: int | None) -> str:
    if code is None:
        return "ended"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Supervisor:
    """Runs ``serve(index)`` in ``count`` forked processes until stopped.

    ``serve`` must open everything a worker needs itself (the store: a SQLite
    connection must not cross a fork) and serve until SIGTERM.
    """

    def __init__(
        self,
        count: int,
        serve: Callable[[int], None],
        stop_s: float = WORKER_STOP_S,
        restarts_allowed: int = RESTARTS_ALLOWED,
        restart_window_s: float = RESTART_WINDOW_S,
    ) -> None:
        if count < 1:
            raise ValueError(f"at least 1 worker, got {count}")
        self.count = count
        self.serve = serve
        self.stop_s = stop_s
        self.restarts_allowed = restarts_allowed
        self.restart_window_s = restart_window_s
        self.workers: list[Any] = []  # multiprocessing.Process, index = slot
        self.restarts: deque[float] = deque()
        self._stop_signal: int | None = None
        self._context = multiprocessing.get_context("fork")

    def _start(self, index: int) -> Any:
        process = self._context.Process(
            target=_worker_main,
            args=(self.serve, index, os.getpid()),
            name=f"runs_server-worker-{index + 1}",
            daemon=False,
        )
        process.start()
        return process

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signal = signum

    def pids(self) -> list[int]:
        return [p.pid for p in self.workers]

    def run(self, started: Callable[[list[int]], None] | None = None) -> int:
        """Serve until SIGTERM/SIGINT (0) or until workers keep crashing (1)."""
        previous = {
            sig: signal.signal(sig, self._on_signal)
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.workers = [self._start(i) for i in range(self.count)]
            if started is not None:
                started(self.pids())
            return self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _watch(self) -> int:
        while self._stop_signal is None:
            sentinels = [p.sentinel for p in self.workers]
            ended = multiprocessing.connection.wait(sentinels, timeout=WATCH_EVERY_S)
            if self._stop_signal is not None:
                break
            for index, process in enumerate(self.workers):
                if process.sentinel not in ended:
                    continue
                process.join(timeout=1)
                what = _how_it_ended(process.exitcode)
                now = time.monotonic()
                while self.restarts and now - self.restarts[0] > self.restart_window_s:
                    self.restarts.popleft()
                if len(self.restarts) >= self.restarts_allowed:
                    _say(
                        f"worker {index + 1} (pid {process.pid}) {what}; workers "
                        f"ended {len(self.restarts) + 1} times within "
                        f"{self.restart_window_s:g} s, so the server stops: see the "
                        "errors above"
                    )
                    return 1
                self.restarts.append(now)
                self.workers[index] = self._start(index)
                _say(
                    f"worker {index + 1} (pid {process.pid}) {what}; started pid "
                    f"{self.workers[index].pid} in its place"
                )
        return 0

    def _stop_all(self) -> None:
        """SIGTERM every worker; SIGKILL those alive after ``stop_s``."""
        for process in self.workers:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + self.stop_s
        for process in self.workers:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        for process in self.workers:
            if process.is_alive():
                _say(f"worker pid {process.pid} did not stop in {self.stop_s:g} s")
                process.kill()
                process.join(timeout=5)
