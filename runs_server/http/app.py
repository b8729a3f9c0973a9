"""The ASGI application: POST /graphql over the store, and the history exports
that ``Run.parquetHistory`` links to (GET/HEAD, range requests, signed links).

A plain ASGI callable (no framework) so that every byte of the response is
under our control: orjson serialisation (with pre-encoded fragments for rows
holding NaN), gzip, ``Server-Timing``, injected latency and faults.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import orjson
from ariadne import graphql_sync
from graphql import GraphQLError

from runs_server.graphql.context import RequestContext
from runs_server.graphql.execution import PreEncodedExecutionContext
from runs_server.graphql.limits import (
    BODY_TIMEOUT_SECONDS,
    MAX_BODY_BYTES,
    MAX_QUERY_BYTES,
    MAX_REQUEST_SECONDS,
    MAX_REQUESTS_IN_FLIGHT,
    MAX_RESPONSE_BYTES,
    MAX_RESPONSE_ROWS,
    MAX_VARIABLE_STRING_CHARS,
    RESPONSE_TOO_LARGE,
    QueryShapeRule,
)
from runs_server.graphql.schema import executable_schema
from runs_server.history import EXPORT_PATH_PREFIX, HistoryExports, LinkError
from runs_server.http.auth import AuthError, api_key_from_header, authenticate
from runs_server.http.faults import Fault, FaultConfig, FaultInjector
from runs_server.http.guards import host_problem, json_content_type
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
# The official SDK 0.31 posts its telemetry (OTLP protobuf) here; accepted, dropped.
TELEMETRY_PATHS = ("/sdk/otel/v1/metrics",)
PARQUET_TYPE = b"application/vnd.apache.parquet"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
# Fields of W&B's artifact API: answered with one clear error, not a
# schema error the SDKs cannot explain.
_UNSERVED_FIELD = re.compile(r"Cannot query field '(\w*[Aa]rtifact\w*)'")
ARTIFACTS_MESSAGE = (
    "artifacts are not served here: runs_server serves runs, their config, "
    "summary, history and sweeps (asked for field {field!r}); read artifacts "
    "from W&B itself"
)
GZIP_MIN_BYTES = 1024
REQUEST_FORM = 'a JSON object like {"query": "...", "variables": {...}}'


@dataclass(frozen=True)
class ServerConfig:
    """Behaviour knobs; ``latency_ms`` is added to every response.

    ``loopback_hosts``: refuse ``Host`` headers that are not loopback names
    (on by default; ``serve`` turns it off when bound elsewhere). The limits
    default to those of ``runs_server.graphql.limits`` (the README's table).
    """

    require_auth: bool = False
    latency_ms: float = 0.0
    faults: FaultConfig = field(default_factory=FaultConfig)
    max_response_rows: int = MAX_RESPONSE_ROWS
    max_response_bytes: int = MAX_RESPONSE_BYTES
    max_in_flight: int = MAX_REQUESTS_IN_FLIGHT
    request_seconds: float = MAX_REQUEST_SECONDS
    body_timeout_s: float = BODY_TIMEOUT_SECONDS
    loopback_hosts: bool = True
    # How long a parquetHistory link stays valid.
    export_url_ttl_s: float = 3600.0
    # "auto": gzip only for clients beyond loopback (on loopback, compressing
    # a history page costs more time than sending it); "always"; "never".
    compress: Literal["auto", "always", "never"] = "auto"


@dataclass
class Reply:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    # Set for HEAD: the length the body would have (the body itself is empty).
    content_length: int | None = None


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
        self.requests_seen = 0  # HTTP requests received, for reports
        # Requests execute on these threads only: at most max_in_flight hold
        # a connection and build a response at once; the others wait their
        # turn holding only their body.
        self._executor = ThreadPoolExecutor(
            self.config.max_in_flight, thread_name_prefix="runs_server"
        )
        self.exports = HistoryExports(url_ttl_s=self.config.export_url_ttl_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        self.requests_seen += 1
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
        if (
            reply.status == 200
            and dict(reply.headers).get(b"content-type") == b"application/json"
            and _compresses(
                self.config.compress,
                scope.get("client"),
                len(reply.body),
                headers.get("accept-encoding", ""),
            )
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
        length = (
            len(reply.body) if reply.content_length is None else reply.content_length
        )
        headers = [*reply.headers, (b"content-length", str(length).encode())]
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
                self._executor.shutdown(wait=False, cancel_futures=True)
                self.exports.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(
        self, scope: Scope, receive: Receive, headers: dict[str, str]
    ) -> Reply:
        path, method = scope["path"], scope["method"]
        if self.config.loopback_hosts:
            problem = host_problem(headers.get("host"))
            if problem is not None:
                return _error_reply(403, problem)
        if path in ("/", "/healthz") and method in ("GET", "HEAD"):
            return Reply(200, b'{"ok":true}', [(b"content-type", b"application/json")])
        if path in TELEMETRY_PATHS and method == "POST":
            await _read_body(receive)
            return Reply(204, b"")
        if path.startswith(EXPORT_PATH_PREFIX):
            if method not in ("GET", "HEAD"):
                return _error_reply(
                    405, "history exports are read with GET", (b"allow", b"GET, HEAD")
                )
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            return await asyncio.to_thread(
                self._export, path, query, method, headers.get("range")
            )
        if path not in GRAPHQL_PATHS:
            return _error_reply(
                404, f"no such endpoint {path!r}; POST GraphQL to /graphql"
            )
        if method != "POST":
            return _error_reply(
                405, "GraphQL requests must be POSTed to /graphql", (b"allow", b"POST")
            )
        content_type = headers.get("content-type")
        if not json_content_type(content_type):
            # Forms and text/plain are what a web page may POST anywhere
            # without asking first; JSON needs a CORS preflight we never grant.
            return _error_reply(
                415,
                f"Content-Type {content_type!r} is not accepted; send the "
                f"request as application/json: {REQUEST_FORM}",
            )
        try:
            body = await asyncio.wait_for(
                _read_body(receive), self.config.body_timeout_s
            )
        except asyncio.TimeoutError:
            return _error_reply(
                408,
                f"the request body did not arrive within "
                f"{self.config.body_timeout_s:g} s; send it whole",
            )
        if body is None:
            return _error_reply(413, f"request body over {MAX_BODY_BYTES} bytes")
        gone = threading.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone))
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor,
                self._respond,
                body,
                headers.get("authorization"),
                gone,
                _base_url(scope, headers),
            )
        finally:
            watcher.cancel()

    def _export(
        self, path: str, query: dict[str, str], method: str, range_header: str | None
    ) -> Reply:
        """A history export named by a signed link, whole or one byte range."""
        try:
            file = self.exports.resolve(path, query)
            data = file.read_bytes()
        except LinkError as exc:
            return _error_reply(exc.status, str(exc))
        except FileNotFoundError:  # replaced between the check and the read
            return _error_reply(404, "this history export was replaced; ask again")
        size = len(data)
        headers = [(b"content-type", PARQUET_TYPE), (b"accept-ranges", b"bytes")]
        status, body = 200, data
        if range_header is not None:
            span = _byte_range(range_header, size)
            if span is None:
                return Reply(
                    416,
                    b"",
                    [(b"content-range", f"bytes */{size}".encode()), *headers],
                )
            start, end = span
            status, body = 206, data[start : end + 1]
            headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
        if method == "HEAD":
            return Reply(status, b"", headers, content_length=len(body))
        return Reply(status, body, headers)

    def _respond(
        self,
        body: bytes,
        authorization: str | None,
        gone: threading.Event,
        base_url: str = "",
    ) -> Reply:
        if gone.is_set():  # hung up while waiting for a thread: skip the work
            return _error_reply(499, "the client hung up")
        try:
            user = authenticate(
                self.store, authorization, require_auth=self.config.require_auth
            )
            key = api_key_from_header(authorization)
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
        context = RequestContext(
            self.store,
            user,
            max_rows=self.config.max_response_rows,
            max_bytes=self.config.max_response_bytes,
            # Only a key the store knows (it authenticated this request) may
            # be shown back; on an open server any other key acts as the
            # default user and must not reveal that user's key.
            api_key=key if user is not None and key == user.api_key else None,
            deadline=time.monotonic() + self.config.request_seconds,
            cancelled=gone,
            exports=self.exports,
            base_url=base_url,
        )
        try:
            return self._execute(data, context)
        finally:
            context.close()

    def _execute(self, data: dict[str, Any], context: RequestContext) -> Reply:
        query = data.get("query")
        if isinstance(query, str) and len(query) > MAX_QUERY_BYTES:
            message = f"query text over {MAX_QUERY_BYTES} characters; send less"
            return _graphql_reply({"errors": [{"message": message}]})
        longest = _longest_string(data.get("variables"))
        if longest > MAX_VARIABLE_STRING_CHARS:
            message = (
                f"a string in the variables is {longest:,} characters long; the "
                f"limit is {MAX_VARIABLE_STRING_CHARS:,}: send less"
            )
            return _graphql_reply({"errors": [{"message": message}]})
        if data.get("operationName") == "":
            data["operationName"] = None  # some clients send "" for "absent"
        if data.get("variables") is None:
            data.pop("variables", None)
        # No lock here: parsing and validation touch no store, and the
        # resolvers take the request's connection on first use.
        _ok, result = graphql_sync(
            self.schema,
            data,
            context_value=context,
            validation_rules=[QueryShapeRule],
            introspection=True,
            logger=graphql_logger,
            execution_context_class=PreEncodedExecutionContext,
        )
        context.close()  # serialisation needs no connection
        if context.refusal is not None:
            # One error, no partial data: the other fields stopped short.
            return _graphql_reply({"data": None, "errors": [context.refusal.formatted]})
        _explain_unserved(result)
        reply = _graphql_reply(result)
        if len(reply.body) > context.max_bytes:  # the estimate fell short
            refusal = context.refuse(
                f"this response would be larger than {context.max_bytes:,} bytes; "
                "ask for less in one request (a smaller per_page, fewer fields "
                "or aliases, or lower samples)",
                RESPONSE_TOO_LARGE,
            )
            return _graphql_reply({"data": None, "errors": [refusal.formatted]})
        return reply


def _longest_string(value: Any, depth: int = 0) -> int:
    """The length of the longest string key or value inside ``value``."""
    if isinstance(value, str):
        return len(value)
    if depth > 64:  # orjson refuses deeper documents anyway
        return 0
    if isinstance(value, dict):
        return max(
            (max(len(k), _longest_string(v, depth + 1)) for k, v in value.items()),
            default=0,
        )
    if isinstance(value, list):
        return max((_longest_string(v, depth + 1) for v in value), default=0)
    return 0


async def _watch_disconnect(receive: Receive, gone: threading.Event) -> None:
    """Set ``gone`` when the client hangs up before its answer is sent."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


def _explain_unserved(result: dict[str, Any]) -> None:
    """Say plainly that artifacts are not served, instead of a schema error."""
    for error in result.get("errors") or []:
        found = _UNSERVED_FIELD.search(str(error.get("message", "")))
        if found:
            error["message"] = ARTIFACTS_MESSAGE.format(field=found.group(1))
            error.setdefault("extensions", {})["code"] = "NOT_SERVED"


def _base_url(scope: Scope, headers: dict[str, str]) -> str:
    """The server as this request reached it, for links in responses."""
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte of one ``Range: bytes=a-b`` (inclusive), clamped;
    None when it cannot be satisfied (several ranges are not served)."""
    found = _RANGE.fullmatch(header.strip())
    if found is None or size == 0:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        return max(size - int(last), 0), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start > end:
        return None
    return start, end


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
