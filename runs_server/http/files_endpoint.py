"""The SDK's non-GraphQL writes: ``POST /files/{entity}/{project}/{run}/file_stream``
and the signed run-file links (``PUT`` an upload, ``GET`` a download).

Bodies are admitted within the server's budget of bodies held at once (see
``http.admission``), read whole within their own caps, then handled on the
app's heavy worker lane like GraphQL requests; every refusal is a JSON error
saying why.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, unquote

import orjson

from runs_server.http.admission import BodyAdmission, NoRoom
from runs_server.http.asgi import Receive, Scope, read_body
from runs_server.http.auth import AuthError, authenticate
from runs_server.http.config import ServerConfig
from runs_server.http.guards import json_content_type
from runs_server.http.replies import Reply, error_reply
from runs_server.store import Store, StoreError, StoreWriteError
from runs_server.writes import WriteError, buckets, file_stream, links
from runs_server.writes.limits import MAX_STREAM_BODY_BYTES, MAX_UPLOAD_BYTES
from runs_server.writes.names import checked_name

FILE_STREAM_PREFIX = "/files/"
LINK_PATH_PREFIX = links.LINK_PATH_PREFIX


def file_stream_path(scope: Scope) -> tuple[str, str, str] | None:
    """(entity, project, run) of a ``/files/E/P/R/file_stream`` path, else None.

    Split on the raw path, so a name holding an encoded '/' is one segment
    (and then refused by name checks) rather than a different route."""
    raw = scope.get("raw_path") or scope["path"].encode()
    parts = raw.decode("latin-1").split("?")[0].split("/")
    if len(parts) != 6 or parts[1] != "files" or parts[5] != "file_stream":
        return None
    entity, project, run = (unquote(p) for p in parts[2:5])
    return entity, project, run


def _gunzip(body: bytes, limit: int) -> bytes | None:
    """``body`` decompressed, or None past ``limit`` bytes (a bounded read)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(body, limit + 1)
    return None if len(out) > limit or inflater.unconsumed_tail else out


class FilesEndpoint:
    """file_stream posts and run-file links, on ``executor``'s threads."""

    def __init__(
        self,
        store: Store,
        config: ServerConfig,
        executor: ThreadPoolExecutor,
        bodies: BodyAdmission,
    ) -> None:
        self.store = store
        self.config = config
        self._executor = executor
        self._bodies = bodies

    async def handle(
        self, scope: Scope, receive: Receive, headers: dict[str, str]
    ) -> Reply | None:
        """The reply to a request for one of these paths; None: not ours."""
        path, method = scope["path"], scope["method"]
        stream = file_stream_path(scope)
        if stream is not None:
            if method != "POST":
                return error_reply(
                    405, "file_stream takes POST requests", (b"allow", b"POST")
                )
            if not json_content_type(headers.get("content-type")):
                return error_reply(415, "send file_stream posts as application/json")

            async def take(body: bytes) -> Reply:
                if headers.get("content-encoding", "").lower() == "gzip":
                    try:
                        inflated = _gunzip(body, MAX_STREAM_BODY_BYTES)
                    except zlib.error:
                        return error_reply(400, "the body is not valid gzip")
                    if inflated is None:
                        return error_reply(
                            413, f"request body over {MAX_STREAM_BODY_BYTES:,} bytes"
                        )
                    body = inflated
                return await self._run(
                    self._stream, stream, body, headers.get("authorization")
                )

            return await self._with_body(receive, headers, MAX_STREAM_BODY_BYTES, take)
        if not path.startswith(LINK_PATH_PREFIX):
            return None
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if method == "PUT":

            async def upload(body: bytes) -> Reply:
                return await self._run(self._upload, path, query, body)

            return await self._with_body(receive, headers, MAX_UPLOAD_BYTES, upload)
        if method in ("GET", "HEAD"):
            return await self._run(self._download, path, query, method)
        return error_reply(
            405, "run file links take PUT, GET or HEAD", (b"allow", b"PUT, GET, HEAD")
        )

    async def _with_body(
        self,
        receive: Receive,
        headers: dict[str, str],
        limit: int,
        then: Callable[[bytes], Awaitable[Reply]],
    ) -> Reply:
        """``then(body)``, the body admitted within the server's budget of
        bodies held at once (held until ``then`` is done) and read whole."""
        declared = limit
        content_length = headers.get("content-length")
        if content_length is not None:
            text = content_length.strip()
            if not text.isdigit() or int(text) > limit:
                return error_reply(413, f"request body over {limit:,} bytes")
            declared = int(text)
        try:
            async with self._bodies.admitted(declared, self.config.body_timeout_s):
                try:
                    body = await asyncio.wait_for(
                        read_body(receive, limit), self.config.body_timeout_s
                    )
                except asyncio.TimeoutError:
                    return error_reply(
                        408,
                        f"the request body did not arrive within "
                        f"{self.config.body_timeout_s:g} s; send it whole",
                    )
                if body is None:
                    return error_reply(413, f"request body over {limit:,} bytes")
                return await then(body)
        except NoRoom:
            return error_reply(
                503,
                "the server is reading too many request bodies at once; retry",
                (b"retry-after", b"1"),
            )

    async def _run(self, handler: object, *args: object) -> Reply:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._guarded, handler, args)

    @staticmethod
    def _guarded(handler: object, args: tuple[object, ...]) -> Reply:
        try:
            return handler(*args)  # type: ignore[operator,no-any-return]
        except WriteError as exc:
            return error_reply(exc.status, str(exc))
        except StoreWriteError as exc:  # nothing was kept: the SDK retries
            return error_reply(503, str(exc), (b"retry-after", b"5"))

    def _stream(
        self, names: tuple[str, str, str], body: bytes, authorization: str | None
    ) -> Reply:
        entity, project, run_name = names
        checked_name(entity, "entity")
        checked_name(project, "project")
        checked_name(run_name, "run id")
        try:
            user = authenticate(
                self.store, authorization, require_auth=self.config.require_auth
            )
        except AuthError as exc:
            return error_reply(
                401, str(exc), (b"www-authenticate", b'Basic realm="runs_server"')
            )
        post = file_stream.parse_post(body)
        run = buckets.find_run(self.store, user, entity, project, run_name)
        reply = file_stream.apply_post(self.store, run, post)
        return Reply(200, orjson.dumps(reply), [(b"content-type", b"application/json")])

    def _upload(self, path: str, query: dict[str, str], body: bytes) -> Reply:
        link = links.resolve(self.store, path, query)
        if link.operation != "put":
            raise WriteError(403, "this link is for reading; PUT to the uploadUrl")
        try:
            self.store.files.put(link.run_id, link.name, body)
        except StoreError:
            raise WriteError(404, "the run of this link was deleted") from None
        return Reply(200, b"", [])

    def _download(self, path: str, query: dict[str, str], method: str) -> Reply:
        link = links.resolve(self.store, path, query)
        content = self.store.files.content(link.run_id, link.name)
        if content is None:
            raise WriteError(
                404, f"file {link.name!r} was not uploaded (or was deleted)"
            )
        headers = [(b"content-type", b"application/octet-stream")]
        if method == "HEAD":
            return Reply(200, b"", headers, content_length=len(content))
        return Reply(200, content, headers)
