"""The retrying generated client that ``Api`` holds.

``RetryingClient`` is ``runs_gql.Client`` with ``execute`` made safe to call
against a real, flaky, rate-limited server: every operation we send is a
read-only query or a write that is safe to repeat (an upsert sets the values
given, by storage id or run id; a stop sent twice is one stop; a delete sent
again after a lost reply finds no run and says so), so retrying is safe.
Failures leave here as ``runs_client`` errors, never as httpx or
generated-client exceptions.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
import pydantic
import runs_gql

from .._exceptions import RequestInfo
from .attempts import (
    AttemptPolicy,
    BodyReader,
    Decoder,
    PolicyMixin,
    Retry,
    parse_retry_after,
    schema_mismatch,
)
from .byte_budget import Reservation
from .constants import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES
from .deadline import attempt_deadline
from .optional_fields import send_dropping

__all__ = ["RetryingClient", "parse_retry_after"]


class RetryingClient(PolicyMixin, runs_gql.Client):
    """``runs_gql.Client`` with retries, backoff and ``runs_client`` errors.

    What is retried and how long to wait is ``AttemptPolicy``'s (shared with
    ``AsyncRetryingClient``); this class only sends and sleeps. ``sleep``,
    ``jitter`` and ``clock`` are injectable for tests.

    Each attempt has an overall ``deadline`` in seconds (None: none), beside
    the httpx timeouts that bound each wait, and its answer may hold at most
    ``max_response_bytes`` once decompressed.
    """

    def __init__(
        self,
        url: str,
        http_client: httpx.Client,
        headers: dict[str, str] | None = None,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        deadline: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(url, http_client, headers)
        self.policy = AttemptPolicy(
            url, max_retries, deadline, max_response_bytes, jitter, clock
        )
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"RetryingClient(url={self.url!r}, max_retries={self.max_retries})"

    def execute(
        self,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
        *,
        decode: Decoder | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send the operation, retrying transient failures; raise on the rest.

        The returned response is a 2xx whose body is a GraphQL result without
        ``errors``; ``get_data`` reads its already-parsed body. ``decode``: a
        faster parser of a successful body for this operation, which gives
        None for a body it does not fit (then the usual parser reads it, and
        the response's extensions lack ``DECODED_KEY``).
        """
        info, given = self.policy.request_info(operation_name, variables)
        if self.http_client.is_closed:
            raise self.policy.closed_error(info)
        # Optional fields this server lacks are left out and the operation
        # sent again (transport/optional_fields.py; get_data fills them in).
        return send_dropping(
            self.policy.optional_fields,
            info,
            query,
            given,
            lambda sent, sent_vars: self._retrying(
                info, self.payload(sent, operation_name, sent_vars), kwargs, decode
            ),
        )

    def _retrying(
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
                    response = self._send(info, payload, kwargs, held)
                except httpx.HTTPError as exc:
                    raise self.policy.transport_failure(exc, info) from exc
                return self.policy.accept(response, info, decode)
            except Retry as retry:
                delay = self.policy.after_failure(retry, attempt, info)
                attempt += 1
                self._sleep(delay)
            finally:
                held.release()

    def _send(
        self,
        info: RequestInfo,
        payload: dict[str, Any],
        kwargs: dict[str, Any],
        held: Reservation,
    ) -> httpx.Response:
        """POST the operation; read the answer within the deadline and the
        size cap, decompressed, into a response whose body is in memory.

        The deadline also bounds the wait for the response head: Api's
        client reads its sockets through ``deadline.DeadlineBackend``."""
        reader = self.policy.reader(info, self.policy.clock(), held)
        request = self.http_client.build_request(
            "POST", self.url, json=payload, headers=self.headers or None, **kwargs
        )
        with attempt_deadline(self.deadline):
            try:
                return self._read(reader, request)
            except httpx.TimeoutException:
                reader.check_deadline()  # the deadline's own message
                raise

    def _read(self, reader: BodyReader, request: httpx.Request) -> httpx.Response:
        streamed = self.http_client.send(request, stream=True)
        try:
            for chunk in streamed.iter_bytes():
                reader.add(chunk, streamed.status_code)
        finally:
            streamed.close()
        return reader.response(streamed, request)


def _schema_checked(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a generated operation so that a body not matching the schema raises
    ServerError, not a pydantic traceback from deep inside the generated model."""

    @functools.wraps(method)
    def call(self: RetryingClient, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except pydantic.ValidationError as exc:
            raise schema_mismatch(self.url, name, exc) from None

    return call


# Every operation method the generated client defines, wrapped once, here.
for _name, _method in list(vars(runs_gql.Client).items()):
    if callable(_method) and not _name.startswith("_"):
        setattr(RetryingClient, _name, _schema_checked(_name, _method))
