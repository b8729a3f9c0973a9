"""The ASGI application: POST /graphql over the store.

A plain ASGI callable (no framework) so that every byte of the response is
under our control: orjson serialisation (with pre-encoded fragments for rows
holding NaN), gzip, ``Server-Timing``, injected latency and faults.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from ariadne import graphql_sync
from graphql import GraphQLError

from runs_server.graphql.context import RequestContext
from runs_server.graphql.execution import PreEncodedExecutionContext
from runs_server.graphql.limits import (
    MAX_BODY_BYTES,
    MAX_QUERY_BYTES,
    MAX_RESPONSE_ROWS,
    QueryShapeRule,
)
from runs_server.graphql.schema import executable_schema
from runs_server.http.auth import AuthError, authenticate
from runs_server.http.faults import Fault, FaultConfig, FaultInjector
from runs_server.store import Store

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger("runs_server")
graphql_logger = logging.getLogger("runs_server.graphql")


class _UnexpectedErrorsOnly(logging.Filter):
    """Log resolver bugs; the caller's mistakes are in the response already."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, GraphQLError):
            original = error.original_error
            return original is not None and not isinstance(
                original, (GraphQLError, ValueError)
            )
        return True


graphql_logger.addFilter(_UnexpectedErrorsOnly())

GRAPHQL_PATHS = ("/graphql", "/graphql/")
GZIP_MIN_BYTES = 1024
REQUEST_FORM = 'a JSON object like {"query": "...", "variables": {...}}'


@dataclass(frozen=True)
class ServerConfig:
    """Behaviour knobs; ``latency_ms`` is added to every response."""

    require_auth: bool = False
    latency_ms: float = 0.0
    faults: FaultConfig = field(default_factory=FaultConfig)
    max_response_rows: int = MAX_RESPONSE_ROWS
    # "auto": gzip only for clients beyond loopback (on loopback, compressing
    # a history page costs more time than sending it); "always"; "never".
    compress: Literal["auto", "always", "never"] = "auto"


@dataclass
class Reply:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def _error_reply(status: int, message: str, *extra: tuple[bytes, bytes]) -> Reply:
    body = orjson.dumps({"errors": [{"message": message}]})
    return Reply(status, body, [(b"content-type", b"application/json"), *extra])


def _accepts_gzip(header: str) -> bool:
    """Whether ``Accept-Encoding`` admits gzip; an explicit ``gzip`` beats ``*``."""
    weights: dict[str, float] = {}
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        q = params.strip()
        try:
            weight = float(q[2:]) if q.startswith("q=") else 1.0
        except ValueError:  # a malformed header must not cost a 500
            weight = 0.0
        weights.setdefault(coding.strip().lower(), weight)
    return weights.get("gzip", weights.get("*", 0.0)) > 0


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _compresses(mode: str, client: Any, size: int, accept_encoding: str) -> bool:
    """Whether to gzip a reply: accepted, over GZIP_MIN_BYTES, and paying.

    On loopback the bytes cost almost nothing to move and gzip adds 35-55 %
    to a history page's server time, so ``auto`` sends them as they are;
    beyond loopback (a real network) it compresses.
    """
    if mode == "never" or size < GZIP_MIN_BYTES or not _accepts_gzip(accept_encoding):
        return False
    if mode == "always":
        return True
    host = client[0] if isinstance(client, (list, tuple)) and client else None
    return not (isinstance(host, str) and host in LOOPBACK_HOSTS)


