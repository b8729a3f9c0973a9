"""The retry policy without I/O: what an attempt's outcome means, whether to
try again, and how long to wait first.

``RetryingClient`` and ``AsyncRetryingClient`` both run their loop over one
``AttemptPolicy``: they send and sleep (blocking or awaiting), and ask it
everything else, so the two clients cannot drift apart in what they retry,
how long they back off, or which error the caller sees.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
import pydantic
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
from .optional_fields import DROPPED_KEY, OptionalFields, fill_dropped
from .pooled import pooled_join
from .responses import (
    graphql_error,
    message_of,
    parse_body,
    raise_for_graphql_errors,
    status_error,
    try_parse_body,
)

__all__ = [
    "BODY_KEY",
    "DECODED_KEY",
    "REQUEST_KEY",
    "AttemptPolicy",
    "BodyReader",
    "Decoder",
    "PolicyMixin",
    "Retry",
    "parse_retry_after",
    "schema_mismatch",
]

logger = logging.getLogger("runs_client")

# Where an attempt leaves the parsed body for get_data(), so it is parsed once.
BODY_KEY = "runs_client.body"
REQUEST_KEY = "runs_client.request"
# Set on a response whose body the caller's ``decode`` read (see execute).
DECODED_KEY = "runs_client.decoded"
# A large Arrow body, joined into pooled memory (``pooled.pooled_join``)
# instead of ``content``: what ``decode`` reads.
BUFFER_KEY = "runs_client.buffer"

# A faster parser of a successful body for one operation; None: not its shape.
# It reads bytes, or the pyarrow buffer of a large Arrow body (BUFFER_KEY).
Decoder = Callable[[Any], "dict[str, Any] | None"]

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


class Retry(Exception):
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


@dataclass
class AttemptPolicy:
    """Retries, backoff, the deadline and the size cap of one client.

    Retries HTTP 408, 429 and 5xx, connection errors, timeouts and bodies that
    are not valid JSON, with full-jitter exponential backoff that honours
    ``Retry-After`` up to ``MAX_RETRY_AFTER`` seconds. Never retries 400, 401,
    403, 404, 409 or 422.
    """

    url: str
    max_retries: int = DEFAULT_MAX_RETRIES
    deadline: float | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    jitter: Callable[[], float] = field(default=random.random)
    clock: Callable[[], float] = field(default=time.monotonic)
    # One budget for every answer in flight: the cap holds for the whole
    # client, not per response (histories()' threads or tasks share it).
    in_flight_bytes: ByteBudget = field(init=False)
    # Optional Run fields this server lacks, learned from its answers (the
    # clients leave them out and send again; get_data shows them as null).
    optional_fields: OptionalFields = field(init=False)

    def __post_init__(self) -> None:
        self.in_flight_bytes = ByteBudget(self.max_response_bytes)
        self.optional_fields = OptionalFields()

    @property
    def tries(self) -> str:
        return f"after {self.max_retries + 1} attempt(s)"

    # -- before sending ----------------------------------------------------

    def request_info(
        self, operation_name: str | None, variables: dict[str, Any] | None
    ) -> tuple[RequestInfo, dict[str, Any]]:
        """What the errors will name, and the variables actually sent."""
        given = {k: v for k, v in (variables or {}).items() if v is not UNSET}
        return RequestInfo("POST", self.url, operation_name or None, given), given

    @staticmethod
    def closed_error(info: RequestInfo) -> RunsClientError:
        return RunsClientError(
            f"{info} cannot be sent: its Api was closed. Make requests "
            "before close(), or inside `with Api() as api:`; a new Api "
            "opens new connections.",
            request=info,
        )

    # -- after an attempt --------------------------------------------------

    def transport_failure(self, exc: httpx.HTTPError, info: RequestInfo) -> Exception:
        """The exception to raise (``from exc``) for an httpx failure."""
        if isinstance(exc, httpx.TimeoutException):
            return Retry(
                TimeoutError(
                    f"{info} timed out ({type(exc).__name__}) {self.tries}. Raise "
                    "`timeout` on Api (or WANDB_HTTP_TIMEOUT), or ask for less "
                    "per request (a smaller per_page or samples).",
                    request=info,
                )
            )
        if isinstance(exc, httpx.ConnectError):
            return Retry(
                ConnectionError(
                    f"{info}: no server answered ({type(exc).__name__}: {exc}) "
                    f"{self.tries}. Check the base URL (host and port) and that "
                    "the server is running and reachable.",
                    request=info,
                )
            )
        if isinstance(exc, _RETRYABLE_TRANSPORT_ERRORS):
            return Retry(
                ServerError(
                    f"{info} failed: {type(exc).__name__}: {exc} ({self.tries}). "
                    "Check the base URL and that the server is reachable.",
                    request=info,
                )
            )
        return RunsClientError(
            f"{info} could not be sent: {type(exc).__name__}: {exc}",
            request=info,
        )

    def accept(
        self, response: httpx.Response, info: RequestInfo, decode: Decoder | None
    ) -> httpx.Response:
        """The response if it is a GraphQL result without errors; else raise
        ``Retry`` (worth another attempt) or the caller's error."""
        status = response.status_code
        if status in RETRYABLE_STATUS_CODES:
            raise Retry(*self._exhausted_error(response, info))
        if decode is not None and response.is_success:
            buffer = response.extensions.get(BUFFER_KEY)
            decoded = decode(response.content if buffer is None else buffer)
            if decoded is not None:
                response.extensions[BODY_KEY] = decoded
                response.extensions[REQUEST_KEY] = info
                response.extensions[DECODED_KEY] = True
                return response
        try:
            body = parse_body(response, info)
        except ServerError as exc:
            if response.is_success:
                raise Retry(exc) from exc.__cause__
            body = None
        if not response.is_success:
            raise status_error(response, info, body)
        assert body is not None
        raise_for_graphql_errors(body, info, status)
        response.extensions[BODY_KEY] = body
        response.extensions[REQUEST_KEY] = info
        return response

    def _exhausted_error(
        self, response: httpx.Response, info: RequestInfo
    ) -> tuple[RunsClientError, float | None]:
        """The error to raise if this retryable status is the last answer."""
        status = response.status_code
        body = try_parse_body(response)
        server_message = message_of(response, body)
        detail = f": {server_message}" if server_message else ""
        tries = self.tries
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

    def after_failure(self, retry: Retry, attempt: int, info: RequestInfo) -> float:
        """Seconds to wait before attempt ``attempt + 1``; raises the failure's
        error once the retries are used up."""
        if attempt >= self.max_retries:
            raise retry.error from retry.__cause__
        delay = self.delay(attempt, retry.retry_after)
        logger.debug(
            "%s: %s; retry %d/%d in %.2fs",
            info,
            retry.reason,
            attempt + 1,
            self.max_retries,
            delay,
        )
        return delay

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        # The exponent is bounded so that 2.0**attempt cannot overflow a float
        # (max_retries is unbounded); past 64 doublings the cap applies anyway.
        return self.jitter() * min(
            MAX_BACKOFF, INITIAL_BACKOFF * 2.0 ** min(attempt, 64)
        )

    # -- reading the answer ------------------------------------------------

    def reader(
        self, info: RequestInfo, started: float, held: Reservation | None = None
    ) -> BodyReader:
        return BodyReader(self, info, started, held)

    def reservation(self) -> Reservation:
        """An attempt's share of ``in_flight_bytes``; release it once the
        answer is read and parsed (its bytes are then the caller's)."""
        return Reservation(self.in_flight_bytes)

    def get_data(self, response: httpx.Response) -> dict[str, Any]:
        """The ``data`` object of a response an attempt accepted."""
        info = response.extensions.get(REQUEST_KEY) or RequestInfo(
            response.request.method, str(response.request.url)
        )
        if BODY_KEY in response.extensions:
            body = response.extensions[BODY_KEY]
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


