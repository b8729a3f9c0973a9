"""The listening socket is made so that replies are not held back by Nagle."""

from __future__ import annotations

import socket

import httpx

from runs_server.app import RunsServerApp
from runs_server.serving import BackgroundServer, bind_socket
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
