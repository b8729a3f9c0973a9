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

import email.utils
import functools
import logging
import math
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import pydantic
import runs_gql
from runs_gql.base_model import UNSET

from .._exceptions import (
    ConnectionError,
    RateLimitError,
    RequestInfo,
    RunsClientError,
    ServerError,
    TimeoutError,
)
from .byte_budget import ByteBudget, Reservation
from .constants import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    INITIAL_BACKOFF,
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
    RETRYABLE_STATUS_CODES,
)
from .deadline import attempt_deadline
from .optional_fields import DROPPED_KEY, OptionalFields, fill_dropped, send_dropping
from .responses import (
    graphql_error,
    message_of,
    parse_body,
    raise_for_graphql_errors,
    status_error,
    try_parse_body,
)

__all__ = ["RetryingClient", "parse_retry_after"]

logger = logging.getLogger("runs_client")

# Where execute() leaves the parsed body for get_data(), so it is parsed once.
_BODY_KEY = "runs_client.body"
_REQUEST_KEY = "runs_client.request"
# Set on a response whose body the caller's ``decode`` read (see execute).
DECODED_KEY = "runs_client.decoded"

# Bodies are parsed with orjson, falling back to the stdlib for W&B's bare
# NaN/Infinity tokens (see _json.loads).

# Dropped connections, resets and bodies cut short: worth another attempt.
_RETRYABLE_TRANSPORT_ERRORS = (
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
    httpx.DecodingError,
)


