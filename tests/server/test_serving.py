"""The listening socket is made so that replies are not held back by Nagle."""

from __future__ import annotations

import socket
import threading

import httpx

from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer, bind_socket
from runs_server.store import Store


def test_listening_socket_is_tcp_so_asyncio_sets_nodelay() -> None:
    # asyncio sets TCP_NODELAY on accepted connections only when the listening
    # socket's proto is IPPROTO_TCP; with proto 0 every kept-alive request
    # waited ~40 ms for a delayed ACK.
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_kept_alive_connection_serves_many_requests() -> None:
    with (
        Store() as store,
        BackgroundServer(RunsServerApp(store)) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        for _ in range(20):
            response = http.post("/graphql", json={"query": "{ viewer { id } }"})
            assert response.status_code == 200
        assert "server-timing" in response.headers


def test_a_request_waiting_for_the_store_does_not_stall_the_event_loop() -> None:
    # The store lock is held for the whole of a long query; a request that
    # waits for it (its key lookup included) must wait in a worker thread,
    # not on the event loop that serves every other connection.
    with Store() as store, BackgroundServer(RunsServerApp(store)) as server:
        key = store.users.create("u").api_key
        assert key is not None
        waiting = threading.Thread(
            target=httpx.post,
            args=(server.graphql_url,),
            kwargs={
                "json": {"query": "{ viewer { username } }"},
                "auth": ("api", key),
                "timeout": 30,
            },
        )
        with store.lock:  # stands in for a long query of another request
            waiting.start()
            waiting.join(0.3)  # the request is now blocked on the lock
            response = httpx.get(server.url + "/healthz", timeout=5)
            assert response.status_code == 200
        waiting.join(30)
        assert not waiting.is_alive()


def test_failed_start_releases_the_port() -> None:
    store = Store()
    server = BackgroundServer(RunsServerApp(store))
    # A server thread that dies at once, as uvicorn's does on a startup error.
    server._thread = type(server._thread)(target=lambda: None, daemon=True)
    try:
        server.start()
    except RuntimeError as exc:
        assert "did not start" in str(exc)
    else:
        raise AssertionError("start() should have failed")
    assert server._sock.fileno() == -1
    store.close()
