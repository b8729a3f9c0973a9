"""The retrying generated async client that ``AsyncApi`` holds.

``AsyncRetryingClient`` is ``runs_gql.async_client.AsyncClient`` with
``execute`` retried as ``RetryingClient``'s is: both loops ask one
``AttemptPolicy`` what an answer means, whether to retry and how long to
wait; this one awaits where the other blocks. Cancelling a call (a task
cancelled, ``asyncio.timeout``) closes its response, so the connection goes
back to the pool, and the client stays usable.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pydantic
from runs_gql.async_client import AsyncClient
from runs_gql.base_client import BaseClient

from .._exceptions import RequestInfo
from .attempts import (
    AttemptPolicy,
    BodyReader,
    Decoder,
    PolicyMixin,
    Retry,
    schema_mismatch,
)
from .byte_budget import Reservation
from .constants import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
)
from .optional_fields import asend_dropping

__all__ = ["AsyncRetryingClient"]

T = TypeVar("T")


class AsyncRetryingClient(PolicyMixin, AsyncClient):
    """``runs_gql``'s async client with retries, backoff and ``runs_client``
    errors; same settings and behaviour as ``RetryingClient``."""

    def __init__(
        self,
        url: str,
        http_client: httpx.AsyncClient,
        headers: dict[str, str] | None = None,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        deadline: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        max_in_flight: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        super().__init__(url, http_client, headers)
        # Attempts in flight at once: no more than the pool's connections, so
        # callers wait here (cheaply) rather than in httpcore's pool.
        self._slots = asyncio.Semaphore(max_in_flight)
        self.policy = AttemptPolicy(
            url, max_retries, deadline, max_response_bytes, jitter, clock
        )
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"AsyncRetryingClient(url={self.url!r}, max_retries={self.max_retries})"

    async def execute(
        self,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
        *,
        decode: Decoder | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """As ``RetryingClient.execute``, awaited."""
        info, given = self.policy.request_info(operation_name, variables)
        if self.http_client.is_closed:
            raise self.policy.closed_error(info)
        return await asend_dropping(
            self.policy.optional_fields,
            info,
            query,
            given,
            lambda sent, sent_vars: self._retrying(
                info,
                BaseClient.payload(sent, operation_name, sent_vars),
                kwargs,
                decode,
            ),
        )

    async def _retrying(
        self,
        info: RequestInfo,
        payload: dict[str, Any],
        kwargs: dict[str, Any],
        decode: Decoder | None,
    ) -> httpx.Response:
        attempt = 0
        while True:
            held = self.policy.reservation()
            try:
                try:
                    async with self._slots:
                        response = await self._send(info, payload, kwargs, held)
                except httpx.HTTPError as exc:
                    raise self.policy.transport_failure(exc, info) from exc
                return self.policy.accept(response, info, decode)
            except Retry as retry:
                delay = self.policy.after_failure(retry, attempt, info)
                attempt += 1
                await self._sleep(delay)
            finally:
                held.release()

    async def _send(
        self,
        info: RequestInfo,
        payload: dict[str, Any],
        kwargs: dict[str, Any],
        held: Reservation,
    ) -> httpx.Response:
        """POST the operation; read the answer within the deadline and the
        size cap. The deadline is an asyncio timeout over the whole
        attempt, so it covers the wait for the response head too."""
        started = self.policy.clock()
        reader = self.policy.reader(info, started, held)
        request = self.http_client.build_request(
            "POST", self.url, json=payload, headers=self.headers or None, **kwargs
        )
        deadline = self.deadline
        try:
            return await _within(self._read(reader, request), deadline)
        except asyncio.TimeoutError:
            # Only our own timeout ends here: a caller's asyncio.timeout
            # raises at its own block, as a cancellation passes through ours.
            assert deadline is not None
            raise reader.overdue(deadline, self.policy.clock() - started) from None

    async def _read(self, reader: BodyReader, request: httpx.Request) -> httpx.Response:
        streamed = await self.http_client.send(request, stream=True)
        try:
            async for chunk in streamed.aiter_bytes():
                reader.add(chunk, streamed.status_code)
        finally:
            # Also on cancellation: the connection is released, not leaked.
            await streamed.aclose()
        return reader.response(streamed, request)


async def _within(work: Awaitable[T], seconds: float | None) -> T:
    """``work``, cancelled after ``seconds``: ``asyncio.timeout`` where there
    is one (3.11+, no extra task per attempt), else ``asyncio.wait_for``."""
    if seconds is None:
        return await work
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await work
    return await asyncio.wait_for(work, seconds)


def _schema_checked(
    name: str, method: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(self: AsyncRetryingClient, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except pydantic.ValidationError as exc:
            raise schema_mismatch(self.url, name, exc) from None

    return call


# Every operation method the generated client defines, wrapped once, here.
for _name, _method in list(vars(AsyncClient).items()):
    if callable(_method) and not _name.startswith("_"):
        setattr(AsyncRetryingClient, _name, _schema_checked(_name, _method))