class BodyReader:
    """Gathers one answer's decompressed chunks within the size cap and the
    deadline; ``response()`` is the answer with its body in memory."""

    def __init__(
        self,
        policy: AttemptPolicy,
        info: RequestInfo,
        started: float,
        held: Reservation | None = None,
    ):
        self.policy = policy
        self.info = info
        self.started = started
        self.held = held
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes, status: int) -> None:
        self.size += len(chunk)
        cap = self.policy.max_response_bytes
        if self.size > cap:
            raise ServerError(
                f"{self.info}: the server's answer is larger than {cap:,} bytes "
                "decompressed; refused. Ask for less per request (a smaller "
                "per_page or samples), or raise Api(max_response_bytes=...).",
                request=self.info,
                status_code=status,
            )
        if self.held is not None and not self.held.take(len(chunk)):
            raise ServerError(
                f"{self.info}: the answers this client is reading at once are "
                f"larger than {self.policy.in_flight_bytes.limit:,} bytes "
                "decompressed together; refused. Make fewer requests in "
                "parallel or ask for less per request, or raise "
                "Api(max_response_bytes=...).",
                request=self.info,
                status_code=status,
            )
        self.chunks.append(chunk)
        self.check_deadline()

    def check_deadline(self) -> None:
        deadline = self.policy.deadline
        if deadline is None:
            return
        elapsed = self.policy.clock() - self.started
        if elapsed > deadline:
            raise self.overdue(deadline, elapsed)

    def overdue(self, deadline: float, elapsed: float) -> Retry:
        return Retry(
            TimeoutError(
                f"{self.info} ran past its {deadline:g}s deadline (the server "
                f"was still sending after {elapsed:.1f}s) {self.policy.tries}."
                " Raise `deadline` (or `timeout`) on Api, or ask for less per "
                "request.",
                request=self.info,
            )
        )

    def response(
        self, streamed: httpx.Response, request: httpx.Request
    ) -> httpx.Response:
        self.check_deadline()
        # Decompressed already: the copy must not claim an encoding.
        headers = [
            (k, v)
            for k, v in streamed.headers.raw
            if k.lower() not in (b"content-encoding", b"content-length")
        ]
        extensions = {"http_version": streamed.extensions.get("http_version")}
        buffer = None
        if streamed.is_success:
            kind = streamed.headers.get("content-type")
            buffer = pooled_join(kind, self.chunks, self.size)
        if buffer is not None:
            extensions[BUFFER_KEY] = buffer
        content = b"" if buffer is not None else b"".join(self.chunks)
        self.chunks = []
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=content,
            request=request,
            extensions=extensions,
        )


