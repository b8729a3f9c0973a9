"""A deadline over a whole request attempt, response headers included.

httpx's timeouts bound each wait on the socket, so a server that drips its
answer (headers or body) a byte a second never trips a 3 s read timeout.
``RetryingClient`` checks its deadline between body chunks, but waiting for
the response head happens inside httpcore. So every read and write on the
sockets of the ``httpx.Client`` that ``Api`` owns goes through
``DeadlineStream``, which cuts each wait to the time left before the current
attempt's deadline (a context variable the attempt sets): past it, the read
raises httpcore's ``ReadTimeout``, which httpx maps to ``httpx.ReadTimeout``.

httpx has no public hook for a network backend; ``install`` sets it on the
connection pools of a client we built ourselves, and says whether it could
(a test fails if a new httpx moves them).
"""

from __future__ import annotations

import contextvars
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

__all__ = ["DeadlineBackend", "DeadlineStream", "attempt_deadline", "install"]

# The monotonic time by which the current attempt must be done (None: none).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "runs_client_attempt_deadline", default=None
)


@contextmanager
def attempt_deadline(seconds: float | None) -> Iterator[None]:
    """Within this block, socket waits end ``seconds`` from now at the latest."""
    token = _DEADLINE.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


_TIMEOUTS: dict[str, type[httpcore.TimeoutException]] = {
    "read": httpcore.ReadTimeout,
    "write": httpcore.WriteTimeout,
    "connect": httpcore.ConnectTimeout,
}


def _clamped(timeout: float | None, what: str) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise _TIMEOUTS[what](f"the attempt's deadline passed while waiting to {what}")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every wait ends by the attempt's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamped(timeout, "read"))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamped(timeout, "write"))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamped(timeout, "read")
        )
        return DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """Opens ``DeadlineStream``s over another backend's streams."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _clamped(timeout, "connect"), local_address, socket_options
        )
        return DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _clamped(timeout, "connect"), socket_options
        )
        return DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: httpx.Client) -> bool:
    """Route every connection pool of ``client`` (its transport and the proxy
    mounts) through ``DeadlineBackend``; False if some pool had no backend to
    wrap."""
    transports = [getattr(client, "_transport", None)]
    transports.extend(getattr(client, "_mounts", {}).values())
    done = True
    for transport in transports:
        if transport is None:  # a mount that bypasses proxies
            continue
        pool = getattr(transport, "_pool", None)
        inner = getattr(pool, "_network_backend", None)
        if not isinstance(inner, httpcore.NetworkBackend):
            done = False
            continue
        if not isinstance(inner, DeadlineBackend):
            pool._network_backend = DeadlineBackend(inner)  # type: ignore[union-attr]
    return done
