"""Every retry, timeout and endpoint default, in one place.

Change a default here and it changes everywhere: ``Api``, the retrying transport
and the tests read these names rather than repeating the numbers.
"""

from __future__ import annotations

from typing import Final

import httpx

__all__ = [
    "DEADLINE_FACTOR",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "GRAPHQL_PATH",
    "INITIAL_BACKOFF",
    "MAX_BACKOFF",
    "MAX_RETRY_AFTER",
    "NOT_GIVEN",
    "RETRYABLE_STATUS_CODES",
    "NotGiven",
]

DEFAULT_BASE_URL: Final = "https://api.wandb.ai"
GRAPHQL_PATH: Final = "/graphql"

# Large projects answer slowly (complaint 5 in wandb-api.md): generous read,
# short connect so an unreachable host fails fast and is retried.
DEFAULT_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)

# An attempt's overall deadline, by default this many times the read timeout:
# the read timeout bounds each wait for bytes, so a server dripping a byte at
# a time could otherwise hold an attempt for ever. Api(deadline=...) sets it.
DEADLINE_FACTOR: Final = 3.0

# Decompressed bytes of one answer; far above any real page (a gzip bomb of
# a few MB would otherwise inflate whole). Api(max_response_bytes=...) sets it.
DEFAULT_MAX_RESPONSE_BYTES: Final = 1024 * 1024 * 1024

# Connections of one client's pool (httpx's default); AsyncApi also lets at
# most this many requests wait on its pool at once (httpcore's pool does work
# per waiting request on every change: 1,000 waiters made it CPU-bound).
DEFAULT_MAX_CONNECTIONS: Final = 100

# Retries after the first attempt; all our operations are read-only queries.
DEFAULT_MAX_RETRIES: Final = 4
# Full-jitter exponential backoff: sleep uniform(0, min(MAX, INITIAL * 2**n)).
INITIAL_BACKOFF: Final = 0.5
MAX_BACKOFF: Final = 8.0
# A server's Retry-After is honoured up to this many seconds, so a bad header
# cannot park a notebook for an hour.
MAX_RETRY_AFTER: Final = 60.0

# 408 request timeout, 429 rate limited, every 5xx. Never 400/401/403/404/409/422.
RETRYABLE_STATUS_CODES: Final = frozenset({408, 429, *range(500, 600)})


class NotGiven:
    """Marks an argument the caller did not pass, distinct from ``None``."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()
