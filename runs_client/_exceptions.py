"""The one exception hierarchy of runs_client.

Every error carries what is needed to act on it: the request that failed (with
the API key redacted) and the server's own message. Nothing here ever holds the
API key: ``RequestInfo`` is built from a request with its Authorization header
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AuthenticationError",
    "ConnectionError",
    "GraphQLError",
    "IncompleteHistoriesError",
    "InvalidArgumentError",
    "NotFoundError",
    "RateLimitError",
    "RequestInfo",
    "RunsClientError",
    "ServerError",
    "ServerGraphQLError",
    "TimeoutError",
    "TransientError",
]


@dataclass(frozen=True)
class RequestInfo:
    """What was asked: method, URL, GraphQL operation and variables. No secrets."""

    method: str
    url: str
    operation_name: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        op = f" ({self.operation_name})" if self.operation_name else ""
        return f"{self.method} {self.url}{op}"


class RunsClientError(Exception):
    """Root of every error raised by runs_client."""

    def __init__(
        self,
        message: str,
        *,
        request: RequestInfo | None = None,
        status_code: int | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.status_code = status_code
        self.server_message = server_message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidArgumentError(RunsClientError, ValueError):
    """A user mistake detected before any request was sent."""


class AuthenticationError(RunsClientError):
    """The server refused the API key (HTTP 401 or 403)."""


class NotFoundError(RunsClientError):
    """The entity, project, run or sweep does not exist or is not visible."""


class TransientError(RunsClientError):
    """An outage that may pass: the kinds worth trying again later.

    ``ConnectionError``, ``TimeoutError``, ``RateLimitError`` and
    ``ServerError`` (and errors built on them) derive from it, so one
    ``except TransientError`` catches every outage after the retries.
    """


class ConnectionError(TransientError):  # shadows the builtin on purpose
    """No server answered: connection refused, DNS failure, unreachable host."""


class RateLimitError(TransientError):
    """HTTP 429 after all retries; ``retry_after`` is the server's hint in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        request: RequestInfo | None = None,
        status_code: int | None = 429,
        server_message: str | None = None,
    ) -> None:
        super().__init__(
            message,
            request=request,
            status_code=status_code,
            server_message=server_message,
        )
        self.retry_after = retry_after


class ServerError(TransientError):
    """HTTP 5xx, a dropped connection, an unreadable or impossible answer (a
    body that is not JSON, a pager that does not end), after all retries."""


class GraphQLError(RunsClientError):
    """The response carried GraphQL ``errors``, whatever its HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        request: RequestInfo | None = None,
        status_code: int | None = None,
    ) -> None:
        errors = errors or []
        super().__init__(
            message,
            request=request,
            status_code=status_code,
            server_message="; ".join(str(e.get("message", "")) for e in errors) or None,
        )
        self.errors = errors

    @property
    def messages(self) -> list[str]:
        return [str(e.get("message", "")) for e in self.errors]

    @property
    def paths(self) -> list[list[str | int] | None]:
        return [e.get("path") for e in self.errors]


class ServerGraphQLError(ServerError, GraphQLError):
    """HTTP 5xx whose body carried GraphQL ``errors``, after all retries.

    Both a ``ServerError`` (a transient outage: ``except ServerError`` sees
    it) and a ``GraphQLError`` (``errors`` and ``messages`` keep what the
    server said).
    """


class TimeoutError(TransientError):  # shadows the builtin on purpose: W&B naming
    """The request timed out after all retries, or ran past its deadline."""


class IncompleteHistoriesError(RunsClientError):
    """``histories()`` failed part-way, after the failed page's retries.

    Nothing fetched is returned as if complete. ``completed_run_ids`` lists the
    runs whose history was complete when it stopped; ``resume_token`` makes
    ``runs.iter_histories(..., after=resume_token)`` (same arguments) go on
    with the runs after them. ``cause`` is the error of the failed page.
    """

    def __init__(
        self,
        message: str,
        *,
        completed_run_ids: list[str],
        resume_token: str,
        cause: RunsClientError,
    ) -> None:
        super().__init__(
            message,
            request=cause.request,
            status_code=cause.status_code,
            server_message=cause.server_message,
        )
        self.completed_run_ids = completed_run_ids
        self.resume_token = resume_token
        self.cause = cause