class RunsServerApp:
    """``RunsServerApp(store, ServerConfig(...))`` is an ASGI app for uvicorn."""

    def __init__(self, store: Store, config: ServerConfig | None = None) -> None:
        self.store = store
        self.config = config or ServerConfig()
        self.faults = FaultInjector(self.config.faults)
        self.schema = executable_schema()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        fault, status = self.faults.draw()
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in scope["headers"]
        }
        if fault is Fault.RATE_LIMIT:
            wait = str(self.config.faults.retry_after_s).encode()
            reply = _error_reply(
                429,
                f"rate limit exceeded (injected fault); retry after {wait.decode()} s",
                (b"retry-after", wait),
                (b"ratelimit-limit", b"100"),
                (b"ratelimit-remaining", b"0"),
                (b"ratelimit-reset", wait),
            )
        elif fault is Fault.SERVER_ERROR:
            reply = _error_reply(status, "server error (injected fault)")
        else:
            try:
                reply = await self._handle(scope, receive, headers)
            except Exception as exc:  # a server bug: still JSON, still timed
                logger.exception("unhandled error")
                reply = _error_reply(
                    500, f"internal server error ({type(exc).__name__})"
                )
        if reply.status == 200 and _compresses(
            self.config.compress,
            scope.get("client"),
            len(reply.body),
            headers.get("accept-encoding", ""),
        ):
            # Level 1: on loopback, speed matters more than the last bytes.
            reply.body = await asyncio.to_thread(gzip.compress, reply.body, 1)
            reply.headers.append((b"content-encoding", b"gzip"))
        elapsed_ms = (time.perf_counter() - started) * 1000
        reply.headers.append(
            (b"server-timing", f'app;dur={elapsed_ms:.3f};desc="runs_server"'.encode())
        )
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)
        await self._send(send, reply, fault)

    async def _send(self, send: Send, reply: Reply, fault: Fault | None) -> None:
        body = reply.body
        if fault is Fault.TRUNCATE:
            # A complete HTTP exchange whose JSON is cut short.
            body = body[: len(body) // 2]
        headers = [*reply.headers, (b"content-length", str(len(reply.body)).encode())]
        if fault is Fault.TRUNCATE:
            headers[-1] = (b"content-length", str(len(body)).encode())
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": headers}
        )
        if fault is Fault.DROP:
            # Returning without the promised body makes uvicorn close the
            # connection: the client sees it drop mid-response.
            return
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(
        self, scope: Scope, receive: Receive, headers: dict[str, str]
    ) -> Reply:
        path, method = scope["path"], scope["method"]
        if path in ("/", "/healthz") and method in ("GET", "HEAD"):
            return Reply(200, b'{"ok":true}', [(b"content-type", b"application/json")])
        if path not in GRAPHQL_PATHS:
            return _error_reply(
                404, f"no such endpoint {path!r}; POST GraphQL to /graphql"
            )
        if method != "POST":
            return _error_reply(
                405, "GraphQL requests must be POSTed to /graphql", (b"allow", b"POST")
            )
        body = await _read_body(receive)
        if body is None:
            return _error_reply(413, f"request body over {MAX_BODY_BYTES} bytes")
        # The key lookup needs the store lock, which a long query may hold:
        # wait for it in a worker thread, never on the event loop.
        return await asyncio.to_thread(
            self._respond, body, headers.get("authorization")
        )

    def _respond(self, body: bytes, authorization: str | None) -> Reply:
        try:
            user = authenticate(
                self.store, authorization, require_auth=self.config.require_auth
            )
        except AuthError as exc:
            return _error_reply(
                401, str(exc), (b"www-authenticate", b'Basic realm="runs_server"')
            )
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error_reply(
                400, f"the request body is not JSON; send {REQUEST_FORM}"
            )
        if not isinstance(data, dict):
            return _error_reply(400, f"the request body must be {REQUEST_FORM}")
        return self._execute(
            data, RequestContext(self.store, user, self.config.max_response_rows)
        )

    def _execute(self, data: dict[str, Any], context: RequestContext) -> Reply:
        query = data.get("query")
        if isinstance(query, str) and len(query) > MAX_QUERY_BYTES:
            message = f"query text over {MAX_QUERY_BYTES} characters; send less"
            return _graphql_reply({"errors": [{"message": message}]})
        if data.get("operationName") == "":
            data["operationName"] = None  # some clients send "" for "absent"
        if data.get("variables") is None:
            data.pop("variables", None)
        with self.store.lock:
            _ok, result = graphql_sync(
                self.schema,
                data,
                context_value=context,
                validation_rules=[QueryShapeRule],
                introspection=True,
                logger=graphql_logger,
                execution_context_class=PreEncodedExecutionContext,
            )
        return _graphql_reply(result)


def _graphql_reply(result: dict[str, Any]) -> Reply:
    try:
        body = orjson.dumps(result)
    except TypeError as exc:  # a resolver bug, not the caller's fault
        logger.exception("cannot serialise a response")
        body = orjson.dumps({"errors": [{"message": f"internal error: {exc}"}]})
    return Reply(200, body, [(b"content-type", b"application/json")])


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
