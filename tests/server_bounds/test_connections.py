"""Issue 17 item 9: slow heads and idle sockets are closed, open connections
and request bodies held at once are capped, repeated log lines are limited."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.log_limits import RepeatLimit
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.reliability.conftest import TALLY, track

HEAD_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    store = Store(":memory:")
    store.users.create("someone")
    yield store
    store.close()


def serve(store: Store, **config: object) -> BackgroundServer:
    return BackgroundServer(track(RunsServerApp(store, ServerConfig(**config))))  # type: ignore[arg-type]


def connect(server: BackgroundServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closes ``sock`` before ``deadline`` (monotonic)."""
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        if data == b"" or data.startswith(b"HTTP/1.1 503"):
            return True
    return False


def test_a_slowloris_is_closed_within_the_head_timeout(store: Store) -> None:
    with serve(store, head_timeout_s=HEAD_TIMEOUT) as server:
        sock = connect(server)
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        drips = 0
        deadline = time.monotonic() + 20 * HEAD_TIMEOUT
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                sock.sendall(b"X")  # one byte of a header, never finished
            except OSError:
                closed = True
                break
            drips += 1
            closed = closed_by_server(sock, time.monotonic() + HEAD_TIMEOUT / 5)
        sock.close()
        assert closed, "the slow head was held"
        assert server.app.connections.timed_out == 1
        # a client that sends its request whole is served as before
        assert httpx.get(server.url + "/healthz").status_code == 200
    TALLY["hostile_requests"] += 1
    TALLY["connections_refused"] += 1
    assert drips >= 2  # it really was dripping when closed


def test_idle_sockets_over_the_cap_do_not_lock_out_a_new_client(store: Store) -> None:
    with serve(store, max_connections=20, head_timeout_s=60.0) as server:
        idle = [connect(server) for _ in range(40)]  # never send a byte
        try:
            # the newcomer still gets through, each time
            for _ in range(3):
                answer = httpx.post(
                    server.graphql_url, json={"query": "{ viewer { username } }"}
                )
                assert answer.json()["data"]["viewer"]["username"] == "someone"
            guard = server.app.connections
            assert len(guard.open) <= 20
            assert guard.evicted >= 20
        finally:
            for sock in idle:
                sock.close()
    TALLY["hostile_requests"] += len(idle)
    TALLY["connections_refused"] += guard.evicted + guard.refused


def test_concurrent_big_bodies_stay_within_the_byte_cap(store: Store) -> None:
    cap = 4 * 1024 * 1024
    pad = "x" * (1024 * 1024)
    statuses: list[int] = []
    with serve(store, max_body_bytes_held=cap) as server:

        def send() -> None:
            answer = httpx.post(
                server.graphql_url,
                json={"query": "{ viewer { username } }", "variables": {"pad": pad}},
                timeout=60,
            )
            statuses.append(answer.status_code)

        threads = [threading.Thread(target=send) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        bodies = server.app.bodies
        assert bodies.held == 0
        assert 0 < bodies.peak <= cap
    assert len(statuses) == 16 and set(statuses) <= {200, 503}
    TALLY["hostile_requests"] += 16
    TALLY["connections_refused"] += statuses.count(503)


def test_a_declared_body_over_the_cap_is_refused_unread(store: Store) -> None:
    with serve(store) as server:
        sock = connect(server)
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n"
        )
        sock.settimeout(10)
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")
        sock.close()
        assert server.app.bodies.peak == 0  # nothing was reserved or read


def test_repeated_log_lines_are_limited() -> None:
    logger = logging.getLogger("tests.server_bounds.repeats")
    written: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            written.append(record)

    logger.addHandler(Keep())
    logger.propagate = False
    limit = RepeatLimit(burst=5, window_s=3600)
    logger.addFilter(limit)
    for i in range(10_000):
        logger.error("accept failed: %s", i)
    logger.warning("something else")
    assert len(written) == 6
    limit.window_s = 0.0
    time.sleep(0.01)
    logger.error("accept failed: %s", "again")
    assert "9995 more like it held back" in written[-1].getMessage()
