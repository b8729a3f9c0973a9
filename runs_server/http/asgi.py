"""ASGI plumbing: the message types, reading a bounded body, noticing a
client that hung up, and the base URL a request reached us by."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from runs_server.graphql.limits import MAX_BODY_BYTES
from runs_server.http.replies import FileBody

# A file reply is read and sent this much at a time: its memory, whatever the
# file's size (uvicorn waits for the socket to drain between chunks).
FILE_CHUNK_BYTES = 256 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def read_body(receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The whole body, or None once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def watch_disconnect(receive: Receive, gone: threading.Event) -> None:
    """Set ``gone`` when the client hangs up before its answer is sent."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


def base_url_of(scope: Scope, headers: dict[str, str]) -> str:
    """The server as this request reached it, for links in responses."""
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


async def send_file(send: Send, body: FileBody) -> None:
    """Send ``body``'s bytes chunk by chunk, then close its file."""
    try:
        await asyncio.to_thread(body.file.seek, body.start)
        left = body.length
        while left > 0:
            chunk = await asyncio.to_thread(body.file.read, min(FILE_CHUNK_BYTES, left))
            if not chunk:  # the file shrank: end short, the client sees it
                break
            left -= len(chunk)
            await send(
                {"type": "http.response.body", "body": chunk, "more_body": left > 0}
            )
    finally:
        body.file.close()
