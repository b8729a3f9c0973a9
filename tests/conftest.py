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
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from runs_server.http.app import Reply, RunsServerApp
from tests.reliability import conftest as reliability

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


# The reliability suite's figures (tests/reliability/conftest.py): each
# pytest-xdist worker sends its own to the controller, which sums them.
_worker_figures: Counter[str] = Counter()


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker
        workeroutput["reliability"] = dict(reliability.measured())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    _worker_figures.update(getattr(node, "workeroutput", {}).get("reliability", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reliability.report(terminalreporter, reliability.measured() + _worker_figures)
