"""Every JSON body any in-process runs_server sends in this test suite is strict JSON.

Newer official SDKs parse responses in Go and reject a whole body for one bare
``NaN``/``Infinity`` token, so the check sits where every reply leaves the app
(``RunsServerApp._send``, before any injected truncation) and runs for every
test that starts a server in this process: the server's own tests, the
client's end-to-end tests and both SDK workflows. A body orjson refuses fails
the test that caused it.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from runs_server.http.app import Reply, RunsServerApp

_refused: list[str] = []
_original_send = RunsServerApp._send


async def _strict_send(
    self: RunsServerApp, send: Any, reply: Reply, fault: Any
) -> None:
    headers = dict(reply.headers)
    if headers.get(b"content-type", b"").startswith(b"application/json"):
        body = reply.body
        if headers.get(b"content-encoding") == b"gzip":
            body = gzip.decompress(body)
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            _refused.append(f"{exc}: {body[:200]!r}")
    await _original_send(self, send, reply, fault)


RunsServerApp._send = _strict_send  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def strict_json_responses() -> Iterator[None]:
    start = len(_refused)
    yield
    refused = _refused[start:]
    assert not refused, f"the server sent bodies that are not strict JSON: {refused}"