def parse_retry_after(
    value: str | None, *, now: datetime | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "inf", "nan", "1e999" are no number of seconds: ignore them.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


class _Retry(Exception):
    """One failed attempt that may be retried; becomes ``error`` when exhausted."""

    def __init__(self, error: RunsClientError, retry_after: float | None = None):
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after

    @property
    def reason(self) -> str:
        """What went wrong this attempt, for the log: no 'after N attempts'."""
        cause = self.__cause__
        if cause is not None:
            return f"{type(cause).__name__}: {cause}"
        return f"HTTP {self.error.status_code} ({type(self.error).__name__})"


class RetryingClient(runs_gql.Client):
    """``runs_gql.Client`` with retries, backoff and ``runs_client`` errors.

    Retries HTTP 408, 429 and 5xx, connection errors, timeouts and bodies that
    are not valid JSON, with full-jitter exponential backoff that honours
    ``Retry-After`` up to ``MAX_RETRY_AFTER`` seconds. Never retries 400, 401,
    403, 404, 409 or 422. ``sleep``, ``jitter`` and ``clock`` are injectable
    for tests.

    Each attempt has an overall ``deadline`` in seconds (None: none), beside
    the httpx timeouts that bound each wait, and its answer may hold at most
    ``max_response_bytes`` once decompressed; so may all the answers the
    client reads at once, together (``in_flight_bytes``).
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
        self.max_retries = max_retries
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        # One budget for every answer in flight: the cap holds for the whole
        # client, not per response (threads of histories() share it).
        self.in_flight_bytes = ByteBudget(max_response_bytes)
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        # Optional Run fields this server lacks, learned from its answers.
        self.optional_fields = OptionalFields()

    def __repr__(self) -> str:
        return f"RetryingClient(url={self.url!r}, max_retries={self.max_retries})"

    def execute(
        self,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
        *,
        decode: Callable[[bytes], dict[str, Any] | None] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send the operation, retrying transient failures; raise on the rest.

        The returned response is a 2xx whose body is a GraphQL result without
        ``errors``; ``get_data`` reads its already-parsed body. ``decode``: a
        faster parser of a successful body for this operation, which gives
        None for a body it does not fit (then the usual parser reads it, and
        the response's extensions lack ``DECODED_KEY``).
        """
        given = {k: v for k, v in (variables or {}).items() if v is not UNSET}
        info = RequestInfo("POST", self.url, operation_name or None, given)
        if self.http_client.is_closed:
            raise RunsClientError(
                f"{info} cannot be sent: its Api was closed. Make requests "
                "before close(), or inside `with Api() as api:`; a new Api "
                "opens new connections.",
                request=info,
            )
        return send_dropping(
            self.optional_fields,
            info,
            query,
            given,
            lambda sent, sent_vars: self._retrying(
                info, sent, operation_name, sent_vars, kwargs, decode
            ),
        )

    def _retrying(
        self,
        info: RequestInfo,
        query: str,
        operation_name: str | None,
        given: dict[str, Any],
        kwargs: dict[str, Any],
        decode: Callable[[bytes], dict[str, Any] | None] | None,
    ) -> httpx.Response:
        attempt = 0
        while True:
            try:
                held = Reservation(self.in_flight_bytes)
                try:
                    return self._attempt(
                        info, query, operation_name, given, kwargs, decode, held
                    )
                finally:
                    # The answer is read and parsed: its bytes are the caller's.
                    held.release()
            except _Retry as retry:
                if attempt >= self.max_retries:
                    raise retry.error from retry.__cause__
                delay = self._delay(attempt, retry.retry_after)
                attempt += 1
                logger.debug(
                    "%s: %s; retry %d/%d in %.2fs",
                    info,
                    retry.reason,
                    attempt,
                    self.max_retries,
                    delay,
                )
                self._sleep(delay)

    def get_data(self, response: httpx.Response) -> dict[str, Any]:
        """The ``data`` object of a response returned by ``execute``."""
        info = response.extensions.get(_REQUEST_KEY) or RequestInfo(
            response.request.method, str(response.request.url)
        )
        if _BODY_KEY in response.extensions:
            body = response.extensions[_BODY_KEY]
        else:
            body = parse_body(response, info)
        raise_for_graphql_errors(body, info, response.status_code)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ServerError(
                f"The server answered {info} without data or errors.",
                request=info,
                status_code=response.status_code,
            )
        fill_dropped(data, response.extensions.get(DROPPED_KEY))
        return data

    def _attempt(
        self,
        info: RequestInfo,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any],
        kwargs: dict[str, Any],
        decode: Callable[[bytes], dict[str, Any] | None] | None = None,
        held: Reservation | None = None,
    ) -> httpx.Response:
        try:
            response = self._send(info, query, operation_name, variables, kwargs, held)
        except _Retry:
            raise
        except httpx.TimeoutException as exc:
            raise _Retry(
                TimeoutError(
                    f"{info} timed out ({type(exc).__name__}) after "
                    f"{self.max_retries + 1} attempt(s). Raise `timeout` on Api "
                    "(or WANDB_HTTP_TIMEOUT), or ask for less per request "
                    "(a smaller per_page or samples).",
                    request=info,
                )
            ) from exc
        except httpx.ConnectError as exc:
            raise _Retry(
                ConnectionError(
                    f"{info}: no server answered ({type(exc).__name__}: {exc}) "
                    f"after {self.max_retries + 1} attempt(s). Check the base URL "
                    "(host and port) and that the server is running and reachable.",
                    request=info,
                )
            ) from exc
        except _RETRYABLE_TRANSPORT_ERRORS as exc:
            raise _Retry(
                ServerError(
                    f"{info} failed: {type(exc).__name__}: {exc} (after "
                    f"{self.max_retries + 1} attempt(s)). Check the base URL "
                    "and that the server is reachable.",
                    request=info,
                )
            ) from exc
        except httpx.HTTPError as exc:
            raise RunsClientError(
                f"{info} could not be sent: {type(exc).__name__}: {exc}",
                request=info,
            ) from exc

        status = response.status_code
        if status in RETRYABLE_STATUS_CODES:
            raise _Retry(*self._exhausted_error(response, info))
        if decode is not None and response.is_success:
            decoded = decode(response.content)
            if decoded is not None:
                response.extensions[_BODY_KEY] = decoded
                response.extensions[_REQUEST_KEY] = info
                response.extensions[DECODED_KEY] = True
                return response
        try:
            body = parse_body(response, info)
        except ServerError as exc:
            if response.is_success:
                raise _Retry(exc) from exc.__cause__
            body = None
        if not response.is_success:
            raise status_error(response, info, body)
        assert body is not None
        raise_for_graphql_errors(body, info, status)
        response.extensions[_BODY_KEY] = body
        response.extensions[_REQUEST_KEY] = info
        return response

    def _exhausted_error(
        self, response: httpx.Response, info: RequestInfo
    ) -> tuple[RunsClientError, float | None]:
        """The error to raise if this retryable status is the last answer."""
        status = response.status_code
        body = try_parse_body(response)
        server_message = message_of(response, body)
        detail = f": {server_message}" if server_message else ""
        tries = f"after {self.max_retries + 1} attempt(s)"
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        error: RunsClientError
        if status == 429:
            hint = f" (server asked to wait {retry_after:g}s)" if retry_after else ""
            error = RateLimitError(
                f"{info} was rate limited (HTTP 429) {tries}{hint}{detail}. "
                "Make fewer requests in parallel, or raise max_retries.",
                retry_after=retry_after,
                request=info,
                server_message=server_message,
            )
        elif status == 408:
            error = TimeoutError(
                f"{info}: the server timed out (HTTP 408) {tries}{detail}.",
                request=info,
                status_code=status,
                server_message=server_message,
            )
        elif body is not None and body.get("errors"):
            # Still an outage (a ServerError) that also carries the errors.
            error = graphql_error(body["errors"], info, status, tries)
        else:
            error = ServerError(
                f"{info} failed with HTTP {status} {tries}{detail}.",
                request=info,
                status_code=status,
                server_message=server_message,
            )
        return error, retry_after

    def _send(
        self,
        info: RequestInfo,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any],
        kwargs: dict[str, Any],
        held: Reservation | None = None,
    ) -> httpx.Response:
        """POST the operation; read the answer within the deadline and the
        size cap, decompressed, into a response whose body is in memory."""
        payload: dict[str, Any] = {"query": query, "variables": variables}
        if operation_name:
            payload["operationName"] = operation_name
        started = self._clock()
        request = self.http_client.build_request(
            "POST", self.url, json=payload, headers=self.headers or None, **kwargs
        )
        with attempt_deadline(self.deadline):
            try:
                return self._read(info, request, started, held)
            except httpx.TimeoutException:
                self._check_deadline(info, started)  # the deadline's own message
                raise

    def _read(
        self,
        info: RequestInfo,
        request: httpx.Request,
        started: float,
        held: Reservation | None,
    ) -> httpx.Response:
        streamed = self.http_client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in streamed.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise ServerError(
                        f"{info}: the server's answer is larger than "
                        f"{self.max_response_bytes:,} bytes decompressed; refused. "
                        "Ask for less per request (a smaller per_page or "
                        "samples), or raise Api(max_response_bytes=...).",
                        request=info,
                        status_code=streamed.status_code,
                    )
                if held is not None and not held.take(len(chunk)):
                    raise ServerError(
                        f"{info}: the answers this client is reading at once are "
                        f"larger than {self.in_flight_bytes.limit:,} bytes "
                        "decompressed together; refused. Make fewer requests in "
                        "parallel or ask for less per request, or raise "
                        "Api(max_response_bytes=...).",
                        request=info,
                        status_code=streamed.status_code,
                    )
                chunks.append(chunk)
                self._check_deadline(info, started)
        finally:
            streamed.close()
        self._check_deadline(info, started)
        # Decompressed already: the copy must not claim an encoding.
        headers = [
            (k, v)
            for k, v in streamed.headers.raw
            if k.lower() not in (b"content-encoding", b"content-length")
        ]
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=b"".join(chunks),
            request=request,
            extensions={"http_version": streamed.extensions.get("http_version")},
        )

    def _check_deadline(self, info: RequestInfo, started: float) -> None:
        if self.deadline is None:
            return
        elapsed = self._clock() - started
        if elapsed > self.deadline:
            raise _Retry(
                TimeoutError(
                    f"{info} ran past its {self.deadline:g}s deadline (the server "
                    f"was still sending after {elapsed:.1f}s) after "
                    f"{self.max_retries + 1} attempt(s). Raise `deadline` (or "
                    "`timeout`) on Api, or ask for less per request.",
                    request=info,
                )
            )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        # The exponent is bounded so that 2.0**attempt cannot overflow a float
        # (max_retries is unbounded); past 64 doublings the cap applies anyway.
        return self._jitter() * min(
            MAX_BACKOFF, INITIAL_BACKOFF * 2.0 ** min(attempt, 64)
        )


def _schema_checked(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a generated operation so that a body not matching the schema raises
    ServerError, not a pydantic traceback from deep inside the generated model."""

    @functools.wraps(method)
    def call(self: RetryingClient, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except pydantic.ValidationError as exc:
            problems = exc.errors()
            where, what = "the top", "invalid"
            if problems:
                where = ".".join(str(part) for part in problems[0]["loc"]) or where
                what = problems[0]["msg"]
            raise ServerError(
                f"POST {self.url} ({name}): the server's answer does not match the "
                f"W&B schema ({len(problems)} problem(s), first at {where}: {what})."
                " Check that base_url points at a W&B server of a supported version."
            ) from None

    return call


# Every operation method the generated client defines, wrapped once, here.
for _name, _method in list(vars(runs_gql.Client).items()):
    if callable(_method) and not _name.startswith("_"):
        setattr(RetryingClient, _name, _schema_checked(_name, _method))
