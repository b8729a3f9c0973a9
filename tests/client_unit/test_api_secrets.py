"""The API key never appears in an error message, a repr or a log record.

Runs against a real loopback HTTP server (not respx) so that httpx's and
httpcore's own DEBUG logging is exercised on real sockets.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from runs_client._exceptions import (
    AuthenticationError,
    ConnectionError,
    GraphQLError,
    RateLimitError,
    RunsClientError,
    ServerError,
)
from runs_client.api import Api

KEY = "s3cr3t0123456789abcdef0123456789abcdef99"
SECRETS = [KEY, base64.b64encode(f"api:{KEY}".encode()).decode()]

# (status, headers, body) answered in turn; the last one repeats.
Script = list[tuple[int, dict[str, str], bytes]]


class _Handler(BaseHTTPRequestHandler):
    script: ClassVar[Script] = []
    seen_auth: ClassVar[list[str | None]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen_auth.append(self.headers.get("Authorization"))
        script = type(self).script
        status, headers, body = script.pop(0) if len(script) > 1 else script[0]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("WANDB_API_KEY", "WANDB_ENTITY", "NETRC", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    _Handler.seen_auth = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def body(obj: Any) -> bytes:
    return json.dumps(obj).encode()


VIEWER_OK = (200, {}, body({"data": {"viewer": None}}))

SCENARIOS: dict[str, Script] = {
    "401": [(401, {}, body({"errors": [{"message": "bad key"}]}))],
    "403": [(403, {}, b"forbidden")],
    "429": [(429, {"Retry-After": "0"}, body({"message": "slow down"}))],
    "503": [(503, {}, b"<html>unavailable</html>")],
    "graphql": [(200, {}, body({"errors": [{"message": "x", "path": ["p"]}]}))],
    "truncated": [(200, {}, b'{"data": {"vie')],
}
EXPECTED: dict[str, type[RunsClientError]] = {
    "401": AuthenticationError,
    "403": AuthenticationError,
    "429": RateLimitError,
    "503": ServerError,
    "graphql": GraphQLError,
    "truncated": ServerError,
}


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_key_never_in_errors_or_logs(
    loopback: str, caplog: pytest.LogCaptureFixture, scenario: str
) -> None:
    _Handler.script = list(SCENARIOS[scenario])
    caplog.set_level(logging.DEBUG)  # root: httpx, httpcore, runs_client
    with Api(KEY, loopback, max_retries=2) as api:
        api.client._sleep = lambda _seconds: None
        assert_no_secret(repr(api))
        assert_no_secret(repr(api.client))
        with pytest.raises(EXPECTED[scenario]) as info:
            api.viewer  # noqa: B018
    err = info.value
    # The key did go over the wire: the test would prove nothing otherwise.
    assert _Handler.seen_auth and all(
        a == "Basic " + SECRETS[1] for a in _Handler.seen_auth
    )
    for text in (str(err), repr(err), str(err.request), repr(err.request)):
        assert_no_secret(text)
    assert_no_secret(repr(vars(err)))
    records = caplog.records
    assert any(r.name.startswith("httpx") for r in records)
    assert any(r.name.startswith("httpcore") for r in records)
    for record in records:
        assert_no_secret(record.getMessage())
        assert_no_secret(repr(record.args))
    assert_no_secret(caplog.text)


def test_key_never_in_transport_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # Nothing listens on port 9 of loopback: a connection error, retried.
    with Api(KEY, "http://127.0.0.1:9", max_retries=1) as api:
        api.client._sleep = lambda _seconds: None
        # ConnectionError since issue 9 (was ServerError: no server answered).
        with pytest.raises(ConnectionError) as info:
            api.viewer  # noqa: B018
    assert_no_secret(str(info.value))
    assert_no_secret(repr(info.value.__cause__))
    assert_no_secret(caplog.text)


def test_success_path_logs_no_key(loopback: str, caplog) -> None:
    _Handler.script = [VIEWER_OK]
    caplog.set_level(logging.DEBUG)
    with Api(KEY, loopback) as api, pytest.raises(AuthenticationError) as info:
        api.viewer  # noqa: B018  (a null viewer: the key is not recognised)
    assert "does not recognise this API key" in str(info.value)
    assert_no_secret(str(info.value))
    assert_no_secret(caplog.text)
