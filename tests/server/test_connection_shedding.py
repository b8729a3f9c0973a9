"""A worker holding more kept-alive connections than another closes one after
its reply (``Connection: close``), so that the client reconnects to the
lighter worker (``ConnectionGuard.shed_one``)."""

from __future__ import annotations

import http.client
import time

import pytest

from runs_server.http.app import RunsServerApp
from runs_server.http.connections import ConnectionGuard
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store

VIEWER = b'{"query": "{ viewer { id } }"}'


def guard(loads: list[int] | None, slot: int = 0) -> ConnectionGuard:
    g = ConnectionGuard()
    g.loads, g.slot = loads, slot
    return g


@pytest.mark.parametrize(
    ("loads", "slot", "sheds"),
    [
        ([3, 1], 0, True),  # two more than the other worker
        ([4, 1, 2], 0, True),  # compared with the lightest one
        ([2, 1], 0, False),  # one more: moving one would only swap them
        ([1, 3], 0, False),  # the lighter worker keeps its connections
        ([3, -1], 0, False),  # the other worker does not serve yet
        ([5], 0, False),  # alone
    ],
)
def test_a_worker_sheds_only_when_two_ahead_of_the_lightest(
    loads: list[int], slot: int, sheds: bool
) -> None:
    assert guard(loads, slot).shed_one(now=100.0) is sheds


def test_one_worker_never_sheds() -> None:
    assert guard(None).shed_one(now=100.0) is False


def test_sheds_at_most_one_connection_per_pause() -> None:
    g = guard([6, 0])
    assert g.shed_one(now=10.0)
    assert not g.shed_one(now=10.1)  # the reconnection has not landed yet
    assert not g.shed_one(now=10.2)
    assert g.shed_one(now=10.3)
    assert g.shed == 2


def _ask(conn: http.client.HTTPConnection) -> str | None:
    conn.request("POST", "/graphql", VIEWER, {"content-type": "application/json"})
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 200
    return reply.getheader("connection")


def test_the_reply_closes_its_connection_and_the_client_reconnects() -> None:
    with Store() as store:
        app = RunsServerApp(store)
        loads = [0, 0]  # this worker's slot 0, another serving worker's slot 1
        app.connections.loads, app.connections.slot = loads, 0
        with BackgroundServer(app) as server:
            port = int(server.url.rsplit(":", 1)[1])
            first = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            second = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                first.connect()
                second.connect()
                deadline = time.monotonic() + 10
                while loads[0] < 2:  # both counted by the worker
                    assert time.monotonic() < deadline, loads
                    time.sleep(0.01)
                assert _ask(first) == "close"  # 2 against 0: one goes
                assert _ask(second) is None  # one at a time
                # The closed connection is gone from the count.
                while loads[0] > 1:
                    assert time.monotonic() < deadline, loads
                    time.sleep(0.01)
                time.sleep(0.3)  # past the pause
                # With two workers the client's new connection lands on the
                # other one (counted there); here it comes back to this
                # worker, which now holds one more than the other: it stays.
                loads[1] = 1
                assert _ask(first) is None
                assert _ask(second) is None
                assert app.connections.shed == 1
            finally:
                first.close()
                second.close()
