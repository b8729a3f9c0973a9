"""How histories() pages: the row budgets, the server's caps, requests in
flight, and which refusals mean "ask for less" or "ask run by run"."""

from __future__ import annotations

from typing import Any

from .._exceptions import (
    GraphQLError,
    TimeoutError,
)

__all__ = [
    "FULL_ROW_BUDGET",
    "MAX_IN_FLIGHT",
    "MAX_RUNS_PER_REQUEST",
    "MAX_SPECS",
    "ROW_BUDGET",
    "is_too_large",
    "refuses_bulk",
]

# History rows asked per request: 120 runs x 500 samples is one request, and a
# page of rows parsed into dicts stays far below a few hundred MB.
ROW_BUDGET = 64_000
# The default budget for full history rows (every key): a full row is several
# times the bytes of a sampled row of a few keys, and pages of full rows are
# what a long export holds in memory while it converts them.
FULL_ROW_BUDGET = 32_000
# The server's caps: runs per page (``first``) and specs per sampledHistory.
MAX_RUNS_PER_REQUEST = 1000
MAX_SPECS = 100
# Requests in flight at once (the server and the network work while we parse).
MAX_IN_FLIGHT = 3
# Names per ``$in`` filter stay well inside the server's size limits anyway,
# since a chunk is at most MAX_RUNS_PER_REQUEST names.
_HISTORY_FIELDS = frozenset({"history", "sampledHistory", "events"})
# Machine-readable codes of a size refusal; the message is the fallback for
# servers that send no code.
_TOO_LARGE_CODES = frozenset({"RESPONSE_TOO_LARGE", "TOO_LARGE"})
_TOO_LARGE_MESSAGES = ("history rows in one response", "too large")


def _errors(exc: GraphQLError) -> list[dict[str, Any]]:
    return [e for e in exc.errors if isinstance(e, dict)]


def is_too_large(exc: Exception) -> bool:
    """A refusal for size (or a timeout): the page is worth asking as halves."""
    if isinstance(exc, TimeoutError):
        return True
    if not isinstance(exc, GraphQLError):
        return False
    for error in _errors(exc):
        extensions = error.get("extensions")
        if isinstance(extensions, dict) and "code" in extensions:
            if extensions["code"] in _TOO_LARGE_CODES:
                return True
            continue
        message = str(error.get("message", ""))
        if any(m in message for m in _TOO_LARGE_MESSAGES):
            return True
    return False


def refuses_bulk(exc: Exception) -> bool:
    """A GraphQL error pointing into a node's history field of ``project.runs``."""
    if not isinstance(exc, GraphQLError) or is_too_large(exc):
        return False
    for error in _errors(exc):
        path = error.get("path")
        if (
            isinstance(path, list)
            and "edges" in path
            and path
            and path[-1] in _HISTORY_FIELDS
        ):
            return True
    return False
