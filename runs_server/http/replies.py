"""What the app answers: a ``Reply``, JSON error bodies, and when to gzip."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

logger = logging.getLogger("runs_server")

GZIP_MIN_BYTES = 1024
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass
class FileBody:
    """``length`` bytes of an open file from ``start``, sent in chunks."""

    file: BinaryIO  # closed by whoever sends the reply
    start: int
    length: int


@dataclass
class Reply:
    status: int
    body: bytes | memoryview  # a memoryview: a buffer sent as it is (Arrow pages)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    # Set for HEAD and file replies: the length of the body (for HEAD, the
    # length it would have; the body itself is empty).
    content_length: int | None = None
    # Streamed from disk instead of ``body`` (history exports).
    file: FileBody | None = None


def error_reply(status: int, message: str, *extra: tuple[bytes, bytes]) -> Reply:
    body = orjson.dumps({"errors": [{"message": message}]})
    return Reply(status, body, [(b"content-type", b"application/json"), *extra])


def graphql_reply(result: dict[str, Any]) -> Reply:
    try:
        body = orjson.dumps(result)
    except TypeError as exc:  # a resolver bug, not the caller's fault
        logger.exception("cannot serialise a response")
        body = orjson.dumps({"errors": [{"message": f"internal error: {exc}"}]})
    return Reply(200, body, [(b"content-type", b"application/json")])


def accepts_gzip(header: str) -> bool:
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


def compresses(mode: str, client: Any, size: int, accept_encoding: str) -> bool:
    """Whether to gzip a reply: accepted, over GZIP_MIN_BYTES, and paying.

    On loopback the bytes cost almost nothing to move and gzip adds 35-55 %
    to a history page's server time, so ``auto`` sends them as they are;
    beyond loopback (a real network) it compresses.
    """
    if mode == "never" or size < GZIP_MIN_BYTES or not accepts_gzip(accept_encoding):
        return False
    if mode == "always":
        return True
    host = client[0] if isinstance(client, (list, tuple)) and client else None
    return not (isinstance(host, str) and host in LOOPBACK_HOSTS)
