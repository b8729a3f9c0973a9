"""The ASGI application: routes each request to its endpoint (POST /graphql,
POST /columnar/history, the history exports ``Run.parquetHistory`` links to,
health and telemetry),
then applies what every reply gets: faults, gzip, ``Server-Timing``, latency.

A plain ASGI callable (no framework) so that every byte of the response is
under our control. The endpoints live beside it: ``graphql_endpoint``,
``export_endpoint``; replies and gzip in ``replies``; ASGI plumbing in ``asgi``.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import threading
import time
from urllib.parse import parse_qsl

from runs_server.graphql.limits import MAX_BODY_BYTES
from runs_server.history import EXPORT_PATH_PREFIX, HistoryExports
from runs_server.http.admission import BodyAdmission, BodyTooLarge, NoRoom
from runs_server.http.asgi import (
    Receive,
    Scope,
    Send,
    base_url_of,
    read_body,
    send_file,
    watch_disconnect,
)
from runs_server.http.columnar_endpoint import COLUMNAR_PATH, ColumnarEndpoint
from runs_server.http.config import ServerConfig
from runs_server.http.connections import ConnectionGuard, connection_cap
from runs_server.http.export_endpoint import serve_export
from runs_server.http.faults import Fault, FaultInjector
from runs_server.http.files_endpoint import FilesEndpoint
from runs_server.http.graphql_endpoint import REQUEST_FORM, GraphQLEndpoint
from runs_server.http.guards import host_problem, json_content_type
from runs_server.http.lanes import Lanes
from runs_server.http.replies import Reply, compresses, error_reply
from runs_server.store import Store
from runs_server.web import WebPages

__all__ = ["RunsServerApp", "ServerConfig"]

logger = logging.getLogger("runs_server")

GRAPHQL_PATHS = ("/graphql", "/graphql/")
# The official SDK 0.31 posts its telemetry (OTLP protobuf) here; accepted, dropped.
TELEMETRY_PATHS = ("/sdk/otel/v1/metrics", "/sdk/otel/v1/logs")


class RunsServerApp:
    """``RunsServerApp(store, ServerConfig(...))`` is an ASGI app for uvicorn."""

    def __init__(
        self,
        store: Store,
        config: ServerConfig | None = None,
        exports: HistoryExports | None = None,
    ) -> None:
        """``exports``: the history export cache to use (the workers of one
        ``serve --workers N`` share one, so a link one signed another serves);
        by default a private one, removed when the app shuts down."""
        self.store = store
        self.config = config or ServerConfig()
        self.faults = FaultInjector(self.config.faults)
        self.requests_seen = 0  # HTTP requests received, for reports
        # Requests execute on these threads only: at most max_in_flight hold
        # a connection and build a response at once; the others wait their
        # turn holding only their body. Quick requests have a lane of their own.
        self.lanes = Lanes(self.config.max_in_flight)
        self.bodies = BodyAdmission(self.config.max_body_bytes_held)
        self.connections = ConnectionGuard(
            connection_cap(self.config.max_connections), self.config.head_timeout_s
        )
        self._owns_exports = exports is None
        self.exports = exports or HistoryExports(url_ttl_s=self.config.export_url_ttl_s)
        self.graphql = GraphQLEndpoint(store, self.config, self.exports)
        self.lanes.documents = self.graphql.documents
        self.lanes.inline = not store.in_memory
        self.files = FilesEndpoint(store, self.config, self.lanes.heavy, self.bodies)
        self.web = WebPages()
        self.columnar = ColumnarEndpoint(store, self.config)

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
            reply = error_reply(
                429,
                f"rate limit exceeded (injected fault); retry after {wait.decode()} s",
                (b"retry-after", wait),
                (b"ratelimit-limit", b"100"),
                (b"ratelimit-remaining", b"0"),
                (b"ratelimit-reset", wait),
            )
        elif fault is Fault.SERVER_ERROR:
            reply = error_reply(status, "server error (injected fault)")
        else:
            try:
                reply = await self._handle(scope, receive, headers)
            except Exception as exc:  # a server bug: still JSON, still timed
                logger.exception("unhandled error")
                reply = error_reply(
                    500, f"internal server error ({type(exc).__name__})"
                )
        if (
            reply.status == 200
            and dict(reply.headers).get(b"content-type") == b"application/json"
            and compresses(
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
        if reply.file is not None and fault is Fault.TRUNCATE:
            fault = None  # a streamed file is cut by DROP only
        if fault is Fault.TRUNCATE:
            # A complete HTTP exchange whose JSON is cut short.
            body = body[: len(body) // 2]
        length = (
            len(reply.body) if reply.content_length is None else reply.content_length
        )
        headers = [*reply.headers, (b"content-length", str(length).encode())]
        if fault is Fault.TRUNCATE:
            headers[-1] = (b"content-length", str(len(body)).encode())
        if self.connections.shed_one(time.monotonic()):
            headers.append((b"connection", b"close"))  # reconnect elsewhere
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": headers}
        )
        if fault is Fault.DROP:
            # Returning without the promised body makes uvicorn close the
            # connection: the client sees it drop mid-response.
            if reply.file is not None:
                reply.file.file.close()
            return
        if reply.file is not None:
            await send_file(send, reply.file)
            return
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.lanes.shutdown()
                if self._owns_exports:
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
                return error_reply(403, problem)
        if path in ("/", "/healthz") and method in ("GET", "HEAD"):
            return Reply(200, b'{"ok":true}', [(b"content-type", b"application/json")])
        if path in TELEMETRY_PATHS and method == "POST":
            await read_body(receive)
            return Reply(204, b"")
        # The SDK's file_stream posts and run-file links (before the exports,
        # whose /files/history/ prefix an entity named "history" would share).
        files_reply = await self.files.handle(scope, receive, headers)
        if files_reply is not None:
            return files_reply
        if path.startswith(EXPORT_PATH_PREFIX):
            if method not in ("GET", "HEAD"):
                return error_reply(
                    405, "history exports are read with GET", (b"allow", b"GET, HEAD")
                )
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            return await asyncio.to_thread(
                serve_export, self.exports, path, query, method, headers.get("range")
            )
        columnar = path == COLUMNAR_PATH
        # The web pages (runs_server/web); /columnar/history is no project page.
        page = (
            None
            if columnar
            else self.web.reply(
                method, path, headers.get("accept"), headers.get("if-none-match")
            )
        )
        if page is not None:
            sent = b"" if method == "HEAD" else page.body
            return Reply(page.status, sent, page.headers, len(page.body))
        if path not in GRAPHQL_PATHS and not columnar:
            return error_reply(
                404, f"no such endpoint {path!r}; POST GraphQL to /graphql"
            )
        if method != "POST":
            return error_reply(
                405, f"requests must be POSTed to {path}", (b"allow", b"POST")
            )
        content_type = headers.get("content-type")
        if not json_content_type(content_type):
            # Forms and text/plain are what a web page may POST anywhere
            # without asking first; JSON needs a CORS preflight we never grant.
            return error_reply(
                415,
                f"Content-Type {content_type!r} is not accepted; send the "
                f"request as application/json: {REQUEST_FORM}",
            )
        # Admitted before a byte of the body is read (see http.admission).
        try:
            size = BodyAdmission.size_of(headers.get("content-length"))
            async with self.bodies.admitted(size, self.config.body_timeout_s):
                return await self._graphql(scope, receive, headers, columnar)
        except BodyTooLarge:
            return error_reply(413, f"request body over {MAX_BODY_BYTES} bytes")
        except NoRoom:
            return error_reply(
                503,
                "the server is reading too many request bodies at once; retry",
                (b"retry-after", b"1"),
            )

    async def _graphql(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        columnar: bool = False,
    ) -> Reply:
        try:
            body = await asyncio.wait_for(
                read_body(receive), self.config.body_timeout_s
            )
        except asyncio.TimeoutError:
            return error_reply(
                408,
                f"the request body did not arrive within "
                f"{self.config.body_timeout_s:g} s; send it whole",
            )
        if body is None:
            return error_reply(413, f"request body over {MAX_BODY_BYTES} bytes")
        gone = threading.Event()
        watcher = asyncio.create_task(watch_disconnect(receive, gone))
        try:
            if columnar:  # history pages: always the heavy lane
                heavy = self.lanes.heavy
                return await asyncio.get_running_loop().run_in_executor(
                    heavy,
                    self.lanes.counted(heavy, self.columnar.respond),
                    body,
                    headers.get("authorization"),
                    gone,
                )
            lane = self.lanes.pick(body)
            if lane is None:  # cheap: here, on the event loop (see lanes)
                self.lanes.inline_served += 1
                return self.graphql.respond(
                    body,
                    headers.get("authorization"),
                    gone,
                    base_url_of(scope, headers),
                )
            return await asyncio.get_running_loop().run_in_executor(
                lane,
                self.lanes.counted(lane, self.graphql.respond),
                body,
                headers.get("authorization"),
                gone,
                base_url_of(scope, headers),
            )
        finally:
            watcher.cancel()
