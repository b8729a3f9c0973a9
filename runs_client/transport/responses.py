"""What a GraphQL answer means: its body parsed under the size cap, and
HTTP statuses and GraphQL ``errors`` mapped to ``runs_client`` errors."""

from __future__ import annotations

from typing import Any

import httpx

from .._exceptions import (
    AuthenticationError,
    GraphQLError,
    NotFoundError,
    RequestInfo,
    RunsClientError,
    ServerError,
    ServerGraphQLError,
)
from .jsonio import loads

__all__ = [
    "graphql_error",
    "message_of",
    "parse_body",
    "raise_for_graphql_errors",
    "status_error",
    "try_parse_body",
]


def parse_body(response: httpx.Response, info: RequestInfo) -> dict[str, Any]:
    try:
        body = loads(response.content)
    except RecursionError:
        raise ServerError(
            f"{info}: the server's answer (HTTP {response.status_code}) nests "
            "JSON too deeply to read; no W&B answer does.",
            request=info,
            status_code=response.status_code,
        ) from None
    except ValueError as exc:
        raise ServerError(
            f"{info}: the server's answer (HTTP {response.status_code}) is not "
            "valid JSON; it may have been cut short.",
            request=info,
            status_code=response.status_code,
        ) from exc
    if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
        raise ServerError(
            f"{info}: the server's answer (HTTP {response.status_code}) is not a "
            "GraphQL result (no `data` or `errors`).",
            request=info,
            status_code=response.status_code,
        )
    return body


def try_parse_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = loads(response.content)
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def message_of(response: httpx.Response, body: dict[str, Any] | None) -> str | None:
    if body is not None:
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e)
                for e in errors
            )
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])
    text = response.text.strip()
    return text[:300] or None


def graphql_error(
    errors: Any, info: RequestInfo, status: int, tries: str | None = None
) -> GraphQLError:
    """GraphQLError; ServerGraphQLError for an exhausted 5xx (``tries`` given)."""
    if not isinstance(errors, list):
        errors = [errors]
    dicts = [e if isinstance(e, dict) else {"message": str(e)} for e in errors]
    # Each message once: a query asking for the runs and their count gets
    # the same complaint about a bad filter twice.
    messages = "; ".join(dict.fromkeys(str(e.get("message", "")) for e in dicts))
    if tries is not None:
        return ServerGraphQLError(
            f"{info} failed with HTTP {status} {tries}; its GraphQL errors: {messages}",
            errors=dicts,
            request=info,
            status_code=status,
        )
    return GraphQLError(
        f"{info} returned GraphQL errors (HTTP {status}): {messages}",
        errors=dicts,
        request=info,
        status_code=status,
    )


def raise_for_graphql_errors(
    body: dict[str, Any], info: RequestInfo, status: int
) -> None:
    if body.get("errors"):
        raise graphql_error(body["errors"], info, status)


def status_error(
    response: httpx.Response, info: RequestInfo, body: dict[str, Any] | None
) -> RunsClientError:
    """Map a non-retryable, non-2xx answer to our error."""
    status = response.status_code
    server_message = message_of(response, body)
    detail = f": {server_message}" if server_message else ""
    if status in (401, 403):
        sent_key = "authorization" in response.request.headers
        why = (
            "the server refused the API key"
            if sent_key
            else "no API key was sent and the server requires one"
        )
        return AuthenticationError(
            f"{info}: {why} (HTTP {status}){detail}. Pass api_key=..., set "
            "WANDB_API_KEY, or add the host to your netrc file.",
            request=info,
            status_code=status,
            server_message=server_message,
        )
    if body is not None and body.get("errors"):
        return graphql_error(body["errors"], info, status)
    if status == 404:
        return NotFoundError(
            f"{info}: not found (HTTP 404){detail}. Check the base URL: the "
            "GraphQL endpoint is the base URL followed by /graphql.",
            request=info,
            status_code=status,
            server_message=server_message,
        )
    if 300 <= status < 400:
        location = response.headers.get("Location")
        target = str(response.request.url.join(location)) if location else None
        return RunsClientError(
            f"{info}: the server redirects (HTTP {status})"
            + (f" to {target}" if target else "")
            + "; redirects are not followed. Set base_url (or WANDB_BASE_URL) "
            "to the server it points to (often https:// rather than http://).",
            request=info,
            status_code=status,
            server_message=server_message,
        )
    return RunsClientError(
        f"{info} failed with HTTP {status}{detail}.",
        request=info,
        status_code=status,
        server_message=server_message,
    )
