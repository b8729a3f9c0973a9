"""Running the app under uvicorn: in the foreground (``serve``) or in a thread.

The socket is bound before uvicorn starts, so port 0 yields a free port whose
number is known (and printed) before the first request.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from types import TracebackType

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


class SharedListener(socket.socket):
    """The listening socket the workers of ``serve --workers N`` share, as one
    worker sees it (a duplicate of its descriptor).

    asyncio accepts up to ``backlog`` connections each time the socket is
    ready, and also passes ``backlog`` to ``listen``. A worker serves this
    socket with a backlog of 1: it takes one connection per turn of its event
    loop and the other workers, woken by the same readiness, take the next
    ones, so connections arriving together spread over the workers and a
    busy worker (its loop waiting for the GIL) leaves them to an idle one.
    ``listen`` keeps the kernel's queue at its full length whatever it is asked.
    """

    @classmethod
    def of(cls, sock: socket.socket) -> SharedListener:
        return cls(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))

    def listen(self, backlog: int = LISTEN_BACKLOG) -> None:
        super().listen(LISTEN_BACKLOG)


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
    shared: bool = False,
) -> None:
    """Serve until interrupted (Ctrl-C); ``shared``: as one of several worker
    processes accepting from ``sock`` (see ``SharedListener``)."""
    if not shared:
        _uvicorn_server(app, log_level).run(sockets=[sock])
        return
    with SharedListener.of(sock) as listener:
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