class PolicyMixin:
    """The settings both retrying clients read through to their policy."""

    policy: AttemptPolicy

    @property
    def max_retries(self) -> int:
        return self.policy.max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self.policy.max_retries = value

    @property
    def deadline(self) -> float | None:
        return self.policy.deadline

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self.policy.deadline = value

    @property
    def in_flight_bytes(self) -> ByteBudget:
        return self.policy.in_flight_bytes

    @property
    def optional_fields(self) -> OptionalFields:
        return self.policy.optional_fields

    @property
    def max_response_bytes(self) -> int:
        return self.policy.max_response_bytes

    @max_response_bytes.setter
    def max_response_bytes(self, value: int) -> None:
        self.policy.max_response_bytes = value

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        return self.policy.delay(attempt, retry_after)

    def get_data(self, response: httpx.Response) -> dict[str, Any]:
        """The ``data`` object of a response returned by ``execute``."""
        return self.policy.get_data(response)


def schema_mismatch(url: str, name: str, exc: pydantic.ValidationError) -> ServerError:
    """A body not matching the schema, as ServerError, not a pydantic traceback
    from deep inside the generated model (both clients raise this)."""
    problems = exc.errors()
    where, what = "the top", "invalid"
    if problems:
        where = ".".join(str(part) for part in problems[0]["loc"]) or where
        what = problems[0]["msg"]
    return ServerError(
        f"POST {url} ({name}): the server's answer does not match the "
        f"W&B schema ({len(problems)} problem(s), first at {where}: {what})."
        " Check that base_url points at a W&B server of a supported version."
    )
