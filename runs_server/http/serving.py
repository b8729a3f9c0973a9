"""Running the app under uvicorn: in the foreground (``serve``) or in a thread.

The socket is bound before uvicorn starts, so port 0 yields a free port whose
number is known (and printed) before the first request.
"""

from __future__ import annotations

import gc
import os
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from runs_server.http.app import RunsServerApp
from runs_server.http.connections import MAX_HEAD_BYTES, guarded_protocol
from runs_server.http.log_limits import limit_repeats

# The kernel's queue of connections not yet accepted (uvicorn's default).
LISTEN_BACKLOG = 2048


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only
    # for sockets whose proto is TCP; without it Nagle plus delayed ACKs add
    # ~40 ms to every kept-alive request (uvicorn writes head and body apart).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


# How long a worker leaves a waiting connection to a worker with fewer open
# connections before taking it itself (the other may be busy: its event loop
# waits for the GIL, given back every 5 ms, and for a core). Each look in the
# meantime pauses the loop DECLINE_PAUSE_S (no busy spin; the GIL is free).
BALANCE_WAIT_S = 0.02
DECLINE_PAUSE_S = 0.001
# A decline older than this belongs to an earlier connection: start again.
BALANCE_EPISODE_S = 0.1


class SharedListener(socket.socket):
    """The listening socket the workers of ``serve --workers N`` share, as one
    worker sees it (a duplicate of its descriptor).

    asyncio accepts up to ``backlog`` connections each time the socket is
    ready, and also passes ``backlog`` to ``listen``. A worker serves this
    socket with a backlog of 1: it takes one connection per turn of its event
    loop, and the other workers, woken by the same readiness, take the next.
    ``listen`` keeps the kernel's queue at its full length whatever it is asked.

    Keep-alive clients stay on the worker that accepted them, so the workers
    also balance what they hold: each publishes its open connections in
    ``loads`` (shared memory, a slot each, -1 until it serves); a worker
    holding more than another serving one leaves a waiting connection alone
    for ``BALANCE_WAIT_S`` (asyncio sees "nothing to accept") so that the
    other takes it, and takes it itself after that, so no connection waits
    on a busy worker.
    """

    loads: Any = None
    slot = 0
    _declined_at: float | None = None

    @classmethod
    def of(cls, sock: socket.socket, loads: Any, slot: int) -> SharedListener:
        listener = cls(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))
        listener.loads, listener.slot = loads, slot
        return listener

    def listen(self, backlog: int = LISTEN_BACKLOG) -> None:
        super().listen(LISTEN_BACKLOG)

    def accept(self) -> tuple[socket.socket, Any]:
        loads = self.loads
        if loads is not None and loads[self.slot] > min(n for n in loads if n >= 0):
            now = time.monotonic()
            first = self._declined_at
            if first is None or now - first > BALANCE_EPISODE_S:
                first = self._declined_at = now
            if now - first < BALANCE_WAIT_S:
                time.sleep(DECLINE_PAUSE_S)
                raise BlockingIOError("left to a worker holding fewer connections")
        self._declined_at = None
        taken = super().accept()
        if loads is not None:  # counted now: the guard counts it a turn later
            loads[self.slot] += 1
        return taken


def _uvicorn_server(
    app: RunsServerApp, log_level: str, backlog: int = LISTEN_BACKLOG
) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        # h11 with the guard of runs_server.http.connections: slow heads and
        # idle sockets are closed, open connections capped.
        http=guarded_protocol(app.connections),
        timeout_keep_alive=int(app.config.idle_timeout_s),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        backlog=backlog,
    )
    limit_repeats()  # after uvicorn configured its loggers
    return uvicorn.Server(config)


def serve_forever(
    app: RunsServerApp,
    sock: socket.socket,
    log_level: str = "warning",
    shared: tuple[Any, int] | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C). ``shared``: ``(loads, slot)`` of one
    of several worker processes accepting from ``sock`` (``SharedListener``).

    What was made to start (modules, the schema, the app) lives as long as
    the process: ``gc.freeze`` leaves it out of the collector's scans, which
    otherwise walk all of it during requests (a 50-run listing page's p99
    fell from 3.5x its median to 1.7x, measured in one process) and, in a
    forked worker, would copy the pages it shares with the parent.
    """
    gc.freeze()
    if shared is None:
        _uvicorn_server(app, log_level).run(sockets=[sock])
        return
    loads, slot = shared
    app.connections.loads, app.connections.slot = loads, slot
    app.connections.publish()
    with SharedListener.of(sock, loads, slot) as listener:
        _uvicorn_server(app, log_level, backlog=1).run(sockets=[listener])


class BackgroundServer:
    """The app on ``127.0.0.1:<free port>`` in a daemon thread; a context manager.

    >>> with BackgroundServer(RunsServerApp(store)) as server:
    ...     httpx.post(server.url + "/graphql", json={"query": "{ viewer { id } }"})
    """

    def __init__(
        self, app: RunsServerApp, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app = app
        self._sock = bind_socket(host, port)
        self.url = url_of(self._sock)
        self.graphql_url = self.url + "/graphql"
        self._server = _uvicorn_server(app, "warning")
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()  # release the port and the thread before failing
                raise RuntimeError(f"runs_server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
