"""The deadline covers a whole attempt, the response head included (issue 17,
item 13): a server that drips its status line and headers a byte at a time,
each byte well inside the read timeout, is given up on at the deadline, not
after the whole drip. No timings are asserted: the server drips a bounded
number of bytes, and the test checks that the client gave up before the
drip ended and with the deadline's error."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

import runs_client
from runs_client.transport.deadline import install

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 400


class DripServer:
    """Answers each connection with ``HEAD`` a byte per ``gap`` seconds."""

    def __init__(self, gap: float) -> None:
        self.gap = gap
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sent: list[int] = []  # bytes sent on each connection
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        self.sock.settimeout(30)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            sent = 0
            for byte in HEAD:  # bounded: the drip ends after len(HEAD) bytes
                if self.done.wait(self.gap):
                    break
                try:
                    conn.sendall(bytes([byte]))
                except OSError:  # the client hung up
                    break
                sent += 1
            self.sent.append(sent)

    def close(self) -> None:
        self.done.set()
        self.sock.close()
        self.thread.join(timeout=30)


@pytest.fixture
def drip() -> Iterator[DripServer]:
    server = DripServer(gap=0.05)
    yield server
    server.close()


def test_deadline_covers_a_dripped_response_head(drip: DripServer) -> None:
    # Each byte comes 0.05 s after the last, far inside the 5 s read timeout;
    # the whole head would take about 24 s. The deadline is 1 s.
    with (
        runs_client.Api(
            api_key="k", base_url=drip.url, timeout=5, deadline=1, max_retries=0
        ) as api,
        pytest.raises(runs_client.TimeoutError, match="deadline"),
    ):
        api.runs("e/p").__len__()
    drip.close()
    assert drip.sent, "the server never saw the request"
    assert drip.sent[0] < len(HEAD), "the client waited for the whole drip"


def test_every_pool_of_the_api_client_is_covered() -> None:
    # With a proxy mount too: each pool's backend is wrapped (a new httpx
    # that moved its pools would fail here, not silently lose the deadline).
    with httpx.Client(mounts={"http://proxied.test": httpx.HTTPTransport()}) as http:
        assert install(http)
        assert install(http)  # idempotent
